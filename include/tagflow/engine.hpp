#pragma once
/// \file engine.hpp
/// The facade users call: open on a store, load definitions, ingest events, query contacts and
/// the outbox. A deterministic state machine: the same definitions and inputs give the same
/// state and the same messages.

#include <tagflow/contact.hpp>
#include <tagflow/definitions.hpp>
#include <tagflow/event.hpp>
#include <tagflow/http.hpp>
#include <tagflow/outbox.hpp>
#include <tagflow/policy.hpp>
#include <tagflow/store.hpp>
#include <tagflow/time.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tagflow {

/// Settings of an engine. The defaults suit a Vietnamese shop.
struct engine_options {
    /// Zone used for contacts without one.
    std::string default_time_zone = "Asia/Ho_Chi_Minh";
    /// A message more than this after the previous one starts a new conversation; a contact
    /// with an earlier conversation (or any order) is then "returning".
    duration returning_gap = std::chrono::hours(24);
    /// How deep rule cascades (a rule's tag change triggering rules, ...) may go. Deeper
    /// cascades stop and are recorded as a "cascade_limit" event instead of looping.
    int max_cascade_depth = 8;
    /// Source of "now" for events without a time. Defaults to the system clock; simulations
    /// pass a virtual clock.
    std::function<time_point()> clock;
};

/// What ingesting one event did. A duplicate returns the first outcome with `duplicate` set.
struct ingest_result {
    std::int64_t event_id = 0;              ///< Id of the event in the log.
    contact_id contact = 0;                 ///< Whose event it was.
    bool duplicate = false;                 ///< The key was seen before; nothing was written.
    bool contact_created = false;           ///< The event created the contact.
    std::vector<contact_id> merged;         ///< Contacts merged into `contact` by this event.
    std::vector<std::string> tags_added;    ///< In the order they were added.
    std::vector<std::string> tags_removed;  ///< In the order they were removed.
    std::optional<lifecycle> lifecycle_now; ///< Set when the lifecycle changed.
    std::vector<std::string> rules_fired;   ///< Rule names, in the order they ran.
    std::vector<std::int64_t> messages;     ///< Outbox ids of messages decided.

    friend bool operator==(const ingest_result&, const ingest_result&) = default;
};

/// Why a message was sent: the event that started it all, the chain of events that led to the
/// decision, and every step of the same processing (rules' tag changes, flow blocks passed).
struct explanation {
    outbound_message message;             ///< The message explained.
    std::string decided_by;               ///< "rule:<name>" or "flow:<flow>/<block>".
    std::vector<event_record> chain;      ///< From the root (an input or a timer) to the direct cause.
    std::vector<event_record> steps;      ///< Everything logged while processing the root, in order.
    std::vector<std::string> rules_fired; ///< Rules that ran for the root input, in order.
};

/// What engine::migrate_runs did.
struct run_migration {
    std::size_t migrated = 0;     ///< Runs moved to the current definitions.
    std::vector<contact_id> left; ///< Runs left on their version: their flow or block is gone.
};

/// How often a flow block was entered and how many contacts wait there now.
struct block_counter {
    std::string flow;           ///< Flow name.
    std::string block;          ///< Block id.
    std::int64_t entered = 0;   ///< Times a contact entered it.
    std::int64_t waiting = 0;   ///< Contacts waiting there now (ask, form, wait, handoff).
    std::int64_t completed = 0; ///< entered - waiting: times a contact moved on (or the run was replaced).

    friend bool operator==(const block_counter&, const block_counter&) = default;
};

/// The engine. Thread-safe: every public member may be called from any thread; ingestion is
/// serialised, so events are processed one at a time in arrival order.
class engine {
public:
    /// Opens an engine over `backing`, continuing from what it holds (latest definitions,
    /// counters). Throws tagflow::error when the store cannot be read or its stored definitions
    /// no longer load.
    explicit engine(std::unique_ptr<store> backing, engine_options options = {});
    /// Convenience: an engine over open_sqlite_store(path).
    static engine open(const std::string& sqlite_path, engine_options options = {});
    ~engine();
    engine(engine&&) noexcept;
    engine& operator=(engine&&) noexcept;
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    /// Moves every run in progress to the current definitions version, in one transaction, where
    /// its flow, block and callers still exist there; the others stay on their version (a run
    /// is never dropped). New runs always start on the current version. Thread-safe.
    run_migration migrate_runs();

    /// Stores `defs` as a new version (unless identical to the current one) and makes it
    /// current. Returns the version number in force.
    int load_definitions(const definitions& defs);
    /// Parses (see definitions::parse) and loads a JSON document; nothing is stored on error.
    int load_definitions(std::string_view json);
    /// The definitions in force: a cheap copy sharing the immutable compiled document, so it stays
    /// valid even if other threads load new definitions meanwhile.
    [[nodiscard]] definitions current_definitions() const;
    /// Version number of the definitions in force (0 before any were loaded).
    [[nodiscard]] int definitions_version() const;

    /// Validates and processes one event in one transaction: contact resolution (by identity,
    /// then phone/e-mail, merging duplicates), activity, lifecycle, rules and their cascade,
    /// outbox rows. The event is durable when this returns. Throws event_error naming the bad
    /// field (nothing written) for an invalid event.
    ingest_result ingest(const event& e);
    /// Processes events in order and commits them all in one transaction (group commit).
    /// Every event is validated first; an invalid one throws event_error whose field starts
    /// with "[index]." and nothing of the batch is written.
    std::vector<ingest_result> ingest_batch(std::span<const event> events);
    /// As ingest_batch above, but takes the events over instead of copying them (they are left
    /// valid but unspecified), which saves a copy per event in large batches.
    std::vector<ingest_result> ingest_batch(std::vector<event>&& events);

