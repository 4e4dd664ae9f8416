#pragma once
/// \file event.hpp
/// Events: everything that happens to a contact. External events come in through
/// engine::ingest; derived ones (tag changes, lifecycle changes) are produced by the engine.

#include <tagflow/contact.hpp>
#include <tagflow/time.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// The kind of an event.
enum class event_kind {
    message_received,   ///< The contact sent a message (text).
    postback,           ///< The contact pressed a button or quick reply (payload).
    form_opened,        ///< The contact opened a form (form).
    form_submitted,     ///< The contact submitted a form (form, data).
    order_placed,       ///< The shop reports an order (order).
    profile_updated,    ///< Profile attributes or custom fields changed (profile).
    customer_linked,    ///< The shop linked the contact to its own customer id (customer_id).
    note_added,         ///< Staff or automation wrote a note (author, text).
    track,              ///< A custom event from the shop (name, data).
    tag_added,          ///< A tag was added (tag). Ingesting it adds the tag.
    tag_removed,        ///< A tag was removed (tag). Ingesting it removes the tag.
    lifecycle_changed,  ///< Derived only: the lifecycle moved forward. Cannot be ingested.
    automation_resumed, ///< Staff hand the contact back to automation after a handoff.
    request_completed,  ///< An external request made for a flow got its answer (request_id, status, text,
                        ///< error).
    followed,           ///< The contact followed the channel's account (Zalo OA follow).
    unfollowed,         ///< The contact stopped following it.
    delivery_update,    ///< A send attempt's result or a platform receipt for an outbox message
                        ///< (message_id or external_id, delivery, error, until).
    broadcast,          ///< One recipient of a broadcast (name, text, data: purpose/template/channels;
                        ///< until: scheduled time). Written by engine::send_broadcast.
};

/// What a delivery_update reports about an outbox message.
enum class delivery_status {
    sent,        ///< The channel accepted it (external_id set).
    retry,       ///< A temporary failure; try again at `until`.
    failed,      ///< A permanent failure (error says why).
    dead_letter, ///< Gave up after the dispatcher's last try.
    blocked,     ///< Channel policy refused it at dispatch (error names the rule).
    deferred,    ///< Channel policy holds it until `until`.
    delivered,   ///< Receipt: it reached the contact's device.
    read,        ///< Receipt: the contact read it.
    clicked,     ///< Receipt: the contact followed a link or button in it.
    cancelled,   ///< Withdrawn before it went out (a cancelled broadcast).
};

/// Name used in JSON, e.g. "dead_letter". Never fails; thread-safe.
std::string_view to_string(delivery_status s) noexcept;
/// Parses a delivery status name; std::nullopt when unknown. Thread-safe.
std::optional<delivery_status> parse_delivery_status(std::string_view name) noexcept;

/// Name used in JSON and definitions, e.g. "message_received". Never fails; thread-safe.
std::string_view to_string(event_kind kind) noexcept;
/// Parses an event kind name; std::nullopt when unknown. Thread-safe.
std::optional<event_kind> parse_event_kind(std::string_view name) noexcept;

/// Profile attributes carried by an event; only the present ones change. Phones and e-mails are
/// normalised on ingest (an invalid one refuses the event).
struct profile_update {
    std::optional<std::string> name;           ///< Display name.
    std::optional<std::string> phone;          ///< Any common spelling; stored as E.164.
    std::optional<std::string> email;          ///< Stored lowercased.
    std::optional<std::string> time_zone;      ///< IANA zone name.
    std::optional<std::string> locale;         ///< BCP 47 tag.
    std::map<std::string, std::string> fields; ///< Custom fields as text, converted to their declared type.

    /// True when nothing is set.
    [[nodiscard]] bool empty() const noexcept {
        return !name && !phone && !email && !time_zone && !locale && fields.empty();
    }
    friend bool operator==(const profile_update&, const profile_update&) = default;
};

/// An order reported by the shop.
struct order_info {
    std::string order_id;           ///< The shop's order id.
    double total = 0;               ///< Order total (>= 0), in `currency`.
    std::string currency = "VND";   ///< ISO 4217 code.
    std::vector<std::string> items; ///< Product names, as shown to the customer.

    friend bool operator==(const order_info&, const order_info&) = default;
};

