// Telegram Bot API.
#include <tagflow/channels.hpp>

#include "channels/common.hpp"

namespace tagflow {

namespace json = boost::json;

namespace {

channel_capabilities telegram_capabilities() {
    channel_capabilities c;
    c.max_text = 4096;
    c.max_buttons = 10;
    c.max_quick_replies = 10;
    c.max_button_title = 64;
    c.media = false;
    c.templates = false;
    return c;
}

constexpr std::size_t max_callback_bytes = 64;

// Numeric chat ids go as JSON numbers, "@channel" names as strings.
json::value chat_id_of(const std::string& id) {
    const json::string s(id);
    const json::value v(s);
    if (const auto n = detail::integer_of(&v); n && std::to_string(*n) == id) {
        return *n;
    }
    return v;
}

} // namespace

telegram_channel::telegram_channel(telegram_settings settings, std::shared_ptr<http_client> client)
    : http_channel(settings.name, telegram_capabilities(), std::move(client)),
      settings_(std::move(settings)) {
    detail::require_setting(settings_.bot_token, "bot_token", settings_.name);
    detail::require_setting(settings_.base_url, "base_url", settings_.name);
}

http_request telegram_channel::build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& /*recipient*/) const {
    const auto& chat = detail::require_address(message.to.external_id, "chat id", settings_.name);
    json::object body{{"chat_id", chat_id_of(chat)}, {"text", detail::part_text(shaped, index)}};
    if (detail::is_last_part(shaped, index)) {
        if (!shaped.buttons.empty()) {
            json::array rows;
            for (const auto& b : shaped.buttons) {
                const std::string data = b.payload.empty() ? b.title : b.payload;
                if (data.size() > max_callback_bytes) {
                    throw error(errc::invalid_argument, "telegram: the payload of button \"" + b.title +
                                                            "\" is " + std::to_string(data.size()) +
                                                            " bytes; callback_data holds at most 64");
                }
                rows.push_back(json::array{json::object{{"text", b.title}, {"callback_data", data}}});
            }
            // An inline keyboard and a reply keyboard cannot share a message: quick replies join
            // the inline keyboard, answering with their title.
            for (const auto& q : shaped.quick_replies) {
                rows.push_back(json::array{
                    json::object{{"text", q}, {"callback_data", detail::cut_bytes(q, max_callback_bytes)}}});
            }
            body["reply_markup"] = json::object{{"inline_keyboard", std::move(rows)}};
        } else if (!shaped.quick_replies.empty()) {
            json::array rows;
            for (const auto& q : shaped.quick_replies) {
                rows.push_back(json::array{json::object{{"text", q}}});
            }
            body["reply_markup"] = json::object{
                {"keyboard", std::move(rows)}, {"one_time_keyboard", true}, {"resize_keyboard", true}};
        }
    }
    auto request = detail::json_post(settings_.base_url + "/bot" + settings_.bot_token + "/sendMessage", body,
                                     settings_.timeout);
    request.contact = message.contact;
    return request;
}

send_result telegram_channel::interpret(const http_response& response) const {
    using outcome = send_result::outcome;
    const auto body = detail::parse_json(response.body);
    const json::value* root = body ? &*body : nullptr;
    const auto* ok = detail::member(root, "ok");
    if (ok != nullptr && ok->is_bool() && ok->as_bool()) {
        return send_result::ok(
            detail::scalar_text(detail::member(detail::member(root, "result"), "message_id")));
    }
    // error_code repeats the HTTP status; trust it when present (a proxy may have rewritten the status).
    int status = response.status;
    if (const auto c = detail::integer_of(detail::member(root, "error_code")); c && *c >= 100 && *c < 600) {
        status = static_cast<int>(*c);
    }
    const std::string code = std::to_string(status);
    std::string why = detail::scalar_text(detail::member(root, "description"));
    if (why.empty()) {
        why = "Telegram answered HTTP " + std::to_string(response.status);
    }
    if (status == 429) {
        auto r = send_result::fail(outcome::retry, code, why);
        if (const auto after =
                detail::integer_of(detail::member(detail::member(root, "parameters"), "retry_after"));
            after && *after >= 0) {
            r.retry_after = std::chrono::seconds(*after);
        }
        return r;
    }
    if (detail::is_server_error(status) || detail::is_server_error(response.status)) {
        return send_result::fail(outcome::retry, code, why);
    }
    // 400 (bad request, chat migrated), 403 (blocked, or the bot cannot start a chat), 401, 404.
    return send_result::fail(outcome::failed, code, why);
}

} // namespace tagflow
