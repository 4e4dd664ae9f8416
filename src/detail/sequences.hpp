#pragma once
// Sequences in the core: subscriptions follow tags (or segment expressions), steps run on
// durable timers, message steps wait for the contact-local send window.

#include "detail/core.hpp"

namespace tagflow::detail {

// Subscribes the contact to sequences it now qualifies for and unsubscribes it from those it
// left, cancelling their timers in the same change set.
void reconcile_sequences(contact& c, std::int64_t cause, core_env& env);

// A sequence timer fired: run the step (or wait for the window), then schedule the next one.
void sequence_on_timer(contact& c, const std::string& name, std::int64_t timer_id, std::int64_t cause,
                       core_env& env, std::vector<raised>& queue);

} // namespace tagflow::detail
