#include <tagflow/broadcast.hpp>
#include <tagflow/error.hpp>

#include "detail/core.hpp"

#include <algorithm>

namespace tagflow {

namespace {

std::string key_of(const std::string& name, contact_id id) { return "broadcast:" + name + "/" + std::to_string(id); }

void check(const engine& e, const broadcast_spec& spec) {
    if (spec.name.empty()) {
        throw error(errc::invalid_argument, "a broadcast needs a name");
    }
    if (spec.text.empty()) {
        throw error(errc::invalid_argument, "broadcast \"" + spec.name + "\" needs a text");
    }
    if (spec.segment.empty() == spec.audience.empty()) {
        throw error(errc::invalid_argument,
                    "broadcast \"" + spec.name + "\" needs exactly one of a segment or an audience condition");
    }
    if (!spec.segment.empty() && !e.current_definitions().find_segment(spec.segment)) {
        throw error(errc::invalid_argument, "segment \"" + spec.segment + "\" is not declared in the definitions");
    }
    if (spec.purpose != "reply" && spec.purpose != "transactional" && spec.purpose != "promotional") {
        throw error(errc::invalid_argument, "unknown purpose \"" + spec.purpose +
                                                "\"; expected reply, transactional or promotional");
    }
}

// One broadcast event per member, in contact id order.
std::vector<event> recipients_of(const engine& e, const broadcast_spec& spec) {
    const expression audience = spec.audience.empty() ? expression{} : expression::parse(spec.audience);
    const time_point now = e.now();
    std::string channels;
    for (const auto& c : spec.channels) {
        channels += channels.empty() ? "" : ",";
        channels += c;
    }
    std::vector<event> out;
    for (const auto& c : e.contacts()) {
        const bool member = spec.segment.empty() ? audience.evaluate(detail::contact_view(c, now))
                                                 : c.segments.count(spec.segment) != 0;
        if (!member) {
            continue;
        }
        event ev;
        ev.kind = event_kind::broadcast;
        ev.contact = c.id;
        ev.at = now;
        ev.key = key_of(spec.name, c.id);
        ev.name = spec.name;
        ev.text = spec.text;
        ev.until = spec.at;
        ev.data["purpose"] = spec.purpose;
        if (!spec.template_name.empty()) {
            ev.data["template"] = spec.template_name;
        }
        if (!channels.empty()) {
            ev.data["channels"] = channels;
        }
        out.push_back(std::move(ev));
    }
    return out;
}

void count(broadcast_summary& s, const outbound_message& m) {
    broadcast_recipient r;
    r.contact = m.contact;
    r.to = m.to;
    r.status = m.status;
    r.not_before = m.not_before;
    r.rule = m.policy_rule;
    r.reason = m.reason;
    r.cost = m.cost;
    r.currency = m.currency;
    r.message_id = m.id;
    ++s.by_status[std::string(to_string(m.status))];
    if (m.status == message_status::blocked) {
        ++s.blocked_by_reason[m.policy_rule];
    } else if (m.cost > 0 && m.status != message_status::cancelled) {
        s.cost[m.currency] += m.cost;
    }
    s.recipients.push_back(std::move(r));
}

} // namespace

broadcast_summary plan_broadcast(engine& e, const broadcast_spec& spec) {
    check(e, spec);
    const auto events = recipients_of(e, spec);
    broadcast_summary s;
    s.name = spec.name;
    const auto rows = e.dry_run(events);
    for (const auto& m : rows) {
        count(s, m);
    }
    // Recipients whose key is already stored produced no row: an earlier send decided them.
    s.already_decided = events.size() - rows.size();
    for (auto& r : s.recipients) {
        r.message_id = 0;
    }
    return s;
}

broadcast_summary send_broadcast(engine& e, const broadcast_spec& spec, std::size_t batch) {
    check(e, spec);
    if (batch == 0) {
        batch = 1;
    }
    const auto events = recipients_of(e, spec);
    for (std::size_t i = 0; i < events.size(); i += batch) {
        const auto n = std::min(batch, events.size() - i);
        e.ingest_batch(std::span<const event>(events.data() + i, n));
    }
    return broadcast_status(e, spec.name);
}

broadcast_summary broadcast_status(const engine& e, const std::string& name) {
    broadcast_summary s;
    s.name = name;
    const std::string cause = "broadcast:" + name;
    for (const auto& m : e.outbox()) {
        if (m.cause == cause) {
            count(s, m);
        }
    }
    std::sort(s.recipients.begin(), s.recipients.end(),
              [](const broadcast_recipient& a, const broadcast_recipient& b) { return a.contact < b.contact; });
    return s;
}

std::size_t cancel_broadcast(engine& e, const std::string& name) {
    const std::string cause = "broadcast:" + name;
    std::vector<event> cancels;
    for (const auto& m : e.outbox()) {
        if (m.cause == cause && m.waiting()) {
            auto ev = event::delivery_of(m.id, delivery_status::cancelled);
            ev.key = "cancel:" + m.key;
            ev.error = "broadcast \"" + name + "\" cancelled";
            cancels.push_back(std::move(ev));
        }
    }
    if (!cancels.empty()) {
        e.ingest_batch(cancels);
    }
    return cancels.size();
}

} // namespace tagflow
