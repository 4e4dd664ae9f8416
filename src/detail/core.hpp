#pragma once
// The pure state machine: (contact, event, now, definitions) -> (new contact, derived events,
// outbox rows). No store, no clock, no unseeded randomness; the engine wraps it with storage.

#include <tagflow/definitions.hpp>
#include <tagflow/engine.hpp>
#include <tagflow/expression.hpp>
#include <tagflow/store.hpp>

#include <boost/json.hpp>

#include <functional>

#include <cstdint>
#include <string>
#include <vector>

namespace tagflow::detail {

// Lets expressions read a contact. `now` anchors the days_since_* attributes.
class contact_view final : public expression_context {
public:
    contact_view(const contact& c, time_point now) : contact_(c), now_(now) {}
    bool has_tag(std::string_view tag) const override;
    value field(std::string_view name) const override;
    value attribute(std::string_view name) const override;

private:
    const contact& contact_;
    time_point now_;
};

// Converts text to a field's declared type; throws tagflow::error naming the reason.
value coerce_field(field_type type, const std::string& text);

// Sets a built-in or custom field from text; throws tagflow::error when the text does not fit.
void set_field(contact& c, const definitions& defs, const std::string& name, const std::string& text);

// Folds `from` into `into` (the survivor keeps its id and its non-empty values).
void merge_contacts(contact& into, const contact& from);

// Next ids to hand out; the engine restores them if a transaction fails.
struct id_counters {
    std::int64_t event = 0;
    std::int64_t message = 0;
    contact_id contact = 0;
    std::int64_t timer = 0;
    std::int64_t request = 0;
};

// A trigger waiting for rules (and flows) to look at it.
struct raised {
    trigger when;
    std::string detail; // tag for tag triggers, stage name for lifecycle
    std::int64_t event_id = 0;
    int depth = 0;
};

// A flow a rule asked to start; started after the rules of the current round.
struct flow_start {
    std::string flow;
    std::int64_t cause = 0;
    int depth = 0;
};

// Everything the core needs besides the contact: definitions, options, where to write, the
// time, and the external event being processed (null for a timer).
struct core_env {
    const definitions& defs;
    const engine_options& options;
    int definitions_version = 0;
    id_counters& ids;
    change_set& out;
    ingest_result& result;
    time_point now;
    const event* input = nullptr;
    std::string key_base; // prefix of outbox keys for this unit: "k:<key>" or "e:<event id>"
    int sends = 0;        // outbox ordinal within this unit
    std::function<const definitions&(int)> definitions_at; // definitions of a stored version
    std::vector<flow_start> flow_starts;
    duration late_by{}; // how long after its due time a timer is fired (downtime)
    // delivery_update inputs: the outbox row they report on (loaded by the engine), or null
    // for a receipt the engine could not match.
    const outbound_message* delivery_message = nullptr;
    // False in a dry run: derived log rows are never written there, so record() only hands out
    // their ids and hot paths skip building the bodies.
    bool keep_log = true;
};

// The contact's IANA time zone, or the engine default when the profile has none.
const std::string& contact_zone(const contact& c, const core_env& env);

// What channel policies read about contact `c` on `channel` at `now`: its channel state and its
// zone (`zone`, already resolved against the engine default).
send_context policy_context(const contact& c, const std::string& channel, const std::string& zone,
                            time_point now);
// The same for outbox message `m`, with its purpose, tag, author and template.
send_context policy_context(const contact& c, const outbound_message& m, const std::string& zone,
                            time_point now);

// Cancels a timer: one created in this same unit is simply not written; an older one is removed.
void cancel_timer_id(core_env& env, std::int64_t id);

// Appends a derived log row at env.now; returns its id.
std::int64_t record(core_env& env, contact_id who, std::string kind, boost::json::object body,
                    std::int64_t cause, std::string origin);
// The same with a body already serialised as JSON (hot paths build it without an object).
std::int64_t record_json(core_env& env, contact_id who, std::string kind, std::string body_json,
                         std::int64_t cause, std::string origin);
// Appends `text` to `out` as a JSON string literal (quotes and escapes included).
void append_json_string(std::string& out, std::string_view text);

// Adds or removes a tag, logging and queueing the change; no-op when nothing changes.
void change_tag(contact& c, const std::string& tag, bool add, std::int64_t cause, const std::string& origin,
                int depth, core_env& env, std::vector<raised>& queue);

// Moves the lifecycle forward if the profile now qualifies, logging and queueing the change.
void check_lifecycle(contact& c, std::int64_t cause, const std::string& origin, int depth, core_env& env,
                     std::vector<raised>& queue);

// Decides one outbound message (an outbox row in this unit).
struct message_parts {
    std::string text;
    std::string purpose = "reply";
    std::vector<std::string> quick_replies;
    std::vector<button> buttons;
    std::string form;
    std::string template_name;
    std::vector<std::string> template_params; // mustache templates, rendered like the text
    std::string channel_tag;
    std::vector<std::string> channels;    // preference order; empty: reply where the contact wrote
    std::optional<time_point> not_before; // scheduled sends (broadcasts)
};
void send(contact& c, message_parts parts, std::int64_t cause_event, const std::string& cause,
          const std::string& key_part, core_env& env);

// Applies an input event's own data (profile, activity, tags, notes, orders) to `c` and returns
// the triggers it raises. `input_id` is the id of its log row.
std::vector<raised> apply_input(contact& c, const event& e, std::int64_t input_id, core_env& env);

// Runs the rules for every raised trigger, breadth first, following cascades up to the depth
// limit. Flow starts asked for by rules are left in env.flow_starts.
void run_rules(contact& c, std::vector<raised> queue, core_env& env);

// Runs a list of actions (a rule's, a date trigger's, or delayed ones). `later_prefix` names the
// timer kind of delayed actions ("later:<rule>/"); empty where delays are not allowed.
void execute_actions(contact& c, const std::vector<action>& actions, const std::string& origin,
                     const std::string& path, std::int64_t cause, int depth, const std::string& key_part,
                     const std::string& later_prefix, core_env& env, std::vector<raised>& queue);

// A "later" timer fired: run the delayed actions of that rule unless their condition says skip.
void run_later(contact& c, const std::string& kind, std::int64_t cause, core_env& env,
               std::vector<raised>& queue);

// Recomputes named segment membership, raising segment_entered / segment_left.
void reconcile_segments(contact& c, std::int64_t cause, core_env& env, std::vector<raised>& queue);
// A segment re-check timer fired: forget it so the next reconcile arms a new one.
void segments_on_timer(contact& c, std::int64_t timer_id);

// Rules, then flows (the input event, flow starts), then rules for what flows changed, until
// nothing is left to do.
void react(contact& c, std::vector<raised> queue, std::int64_t cause, core_env& env);

} // namespace tagflow::detail
