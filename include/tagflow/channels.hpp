#pragma once
/// \file channels.hpp
/// The concrete channel adapters: Zalo OA, Messenger, WhatsApp Cloud API, Telegram, a generic
/// signed webhook, an eSMS.vn-style SMS gateway and an HTTP e-mail API, plus an in-memory
/// channel for tests and a console channel for demos. Each takes a settings struct whose
/// base_url defaults to the real host and can point at a local emulator instead.
///
/// Every adapter is immutable after construction: send() and requests_for() may be called from
/// several threads at once, provided the http_client allows it (the built-in one does).
/// memory_channel and console_channel lock internally. See docs/adapters.md.

#include <tagflow/channel.hpp>

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// Zalo Official Account settings (OpenAPI v3).
struct zalo_oa_settings {
    std::string name = "zalo"; ///< Channel name identities use.
    std::string access_token;  ///< OA access token (required), sent as header `access_token`.
    std::string
        app_secret; ///< When set, header `appsecret_proof` = hex HMAC-SHA256(app_secret, access_token).
    std::string base_url = "https://openapi.zalo.me"; ///< Scheme and host, no trailing slash.
    /// ZBS template sends put the recipient as top-level "user_id" (most implementations) or,
    /// when true, as "recipient": {"user_id": ...}.
    bool template_recipient_nested = false;
    /// Names of the template_data keys, per template id, in the order of template_params.
    /// Templates not listed get "p1", "p2", ...
    std::map<std::string, std::vector<std::string>> template_param_names;
    duration timeout = std::chrono::seconds(10); ///< Per request.
};

/// Zalo OA: consultation messages (POST {base}/v3.0/oa/message/cs) with up to 5 oa.query.show
/// buttons, the request_user_info form (template_name "request_user_info": title = text,
/// subtitle = template_params[0], image_url = template_params[1], both optional), and ZBS
/// templates by UID (any other template_name: POST {base}/v3.0/oa/message/template with
/// template_data from template_params). The recipient is the message's identity external_id.
/// Results: error 0 -> sent; -213/-230/-232/-234 -> blocked; -32, -200, -216, -220 and HTTP 5xx
/// -> retry; anything else -> failed. Policy profile "zalo-2026". Thread-safe.
class zalo_oa_channel final : public http_channel {
public:
    /// Throws tagflow::error(errc::invalid_argument) when access_token or base_url is empty.
    zalo_oa_channel(zalo_oa_settings settings, std::shared_ptr<http_client> client);
    [[nodiscard]] std::string_view default_policy() const noexcept override { return "zalo-2026"; }

private:
    [[nodiscard]] http_request build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& recipient) const override;
    [[nodiscard]] send_result interpret(const http_response& response) const override;
    zalo_oa_settings settings_;
};

/// Facebook Messenger Send API settings.
struct messenger_settings {
    std::string name = "messenger"; ///< Channel name identities use.
    std::string page_id;            ///< Page id (required).
    std::string access_token;       ///< Page access token (required), sent as query parameter.
    std::string app_secret;         ///< When set, adds the appsecret_proof query parameter.
    std::string version = "25.0";   ///< Graph API version, without "v".
    std::string base_url = "https://graph.facebook.com"; ///< Scheme and host, no trailing slash.
    duration timeout = std::chrono::seconds(10);         ///< Per request.
};

/// Messenger: POST {base}/v{version}/{page_id}/messages?access_token=... with messaging_type
/// MESSAGE_TAG (+ tag) when the message has a channel_tag, RESPONSE for purpose "reply", else
/// UPDATE. Up to 13 quick replies (payload = title) and up to 3 postback buttons as a button
/// template. Text parts are at most 640 code points, the button template's limit, so any part
/// can carry the buttons. Results: message_id -> sent; 10/2018278 -> blocked; 551, 100, 190,
/// 200-299 -> failed; 2, 4, 613 and HTTP 5xx -> retry. Policy profile "messenger". Thread-safe.
class messenger_channel final : public http_channel {
public:
    /// Throws tagflow::error(errc::invalid_argument) when page_id, access_token or base_url is empty.
    messenger_channel(messenger_settings settings, std::shared_ptr<http_client> client);
    [[nodiscard]] std::string_view default_policy() const noexcept override { return "messenger"; }

private:
    [[nodiscard]] http_request build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& recipient) const override;
    [[nodiscard]] send_result interpret(const http_response& response) const override;
    messenger_settings settings_;
};

