// Events per second through a 10-block flow, in memory, with the in-memory store.
//
//   flow_bench [--contacts N] [--rounds R] [--json]
//
// Each round sends every contact a postback that runs a 10-block flow to completion (condition,
// tags, set_field, randomizer, sends, a call into a sub-flow) and a message that answers its
// final ask. Two references, measured in the same run:
//   - baseline: the same events through a definitions document with no flows (contact
//     resolution, logging and storage only), so the ratio shows what the flow interpreter adds;
//   - floor: a hand-written loop specialised to this one flow that keeps what the engine keeps
//     for these events (the same log rows with the same JSON bodies, the outbox rows with their
//     texts, the contact's tags and fields), with log bodies packed into one buffer. No
//     interpreter, no expressions, no rules, no snapshots: a lower bound for any engine that
//     logs every block it enters.
#include <tagflow/tagflow.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

const char* with_flow = R"json({"schema": 1, "tags": ["A", "B"],
  "fields": [{"name": "count", "type": "number"}, {"name": "colour", "type": "text"}],
  "flows": [
    {"name": "ten", "triggers": [{"postback": "GO"}], "blocks": [
      {"id": "b1", "kind": "condition", "branches": [{"if": "tag(\"A\") and orders >= 0", "next": "b2"}], "else": "b2"},
      {"id": "b2", "kind": "tag", "add": ["A"], "remove": ["B"], "next": "b3"},
      {"id": "b3", "kind": "set_field", "field": "count", "op": "increment", "value": 1, "next": "b4"},
      {"id": "b4", "kind": "randomizer", "paths": [{"weight": 1, "next": "b5"}, {"weight": 1, "next": "b5"}]},
      {"id": "b5", "kind": "send", "text": "Xin chào {{#name}}{{name}}{{/name}}", "next": "b6"},
      {"id": "b6", "kind": "call", "flow": "sub", "next": "b8"},
      {"id": "b8", "kind": "tag", "add": ["B"], "next": "b9"},
      {"id": "b9", "kind": "ask", "text": "Màu gì?", "field": "colour", "next": "b10"},
      {"id": "b10", "kind": "end"}]},
    {"name": "sub", "blocks": [{"id": "b7", "kind": "send", "text": "sub"}]}]})json";

const char* without_flow = R"json({"schema": 1, "tags": ["A", "B"],
  "fields": [{"name": "count", "type": "number"}, {"name": "colour", "type": "text"}]})json";

