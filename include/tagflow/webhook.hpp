#pragma once
/// \file webhook.hpp
/// Inbound webhooks: pure parsers that turn a platform's webhook body into tagflow events, the
/// signature checks each platform uses, and `webhook_server`, an HTTP/1.1 server that verifies,
/// parses and ingests webhooks with group commit and answers 200 only once the events are
/// durable. See docs/webhooks.md.

#include <tagflow/engine.hpp>
#include <tagflow/event.hpp>
#include <tagflow/time.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

// ---------------------------------------------------------------------------------------------
// Parsers. Each takes the raw request body and returns the events it carries, in the order the
// platform sent them. Events the engine has no use for (echoes of the shop's own messages,
// reactions, unknown event types) are skipped, so an empty vector is a normal answer. Every event
// carries an idempotency key derived from the platform's ids, so a retried webhook is a no-op.
// Malformed JSON or a missing required field throws event_error whose field() names the place in
// the body (e.g. "entry[0].messaging[1].sender.id"). All parsers are pure and thread-safe.
// ---------------------------------------------------------------------------------------------

/// Parses a Zalo OA webhook body (one event per POST): user_send_* messages, follow, unfollow,
/// user_submit_info, user_received_message and user_seen_message receipts. Throws event_error
/// for malformed JSON or a missing field. Thread-safe.
std::vector<event> parse_zalo_webhook(std::string_view body);

/// Parses a Messenger webhook body ({"object": "page", "entry": [{"messaging": [...]}]}):
/// messages, quick replies, postbacks and delivery receipts. Bodies for other objects give no
/// events. Throws event_error for malformed JSON or a missing field. Thread-safe.
std::vector<event> parse_messenger_webhook(std::string_view body);

/// Parses a WhatsApp Cloud API webhook body (entry[].changes[].value with messages and
/// statuses): messages, button and list replies, delivered/read/failed statuses. Throws
/// event_error for malformed JSON or a missing field. Thread-safe.
std::vector<event> parse_whatsapp_webhook(std::string_view body);

/// Parses a Telegram update: a private-chat message or a callback_query. Other update kinds and
/// group messages give no events. Throws event_error for malformed JSON or a missing field.
/// Thread-safe.
std::vector<event> parse_telegram_webhook(std::string_view body);

/// Parses a generic webhook body: {"events": [<event JSON>...]} or a single event object, each as
/// accepted by event_from_json. Throws event_error (field prefixed with "events[i]." for the
/// list form) for malformed JSON or a bad event. Thread-safe.
std::vector<event> parse_generic_webhook(std::string_view body);

// ---------------------------------------------------------------------------------------------
// Signatures. Comparisons run in constant time (they depend only on the lengths), so a failed
// check does not reveal how much of a forged signature was right. None of these throw.
// ---------------------------------------------------------------------------------------------

/// Zalo's X-ZEvent-Signature for `raw_body`: lowercase hex of the plain SHA-256 (not an HMAC) of
/// app_id + raw_body + timestamp + oa_secret, where `timestamp` is the "timestamp" field of the
/// body as written there. For emulators and tests. Never fails; thread-safe.
std::string zalo_signature(std::string_view app_id, std::string_view raw_body, std::string_view timestamp,
                           std::string_view oa_secret);

/// Checks an X-ZEvent-Signature header (an optional "mac=" prefix is stripped, hex case is
/// ignored) against `raw_body`, taking the timestamp from the body's "timestamp" field. False
/// when the body has no timestamp, the header is empty or the digest differs. Never throws;
/// thread-safe.
bool verify_zalo_signature(std::string_view app_id, std::string_view oa_secret, std::string_view raw_body,
                           std::string_view header_value) noexcept;

/// Meta's (Messenger, WhatsApp) X-Hub-Signature-256 value for `raw_body`: "sha256=" followed by
/// the lowercase hex HMAC-SHA256 keyed with the app secret. Never fails; thread-safe.
std::string meta_signature(std::string_view app_secret, std::string_view raw_body);

