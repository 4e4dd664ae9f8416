// Zalo Official Account: consultation messages, request_user_info and ZBS templates by UID.
#include <tagflow/channels.hpp>

#include "channels/common.hpp"
#include "detail/crypto.hpp"

namespace tagflow {

namespace json = boost::json;

namespace {

channel_capabilities zalo_capabilities() {
    channel_capabilities c;
    c.max_text = 2000;
    c.max_buttons = 5;
    // Quick replies are oa.query.show buttons too (the tap comes back as the title, visible in
    // the chat), sharing the five places with buttons.
    c.max_quick_replies = 5;
    c.max_button_title = 100;
    c.media = false;
    c.templates = true;
    return c;
}

constexpr std::string_view request_user_info = "request_user_info";

} // namespace

zalo_oa_channel::zalo_oa_channel(zalo_oa_settings settings, std::shared_ptr<http_client> client)
    : http_channel(settings.name, zalo_capabilities(), std::move(client)), settings_(std::move(settings)) {
    detail::require_setting(settings_.access_token, "access_token", settings_.name);
    detail::require_setting(settings_.base_url, "base_url", settings_.name);
}

http_request zalo_oa_channel::build_request(const outbound_message& message, const rendered_message& shaped,
                                            std::size_t index, const contact& /*recipient*/) const {
    const auto& user = detail::require_address(message.to.external_id, "Zalo user id", settings_.name);
    json::object body;
    std::string path;
    if (!message.template_name.empty() && message.template_name != request_user_info) {
        // ZBS template by UID: the template id and its named parameters.
        path = "/v3.0/oa/message/template";
        if (settings_.template_recipient_nested) {
            body["recipient"] = json::object{{"user_id", user}};
        } else {
            body["user_id"] = user;
        }
        body["template_id"] = message.template_name;
        json::object data;
        const auto names = settings_.template_param_names.find(message.template_name);
        for (std::size_t i = 0; i < message.template_params.size(); ++i) {
            std::string key = names != settings_.template_param_names.end() && i < names->second.size()
                                  ? names->second[i]
                                  : "p" + std::to_string(i + 1);
            data[key] = message.template_params[i];
        }
        body["template_data"] = std::move(data);
    } else {
        path = "/v3.0/oa/message/cs";
        body["recipient"] = json::object{{"user_id", user}};
        json::object msg;
        if (message.template_name == request_user_info) {
            json::object element{{"title", detail::cut_code_points(message.text, 100)}};
            if (!message.template_params.empty() && !message.template_params[0].empty()) {
                element["subtitle"] = detail::cut_code_points(message.template_params[0], 500);
            }
            if (message.template_params.size() > 1 && !message.template_params[1].empty()) {
                element["image_url"] = message.template_params[1];
            }
            msg["attachment"] = json::object{{"type", "template"},
                                             {"payload", json::object{{"template_type", request_user_info},
                                                                      {"elements", json::array{element}}}}};
        } else {
            std::string text = detail::part_text(shaped, index);
            std::vector<detail::choice> choices;
            if (detail::is_last_part(shaped, index)) {
                choices = detail::merge_choices(shaped, capabilities().max_buttons, text);
            }
            msg["text"] = text;
            if (!choices.empty()) {
                json::array buttons;
                for (const auto& c : choices) {
                    buttons.push_back(
                        json::object{{"title", c.title}, {"type", "oa.query.show"}, {"payload", c.payload}});
                }
                msg["attachment"] = json::object{{"type", "template"},
                                                 {"payload", json::object{{"buttons", std::move(buttons)}}}};
            }
        }
        body["message"] = std::move(msg);
    }
    auto request = detail::json_post(settings_.base_url + path, body, settings_.timeout);
    request.contact = message.contact;
    request.headers.emplace_back("access_token", settings_.access_token);
    if (!settings_.app_secret.empty()) {
        request.headers.emplace_back("appsecret_proof",
                                     detail::hmac_sha256_hex(settings_.app_secret, settings_.access_token));
    }
    return request;
}

send_result zalo_oa_channel::interpret(const http_response& response) const {
    using outcome = send_result::outcome;
    const auto body = detail::parse_json(response.body);
    const auto code = body ? detail::integer_of(detail::member(&*body, "error")) : std::nullopt;
    if (!code) {
        // Zalo answers errors with HTTP 200 and an envelope; without one only the status speaks.
        if (detail::is_server_error(response.status) || response.status == 429) {
            return send_result::fail(outcome::retry, std::to_string(response.status),
                                     "Zalo answered HTTP " + std::to_string(response.status));
        }
        return send_result::fail(outcome::failed, std::to_string(response.status),
                                 "Zalo answered HTTP " + std::to_string(response.status) +
                                     " without an error envelope");
    }
    const std::string message = detail::scalar_text(detail::member(&*body, "message"));
    if (*code == 0) {
        if (detail::is_server_error(response.status)) {
            return send_result::fail(outcome::retry, std::to_string(response.status), message);
        }
        return send_result::ok(
            detail::scalar_text(detail::member(detail::member(&*body, "data"), "message_id")));
    }
    const std::string text_code = std::to_string(*code);
    switch (*code) {
    case -213: // not a follower (promotion)
    case -230: // no interaction within 7 days
    case -232: // no interaction, or it expired
    case -234: // not at night
        return send_result::fail(outcome::blocked, text_code, message);
    case -32:  // rate limit
    case -200: // send failed, worth one more try
    case -216: // token invalid: the application refreshes it, then a retry goes through
    case -220: // token expired
        return send_result::fail(outcome::retry, text_code, message);
    default:
        if (detail::is_server_error(response.status)) {
            return send_result::fail(outcome::retry, text_code, message);
        }
        return send_result::fail(outcome::failed, text_code, message);
    }
}

} // namespace tagflow