/// WhatsApp Cloud API settings.
struct whatsapp_settings {
    std::string name = "whatsapp";                       ///< Channel name identities use.
    std::string phone_number_id;                         ///< Sending number's id (required).
    std::string access_token;                            ///< Bearer token (required).
    std::string version = "25.0";                        ///< Graph API version, without "v".
    std::string base_url = "https://graph.facebook.com"; ///< Scheme and host, no trailing slash.
    std::string template_language = "vi";                ///< Language code of template sends.
    duration timeout = std::chrono::seconds(10);         ///< Per request.
};

/// WhatsApp: POST {base}/v{version}/{phone_number_id}/messages with `Authorization: Bearer`.
/// Text, interactive reply buttons (up to 3; quick replies become reply buttons too when there
/// are no buttons), or a template when template_name is set (body parameters from
/// template_params). `to` is the identity's external_id, a phone number. Text parts are at
/// most 1024 code points, the interactive body's limit. Results: messages[0].id -> sent;
/// 131047 -> blocked; 130429, 131056 and HTTP 5xx -> retry; others failed. Policy "whatsapp".
/// Thread-safe.
class whatsapp_channel final : public http_channel {
public:
    /// Throws tagflow::error(errc::invalid_argument) when phone_number_id, access_token or base_url is empty.
    whatsapp_channel(whatsapp_settings settings, std::shared_ptr<http_client> client);
    [[nodiscard]] std::string_view default_policy() const noexcept override { return "whatsapp"; }

private:
    [[nodiscard]] http_request build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& recipient) const override;
    [[nodiscard]] send_result interpret(const http_response& response) const override;
    whatsapp_settings settings_;
};

/// Telegram Bot API settings.
struct telegram_settings {
    std::string name = "telegram";                     ///< Channel name identities use.
    std::string bot_token;                             ///< Bot token (required); it is part of the URL.
    std::string base_url = "https://api.telegram.org"; ///< Scheme and host, no trailing slash.
    duration timeout = std::chrono::seconds(10);       ///< Per request.
};

/// Telegram: POST {base}/bot{token}/sendMessage with chat_id = the identity's external_id.
/// Buttons become an inline keyboard (one per row, callback_data = payload, at most 64 bytes:
/// a longer payload fails the send as "unaddressable"). Quick replies become a one-time reply
/// keyboard (a tap sends the title back as a message, as on other channels); when the message
/// also has buttons, they go under the buttons as inline buttons whose callback_data is the
/// title. Results: ok -> sent; 429 -> retry after parameters.retry_after seconds; HTTP 5xx ->
/// retry; 400, 403 and other errors -> failed. Policy "telegram". Thread-safe.
class telegram_channel final : public http_channel {
public:
    /// Throws tagflow::error(errc::invalid_argument) when bot_token or base_url is empty.
    telegram_channel(telegram_settings settings, std::shared_ptr<http_client> client);
    [[nodiscard]] std::string_view default_policy() const noexcept override { return "telegram"; }

private:
    [[nodiscard]] http_request build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& recipient) const override;
    [[nodiscard]] send_result interpret(const http_response& response) const override;
    telegram_settings settings_;
};

/// Generic webhook settings.
struct webhook_channel_settings {
    std::string name = "webhook";        ///< Channel name identities use.
    std::string url;                     ///< Where to POST (required), http:// or https://.
    std::string secret;                  ///< HMAC key for X-Tagflow-Signature (required).
    channel_capabilities capabilities{}; ///< What the receiving side can show.
    /// The clock for X-Tagflow-Timestamp; the system clock when empty (tests pin it).
    std::function<time_point()> clock;
    duration timeout = std::chrono::seconds(10); ///< Per request.
};

