#include <tagflow/broadcast.hpp>
#include <tagflow/error.hpp>

#include "detail/core.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace tagflow {

namespace {

std::string key_of(const std::string& name, contact_id id) {
    return "broadcast:" + name + "/" + std::to_string(id);
}

void check(const engine& e, const broadcast_spec& spec) {
    if (spec.name.empty()) {
        throw error(errc::invalid_argument, "a broadcast needs a name");
    }
    if (spec.text.empty()) {
        throw error(errc::invalid_argument, "broadcast \"" + spec.name + "\" needs a text");
    }
    if (spec.segment.empty() == spec.audience.empty()) {
        throw error(errc::invalid_argument, "broadcast \"" + spec.name +
                                                "\" needs exactly one of a segment or an audience condition");
    }
    if (!spec.segment.empty() && !e.current_definitions().find_segment(spec.segment)) {
        throw error(errc::invalid_argument,
                    "segment \"" + spec.segment + "\" is not declared in the definitions");
    }
    if (spec.purpose != "reply" && spec.purpose != "transactional" && spec.purpose != "promotional") {
        throw error(errc::invalid_argument,
                    "unknown purpose \"" + spec.purpose + "\"; expected reply, transactional or promotional");
    }
}

// Calls `visit` with every outbox row the broadcast's events could have written, a page at a
// time: their keys all start with "k:" + key_of(name, ...) (see the outbox key scheme in
// docs/architecture.md), so only that key range is read, not the whole outbox. The caller still
// checks the cause: a broadcast whose name extends this one's after a '/' shares the prefix.
template <typename Visit>
void for_each_row(const engine& e, const std::string& name, Visit&& visit) {
    const std::string prefix = "k:broadcast:" + name + "/";
    for (auto page = e.outbox_with_key_prefix(prefix, "", 1000); !page.empty();) {
        const std::string last = page.back().key;
        for (auto& m : page) {
            visit(m);
        }
        page = e.outbox_with_key_prefix(prefix, last, 1000);
    }
}

// The broadcast event for one recipient.
event event_for(const broadcast_spec& spec, contact_id id, time_point now, const std::string& channels) {
    event ev;
    ev.kind = event_kind::broadcast;
    ev.contact = id;
    ev.at = now;
    ev.key = key_of(spec.name, id);
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
    return ev;
}

// Calls `visit` with the broadcast events of the members, a page of at most `page` at a time in
// contact id order, so a campaign to a million contacts never holds them all. The visitor may
// take the events (move from the vector); each page refills it. Segment members
// come from the store's membership rows; an audience condition reads contacts page by page.
template <typename Visit>
void for_each_page(const engine& e, const broadcast_spec& spec, std::size_t page, Visit&& visit) {
    const time_point now = e.now();
    std::string channels;
    for (const auto& c : spec.channels) {
        channels += channels.empty() ? "" : ",";
        channels += c;
    }
    std::vector<event> events;
    if (!spec.segment.empty()) {
        for (auto ids = e.segment_members(spec.segment, 0, page); !ids.empty();
             ids = e.segment_members(spec.segment, ids.back(), page)) {
            events.clear();
            for (const auto id : ids) {
                events.push_back(event_for(spec, id, now, channels));
            }
            visit(events);
        }
        return;
    }
    const expression audience = expression::parse(spec.audience);
    for (auto people = e.contacts(0, page); !people.empty(); people = e.contacts(people.back().id, page)) {
        events.clear();
        for (const auto& c : people) {
            if (audience.evaluate(detail::contact_view(c, now))) {
                events.push_back(event_for(spec, c.id, now, channels));
            }
        }
        if (!events.empty()) {
            visit(events);
        }
    }
}

// Adds a row to the summary; the row is spent (its strings move into the summary).
void count(broadcast_summary& s, outbound_message& m) {
    ++s.by_status[std::string(to_string(m.status))];
    if (m.status == message_status::blocked) {
        ++s.blocked_by_reason[m.policy_rule];
    } else if (m.cost > 0 && m.status != message_status::cancelled) {
        s.cost[m.currency] += m.cost;
    }
    broadcast_recipient r;
    r.contact = m.contact;
    r.to = std::move(m.to);
    r.status = m.status;
    r.not_before = m.not_before;
    r.rule = std::move(m.policy_rule);
    r.reason = std::move(m.reason);
    r.cost = m.cost;
    r.currency = std::move(m.currency);
    r.message_id = m.id;
    s.recipients.push_back(std::move(r));
}

} // namespace

broadcast_summary plan_broadcast(engine& e, const broadcast_spec& spec) {
    check(e, spec);
    broadcast_summary s;
    s.name = spec.name;
    for_each_page(e, spec, 1000, [&](std::vector<event>& events) {
        const std::size_t asked = events.size();
        auto rows = e.dry_run(std::move(events));
        for (auto& m : rows) {
            count(s, m);
        }
        // Recipients whose key is already stored produced no row: an earlier send decided them.
        s.already_decided += asked - rows.size();
    });
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
    for_each_page(e, spec, batch,
                  [&e](std::vector<event>& events) { (void)e.ingest_batch(std::move(events)); });
    return broadcast_status(e, spec.name);
}

broadcast_summary broadcast_status(const engine& e, const std::string& name) {
    broadcast_summary s;
    s.name = name;
    const std::string cause = "broadcast:" + name;
    for_each_row(e, name, [&](outbound_message& m) {
        if (m.cause == cause) {
            count(s, m);
        }
    });
    // Rows come in key order, where "…/10" sorts before "…/9". Sorting (contact, index) pairs and
    // then moving each recipient once is much cheaper than swapping the recipients themselves.
    std::vector<std::pair<contact_id, std::size_t>> order;
    order.reserve(s.recipients.size());
    for (std::size_t i = 0; i < s.recipients.size(); ++i) {
        order.emplace_back(s.recipients[i].contact, i);
    }
    std::sort(order.begin(), order.end());
    std::vector<broadcast_recipient> sorted;
    sorted.reserve(order.size());
    for (const auto& [contact, i] : order) {
        sorted.push_back(std::move(s.recipients[i]));
    }
    s.recipients = std::move(sorted);
    return s;
}

std::size_t cancel_broadcast(engine& e, const std::string& name) {
    const std::string cause = "broadcast:" + name;
    std::vector<event> cancels;
    std::size_t cancelled = 0;
    auto flush = [&] {
        if (!cancels.empty()) {
            e.ingest_batch(cancels); // a transaction per page; cancelling again skips what is done
            cancelled += cancels.size();
            cancels.clear();
        }
    };
    for_each_row(e, name, [&](outbound_message& m) {
        if (m.cause == cause && m.waiting()) {
            auto ev = event::delivery_of(m.id, delivery_status::cancelled);
            ev.key = "cancel:" + m.key;
            ev.error = "broadcast \"" + name + "\" cancelled";
            cancels.push_back(std::move(ev));
            if (cancels.size() == 1000) {
                flush();
            }
        }
    });
    flush();
    return cancelled;
}

} // namespace tagflow