/// Checks an X-Hub-Signature-256 header ("sha256=<hex>", hex case ignored) against the raw body
/// bytes as received (Meta signs its escaped-unicode form, so never re-serialise). False when
/// the prefix is missing, the length is wrong or the digest differs. Never throws; thread-safe.
bool verify_meta_signature(std::string_view app_secret, std::string_view raw_body,
                           std::string_view header_value) noexcept;

/// Checks Telegram's X-Telegram-Bot-Api-Secret-Token header against the secret_token given to
/// setWebhook. False when either is empty or they differ. Never throws; thread-safe.
bool verify_telegram_secret(std::string_view expected, std::string_view header_value) noexcept;

/// The generic X-Tagflow-Signature value: "sha256=" + lowercase hex HMAC-SHA256(secret,
/// timestamp + "." + raw_body), where `timestamp` is the X-Tagflow-Timestamp header (Unix
/// seconds, decimal). Signing the timestamp with the body is what makes the tolerance worth
/// anything: a captured request cannot be replayed later with a fresh timestamp. Never fails;
/// thread-safe.
std::string generic_signature(std::string_view secret, std::string_view timestamp, std::string_view raw_body);

/// Checks the generic X-Tagflow-Signature and X-Tagflow-Timestamp headers: the signature must
/// match generic_signature and the timestamp must lie within `tolerance` of `now` (either way).
/// False otherwise, including for an empty secret or a timestamp that is not a decimal number.
/// Never throws; thread-safe.
bool verify_generic_signature(std::string_view secret, std::string_view raw_body,
                              std::string_view signature_header, std::string_view timestamp_header,
                              time_point now,
                              std::chrono::seconds tolerance = std::chrono::seconds(300)) noexcept;

// ---------------------------------------------------------------------------------------------
// Server.
// ---------------------------------------------------------------------------------------------

/// Configuration of a webhook_server. A platform whose secret is empty is switched off (its
/// endpoints answer 404) unless `allow_unsigned` is set.
struct webhook_settings {
    std::string address = "127.0.0.1"; ///< Address to bind (IPv4 or IPv6 literal).
    std::uint16_t port = 0;            ///< Port to bind; 0 picks a free one (see webhook_server::port).
    /// Threads doing network I/O, parsing and signature checks (>= 1); see docs/webhooks.md.
    std::size_t threads = 1;
    std::size_t max_body = 1024 * 1024;        ///< Larger bodies are refused with 413 before they are read.
    std::size_t max_batch = 1024;              ///< Most events committed in one transaction by the writer.
    std::chrono::seconds idle_timeout{30};     ///< A keep-alive connection idle this long is closed.
    std::chrono::seconds shutdown_timeout{10}; ///< stop() waits this long for in-flight requests.
    /// Accept unsigned requests on platforms without a configured secret. For local testing only.
    bool allow_unsigned = false;
    /// Source of "now" for timestamp tolerances (generic, Zalo's max_age); the system clock when
    /// empty. Tests pass a fixed clock.
    std::function<time_point()> clock;

    /// Zalo OA: POST /webhooks/zalo.
    struct zalo_settings {
        std::string app_id;    ///< The app id, first part of the signed string.
        std::string oa_secret; ///< The OA secret key shown when the OA was linked to the app.
        /// Refuse (403) events whose body timestamp is further than this from now. Off by default:
        /// Zalo retries a failed delivery for about an hour with the original timestamp, and those
        /// retries must be accepted.
        std::optional<std::chrono::seconds> max_age;
    } zalo;

    /// Messenger: GET and POST /webhooks/messenger.
    struct meta_settings {
        std::string app_secret;   ///< Key of the X-Hub-Signature-256 HMAC.
        std::string verify_token; ///< Expected hub.verify_token of the subscription handshake.
    } messenger, whatsapp;        ///< WhatsApp uses the same scheme on GET and POST /webhooks/whatsapp.

    /// Telegram: POST /webhooks/telegram.
    struct telegram_settings {
        std::string secret_token; ///< The secret_token given to setWebhook.
    } telegram;