double run(const char* defs, std::size_t contacts, std::size_t rounds, std::size_t& events) {
    tagflow::engine e(tagflow::make_memory_store());
    e.load_definitions(defs);
    std::vector<tagflow::identity> who;
    for (std::size_t i = 0; i < contacts; ++i) {
        who.push_back({"zalo", std::to_string(i)});
    }
    auto t = tagflow::parse_time("2026-01-05T03:00:00Z");
    events = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < rounds; ++r) {
        for (const auto& w : who) {
            t += std::chrono::seconds(1);
            e.ingest(tagflow::event::postback_of(w, "GO").at_time(t));
            e.ingest(tagflow::event::message(w, "xanh").at_time(t));
            events += 2;
        }
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What the floor keeps: log rows whose bodies live in one shared buffer, and outbox rows.
struct floor_log {
    struct row {
        std::int64_t id;
        std::int64_t contact;
        const char* kind;
        const char* origin;
        std::int64_t at;
        std::int64_t cause;
        std::size_t body_at;
        std::size_t body_size;
    };
    struct message {
        std::string key;
        std::int64_t contact;
        std::string text;
    };
    std::vector<row> rows;
    std::string bodies;
    std::vector<message> outbox;

    // Appends a row whose body is written by `body` straight into the shared buffer.
    template <class Body>
    std::int64_t add(std::int64_t contact, const char* kind, const char* origin, std::int64_t at,
                     std::int64_t cause, Body&& body) {
        const std::size_t start = bodies.size();
        body(bodies);
        const auto id = static_cast<std::int64_t>(rows.size()) + 1;
        rows.push_back({id, contact, kind, origin, at, cause, start, bodies.size() - start});
        return id;
    }
};

struct floor_contact {
    std::vector<std::string> tags;
    std::map<std::string, std::string, std::less<>> fields;
    std::string name;
    bool asked = false;
};

bool has_tag(const floor_contact& c, std::string_view tag) {
    return std::find(c.tags.begin(), c.tags.end(), tag) != c.tags.end();
}

double run_floor(std::size_t contacts, std::size_t rounds, std::size_t& events) {
    floor_log log;
    std::unordered_map<std::string, std::int64_t> ids;
    std::vector<floor_contact> people;
    std::vector<std::string> who;
    for (std::size_t i = 0; i < contacts; ++i) {
        who.push_back("zalo:" + std::to_string(i));
    }
    std::int64_t t = 0;
    events = 0;
    const auto input = [&](std::string_view kind, const std::string& identity, std::string_view key,
                           std::string_view value) {
        return [&, kind, key, value](std::string& out) {
            fmt::format_to(std::back_inserter(out), R"({{"kind":"{}","identity":"{}","at":{},"{}":"{}"}})",
                           kind, identity, t, key, value);
        };
    };
    const auto step = [](const char* flow, const char* block, const char* kind = nullptr) {
        return [=](std::string& out) {
            out += R"({"flow":")";
            out += flow;
            out += R"(","block":")";
            out += block;
            if (kind != nullptr) {
                out += R"(","kind":")";
                out += kind;
            }
            out += R"("})";
        };
    };
    const auto tag_body = [](const char* tag) {
        return [=](std::string& out) {
            out += R"({"tag":")";
            out += tag;
            out += R"("})";
        };
    };
    // Each event resolves its sender, as the engine's do.
    const auto resolve = [&](const std::string& identity) {
        auto [it, created] = ids.try_emplace(identity, static_cast<std::int64_t>(people.size()));
        if (created) {
            people.emplace_back();
        }
        return it->second;
    };
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < rounds; ++r) {
        for (const auto& identity : who) {
            ++t;
            const std::int64_t id = resolve(identity);
            floor_contact& c = people[static_cast<std::size_t>(id)];
            // The postback: b1 .. b9, the call into "sub", and the ask that waits.
            const auto cause =
                log.add(id, "postback", "input", t, 0, input("postback", identity, "payload", "GO"));
            log.add(id, "flow_started", "flow:ten/b1", t, cause, step("ten", "b1"));
            log.add(id, "block_entered", "flow:ten/b1", t, cause, step("ten", "b1", "condition"));
            log.add(id, "block_entered", "flow:ten/b2", t, cause, step("ten", "b2", "tag"));
            if (!has_tag(c, "A")) {
                c.tags.emplace_back("A");
                log.add(id, "tag_added", "flow:ten/b2", t, cause, tag_body("A"));
            }
            if (std::erase(c.tags, "B") > 0) {
                log.add(id, "tag_removed", "flow:ten/b2", t, cause, tag_body("B"));
            }
            log.add(id, "block_entered", "flow:ten/b3", t, cause, step("ten", "b3", "set_field"));
            auto& count = c.fields["count"];
            count = std::to_string((count.empty() ? 0 : std::stol(count)) + 1);
            log.add(id, "block_entered", "flow:ten/b4", t, cause, step("ten", "b4", "randomizer"));
            log.add(id, "randomizer_path", "flow:ten/b4", t, cause,
                    [](std::string& out) { out += R"({"flow":"ten","block":"b4","path":"b5"})"; });
            log.add(id, "block_entered", "flow:ten/b5", t, cause, step("ten", "b5", "send"));
            log.outbox.push_back({fmt::format("e:{}/b5", cause), id, "Xin chào " + c.name});
            log.add(id, "block_entered", "flow:ten/b6", t, cause, step("ten", "b6", "call"));
            log.add(id, "block_entered", "flow:sub/b7", t, cause, step("sub", "b7", "send"));
            log.outbox.push_back({fmt::format("e:{}/b7", cause), id, "sub"});
            log.add(id, "flow_ended", "flow:sub/b7", t, cause, step("sub", "b7"));
            log.add(id, "block_entered", "flow:ten/b8", t, cause, step("ten", "b8", "tag"));
            c.tags.emplace_back("B");
            log.add(id, "tag_added", "flow:ten/b8", t, cause, tag_body("B"));
            log.add(id, "block_entered", "flow:ten/b9", t, cause, step("ten", "b9", "ask"));
            log.outbox.push_back({fmt::format("e:{}/b9", cause), id, "Màu gì?"});
            c.asked = true;
            // The answer: saved to the field, then b10 ends the flow.
            floor_contact& d = people[static_cast<std::size_t>(resolve(identity))];
            const auto answer = log.add(id, "message_received", "input", t, 0,
                                        input("message_received", identity, "text", "xanh"));
            if (d.asked) {
                d.fields["colour"] = "xanh";
                d.asked = false;
                log.add(id, "block_entered", "flow:ten/b10", t, answer, step("ten", "b10", "end"));
                log.add(id, "flow_ended", "flow:ten/b10", t, answer, step("ten", "b10"));
            }
            events += 2;
        }
    }
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // 18 rows a round: the first round adds "A" where later ones remove "B".
    if (log.rows.size() != events / 2 * 18) {
        throw std::runtime_error(fmt::format("floor logged {} rows", log.rows.size()));
    }
    return took;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t contacts = 1000;
    std::size_t rounds = 5;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--contacts") == 0 && i + 1 < argc) {
            contacts = std::stoul(argv[++i]);
        } else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = std::stoul(argv[++i]);
        } else if (std::strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            fmt::print(stderr, "usage: flow_bench [--contacts N] [--rounds R] [--json]\n");
            return 2;
        }
    }
    std::size_t events = 0;
    const double base = run(without_flow, contacts, rounds, events);
    const double flows = run(with_flow, contacts, rounds, events);
    const double floor = run_floor(contacts, rounds, events);
    const double base_rate = static_cast<double>(events) / base;
    const double flow_rate = static_cast<double>(events) / flows;
    const double floor_rate = static_cast<double>(events) / floor;
    if (json) {
        fmt::print(R"({{"events":{},"baseline_per_s":{:.0f},"flow_per_s":{:.0f},"floor_per_s":{:.0f},)"
                   R"("flow_over_baseline":{:.3f},"flow_over_floor":{:.3f},"blocks_per_s":{:.0f}}})"
                   "\n",
                   events, base_rate, flow_rate, floor_rate, flow_rate / base_rate, flow_rate / floor_rate,
                   flow_rate * 5.5);
        return 0;
    }
    fmt::print("{} events ({} contacts x {} rounds x 2)\n", events, contacts, rounds);
    fmt::print("  no flows (baseline): {:>9.0f} events/s\n", base_rate);
    fmt::print("  10-block flow:       {:>9.0f} events/s  ({:.2f} of baseline, ~{:.0f} blocks/s)\n",
               flow_rate, flow_rate / base_rate, flow_rate * 5.5);
    fmt::print("  floor (hand-written): {:>8.0f} events/s  (the engine runs at {:.2f} of it)\n", floor_rate,
               flow_rate / floor_rate);
    return 0;
}
