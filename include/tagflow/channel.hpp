#pragma once
/// \file channel.hpp
/// Channel adapters: they turn a channel-neutral outbox message into one platform's API call.
/// Built like spdlog's sinks: a small interface (channel), a base class doing the shared work
/// (http_channel: degrade content, build the platform's requests, interpret its answers), and
/// final concrete adapters (channels.hpp). The engine never calls adapters while it decides;
/// the dispatcher (dispatcher.hpp) does, and records what they return as events.

#include <tagflow/contact.hpp>
#include <tagflow/http.hpp>
#include <tagflow/outbox.hpp>
#include <tagflow/time.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// What a channel can show. Content beyond it is degraded, never dropped: buttons become
/// numbered text, quick replies likewise, long text is split at the limit.
struct channel_capabilities {
    std::size_t max_text = 2000;       ///< Longest text part, in Unicode code points (NFC).
    std::size_t max_buttons = 0;       ///< Buttons per message; 0 means none (numbered text instead).
    std::size_t max_quick_replies = 0; ///< Quick replies per message; 0 means none.
    std::size_t max_button_title = 20; ///< Longest button / quick-reply title; longer ones are cut.
    bool media = false;                ///< Images and files can be attached.
    bool templates = false;            ///< Pre-approved templates can be sent (WhatsApp, Zalo ZBS).

    friend bool operator==(const channel_capabilities&, const channel_capabilities&) = default;
};

/// A message shaped for one channel: the text split into parts that fit, and the buttons and
/// quick replies the channel can carry (attached to the last part).
struct rendered_message {
    std::vector<std::string> parts;         ///< At least one part; each within max_text.
    std::vector<button> buttons;            ///< Kept buttons (titles cut to fit).
    std::vector<std::string> quick_replies; ///< Kept quick replies (titles cut to fit).

    friend bool operator==(const rendered_message&, const rendered_message&) = default;
};

/// Shapes `m` for a channel with `caps`: buttons and quick replies beyond the capability become
/// numbered lines ("1. Title") appended to the text; text longer than max_text is split at a
/// line break or space when one is near, else at the limit (never inside a UTF-8 sequence).
/// Pure; thread-safe.
rendered_message degrade(const outbound_message& m, const channel_capabilities& caps);

/// The result of one send attempt, as the dispatcher records it.
struct send_result {
    /// How the attempt ended.
    enum class outcome {
        sent,    ///< Accepted; external_id is the platform's message id.
        retry,   ///< Temporary failure (rate limit, 5xx, timeout): try again later.
        failed,  ///< Permanent failure for this message (bad recipient, user blocked the account).
        blocked, ///< The platform refused it by policy (outside the window, at night): not retried.
    };
    outcome result = outcome::sent;      ///< What happened.
    std::string external_id;             ///< Platform message id when sent.
    std::string error_code;              ///< Platform error, e.g. "-230", "10/2018278", "429".
    std::string detail;                  ///< Human-readable explanation.
    std::optional<duration> retry_after; ///< The platform's own wait (Telegram retry_after).
    int requests = 0;                    ///< HTTP requests made (parts of a split message).

    /// A successful result.
    static send_result ok(std::string external_id) {
        send_result r;
        r.external_id = std::move(external_id);
        return r;
    }
    /// A failed result of `kind` with a platform code and an explanation.
    static send_result fail(outcome kind, std::string code, std::string detail) {
        send_result r;
        r.result = kind;
        r.error_code = std::move(code);
        r.detail = std::move(detail);
        return r;
    }
};

/// "sent", "retry", "failed" or "blocked". Never fails; thread-safe.
std::string_view to_string(send_result::outcome o) noexcept;

/// A channel adapter. Implementations must be callable from the dispatcher thread while other
/// threads use the engine; an adapter is not required to be called from several threads at
/// once (the dispatcher calls each one from one thread). Platform faults are results, never
/// exceptions: an exception escaping send() is caught by the dispatcher and recorded as a retry.
class channel {
public:
    virtual ~channel() = default;
    /// The channel name identities use, e.g. "zalo", "messenger", "telegram".
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;
    /// What the channel can show.
    [[nodiscard]] virtual const channel_capabilities& capabilities() const noexcept = 0;
    /// The policy profile the channel follows unless the definitions name another
    /// (policy.hpp), e.g. "zalo-2026"; empty for none.
    [[nodiscard]] virtual std::string_view default_policy() const noexcept = 0;
    /// Delivers one message to `recipient` (the contact it is addressed to, for profile data
    /// such as phone or e-mail). Blocking; returns how it ended.
    virtual send_result send(const outbound_message& message, const contact& recipient) = 0;
};

/// Base of adapters that speak HTTP: degrades the message, asks the concrete adapter for one
/// request per text part, performs them through an http_client (stopping at the first part that
/// is not sent) and lets the adapter interpret each answer.
class http_channel : public channel {
public:
    [[nodiscard]] std::string_view name() const noexcept override { return name_; }
    [[nodiscard]] const channel_capabilities& capabilities() const noexcept override { return caps_; }
    send_result send(const outbound_message& message, const contact& recipient) final;

    /// The requests send() would make for `message`, without making them (for tests, dry runs
    /// and the docs). Throws tagflow::error(errc::invalid_argument) when the recipient cannot be
    /// addressed on this channel (e.g. an SMS to a contact without a phone).
    [[nodiscard]] std::vector<http_request> requests_for(const outbound_message& message,
                                                         const contact& recipient) const;

protected:
    /// `client` performs the requests; share one between adapters if you like.
    http_channel(std::string name, channel_capabilities caps, std::shared_ptr<http_client> client);

    /// The platform request carrying part `index` of `shaped` (buttons and quick replies go with
    /// the last part). Throws tagflow::error(errc::invalid_argument) when it cannot be addressed.
    [[nodiscard]] virtual http_request build_request(const outbound_message& message,
                                                     const rendered_message& shaped, std::size_t index,
                                                     const contact& recipient) const = 0;
    /// Classifies the platform's answer to one request.
    [[nodiscard]] virtual send_result interpret(const http_response& response) const = 0;

private:
    std::string name_;
    channel_capabilities caps_;
    std::shared_ptr<http_client> client_;
};

} // namespace tagflow