    /// Generic (the shop's own systems): POST /webhooks/generic.
    struct generic_settings {
        std::string secret;                  ///< Key of the X-Tagflow-Signature HMAC.
        std::chrono::seconds tolerance{300}; ///< Accepted distance of X-Tagflow-Timestamp from now.
    } generic;
};

/// Where a webhook_server hands the events of its requests: a batch in, one result per event
/// out, durable when it returns (engine::ingest_batch and runtime::ingest_batch fit). It is
/// called from a single writer thread. It should throw tagflow::event_error for an invalid event
/// (the request is answered 400) and tagflow::error otherwise (500).
using webhook_sink = std::function<std::vector<ingest_result>(std::span<const event>)>;

/// An HTTP/1.1 server (Boost.Beast, keep-alive) for platform webhooks:
///
/// - POST /webhooks/{zalo,messenger,whatsapp,telegram,generic}: verify, parse, ingest;
/// - GET /webhooks/{messenger,whatsapp}: Meta's hub.challenge handshake;
/// - GET /healthz: liveness.
///
/// Answers: 200 once the request's events are durable; 403 for a bad signature or verify token
/// (nothing stored); 413 for a body over max_body (refused from Content-Length before reading);
/// 400 with {"error": ..., "field": ...} for a malformed body or an event the engine refuses;
/// 404 for an unknown or switched-off path; 405 for a wrong method; 500 when storing failed.
///
/// Group commit: requests that arrive while the writer thread is committing are queued and the
/// next transaction takes all of them (up to max_batch events), so a lone request is committed
/// at once and a busy server spends one fsync on many requests. If such a batch is refused,
/// the writer retries its requests one at a time, so only the bad one fails.
///
/// Thread-safety: start(), stop() and port() may be called from any thread. The engine (or
/// whatever the sink writes to) must outlive the server.
class webhook_server {
public:
    /// A server ingesting into `e` with engine::ingest_batch. Before ingesting, custom profile
    /// fields that e's current definitions do not declare (such as Zalo's "address") are dropped
    /// from platform events, so a form answer is not refused for want of a field the shop did not
    /// ask for; generic events are ingested as given. Throws tagflow::error(errc::invalid_argument)
    /// for threads == 0, max_body == 0 or max_batch == 0. Nothing is bound until start().
    webhook_server(engine& e, webhook_settings settings);
    /// A server handing batches to `sink` (e.g. runtime::ingest_batch of a runtime on `e`, so its
    /// timers are woken) while looking up declared fields in `e` as the engine overload does.
    /// Throws like the engine overload, and for an empty sink.
    webhook_server(engine& e, webhook_sink sink, webhook_settings settings);
    /// A server handing batches to `sink`, events passed exactly as parsed (no field is dropped,
    /// so a Zalo form answer with an address is refused unless the sink's definitions declare
    /// `address`). Throws like the engine overload, and for an empty sink.
    webhook_server(webhook_sink sink, webhook_settings settings);
    /// Calls stop(); never throws.
    ~webhook_server();
    webhook_server(const webhook_server&) = delete;
    webhook_server& operator=(const webhook_server&) = delete;
    webhook_server(webhook_server&&) = delete;
    webhook_server& operator=(webhook_server&&) = delete;

    /// Binds, listens and starts the I/O and writer threads; returns once the port is open.
    /// Throws tagflow::error(errc::invalid_argument) when the address cannot be parsed or bound,
    /// or when the server was already started (a server runs once). Thread-safe.
    void start();

    /// Graceful shutdown: stops accepting, closes idle keep-alive connections, lets requests in
    /// flight finish (their events are committed and answered, with Connection: close), then
    /// joins every thread. Connections still busy after shutdown_timeout are cut. Idempotent;
    /// never throws. Thread-safe.
    void stop() noexcept;

    /// The bound port (the chosen one when settings.port was 0); 0 before start(). Never fails;
    /// thread-safe.
    [[nodiscard]] std::uint16_t port() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace tagflow
