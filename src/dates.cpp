#include "detail/dates.hpp"

#include <tagflow/error.hpp>
#include <tagflow/local_time.hpp>

#include <charconv>

namespace tagflow::detail {

namespace json = boost::json;

namespace {

// The date a trigger counts from, as "YYYY-MM-DD", or "" when the contact has none.
std::string anchor_of(const contact& c, const date_trigger& d, const core_env& env) {
    if (d.field == "first_order") {
        if (!c.activity.first_order) {
            return {};
        }
        const auto day = local_date_of(*c.activity.first_order, contact_zone(c, env));
        char text[16];
        std::snprintf(text, sizeof text, "%04d-%02u-%02u", day.year, day.month, day.day);
        return text;
    }
    return to_text(c.field(d.field));
}

bool leap(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// The first occurrence strictly after `now`, or nothing when the listed anniversaries are over.
std::optional<time_point> next_due(const std::string& anchor, const date_trigger& d, time_point now,
                                   const std::string& zone) {
    int year = 0;
    unsigned month = 0;
    unsigned day = 0;
    if (std::sscanf(anchor.c_str(), "%d-%u-%u", &year, &month, &day) != 3) {
        return std::nullopt;
    }
    if (d.years.empty()) {
        // Every year, but never in the year of the date itself (an order placed at 08:00 is not
        // its own anniversary at 09:00).
        auto t = next_yearly(now, month, day, d.at, zone);
        while (local_date_of(t, zone).year <= year) {
            t = next_yearly(t, month, day, d.at, zone);
        }
        return t;
    }
    for (const int n : d.years) {
        const int y = year + n;
        const unsigned dd = (month == 2 && day == 29 && !leap(y)) ? 28 : day; // as next_yearly does
        const auto t = local_to_utc(y, month, dd, d.at, zone);
        if (t > now) {
            return t;
        }
    }
    return std::nullopt;
}

void schedule(contact& c, const date_trigger& d, const std::string& anchor, core_env& env) {
    auto& entry = c.date_timers[d.name];
    if (entry.second != 0) {
        cancel_timer_id(env, entry.second);
    }
    entry = {anchor, 0};
    if (const auto due = next_due(anchor, d, env.now, contact_zone(c, env))) {
        entry.second = ++env.ids.timer;
        env.out.timers.push_back(timer_record{entry.second, *due, c.id, "date:" + d.name});
    }
}

} // namespace

void reconcile_dates(contact& c, std::int64_t cause, core_env& env) {
    for (const auto& d : env.defs.dates()) {
        const auto anchor = anchor_of(c, d, env);
        auto it = c.date_timers.find(d.name);
        if (anchor.empty()) {
            if (it != c.date_timers.end()) {
                if (it->second.second != 0) {
                    cancel_timer_id(env, it->second.second);
                }
                c.date_timers.erase(it);
            }
            continue;
        }
        if (it != c.date_timers.end() && it->second.first == anchor) {
            continue;
        }
        schedule(c, d, anchor, env);
        json::object body;
        body["date"] = d.name;
        body["from"] = anchor;
        record(env, c.id, "date_scheduled", std::move(body), cause, "date:" + d.name);
    }
}

void date_on_timer(contact& c, const std::string& name, std::int64_t timer_id, std::int64_t cause,
                   core_env& env, std::vector<raised>& queue) {
    auto it = c.date_timers.find(name);
    const date_trigger* d = nullptr;
    for (const auto& candidate : env.defs.dates()) {
        if (candidate.name == name) {
            d = &candidate;
        }
    }
    if (it == c.date_timers.end() || it->second.second != timer_id || !d) {
        return; // rescheduled or removed since
    }
    const std::string anchor = it->second.first;
    json::object body;
    body["date"] = name;
    record(env, c.id, "date_fired", std::move(body), cause, "date:" + name);
    execute_actions(c, d->then, "date:" + name, d->path + ".then", cause, 1, "date." + name, "", env, queue);
    it = c.date_timers.find(name);
    it->second.second = 0;
    schedule(c, *d, anchor, env);
}

void reconcile_inactivity(contact& c, std::int64_t /*cause*/, core_env& env) {
    if (!c.activity.last_message) {
        return;
    }
    const auto anchor = format_time(*c.activity.last_message);
    for (const auto& r : env.defs.rules()) {
        if (r.when != trigger::inactive) {
            continue;
        }
        // Kept with the date timers, under a prefix that no date trigger name can take.
        auto& entry = c.date_timers["inactive:" + r.name];
        if (entry.first == anchor) {
            continue;
        }
        if (entry.second != 0) {
            cancel_timer_id(env, entry.second);
        }
        entry = {anchor, ++env.ids.timer};
        env.out.timers.push_back(timer_record{entry.second, *c.activity.last_message + r.filter.inactive_for,
                                              c.id, "inactive:" + r.name});
    }
}

void inactive_on_timer(contact& c, const std::string& rule_name, std::int64_t timer_id, std::int64_t cause,
                       core_env& env, std::vector<raised>& queue) {
    auto it = c.date_timers.find("inactive:" + rule_name);
    const rule* r = env.defs.find_rule(rule_name);
    if (it == c.date_timers.end() || it->second.second != timer_id || !r || r->when != trigger::inactive) {
        return;
    }
    it->second.second = 0; // re-armed by the next message
    if (r->once && c.fired_rules.count(r->name) != 0) {
        return;
    }
    if (!r->condition.evaluate(contact_view(c, env.now))) {
        return;
    }
    env.result.rules_fired.push_back(r->name);
    if (r->once) {
        c.fired_rules.insert(r->name);
    }
    execute_actions(c, r->actions, "rule:" + r->name, r->path + ".then", cause, 1, r->name,
                    "later:" + r->name + "/", env, queue);
}

void date_skip(contact& c, const std::string& name, std::int64_t timer_id, core_env& env) {
    auto it = c.date_timers.find(name);
    for (const auto& d : env.defs.dates()) {
        if (d.name == name && it != c.date_timers.end() && it->second.second == timer_id) {
            const std::string anchor = it->second.first;
            it->second.second = 0;
            schedule(c, d, anchor, env);
        }
    }
}

} // namespace tagflow::detail
