#pragma once
/// \file platform_emulator.hpp
/// A local stand-in for the messaging platforms' HTTP APIs, for tests and manual runs: one
/// server on 127.0.0.1 (port 0 picks a free port) that answers like Zalo OA, Messenger,
/// WhatsApp Cloud API, Telegram, a generic signed webhook receiver, an eSMS.vn-style SMS
/// gateway and an HTTP e-mail API, on their real paths. It records every request and every
/// distinct message it accepted, so a test can check the exact HTTP request and that a retry
/// did not deliver a second message. Optionally serves HTTPS with a given certificate.

#include <tagflow/time.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tagflow::testing {

/// One HTTP request as received.
struct recorded_request {
    std::string method;                                       ///< "POST", "GET", ...
    std::string target;                                       ///< Path and query, as sent.
    std::vector<std::pair<std::string, std::string>> headers; ///< In order received.
    std::string body;                                         ///< Raw body.

    /// The value of header `name` (case-insensitive); "" when absent.
    [[nodiscard]] std::string header(std::string_view name) const;
};

/// A message the emulated platform accepted (a duplicate or refused request adds none).
struct accepted_message {
    std::string platform;  ///< "zalo", "messenger", "whatsapp", "telegram", "webhook", "sms" or "email".
    std::string recipient; ///< User id, PSID, phone, chat id or e-mail address.
    std::string id;        ///< The id the emulator answered with.
    std::string text;      ///< The text shown, when the message has one.
    std::string body;      ///< The request body.
};

/// What the emulated platforms enforce. Empty credentials accept anything.
struct emulator_config {
    /// The platforms' clock (Zalo's 7-day window and night rule); the system clock when empty.
    std::function<time_point()> clock;

    std::string zalo_access_token; ///< When set, another `access_token` header answers -216.
    std::string
        zalo_app_secret; ///< When set, `appsecret_proof` must be HMAC-SHA256(secret, token), else -242.
    /// Last interaction per Zalo user id: a user listed here whose last interaction is more
    /// than 7 days before the clock answers -230 to consultation messages. Users not listed
    /// may always be messaged.
    std::map<std::string, time_point> zalo_last_interaction;
    /// Template (ZBS) sends between 22:00 and 06:00 Vietnam time answer -234.
    bool zalo_night_block = false;

    std::string messenger_access_token;             ///< When set, another token answers code 190.
    std::set<std::string> messenger_outside_window; ///< PSIDs answered 10/2018278.
    std::set<std::string> messenger_unavailable;    ///< PSIDs answered 551/1545041.

    std::string whatsapp_access_token; ///< When set, another bearer token answers 401/190.
    std::set<std::string>
        whatsapp_outside_window; ///< Numbers (no '+') answered 131047 unless it is a template.

    std::string telegram_token;             ///< When set, another bot token answers 401.
    int telegram_rate_limited = 0;          ///< The next N sendMessage calls answer 429.
    int telegram_retry_after = 3;           ///< parameters.retry_after of those answers, in seconds.
    std::set<std::string> telegram_blocked; ///< Chat ids answered 403 "bot was blocked by the user".

    std::string webhook_secret; ///< When set, X-Tagflow-Signature must verify, else 401.

    std::string sms_api_key;    ///< When set, another ApiKey answers CodeResult 101.
    std::string sms_secret_key; ///< When set, another SecretKey answers CodeResult 101.

    std::string email_api_key; ///< When set, another bearer token answers 401.

    int fail_next = 0;     ///< The next N requests, whatever the platform, answer fail_status.
    int fail_status = 503; ///< Status of those answers.
};

/// Where and how the emulator listens.
struct emulator_options {
    std::string host = "127.0.0.1"; ///< Address to bind.
    unsigned short port = 0;        ///< 0 picks a free port.
    std::string tls_cert_pem;       ///< When set (with tls_key_pem), serve HTTPS with this certificate chain.
    std::string tls_key_pem;        ///< Private key of tls_cert_pem.
};

/// The emulator. It listens from construction, serves on its own thread and stops in the
/// destructor. Every member function is thread-safe.
class platform_emulator {
public:
    /// Binds and starts serving. Throws std::runtime_error when it cannot bind or load the TLS
    /// certificate.
    explicit platform_emulator(emulator_options options = {});
    ~platform_emulator();
    platform_emulator(const platform_emulator&) = delete;
    platform_emulator& operator=(const platform_emulator&) = delete;

    /// "http://127.0.0.1:<port>" (https:// when serving TLS).
    [[nodiscard]] std::string base_url() const;
    /// The bound port.
    [[nodiscard]] unsigned short port() const;
    /// Changes what the platforms enforce, under the emulator's lock.
    void configure(const std::function<void(emulator_config&)>& change);
    /// Every request so far, in order.
    [[nodiscard]] std::vector<recorded_request> requests() const;
    /// Every accepted message so far, in order.
    [[nodiscard]] std::vector<accepted_message> messages() const;
    /// Accepted messages of one platform.
    [[nodiscard]] std::vector<accepted_message> messages(std::string_view platform) const;
    /// Forgets requests, messages and seen idempotency keys (the configuration stays).
    void clear();
    /// Stops serving; idempotent. The destructor calls it.
    void stop();

    /// The server's state; opaque (public only so the sessions in the .cpp can name it).
    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// A self-signed certificate for tests: an EC P-256 key, valid for a day, with subjectAltNames
/// DNS:localhost and IP:127.0.0.1.
struct self_signed_certificate {
    std::string cert_pem; ///< The certificate, which is also its own CA.
    std::string key_pem;  ///< The private key.
};

/// Makes one with OpenSSL. Throws std::runtime_error when OpenSSL fails.
self_signed_certificate make_self_signed_certificate();

} // namespace tagflow::testing