/// A signed JSON POST to your own service. Body: {"id": key, "contact": id, "to":
/// "channel:external_id", "channel", "external_id", "text", "buttons": [{"title","payload"}],
/// "quick_replies": [...], "purpose", "cause", "form", "template", "template_params",
/// "channel_tag", "part", "parts", "timestamp"} where timestamp (Unix seconds) repeats the
/// X-Tagflow-Timestamp header so the signature covers it. Headers: X-Tagflow-Signature:
/// sha256=<hex HMAC-SHA256(secret, body)>, X-Tagflow-Timestamp, Idempotency-Key: the outbox key
/// ("key#2", "key#3"... for later parts of a split message). Results: 2xx -> sent (external_id
/// from the answer's "id", else the idempotency key); 409 -> sent (a duplicate already
/// accepted); 429, 5xx -> retry; other -> failed. No policy profile. Thread-safe.
class webhook_channel final : public http_channel {
public:
    /// Throws tagflow::error(errc::invalid_argument) when url or secret is empty.
    webhook_channel(webhook_channel_settings settings, std::shared_ptr<http_client> client);
    [[nodiscard]] std::string_view default_policy() const noexcept override { return ""; }

private:
    [[nodiscard]] http_request build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& recipient) const override;
    [[nodiscard]] send_result interpret(const http_response& response) const override;
    webhook_channel_settings settings_;
};

/// SMS gateway settings (eSMS.vn JSON API shape).
struct sms_gateway_settings {
    std::string name = "sms";                      ///< Channel name identities use.
    std::string api_key;                           ///< ApiKey (required).
    std::string secret_key;                        ///< SecretKey (required).
    std::string brandname;                         ///< Registered brandname (required: Vietnamese rules).
    std::string base_url = "https://rest.esms.vn"; ///< Scheme and host, no trailing slash.
    /// Path of the single-recipient send API.
    std::string path = "/MainService.svc/json/SendMultipleMessage_V4_post_json/";
    std::string sms_type = "2"; ///< SmsType of every send ("2": customer-care brandname).
    std::string callback_url;   ///< Delivery report URL; omitted when empty.
    bool sandbox = false;       ///< Sandbox: 1, the gateway accepts but does not deliver.
    std::size_t max_text = 480; ///< Longest SMS part in code points, including the "[QC] " label.
    duration timeout = std::chrono::seconds(10); ///< Per request.
};

/// SMS through an HTTP gateway: POST {base}{path} with {"ApiKey","SecretKey","Phone","Content",
/// "Brandname","SmsType","IsUnicode","Sandbox","RequestId"[,"CallbackUrl"]}. Phone is the
/// identity's external_id when the message goes to this channel, else the profile phone, without
/// '+'. RequestId is the outbox key ("key#2"... for later parts), and the gateway answers a
/// repeated one with CodeResult 124, so a retry never sends twice. Promotional messages start
/// with "[QC] " (Decree 91/2020), added to every part when missing. No buttons: they become
/// numbered text. Results: CodeResult 100 or 124 -> sent; 101, 103, 104 -> failed; other -> retry.
/// Policy "sms-vn-ads". Thread-safe.
class sms_gateway_channel final : public http_channel {
public:
    /// Throws tagflow::error(errc::invalid_argument) when api_key, secret_key, brandname or base_url is
    /// empty.
    sms_gateway_channel(sms_gateway_settings settings, std::shared_ptr<http_client> client);
    [[nodiscard]] std::string_view default_policy() const noexcept override { return "sms-vn-ads"; }

private:
    [[nodiscard]] http_request build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& recipient) const override;
    [[nodiscard]] send_result interpret(const http_response& response) const override;
    sms_gateway_settings settings_;
};