    /// Processes `events` as ingest_batch would, against the current state, and returns the
    /// outbox rows they would decide (with policy verdicts, costs and deferrals), but writes
    /// nothing: the answer to "what would happen?" (broadcast plans). Validation fails as
    /// ingest_batch does. Thread-safe; serialised with ingest.
    [[nodiscard]] std::vector<outbound_message> dry_run(std::span<const event> events);
    /// As dry_run above, but takes the events over instead of copying them (they are left valid
    /// but unspecified).
    [[nodiscard]] std::vector<outbound_message> dry_run(std::vector<event>&& events);

    /// Fires every durable timer due at or before `until` (flow delays and timeouts), in order of
    /// (due time, id), each in its own transaction, including timers those firings schedule
    /// that are due by then. Returns how many fired. Thread-safe; serialised with ingest.
    std::size_t advance_to(time_point until);
    /// Makes up to `limit` pending external requests of flows' request blocks through `client`
    /// and ingests each answer as a request_completed event (keyed "request:<id>", so doing it
    /// twice is harmless). The calls run outside the engine lock; concurrent callers are
    /// serialised so no request is sent twice. An answer that is not UTF-8 counts as a failure.
    /// Returns how many were made.
    std::size_t perform_requests(http_client& client, std::size_t limit = 100);
    /// When the next timer is due, if any; a runtime sleeps until then.
    [[nodiscard]] std::optional<time_point> next_timer() const;

    /// Outbox rows the dispatcher must act on (pending or deferred) due at or before `until`,
    /// ordered by (due, id), at most `limit`. Thread-safe.
    [[nodiscard]] std::vector<outbound_message> due_messages(time_point until, std::size_t limit = 100) const;
    /// When the earliest waiting outbox row is due, if any; a runtime sleeps until then.
    [[nodiscard]] std::optional<time_point> next_message_due() const;
    /// Checks `message` against its channel's policy again at `at` with the contact's current
    /// state (the dispatch-time check: windows, hours, followers, tags; counts were applied when
    /// the send was decided). Allows when the definitions give the channel no policy. Throws
    /// tagflow::error(errc::not_found) when the contact is unknown. Thread-safe.
    [[nodiscard]] policy_decision check_policy(const outbound_message& message, time_point at) const;

    /// The contact owning `who`, if any.
    [[nodiscard]] std::optional<contact> find_contact(const identity& who) const;
    /// A contact by id; throws tagflow::error(errc::not_found) when unknown.
    [[nodiscard]] contact get_contact(contact_id id) const;
    /// Calls `visit(contact id, tag)` for every tag of every contact, ordered by tag then id,
    /// without loading whole contacts (what segment_index is built from). Thread-safe; holds the
    /// engine's lock while it runs, so `visit` must not call back into the engine.
    void visit_tags(const std::function<void(contact_id, const std::string&)>& visit) const;
    /// Every live contact id, ascending. Thread-safe.
    [[nodiscard]] std::vector<contact_id> contact_ids() const;
    /// Every contact, ascending by id. Holds them all: walk a large store with the paged form.
    /// Thread-safe.
    [[nodiscard]] std::vector<contact> contacts() const;
    /// Contacts with id > `after`, ascending, at most `limit` (a page; pass the last id seen to
    /// get the next). Thread-safe.
    [[nodiscard]] std::vector<contact> contacts(contact_id after, std::size_t limit) const;
    /// Ids of contacts in the named segment with id > `after`, ascending, at most `limit`; read
    /// from the store's membership rows, not by loading contacts. An undeclared name has no
    /// members. Thread-safe.
    [[nodiscard]] std::vector<contact_id> segment_members(const std::string& segment, contact_id after,
                                                          std::size_t limit) const;
    /// Outbox rows with id > after_id, ascending.
    [[nodiscard]] std::vector<outbound_message> outbox(std::int64_t after_id = 0) const;
    /// Outbox rows whose key starts with `prefix` and sorts after `after_key`, in key order, at
    /// most `limit` (a page; pass the last key seen for the next). Reads only that key range.
    /// Thread-safe.
    [[nodiscard]] std::vector<outbound_message>
    outbox_with_key_prefix(const std::string& prefix, const std::string& after_key, std::size_t limit) const;
    /// Outbox rows with id > after_id, ascending, at most `limit` (a page). Thread-safe.
    [[nodiscard]] std::vector<outbound_message> outbox(std::int64_t after_id, std::size_t limit) const;
    /// Log rows with id > after_id, ascending (inputs and derived events).
    [[nodiscard]] std::vector<event_record> event_log(std::int64_t after_id = 0) const;
    /// The external events ingested so far, in order, as given: replaying them into an empty
    /// engine with the same definitions yields the same export_json().
    [[nodiscard]] std::vector<event> input_events() const;

    /// Explains outbox message `message_id`; throws tagflow::error(errc::not_found) when unknown.
    [[nodiscard]] explanation explain(std::int64_t message_id) const;
    /// Counters per flow block, ordered by flow then block, from the stored log and runs.
    [[nodiscard]] std::vector<block_counter> block_counters() const;

    /// One contact as JSON: basic info, type, identities, custom fields, tags, notes, activity.
    [[nodiscard]] std::string contact_json(contact_id id) const;
    /// Every contact and outbox row as deterministic JSON (sorted keys, stable order).
    [[nodiscard]] std::string export_json() const;

    /// The engine's current time (its clock).
    [[nodiscard]] time_point now() const;
    /// The options in force.
    [[nodiscard]] const engine_options& options() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace tagflow
