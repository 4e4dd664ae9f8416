// Events per second through a 10-block flow, in memory, with the in-memory store.
//
//   flow_bench [--contacts N] [--rounds R] [--json]
//
// Each round sends every contact a postback that runs a 10-block flow to completion (condition,
// tags, set_field, randomizer, sends, a call into a sub-flow) and a message that answers its
// final ask. Baseline, measured in the same run: the same events through a definitions
// document with no flows (contact resolution, logging and storage only), so the ratio shows
// what the flow interpreter adds.
#include <tagflow/tagflow.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
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
    const double base_rate = static_cast<double>(events) / base;
    const double flow_rate = static_cast<double>(events) / flows;
    if (json) {
        fmt::print(R"({{"events":{},"baseline_per_s":{:.0f},"flow_per_s":{:.0f},"flow_over_baseline":{:.3f},"blocks_per_s":{:.0f}}})"
                   "\n",
                   events, base_rate, flow_rate, flow_rate / base_rate, flow_rate * 5.5);
        return 0;
    }
    fmt::print("{} events ({} contacts x {} rounds x 2)\n", events, contacts, rounds);
    fmt::print("  no flows (baseline): {:>9.0f} events/s\n", base_rate);
    fmt::print("  10-block flow:       {:>9.0f} events/s  ({:.2f} of baseline, ~{:.0f} blocks/s)\n", flow_rate,
               flow_rate / base_rate, flow_rate * 5.5);
    return 0;
}