/// HTTP e-mail API settings (provider-neutral).
struct email_gateway_settings {
    std::string name = "email"; ///< Channel name identities use.
    std::string base_url;       ///< Scheme and host of the API (required); the adapter POSTs to {base}/send.
    std::string api_key;        ///< Bearer token (required).
    std::string from;           ///< Sender address (required), e.g. "Shop <shop@example.com>".
    std::string subject;        ///< Subject; when empty, the first line of the text (up to 78 code points).
    /// One-click unsubscribe URL for promotional mail; {{contact}}, {{email}} and {{token}} are
    /// replaced (token = first 32 hex digits of HMAC-SHA256(unsubscribe_secret, contact id)).
    std::string unsubscribe_url;
    std::string unsubscribe_mailto; ///< Optional mailto: address for List-Unsubscribe, e.g. "unsub@shop.vn".
    std::string unsubscribe_secret; ///< Key for {{token}}; required when unsubscribe_url uses it.
    duration timeout = std::chrono::seconds(10); ///< Per request.
};

/// E-mail through an HTTP API: POST {base}/send with {"from","to","subject","text","headers"}
/// and `Authorization: Bearer`, Idempotency-Key: the outbox key. The recipient is the profile
/// e-mail (or the identity's external_id when the message goes to this channel). Promotional
/// messages carry List-Unsubscribe (<url>[, <mailto:...>]) and List-Unsubscribe-Post:
/// List-Unsubscribe=One-Click (RFC 8058); a promotional message with no unsubscribe_url
/// configured is not sent: the result is failed with error_code "no_unsubscribe". Results: 2xx
/// -> sent (external_id from the answer's "id", else the key); 429, 5xx -> retry; other ->
/// failed. Policy "email". Thread-safe.
class email_gateway_channel final : public http_channel {
public:
    /// Throws tagflow::error(errc::invalid_argument) when base_url, api_key or from is empty.
    email_gateway_channel(email_gateway_settings settings, std::shared_ptr<http_client> client);
    [[nodiscard]] std::string_view default_policy() const noexcept override { return "email"; }

private:
    [[nodiscard]] http_request build_request(const outbound_message& message, const rendered_message& shaped,
                                             std::size_t index, const contact& recipient) const override;
    [[nodiscard]] send_result interpret(const http_response& response) const override;
    email_gateway_settings settings_;
};

/// A channel that keeps what it is given, for tests, simulations and the Python bindings. By
/// default every send succeeds with external_id "<name>-<n>"; results queued with script() are
/// returned first, in order. Thread-safe.
class memory_channel final : public channel {
public:
    /// One recorded send.
    struct delivery {
        outbound_message message; ///< As given.
        contact_id recipient = 0; ///< The recipient's id.
        rendered_message shaped;  ///< The message degraded for the capabilities.
        send_result result;       ///< What send() returned.
    };

    /// Throws tagflow::error(errc::invalid_argument) when name is empty.
    explicit memory_channel(std::string name, channel_capabilities caps = {}, std::string policy = "");
    [[nodiscard]] std::string_view name() const noexcept override { return name_; }
    [[nodiscard]] const channel_capabilities& capabilities() const noexcept override { return caps_; }
    [[nodiscard]] std::string_view default_policy() const noexcept override { return policy_; }
    /// Records the message and returns the next scripted result, else a success. Never throws
    /// except std::bad_alloc.
    send_result send(const outbound_message& message, const contact& recipient) override;

    /// Queues results for the next sends, in order.
    void script(std::vector<send_result> results);
    /// Queues `n` results of `kind` (error_code "scripted").
    void fail_next(int n, send_result::outcome kind = send_result::outcome::retry);
    /// Every send so far, successful or not, in order.
    [[nodiscard]] std::vector<delivery> deliveries() const;
    /// The messages of successful sends, in order.
    [[nodiscard]] std::vector<outbound_message> sent() const;
    /// Forgets deliveries and scripted results.
    void clear();

private:
    std::string name_;
    channel_capabilities caps_;
    std::string policy_;
    mutable std::mutex mutex_;
    std::vector<delivery> deliveries_;
    std::vector<send_result> script_;
    std::size_t next_script_ = 0;
    int counter_ = 0;
};

