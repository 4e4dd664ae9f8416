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

/// Delivery state of an outbound message.
enum class message_status { pending, sent, failed, blocked, deferred };

/// "pending", "sent", "failed", "blocked" or "deferred". Never fails; thread-safe.
std::string_view to_string(message_status s) noexcept;

/// A button on a message: a title and the postback payload it sends back.
struct button {
    std::string title;   ///< What the contact sees.
    std::string payload; ///< What comes back as a postback.
    friend bool operator==(const button&, const button&) = default;
};

/// One outbound message, channel-neutral.
struct outbound_message {
    std::int64_t id = 0;       ///< Store-assigned, in order of decision.
    std::string key;           ///< Idempotency key: unique in the store.
    contact_id contact = 0;    ///< Recipient.
    identity to;               ///< Channel and address it goes to.
    std::string text;          ///< Rendered UTF-8 text.
    std::vector<std::string> quick_replies; ///< Quick reply titles (adapters degrade them to text).
    std::vector<button> buttons;            ///< Buttons (adapters degrade them to numbered text).
    std::string form;          ///< The form this message asks the contact to fill, if any.
    std::optional<time_point> not_before; ///< Deferred by a frequency cap: the earliest time it may go out.
    std::string purpose;       ///< reply, transactional or promotional.
    time_point created_at;     ///< When it was decided.
    std::int64_t cause_event = 0; ///< The event whose processing decided it.
    std::string cause;         ///< What decided it, e.g. "rule:welcome".
    message_status status = message_status::pending; ///< Delivery state.

    friend bool operator==(const outbound_message&, const outbound_message&) = default;
};

} // namespace tagflow
