#pragma once
/// \file outbox.hpp
/// Outbound messages. Every decided send is an outbox row written in the same transaction as
/// the state change that decided it; its key makes a retried or replayed event harmless.

#include <tagflow/contact.hpp>
#include <tagflow/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tagflow {

/// Delivery state of an outbound message. pending and deferred rows are waiting for the
/// dispatcher; the others are final except that receipts move sent -> delivered -> read.
enum class message_status {
    pending,     ///< Decided; waiting for dispatch (or for a retry at next_attempt).
    sent,        ///< The channel accepted it.
    failed,      ///< The channel refused it for good.
    blocked,     ///< Channel policy refused it; `reason` names the rule. No adapter call.
    deferred,    ///< Held by a cap or channel policy until `not_before`; never dropped.
    delivered,   ///< The platform reported it delivered.
    read,        ///< The platform reported it read.
    dead_letter, ///< The dispatcher gave up after its last try.
    cancelled,   ///< Withdrawn before it went out (a cancelled broadcast).
};

/// The status name, e.g. "dead_letter". Never fails; thread-safe.
std::string_view to_string(message_status s) noexcept;
/// Parses a status name; std::nullopt when unknown. Thread-safe.
std::optional<message_status> parse_message_status(std::string_view name) noexcept;

/// A button on a message: a title and the postback payload it sends back.
struct button {
    std::string title;   ///< What the contact sees.
    std::string payload; ///< What comes back as a postback.
    friend bool operator==(const button&, const button&) = default;
};

/// One outbound message, channel-neutral.
struct outbound_message {
    std::int64_t id = 0;                    ///< Store-assigned, in order of decision.
    std::string key;                        ///< Idempotency key: unique in the store.
    contact_id contact = 0;                 ///< Recipient.
    identity to;                            ///< Channel and address it goes to.
    std::string text;                       ///< Rendered UTF-8 text.
    std::vector<std::string> quick_replies; ///< Quick reply titles (adapters degrade them to text).
    std::vector<button> buttons;            ///< Buttons (adapters degrade them to numbered text).
    std::string form;                       ///< The form this message asks the contact to fill, if any.
    std::optional<time_point> not_before;   ///< Deferred by a frequency cap: the earliest time it may go out.
    std::string purpose;                    ///< reply, transactional or promotional.
    time_point created_at;                  ///< When it was decided.
    std::int64_t cause_event = 0;           ///< The event whose processing decided it.
    std::string cause;                      ///< What decided it, e.g. "rule:welcome".
    message_status status = message_status::pending; ///< Delivery state.

    // Channel specifics decided with the message.
    std::string channel_tag;   ///< Platform message tag, e.g. Messenger "HUMAN_AGENT"; empty for none.
    bool by_human = false;     ///< Written by staff, not automation (Messenger HUMAN_AGENT needs it).
    std::string template_name; ///< Pre-approved platform template (WhatsApp, Zalo ZBS); empty for free-form.
    std::vector<std::string> template_params; ///< Template parameters, in order.

    // Channel policy's decision.
    double cost = 0;      ///< Price the policy expects the platform to bill, in `currency`.
    std::string currency; ///< Currency of `cost`; empty when free.
    std::string
        policy_rule;    ///< Policy rule that billed, deferred or blocked it, e.g. "messenger.window_24h".
    std::string reason; ///< Why it was blocked or deferred, in words.

    // Dispatch.
    int attempts = 0;                       ///< Adapter calls made so far.
    std::optional<time_point> next_attempt; ///< After a temporary failure: when to try again.
    std::string external_id;                ///< The platform's id once sent.
    std::string last_error;                 ///< Error of the last failed attempt.
    std::optional<time_point> sent_at;      ///< When the channel accepted it.
    std::optional<time_point> delivered_at; ///< Receipt: delivered.
    std::optional<time_point> read_at;      ///< Receipt: read.
    std::optional<time_point> clicked_at;   ///< Receipt: clicked.

    /// True while the dispatcher still has to act on it (pending or deferred).
    [[nodiscard]] bool waiting() const noexcept {
        return status == message_status::pending || status == message_status::deferred;
    }
    /// Earliest time the dispatcher may try it: the later of not_before and next_attempt.
    [[nodiscard]] time_point due() const noexcept {
        time_point t = created_at;
        if (not_before && *not_before > t) {
            t = *not_before;
        }
        if (next_attempt && *next_attempt > t) {
            t = *next_attempt;
        }
        return t;
    }

    friend bool operator==(const outbound_message&, const outbound_message&) = default;
};

} // namespace tagflow
