#pragma once
// Date triggers in the core: birthdays and anniversaries as durable timers at a contact-local
// time of day, rescheduled whenever the date they count from changes.

#include "detail/core.hpp"

namespace tagflow::detail {

// Schedules (or cancels) each date trigger's next occurrence where its date changed.
void reconcile_dates(contact& c, std::int64_t cause, core_env& env);

// A date timer fired: run the trigger's actions and schedule the next occurrence.
void date_on_timer(contact& c, const std::string& name, std::int64_t timer_id, std::int64_t cause,
                   core_env& env, std::vector<raised>& queue);

// Re-arms each "inactive" rule's timer from the contact's last message.
void reconcile_inactivity(contact& c, std::int64_t cause, core_env& env);

// An inactivity timer fired: run the rule if its condition holds.
void inactive_on_timer(contact& c, const std::string& rule_name, std::int64_t timer_id, std::int64_t cause,
                       core_env& env, std::vector<raised>& queue);

// Skips the occurrence of timer `timer_id` (the contact is paused) and schedules the next one.
void date_skip(contact& c, const std::string& name, std::int64_t timer_id, core_env& env);

} // namespace tagflow::detail
