#pragma once
// The flow interpreter: moves a contact's run through blocks until it waits or ends. Pure like
// the rest of the core: everything it decides goes into the core_env's change set.

#include "detail/core.hpp"

namespace tagflow::detail {

// Starts `flow` for `c` (replacing any run it is in) and runs it until it waits or ends.
void start_flow(contact& c, const std::string& flow, std::int64_t cause, int depth, core_env& env,
                std::vector<raised>& queue);

// Offers an input event to flows: the answer to an ask, a form submission, a reply ending a
// wait, or a trigger (postback, keyword) that starts a flow.
void flow_on_event(contact& c, const event& e, std::int64_t cause, core_env& env, std::vector<raised>& queue);

// Re-checks a wait "until" a condition after the contact changed.
void flow_recheck(contact& c, std::int64_t cause, core_env& env, std::vector<raised>& queue);

// A timer fired: a delay is over or a wait timed out. Stale timers (the run moved on) do nothing.
void flow_on_timer(contact& c, std::int64_t timer_id, std::int64_t cause, core_env& env,
                   std::vector<raised>& queue);

} // namespace tagflow::detail