/// Prints each message as "[name] channel:external_id: text" lines (buttons and quick replies as
/// "  [title]" lines) to a stream, for demos and the command line. Always succeeds. The stream
/// must outlive the channel; writes are serialised by a lock.
class console_channel final : public channel {
public:
    /// Throws tagflow::error(errc::invalid_argument) when name is empty.
    console_channel(std::string name, std::ostream& out, channel_capabilities caps = {});
    [[nodiscard]] std::string_view name() const noexcept override { return name_; }
    [[nodiscard]] const channel_capabilities& capabilities() const noexcept override { return caps_; }
    [[nodiscard]] std::string_view default_policy() const noexcept override { return ""; }
    /// Writes the message; returns sent with external_id "<name>-<n>".
    send_result send(const outbound_message& message, const contact& recipient) override;

private:
    std::string name_;
    std::ostream& out_;
    channel_capabilities caps_;
    std::mutex mutex_;
    int counter_ = 0;
};

/// Channels by name, as load_channels returns them.
using channel_set = std::map<std::string, std::shared_ptr<channel>, std::less<>>;

/// Builds one channel named `name` from a JSON object of settings (one entry of a channels file,
/// see load_channels) that has a "type". `client` performs HTTP requests; when null, a built-in
/// client is made. Throws tagflow::definition_error with a JSON path rooted at the object
/// ("$.access_token") when the JSON is malformed, a key is unknown, missing or of the wrong type.
/// Thread-safe.
std::unique_ptr<channel> make_channel(std::string_view name, std::string_view settings_json,
                                      std::shared_ptr<http_client> client = nullptr);

/// Parses a channels file: a JSON object whose keys are channel names (lowercase ASCII letters,
/// digits, '_' and '-') and whose values are settings objects with a "type":
///
///     {"zalo": {"type": "zalo_oa", "access_token": {"env": "ZALO_TOKEN"}},
///      "fb":   {"type": "messenger", "page_id": "123", "access_token": "EAAG..."}}
///
/// Every string setting may be written as {"env": "NAME"} to read it from the environment
/// (an unset variable is an error). Keys per type (required ones marked *):
/// - every type: "type"*
/// - every HTTP type: "timeout_ms" (integer > 0, default 10000); "base_url" (scheme and host,
///   default the real API host) for all but "webhook", which takes a full "url" instead
/// - "zalo_oa": "access_token"*, "app_secret", "template_recipient_nested" (bool),
///   "template_params" ({"<template id>": ["name", ...]})
/// - "messenger": "page_id"*, "access_token"*, "app_secret", "version"
/// - "whatsapp": "phone_number_id"*, "access_token"*, "version", "template_language"
/// - "telegram": "bot_token"*
/// - "webhook": "url"*, "secret"*, "max_text", "max_buttons", "max_quick_replies",
///   "max_button_title" (integers)
/// - "sms": "api_key"*, "secret_key"*, "brandname"*, "path", "sms_type", "callback_url",
///   "sandbox" (bool), "max_text"
/// - "email": "base_url"*, "api_key"*, "from"*, "subject", "unsubscribe_url",
///   "unsubscribe_mailto", "unsubscribe_secret"
/// - "memory": "max_text", "max_buttons", "max_quick_replies", "max_button_title", "policy"
/// - "console": "max_text", "max_buttons", "max_quick_replies", "max_button_title"; it prints
///   to standard output
///
/// A key not listed for the type is an error, so a misspelt setting is never silently ignored.
///
/// The channel's name is its key. `client` is shared by the HTTP adapters (a built-in client
/// when null). Throws tagflow::definition_error naming the JSON path, e.g.
/// "$.zalo.access_token: required string is missing". Thread-safe.
channel_set load_channels(std::string_view json_text, std::shared_ptr<http_client> client = nullptr);

} // namespace tagflow
