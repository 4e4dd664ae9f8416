// SMS through an eSMS.vn-style HTTP gateway.
#include <tagflow/channels.hpp>

#include "channels/common.hpp"

namespace tagflow {

namespace json = boost::json;

namespace {

constexpr std::string_view ad_label = "[QC] ";

channel_capabilities sms_capabilities(std::size_t max_text) {
    channel_capabilities c;
    // Room for the advertising label on every part.
    c.max_text = max_text > ad_label.size() ? max_text - ad_label.size() : max_text;
    c.max_buttons = 0;
    c.max_quick_replies = 0;
    c.max_button_title = 20;
    return c;
}

bool has_ad_label(std::string_view text) {
    for (const std::string_view label : {"[QC]", "[AD]", "[qc]", "[ad]"}) {
        if (text.substr(0, label.size()) == label) {
            return true;
        }
    }
    return false;
}

bool is_ascii(std::string_view s) {
    for (const char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            return false;
        }
    }
    return true;
}

} // namespace

sms_gateway_channel::sms_gateway_channel(sms_gateway_settings settings, std::shared_ptr<http_client> client)
    : http_channel(settings.name, sms_capabilities(settings.max_text), std::move(client)),
      settings_(std::move(settings)) {
    detail::require_setting(settings_.api_key, "api_key", settings_.name);
    detail::require_setting(settings_.secret_key, "secret_key", settings_.name);
    detail::require_setting(settings_.brandname, "brandname", settings_.name);
    detail::require_setting(settings_.base_url, "base_url", settings_.name);
}

http_request sms_gateway_channel::build_request(const outbound_message& message,
                                                const rendered_message& shaped, std::size_t index,
                                                const contact& recipient) const {
    std::string phone = message.to.channel == settings_.name && !message.to.external_id.empty()
                            ? message.to.external_id
                            : recipient.profile.phone;
    detail::require_address(phone, "phone number", settings_.name);
    if (phone.front() == '+') {
        phone.erase(0, 1);
    }
    std::string content = detail::part_text(shaped, index);
    if (message.purpose == "promotional" && !has_ad_label(content)) {
        // Decree 91/2020: every advertising SMS, so every part, starts with the label.
        content.insert(0, ad_label);
    }
    const std::string key = detail::part_key(message, index);
    json::object body;
    body["ApiKey"] = settings_.api_key;
    body["SecretKey"] = settings_.secret_key;
    body["Phone"] = phone;
    body["Content"] = content;
    body["Brandname"] = settings_.brandname;
    body["SmsType"] = settings_.sms_type;
    body["IsUnicode"] = is_ascii(content) ? 0 : 1;
    body["Sandbox"] = settings_.sandbox ? 1 : 0;
    body["RequestId"] = key;
    if (!settings_.callback_url.empty()) {
        body["CallbackUrl"] = settings_.callback_url;
    }
    auto request = detail::json_post(settings_.base_url + settings_.path, body, settings_.timeout);
    request.contact = message.contact;
    request.headers.emplace_back("Idempotency-Key", key);
    return request;
}

send_result sms_gateway_channel::interpret(const http_response& response) const {
    using outcome = send_result::outcome;
    const auto body = detail::parse_json(response.body);
    const json::value* root = body ? &*body : nullptr;
    const auto code = detail::scalar_text(detail::member(root, "CodeResult"));
    std::string why = detail::scalar_text(detail::member(root, "ErrorMessage"));
    if (code.empty()) {
        // Without a CodeResult nothing is known; retrying is safe because RequestId deduplicates.
        return send_result::fail(outcome::retry, std::to_string(response.status),
                                 "the SMS gateway answered HTTP " + std::to_string(response.status) +
                                     " without a CodeResult");
    }
    if (code == "100") {
        return send_result::ok(detail::scalar_text(detail::member(root, "SMSID")));
    }
    if (code == "124") {
        auto r = send_result::ok(detail::scalar_text(detail::member(root, "SMSID")));
        r.detail = "duplicate RequestId: already sent";
        return r;
    }
    if (code == "101") {
        return send_result::fail(outcome::failed, code, why.empty() ? "bad ApiKey or SecretKey" : why);
    }
    if (code == "103") {
        return send_result::fail(outcome::failed, code, why.empty() ? "insufficient balance" : why);
    }
    if (code == "104") {
        return send_result::fail(outcome::failed, code, why.empty() ? "brandname not registered" : why);
    }
    return send_result::fail(outcome::retry, code, why.empty() ? "SMS gateway CodeResult " + code : why);
}

} // namespace tagflow
