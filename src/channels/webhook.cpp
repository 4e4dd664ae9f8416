// A generic signed webhook to the shop's own service.
#include <tagflow/channels.hpp>

#include "channels/common.hpp"
#include "detail/crypto.hpp"

namespace tagflow {

namespace json = boost::json;

webhook_channel::webhook_channel(webhook_channel_settings settings, std::shared_ptr<http_client> client)
    : http_channel(settings.name, settings.capabilities, std::move(client)), settings_(std::move(settings)) {
    detail::require_setting(settings_.url, "url", settings_.name);
    detail::require_setting(settings_.secret, "secret", settings_.name);
}

http_request webhook_channel::build_request(const outbound_message& message, const rendered_message& shaped,
                                            std::size_t index, const contact& /*recipient*/) const {
    const time_point now = settings_.clock
                               ? settings_.clock()
                               : std::chrono::time_point_cast<duration>(std::chrono::system_clock::now());
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::string key = detail::part_key(message, index);
    const bool last = detail::is_last_part(shaped, index);
    json::array buttons;
    json::array replies;
    if (last) {
        for (const auto& b : shaped.buttons) {
            buttons.push_back(json::object{{"title", b.title}, {"payload", b.payload}});
        }
        for (const auto& q : shaped.quick_replies) {
            replies.push_back(json::value(q));
        }
    }
    json::array params;
    for (const auto& p : message.template_params) {
        params.push_back(json::value(p));
    }
    // Key order is fixed (Boost.JSON keeps insertion order), so the same message signs the same.
    json::object body;
    body["id"] = key;
    body["message_key"] = message.key;
    body["contact"] = message.contact;
    body["to"] = message.to.to_string();
    body["channel"] = message.to.channel;
    body["external_id"] = message.to.external_id;
    body["text"] = detail::part_text(shaped, index);
    body["buttons"] = std::move(buttons);
    body["quick_replies"] = std::move(replies);
    body["purpose"] = message.purpose;
    body["cause"] = message.cause;
    body["form"] = message.form;
    body["template"] = message.template_name;
    body["template_params"] = std::move(params);
    body["channel_tag"] = message.channel_tag;
    body["part"] = index + 1;
    body["parts"] = shaped.parts.size();
    body["timestamp"] = seconds;
    auto request = detail::json_post(settings_.url, body, settings_.timeout);
    request.contact = message.contact;
    request.headers.emplace_back("X-Tagflow-Signature",
                                 "sha256=" + detail::hmac_sha256_hex(settings_.secret, request.body));
    request.headers.emplace_back("X-Tagflow-Timestamp", std::to_string(seconds));
    request.headers.emplace_back("Idempotency-Key", key);
    return request;
}

send_result webhook_channel::interpret(const http_response& response) const {
    if (response.status == 409) {
        // The receiver already accepted this key: the message went out on an earlier attempt.
        const auto body = detail::parse_json(response.body);
        auto r = send_result::ok(body ? detail::scalar_text(detail::member(&*body, "id")) : std::string());
        r.detail = "duplicate: already accepted";
        return r;
    }
    return detail::by_status(response, "the webhook");
}

} // namespace tagflow
