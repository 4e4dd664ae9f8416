#include "detail/sequences.hpp"

#include "detail/flows.hpp"
#include "detail/json_writer.hpp"

#include <tagflow/error.hpp>

#include <algorithm>
#include <optional>

namespace tagflow::detail {

namespace json = boost::json;

namespace {

bool qualifies(const contact& c, const sequence& s, const core_env& env) {
    if (!s.follows_tag.empty()) {
        return c.has_tag(s.follows_tag);
    }
    if (!s.follows_named_segment.empty()) {
        return c.segments.count(s.follows_named_segment) != 0;
    }
    return s.follows_segment.evaluate(contact_view(c, env.now));
}

// What a step's log row adds to {"sequence": name}: the step, and how late it ran after downtime
// (0: on time, and then left out).
struct step_detail {
    int step = 0;
    std::int64_t late_by_ms = 0;
};

// The body goes straight to text (json_writer): every sequence step logs one or two of these, and
// building a json::object only to serialise it was most of their cost.
void log(contact& c, const sequence& s, const char* kind, std::int64_t cause, core_env& env,
         const std::optional<step_detail>& detail = {}) {
    std::string body;
    json_writer w(body);
    w.begin_object().key("sequence").string(s.name);
    if (detail) {
        w.key("step").integer(detail->step);
        if (detail->late_by_ms > 0) {
            w.key("late_by_ms").integer(detail->late_by_ms);
        }
    }
    w.end_object();
    record_json(env, c.id, kind, std::move(body), cause, "sequence:" + s.name);
}

// Schedules the state's next step: delayed from entry or from the previous step, then moved
// into the send window when it sends a message (never dropped, only later).
void schedule_next(contact& c, const sequence& s, sequence_state& st, core_env& env) {
    const auto& step = s.steps[static_cast<std::size_t>(st.next_step)];
    const time_point base = step.from_previous && st.last_step_at ? *st.last_step_at : st.entered;
    // Never in the past: a step counted from entry may already be due when an earlier step
    // waited for the window; it then runs now, after the previous one.
    time_point due = std::max(base + step.after, env.now);
    if (step.sends()) {
        due = s.window.next_open(due, contact_zone(c, env));
    }
    st.timer = ++env.ids.timer;
    env.out.timers.push_back(timer_record{st.timer, due, c.id, "sequence:" + s.name});
}

void cancel(sequence_state& st, core_env& env) {
    if (st.timer != 0) {
        cancel_timer_id(env, st.timer);
        st.timer = 0;
    }
}

} // namespace

void reconcile_sequences(contact& c, std::int64_t cause, core_env& env) {
    for (const auto& s : env.defs.sequences()) {
        const bool in = qualifies(c, s, env);
        auto it = c.sequences.find(s.name);
        const bool active = it != c.sequences.end() && it->second.active;
        if (in && !active) {
            // Re-entry within the quiet period of an "ignore" policy: the contact is in, but its
            // subscription has nothing left to run (so staying in past the period sends nothing
            // either; only leaving and coming back later starts over).
            if (it != c.sequences.end() && it->second.left_at && !s.reentry_restart &&
                env.now - *it->second.left_at < s.reentry_within) {
                auto& muted = it->second;
                muted.active = true;
                muted.completed = true;
                muted.entered = env.now;
                muted.next_step = static_cast<int>(s.steps.size());
                log(c, s, "sequence_reentry_ignored", cause, env);
                continue;
            }
            sequence_state st;
            st.entered = env.now;
            c.sequences[s.name] = st;
            auto& fresh = c.sequences[s.name];
            log(c, s, "sequence_entered", cause, env);
            schedule_next(c, s, fresh, env);
        } else if (!in && active) {
            // Leaving cancels every pending step in this same transaction: nothing is sent
            // after the tag is gone, ever.
            cancel(it->second, env);
            it->second.active = false;
            it->second.left_at = env.now;
            log(c, s, "sequence_left", cause, env);
        }
    }
}

void sequence_on_timer(contact& c, const std::string& name, std::int64_t timer_id, std::int64_t cause,
                       core_env& env, std::vector<raised>& queue) {
    auto it = c.sequences.find(name);
    const sequence* s = nullptr;
    for (const auto& candidate : env.defs.sequences()) {
        if (candidate.name == name) {
            s = &candidate;
        }
    }
    if (it == c.sequences.end() || !it->second.active || it->second.completed ||
        it->second.timer != timer_id) {
        return; // cancelled
    }
    if (!s || it->second.next_step >= static_cast<int>(s->steps.size())) {
        // The definitions changed under it (sequence removed or shortened): finish cleanly
        // rather than leave a subscription that can never move.
        it->second.timer = 0;
        it->second.completed = true;
        return;
    }
    if (!qualifies(c, *s, env)) {
        // A segment that depends on time (days since ...) may have let the contact go since
        // the last change: leave now instead of sending.
        it->second.timer = 0;
        it->second.active = false;
        it->second.left_at = env.now;
        log(c, *s, "sequence_left", cause, env);
        return;
    }
    auto& st = it->second;
    st.timer = 0;
    const auto& step = s->steps[static_cast<std::size_t>(st.next_step)];
    const std::string origin = "sequence:" + s->name;
    const std::string key_part = s->name + ".step" + std::to_string(st.next_step);
    if (step.sends() && !s->window.allows(env.now, contact_zone(c, env))) {
        // Due outside the window (e.g. the zone changed since scheduling): wait, never drop.
        st.timer = ++env.ids.timer;
        env.out.timers.push_back(timer_record{st.timer, s->window.next_open(env.now, contact_zone(c, env)),
                                              c.id, "sequence:" + s->name});
        log(c, *s, "sequence_step_deferred", cause, env);
        return;
    }
    const step_detail extra{st.next_step, std::max<std::int64_t>(0, env.late_by.count())};
    const bool too_late = step.sends() && s->skip_if_late && env.late_by > *s->skip_if_late;
    switch (too_late ? sequence_step::kind::start_flow : step.what) {
    case sequence_step::kind::send:
    case sequence_step::kind::send_form:
        if (s->max_sends >= 0 && st.sends >= s->max_sends) {
            log(c, *s, "sequence_capped", cause, env, extra);
            break;
        }
        if (step.what == sequence_step::kind::send) {
            send(c, message_parts{.text = step.text, .purpose = step.purpose}, cause, origin, key_part, env);
        } else {
            const auto* f = env.defs.find_flow(step.flow);
            const auto* b = f ? f->find(step.block) : nullptr;
            if (b) {
                send(c, message_parts{.text = b->text, .purpose = step.purpose, .form = b->form}, cause,
                     origin, key_part, env);
            }
        }
        ++st.sends;
        log(c, *s, "sequence_step", cause, env, extra);
        break;
    case sequence_step::kind::tags:
        for (const auto& t : step.remove_tags) {
            change_tag(c, t, false, cause, origin, 1, env, queue);
        }
        for (const auto& t : step.add_tags) {
            change_tag(c, t, true, cause, origin, 1, env, queue);
        }
        log(c, *s, "sequence_step", cause, env, extra);
        break;
    case sequence_step::kind::start_flow:
        if (too_late) {
            // The declared policy for steps made stale by downtime: skip, and say so.
            log(c, *s, "sequence_step_skipped_late", cause, env, extra);
            break;
        }
        env.flow_starts.push_back({step.flow, cause, 1});
        log(c, *s, "sequence_step", cause, env, extra);
        break;
    }
    // The step may have removed the followed tag; reconcile_sequences will see that, but the
    // state must already be consistent for it.
    auto& state = c.sequences[name];
    state.last_step_at = env.now;
    ++state.next_step;
    if (state.active && state.next_step < static_cast<int>(s->steps.size())) {
        schedule_next(c, *s, state, env);
        return;
    }
    if (state.active) {
        for (const auto& t : s->end_remove_tags) {
            change_tag(c, t, false, cause, origin, 1, env, queue);
        }
        for (const auto& t : s->end_add_tags) {
            change_tag(c, t, true, cause, origin, 1, env, queue);
        }
        // Still a member (it may keep the tag), but with nothing left to run: it will not
        // start over until it leaves and comes back.
        auto& done = c.sequences[name];
        done.completed = true;
        log(c, *s, "sequence_completed", cause, env);
    }
}

} // namespace tagflow::detail
