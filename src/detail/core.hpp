#pragma once
// The pure state machine: (contact, event, now, definitions) -> (new contact, derived events,
// outbox rows). No store, no clock, no unseeded randomness; the engine wraps it with storage.

#include <tagflow/definitions.hpp>
#include <tagflow/engine.hpp>
#include <tagflow/expression.hpp>
#include <tagflow/store.hpp>

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
};

// Everything the core needs besides the contact and the event.
struct core_env {
    const definitions& defs;
    const engine_options& options;
    int definitions_version = 0;
    id_counters& ids;
    change_set& out;
    ingest_result& result;
};

// Applies an input event's own data (profile, activity, tags, notes, orders) to `c` and returns
// the triggers it raises. `input_id` is the id of its log row. Lifecycle changes are recorded.
struct raised {
    trigger when;
    std::string detail; // tag for tag triggers, stage name for lifecycle
    std::int64_t event_id = 0;
    int depth = 0;
};
std::vector<raised> apply_input(contact& c, const event& e, std::int64_t input_id, core_env& env);

// Runs the rules for every raised trigger, breadth first, following cascades up to the depth
// limit. `e` is the input event (for filters and for the reply address).
void run_rules(contact& c, const event& e, std::int64_t input_id, std::vector<raised> queue, core_env& env);

} // namespace tagflow::detail
