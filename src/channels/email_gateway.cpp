// E-mail through a provider-neutral HTTP JSON API.
#include <tagflow/channels.hpp>

#include "channels/common.hpp"
#include "detail/crypto.hpp"

namespace tagflow {

namespace json = boost::json;

namespace {

channel_capabilities email_capabilities() {
    channel_capabilities c;
    c.max_text = 100000;
    c.max_buttons = 0;
    c.max_quick_replies = 0;
    c.max_button_title = 100;
    return c;
}

void replace_all(std::string& s, std::string_view from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
}

} // namespace

email_gateway_channel::email_gateway_channel(email_gateway_settings settings,
                                             std::shared_ptr<http_client> client)
    : http_channel(settings.name, email_capabilities(), std::move(client)), settings_(std::move(settings)) {
    detail::require_setting(settings_.base_url, "base_url", settings_.name);
    detail::require_setting(settings_.api_key, "api_key", settings_.name);
    detail::require_setting(settings_.from, "from", settings_.name);
    if (settings_.unsubscribe_url.find("{{token}}") != std::string::npos) {
        detail::require_setting(settings_.unsubscribe_secret,
                                "unsubscribe_secret (unsubscribe_url uses {{token}})", settings_.name);
    }
}

http_request email_gateway_channel::build_request(const outbound_message& message,
                                                  const rendered_message& shaped, std::size_t index,
                                                  const contact& recipient) const {
    const std::string& to = message.to.channel == settings_.name && !message.to.external_id.empty()
                                ? message.to.external_id
                                : recipient.profile.email;
    detail::require_address(to, "e-mail address", settings_.name);
    const auto& text = detail::part_text(shaped, index);
    std::string subject = settings_.subject;
    if (subject.empty()) {
        const auto& first = shaped.parts.front();
        subject = detail::cut_code_points(std::string_view(first).substr(0, first.find('\n')), 78);
    }
    if (shaped.parts.size() > 1) {
        subject += " (" + std::to_string(index + 1) + "/" + std::to_string(shaped.parts.size()) + ")";
    }
    json::object headers;
    if (message.purpose == "promotional") {
        if (settings_.unsubscribe_url.empty()) {
            // Bulk senders must offer one-click unsubscribe on marketing mail (RFC 8058, Gmail
            // and Yahoo rules): without it the message must not go out at all.
            throw detail::send_refused("no_unsubscribe",
                                       settings_.name +
                                           ": a promotional e-mail needs unsubscribe_url in the settings");
        }
        std::string url = settings_.unsubscribe_url;
        const std::string id = std::to_string(message.contact);
        replace_all(url, "{{contact}}", id);
        replace_all(url, "{{email}}", detail::url_encode(to));
        if (url.find("{{token}}") != std::string::npos) {
            replace_all(url, "{{token}}",
                        detail::hmac_sha256_hex(settings_.unsubscribe_secret, id).substr(0, 32));
        }
        std::string list_unsubscribe = "<" + url + ">";
        if (!settings_.unsubscribe_mailto.empty()) {
            list_unsubscribe += ", <mailto:" + settings_.unsubscribe_mailto + "?subject=unsubscribe>";
        }
        headers["List-Unsubscribe"] = list_unsubscribe;
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
    }
    const std::string key = detail::part_key(message, index);
    json::object body{{"from", settings_.from},
                      {"to", to},
                      {"subject", subject},
                      {"text", text},
                      {"headers", std::move(headers)}};
    auto request = detail::json_post(settings_.base_url + "/send", body, settings_.timeout);
    request.contact = message.contact;
    request.headers.emplace_back("Authorization", "Bearer " + settings_.api_key);
    request.headers.emplace_back("Idempotency-Key", key);
    return request;
}

send_result email_gateway_channel::interpret(const http_response& response) const {
    return detail::by_status(response, "the e-mail API");
}

} // namespace tagflow
