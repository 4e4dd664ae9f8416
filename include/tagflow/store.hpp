#pragma once
/// \file store.hpp
/// The storage interface. The engine talks only to this; a SQLite implementation is the
/// default (sqlite_store.hpp) and an in-memory one serves tests and simulations
/// (memory_store.hpp). Nothing here knows which one it is.

#include <tagflow/contact.hpp>
#include <tagflow/http.hpp>
#include <tagflow/outbox.hpp>
#include <tagflow/time.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tagflow {

/// A row of the event log: an external input or an event derived while processing one.
struct event_record {
    std::int64_t id = 0;         ///< Engine-assigned, increasing.
    contact_id contact = 0;      ///< Whose event.
    std::string kind;            ///< event_kind name.
    std::string key;             ///< Idempotency key (inputs only; empty for derived).
    time_point at;               ///< When it happened.
    std::string body;            ///< Inputs: the event as JSON (to_json). Derived: details JSON.
    std::int64_t cause = 0;      ///< Event that caused it (0 for inputs).
    std::string origin;          ///< "input", or what derived it, e.g. "rule:vip".
    std::string outcome;         ///< Inputs: the ingest result JSON returned to duplicates.
    int definitions_version = 0; ///< Definitions in force when it was processed.

    friend bool operator==(const event_record&, const event_record&) = default;
};

/// A durable timer: at `due`, the engine wakes the contact's flow (delays, timeouts).
struct timer_record {
    std::int64_t id = 0;    ///< Engine-assigned; ties on `due` fire in id order.
    time_point due;         ///< When it fires.
    contact_id contact = 0; ///< Whose.
    std::string kind;       ///< What it is for ("flow").

    friend bool operator==(const timer_record&, const timer_record&) = default;
};

/// A stored version of the definitions document.
struct definitions_record {
    int version = 0;      ///< 1, 2, ... in order of loading.
    std::string source;   ///< The document.
    time_point loaded_at; ///< When it was loaded.
};

/// Everything one processed event (or one batch) writes; a store applies it atomically.
struct change_set {
    std::vector<contact> contacts;            ///< Contacts to insert or replace whole.
    std::vector<contact_id> removed_contacts; ///< Contacts merged into others.
    std::vector<event_record> events;         ///< Log rows to append.
    std::vector<outbound_message> messages;   ///< Outbox rows to append.
    /// Outbox rows whose delivery state changed (status, attempts, receipts): replaced whole
    /// except for the key, recipient and content they were decided with.
    std::vector<outbound_message> message_updates;
    std::optional<definitions_record> definitions; ///< A definitions version to store.
    std::vector<timer_record> timers;              ///< Timers to add.
    std::vector<std::int64_t> removed_timers;      ///< Timers fired or cancelled.
    /// Contact merges: every timer of `first` now belongs to `second` (applied after the rest).
    std::vector<std::pair<contact_id, contact_id>> moved_timers;
    std::vector<http_request> requests;           ///< External requests to make.
    std::vector<std::int64_t> completed_requests; ///< Requests whose answer was processed.
    /// Hints: contacts in `contacts` whose identities (or tags) are as the store already has
    /// them, so an implementation may skip rewriting those parts. Empty means rewrite all.
    std::set<contact_id> same_identities, same_tags, same_segments;
    /// Hint: contacts in `contacts` created by this change set, so the store holds no rows of
    /// them yet and an implementation may insert without clearing old ones first.
    std::set<contact_id> new_contacts;

    /// True when there is nothing to write.
    [[nodiscard]] bool empty() const noexcept {
        return contacts.empty() && removed_contacts.empty() && events.empty() && messages.empty() &&
               !definitions && timers.empty() && removed_timers.empty() && moved_timers.empty() &&
               requests.empty() && completed_requests.empty() && message_updates.empty();
    }
};

/// Highest ids in use, so the engine continues numbering after a restart.
struct store_counters {
    contact_id last_contact = 0;   ///< Highest contact id ever used.
    std::int64_t last_event = 0;   ///< Highest event id.
    std::int64_t last_message = 0; ///< Highest outbox id.
    std::int64_t last_timer = 0;   ///< Highest timer id.
    std::int64_t last_request = 0; ///< Highest external request id.
};

/// Abstract store. Implementations are not required to be thread-safe: the engine serialises
/// access. Failures throw tagflow::error(errc::store_failure); a failed apply() writes nothing.
class store {
public:
    virtual ~store() = default;

    /// Writes a change set atomically: all of it or, on failure, nothing. Outbox keys and input
    /// event keys are unique; a clash throws and writes nothing. Inside a unit (begin_unit), the
    /// writes join the unit and become durable only when it commits.
    virtual void apply(const change_set& changes) = 0;

    /// The same write for a change set the caller is done with: a store may move its rows in
    /// instead of copying them (the in-memory store does). Fails like apply(const change_set&);
    /// after a failure `changes` is unspecified (valid, possibly emptied). The default copies.
    virtual void apply(change_set&& changes) { apply(static_cast<const change_set&>(changes)); }

