// Facebook Messenger Send API.
#include <tagflow/channels.hpp>

#include "channels/common.hpp"
#include "detail/crypto.hpp"

namespace tagflow {

namespace json = boost::json;

namespace {

channel_capabilities messenger_capabilities() {
    channel_capabilities c;
    // The button template's text limit: any part may be the last one, carrying the buttons.
    c.max_text = 640;
    c.max_buttons = 3;
    c.max_quick_replies = 13;
    c.max_button_title = 20;
    c.media = false;
    c.templates = false;
    return c;
}

} // namespace

messenger_channel::messenger_channel(messenger_settings settings, std::shared_ptr<http_client> client)
    : http_channel(settings.name, messenger_capabilities(), std::move(client)),
      settings_(std::move(settings)) {
    detail::require_setting(settings_.page_id, "page_id", settings_.name);
    detail::require_setting(settings_.access_token, "access_token", settings_.name);
    detail::require_setting(settings_.base_url, "base_url", settings_.name);
    detail::require_setting(settings_.version, "version", settings_.name);
}

http_request messenger_channel::build_request(const outbound_message& message, const rendered_message& shaped,
                                              std::size_t index, const contact& /*recipient*/) const {
    const auto& psid = detail::require_address(message.to.external_id, "page-scoped id", settings_.name);
    json::object body;
    body["recipient"] = json::object{{"id", psid}};
    if (!message.channel_tag.empty()) {
        body["messaging_type"] = "MESSAGE_TAG";
        body["tag"] = message.channel_tag;
    } else {
        body["messaging_type"] = message.purpose == "reply" ? "RESPONSE" : "UPDATE";
    }
    const auto& text = detail::part_text(shaped, index);
    const bool last = detail::is_last_part(shaped, index);
    json::object msg;
    if (last && !shaped.buttons.empty()) {
        json::array buttons;
        for (const auto& b : shaped.buttons) {
            buttons.push_back(json::object{{"type", "postback"}, {"title", b.title}, {"payload", b.payload}});
        }
        msg["attachment"] = json::object{
            {"type", "template"},
            {"payload",
             json::object{{"template_type", "button"}, {"text", text}, {"buttons", std::move(buttons)}}}};
    } else {
        msg["text"] = text;
    }
    if (last && !shaped.quick_replies.empty()) {
        json::array replies;
        for (const auto& q : shaped.quick_replies) {
            replies.push_back(json::object{{"content_type", "text"}, {"title", q}, {"payload", q}});
        }
        msg["quick_replies"] = std::move(replies);
    }
    body["message"] = std::move(msg);
    std::string url = settings_.base_url + "/v" + settings_.version + "/" +
                      detail::url_encode(settings_.page_id) +
                      "/messages?access_token=" + detail::url_encode(settings_.access_token);
    if (!settings_.app_secret.empty()) {
        url += "&appsecret_proof=" + detail::hmac_sha256_hex(settings_.app_secret, settings_.access_token);
    }
    auto request = detail::json_post(std::move(url), body, settings_.timeout);
    request.contact = message.contact;
    return request;
}

send_result messenger_channel::interpret(const http_response& response) const {
    using outcome = send_result::outcome;
    const auto body = detail::parse_json(response.body);
    const json::value* root = body ? &*body : nullptr;
    if (detail::is_success(response.status)) {
        const auto id = detail::scalar_text(detail::member(root, "message_id"));
        if (!id.empty()) {
            return send_result::ok(id);
        }
    }
    const auto* err = detail::member(root, "error");
    const auto code = detail::integer_of(detail::member(err, "code"));
    if (!code) {
        const auto status = std::to_string(response.status);
        if (detail::is_server_error(response.status) || response.status == 429) {
            return send_result::fail(outcome::retry, status, "Messenger answered HTTP " + status);
        }
        return send_result::fail(outcome::failed, status,
                                 "Messenger answered HTTP " + status + " without a message id");
    }
    const auto subcode = detail::integer_of(detail::member(err, "error_subcode"));
    const std::string text_code = std::to_string(*code) + (subcode ? "/" + std::to_string(*subcode) : "");
    const std::string why = detail::scalar_text(detail::member(err, "message"));
    if (*code == 10 && subcode == 2018278) {
        return send_result::fail(outcome::blocked, text_code, why); // outside the messaging window
    }
    if (*code == 2 || *code == 4 || *code == 613) {
        return send_result::fail(outcome::retry, text_code, why); // temporary or rate limited
    }
    if (*code == 551 || *code == 100 || *code == 190 || (*code >= 200 && *code <= 299) || *code == 10) {
        return send_result::fail(outcome::failed, text_code, why);
    }
    if (detail::is_server_error(response.status)) {
        return send_result::fail(outcome::retry, text_code, why);
    }
    return send_result::fail(outcome::failed, text_code, why);
}

} // namespace tagflow
