// WhatsApp Cloud API.
#include <tagflow/channels.hpp>

#include "channels/common.hpp"

namespace tagflow {

namespace json = boost::json;

namespace {

channel_capabilities whatsapp_capabilities() {
    channel_capabilities c;
    // The interactive body's limit: any part may be the last one, carrying the reply buttons.
    c.max_text = 1024;
    c.max_buttons = 3;
    // Quick replies are reply buttons too (id = title), sharing the three places with buttons.
    c.max_quick_replies = 3;
    c.max_button_title = 20;
    c.media = false;
    c.templates = true;
    return c;
}

} // namespace

whatsapp_channel::whatsapp_channel(whatsapp_settings settings, std::shared_ptr<http_client> client)
    : http_channel(settings.name, whatsapp_capabilities(), std::move(client)),
      settings_(std::move(settings)) {
    detail::require_setting(settings_.phone_number_id, "phone_number_id", settings_.name);
    detail::require_setting(settings_.access_token, "access_token", settings_.name);
    detail::require_setting(settings_.base_url, "base_url", settings_.name);
    detail::require_setting(settings_.version, "version", settings_.name);
}

http_request whatsapp_channel::build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& /*recipient*/) const {
    std::string to = detail::require_address(message.to.external_id, "phone number", settings_.name);
    if (!to.empty() && to.front() == '+') {
        to.erase(0, 1);
    }
    json::object body{{"messaging_product", "whatsapp"}, {"recipient_type", "individual"}, {"to", to}};
    if (!message.template_name.empty()) {
        json::object tmpl{{"name", message.template_name},
                          {"language", json::object{{"code", settings_.template_language}}}};
        if (!message.template_params.empty()) {
            json::array parameters;
            for (const auto& p : message.template_params) {
                parameters.push_back(json::object{{"type", "text"}, {"text", p}});
            }
            tmpl["components"] =
                json::array{json::object{{"type", "body"}, {"parameters", std::move(parameters)}}};
        }
        body["type"] = "template";
        body["template"] = std::move(tmpl);
    } else {
        std::string text = detail::part_text(shaped, index);
        std::vector<detail::choice> choices;
        if (detail::is_last_part(shaped, index)) {
            choices = detail::merge_choices(shaped, capabilities().max_buttons, text);
        }
        if (choices.empty()) {
            body["type"] = "text";
            body["text"] = json::object{{"preview_url", false}, {"body", text}};
        } else {
            json::array buttons;
            for (const auto& c : choices) {
                buttons.push_back(json::object{
                    {"type", "reply"}, {"reply", json::object{{"id", c.payload}, {"title", c.title}}}});
            }
            body["type"] = "interactive";
            body["interactive"] = json::object{{"type", "button"},
                                               {"body", json::object{{"text", text}}},
                                               {"action", json::object{{"buttons", std::move(buttons)}}}};
        }
    }
    auto request = detail::json_post(settings_.base_url + "/v" + settings_.version + "/" +
                                         detail::url_encode(settings_.phone_number_id) + "/messages",
                                     body, settings_.timeout);
    request.contact = message.contact;
    request.headers.emplace_back("Authorization", "Bearer " + settings_.access_token);
    return request;
}

send_result whatsapp_channel::interpret(const http_response& response) const {
    using outcome = send_result::outcome;
    const auto body = detail::parse_json(response.body);
    const json::value* root = body ? &*body : nullptr;
    if (detail::is_success(response.status)) {
        const auto* messages = detail::member(root, "messages");
        if (messages != nullptr && messages->is_array() && !messages->as_array().empty()) {
            const auto id = detail::scalar_text(detail::member(&messages->as_array()[0], "id"));
            if (!id.empty()) {
                return send_result::ok(id);
            }
        }
    }
    const auto* err = detail::member(root, "error");
    const auto code = detail::integer_of(detail::member(err, "code"));
    const std::string status = std::to_string(response.status);
    if (!code) {
        if (detail::is_server_error(response.status) || response.status == 429) {
            return send_result::fail(outcome::retry, status, "WhatsApp answered HTTP " + status);
        }
        return send_result::fail(outcome::failed, status,
                                 "WhatsApp answered HTTP " + status + " without a message id");
    }
    const std::string text_code = std::to_string(*code);
    std::string why = detail::scalar_text(detail::member(err, "message"));
    const auto details = detail::scalar_text(detail::member(detail::member(err, "error_data"), "details"));
    if (!details.empty()) {
        why += ": " + details;
    }
    if (*code == 131047) {
        return send_result::fail(outcome::blocked, text_code, why); // outside the 24 h window
    }
    if (*code == 130429 || *code == 131056 || response.status == 429 ||
        detail::is_server_error(response.status)) {
        return send_result::fail(outcome::retry, text_code, why); // throughput or pair rate
    }
    return send_result::fail(outcome::failed, text_code, why);
}

} // namespace tagflow