/// One event. Build it with the named factories, then chain with_key()/at_time() as needed.
/// Which members matter depends on `kind`; engine::ingest validates them and names the bad one.
struct event {
    event_kind kind = event_kind::message_received; ///< What happened.
    tagflow::identity identity;                     ///< Who, as the channel knows them (or use `contact`).
    std::optional<contact_id> contact;              ///< Who, by contact id (API-side events).
    std::optional<time_point> at;                   ///< When; the engine clock when absent.
    std::string key;                                ///< Idempotency key; a repeated key is a no-op.
    std::string text;                               ///< Message or note text.
    std::string payload;                            ///< Postback payload.
    std::string form;                               ///< Form name.
    std::map<std::string, std::string> data;        ///< Form fields or track properties.
    profile_update profile;                         ///< Profile changes (any kind may carry them).
    order_info order;                               ///< Order details.
    std::string customer_id;                        ///< The shop's customer id (customer_linked).
    std::string tag;                                ///< Tag name (tag_added / tag_removed).
    std::string name;   ///< Track event name; delivery_update: the policy rule that blocked or deferred it.
    std::string author; ///< Note author.
    std::int64_t request_id = 0; ///< request_completed: the http_request id.
    int status = 0;              ///< request_completed: HTTP status (0 when there was none).
    std::string error;           ///< request_completed: transport failure; delivery_update: error or rule.
    std::int64_t message_id = 0; ///< delivery_update: the outbox message (or give external_id).
    std::string external_id;     ///< delivery_update: the platform's id of the message.
    std::optional<tagflow::delivery_status> delivery; ///< delivery_update: what happened.
    std::optional<time_point> until;                  ///< delivery_update: retry or deferral time.

    /// A message from `who`.
    static event message(tagflow::identity who, std::string text);
    /// A button or quick reply press.
    static event postback_of(tagflow::identity who, std::string payload);
    /// A form was opened.
    static event form_open(tagflow::identity who, std::string form);
    /// A form was submitted with `fields`.
    static event form_submit(tagflow::identity who, std::string form,
                             std::map<std::string, std::string> fields);
    /// An order was placed.
    static event order_of(tagflow::identity who, order_info order);
    /// Profile attributes changed.
    static event profile_of(tagflow::identity who, profile_update update);
    /// The shop linked the contact to its customer id.
    static event link_customer(tagflow::identity who, std::string customer_id);
    /// A note was written.
    static event note_of(tagflow::identity who, std::string author, std::string text);
    /// A custom event.
    static event track_of(tagflow::identity who, std::string name,
                          std::map<std::string, std::string> properties = {});
    /// Add a tag from outside (staff, API).
    static event add_tag(tagflow::identity who, std::string tag);
    /// Remove a tag from outside (staff, API).
    static event remove_tag(tagflow::identity who, std::string tag);
    /// Hand a contact back to automation after a handoff block paused it.
    static event resume_automation(tagflow::identity who);
    /// The contact followed the account on `who.channel`.
    static event follow(tagflow::identity who);
    /// The contact unfollowed the account on `who.channel`.
    static event unfollow(tagflow::identity who);
    /// A dispatch result for outbox message `message_id`.
    static event delivery_of(std::int64_t message_id, tagflow::delivery_status status);
    /// A platform receipt for the message the platform knows as `external_id` on `who`'s channel.
    static event receipt_of(tagflow::identity who, std::string external_id, tagflow::delivery_status status);

    /// Returns a copy with the idempotency key set.
    [[nodiscard]] event with_key(std::string k) const;
    /// Returns a copy with the time set.
    [[nodiscard]] event at_time(time_point t) const;
    /// Returns a copy addressed by contact id instead of identity.
    [[nodiscard]] event for_contact(contact_id id) const;

    friend bool operator==(const event&, const event&) = default;
};

/// Serialises an event to compact JSON with a fixed key order (the stored log format).
/// Never fails; thread-safe.
std::string to_json(const event& e);

/// Parses an event from JSON such as {"kind":"message_received","identity":"zalo:1001",
/// "text":"Xin chào","at":"2026-01-05T10:00:00+07:00","key":"m1"}. Unknown keys and wrong types
/// throw event_error naming the field. Thread-safe.
event event_from_json(std::string_view json);

} // namespace tagflow