    /// Opens a unit: the reads and apply() calls until commit_unit() or abandon_unit() see one
    /// snapshot and commit together, so a batch pays for one transaction instead of one per
    /// statement. `write` says whether apply() will be called (a store may take its write lock
    /// up front). Units do not nest: opening a second one throws store_failure. The
    /// default does nothing, for stores without transactions.
    virtual void begin_unit(bool write) { (void)write; }
    /// Makes the open unit's writes durable; throws store_failure when none is open or the commit
    /// fails (then the unit stays open and must still be abandoned).
    virtual void commit_unit() {}
    /// Ends the open unit, discarding its writes; does nothing when none is open. Never throws.
    virtual void abandon_unit() noexcept {}

    /// The contact owning `id`, if any.
    [[nodiscard]] virtual std::optional<contact_id> find_by_identity(const identity& id) = 0;
    /// The contact whose profile phone (E.164) is `phone`, lowest id first.
    [[nodiscard]] virtual std::optional<contact_id> find_by_phone(const std::string& phone) = 0;
    /// The contact whose profile e-mail is `email`, lowest id first.
    [[nodiscard]] virtual std::optional<contact_id> find_by_email(const std::string& email) = 0;
    /// The contact linked to the shop's `customer_id`, if any.
    [[nodiscard]] virtual std::optional<contact_id> find_by_customer_id(const std::string& customer_id) = 0;
    /// Loads a whole contact; std::nullopt when unknown or merged away.
    [[nodiscard]] virtual std::optional<contact> load_contact(contact_id id) = 0;
    /// Every live contact id, ascending.
    [[nodiscard]] virtual std::vector<contact_id> contact_ids() = 0;
    /// Live contacts with id > `after`, ascending, at most `limit`: a page, so a caller can walk
    /// every contact without holding them all.
    [[nodiscard]] virtual std::vector<contact> load_contacts(contact_id after, std::size_t limit) = 0;
    /// Ids of live contacts in the named segment (contact::segments) with id > `after`,
    /// ascending, at most `limit`.
    [[nodiscard]] virtual std::vector<contact_id> segment_members(const std::string& segment,
                                                                  contact_id after, std::size_t limit) = 0;
    /// Calls `visit(contact id, tag)` for every tag of every live contact, ordered by tag then
    /// contact id (what a tag index is built from, without loading whole contacts).
    virtual void visit_tags(const std::function<void(contact_id, const std::string&)>& visit) = 0;

    /// The stored outcome of the input event with idempotency key `key`, if seen before.
    [[nodiscard]] virtual std::optional<std::string> find_outcome(const std::string& key) = 0;
    /// Log rows with id > `after_id`, ascending, at most `limit`.
    [[nodiscard]] virtual std::vector<event_record> events(std::int64_t after_id, std::size_t limit) = 0;
    /// Outbox rows with id > `after_id`, ascending, at most `limit`.
    [[nodiscard]] virtual std::vector<outbound_message> messages(std::int64_t after_id,
                                                                 std::size_t limit) = 0;

    /// Outbox rows whose key starts with `prefix` and sorts after `after_key`, in key order, at
    /// most `limit`: what one input's sends share (`k:<input key>/`), read without the rest of
    /// the outbox. Pass the last key seen to get the next page.
    [[nodiscard]] virtual std::vector<outbound_message>
    messages_with_key_prefix(const std::string& prefix, const std::string& after_key, std::size_t limit) = 0;
    /// One outbox row by id; std::nullopt when unknown.
    [[nodiscard]] virtual std::optional<outbound_message> find_message(std::int64_t id) = 0;
    /// The outbox row a platform knows as `external_id` on `channel`; std::nullopt when unknown.
    [[nodiscard]] virtual std::optional<outbound_message>
    find_message_by_external_id(const std::string& channel, const std::string& external_id) = 0;
    /// Rows the dispatcher must act on (pending or deferred) whose due() is at or before
    /// `until`, ordered by (due, id), at most `limit`.
    [[nodiscard]] virtual std::vector<outbound_message> due_messages(time_point until, std::size_t limit) = 0;

    /// The newest stored definitions, if any.
    [[nodiscard]] virtual std::optional<definitions_record> latest_definitions() = 0;
    /// A stored definitions version, if it exists.
    [[nodiscard]] virtual std::optional<definitions_record> find_definitions(int version) = 0;

    /// Timers due at or before `until`, ordered by (due, id), at most `limit`.
    [[nodiscard]] virtual std::vector<timer_record> due_timers(time_point until, std::size_t limit) = 0;

    /// External requests not yet completed, ascending by id, at most `limit`.
    [[nodiscard]] virtual std::vector<http_request> pending_requests(std::size_t limit) = 0;

    /// Highest ids in use.
    [[nodiscard]] virtual store_counters counters() = 0;
};

} // namespace tagflow
