#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include "support.hpp"

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

const char* defs = R"j({"schema": 1, "tags": ["Đã đánh giá"],
  "fields": [{"name": "birthday", "type": "date"}],
  "dates": [{"name": "bd", "field": "birthday", "at": "09:00", "then": [{"send": "HPBD"}]},
            {"name": "anni", "field": "first_order", "at": "10:00", "years": [1, 2], "then": [{"send": "anniversary"}]}],
  "rules": [{"name": "ask review", "when": "track", "filter": {"name": "delivered"},
             "then": [{"later": {"after": "3d", "unless": "tag(\"Đã đánh giá\")", "then": [{"send": "Đánh giá giúp shop nhé"}]}}]}]})j";

std::vector<std::string> sent_between(engine& e, time_point until, std::int64_t& seen) {
    e.advance_to(until);
    std::vector<std::string> out;
    for (const auto& m : e.outbox(seen)) {
        out.push_back(format_time(m.created_at) + " " + m.text);
        seen = m.id;
    }
    return out;
}

} // namespace

TEST_CASE("a birthday on 29 February is greeted on 28 February in other years, at 09:00 local", "[dates]") {
    engine e(make_memory_store());
    e.load_definitions(defs);
    std::int64_t seen = 0;
    e.ingest(event::profile_of({"zalo", "1"}, {.fields = {{"birthday", "2000-02-29"}}})
                 .at_time(parse_time("2026-01-05T00:00:00Z")));
    CHECK(sent_between(e, parse_time("2029-01-01T00:00:00Z"), seen) ==
          std::vector<std::string>{"2026-02-28T02:00:00Z HPBD", "2027-02-28T02:00:00Z HPBD",
                                   "2028-02-29T02:00:00Z HPBD"});
}

TEST_CASE("changing a date field moves its timer; clearing it cancels", "[dates]") {
    engine e(make_memory_store());
    e.load_definitions(defs);
    std::int64_t seen = 0;
    const identity who{"zalo", "1"};
    e.ingest(event::profile_of(who, {.fields = {{"birthday", "1990-03-01"}}})
                 .at_time(parse_time("2026-01-05T00:00:00Z")));
    e.ingest(event::profile_of(who, {.fields = {{"birthday", "1990-04-01"}}})
                 .at_time(parse_time("2026-01-06T00:00:00Z")));
    CHECK(sent_between(e, parse_time("2026-03-31T00:00:00Z"), seen).empty());
    CHECK(sent_between(e, parse_time("2026-04-02T00:00:00Z"), seen) ==
          std::vector<std::string>{"2026-04-01T02:00:00Z HPBD"});
    e.ingest(
        event::profile_of(who, {.fields = {{"birthday", ""}}}).at_time(parse_time("2026-05-01T00:00:00Z")));
    CHECK_FALSE(e.next_timer());
}

TEST_CASE("anniversaries count from the first order and stop after the listed years", "[dates]") {
    engine e(make_memory_store());
    e.load_definitions(defs);
    std::int64_t seen = 0;
    e.ingest(
        event::order_of({"zalo", "1"}, {"1", 10, "VND", {"x"}}).at_time(parse_time("2026-03-10T01:00:00Z")));
    e.ingest(
        event::order_of({"zalo", "1"}, {"2", 10, "VND", {"y"}}).at_time(parse_time("2026-06-10T01:00:00Z")));
    CHECK(sent_between(e, parse_time("2035-01-01T00:00:00Z"), seen) ==
          std::vector<std::string>{"2027-03-10T03:00:00Z anniversary", "2028-03-10T03:00:00Z anniversary"});
}

TEST_CASE("delayed actions run later unless their condition says otherwise", "[dates][later]") {
    engine e(make_memory_store());
    e.load_definitions(defs);
    std::int64_t seen = 0;
    const auto t = parse_time("2026-01-05T03:00:00Z");
    e.ingest(event::track_of({"zalo", "1"}, "delivered").at_time(t));
    e.ingest(event::track_of({"zalo", "2"}, "delivered").at_time(t));
    e.ingest(event::add_tag({"zalo", "2"}, "Đã đánh giá").at_time(t + 1h));
    CHECK(sent_between(e, t + 71h, seen).empty());
    CHECK(sent_between(e, t + 72h, seen) ==
          std::vector<std::string>{"2026-01-08T03:00:00Z Đánh giá giúp shop nhé"});
}

TEST_CASE("bad date triggers and delayed actions are refused with the JSON path", "[dates][definitions]") {
    auto path_of = [](const std::string& doc) { return testing::refused_path(doc); };
    CHECK(path_of(R"j({"schema": 1, "dates": [{"name": "d", "field": "nope", "then": [{"send": "x"}]}]})j") ==
          "$.dates[0].field");
    CHECK(path_of(R"j({"schema": 1, "fields": [{"name": "b", "type": "date"}],
                       "dates": [{"name": "d", "field": "b", "at": "9h", "then": [{"send": "x"}]}]})j") ==
          "$.dates[0].at");
    CHECK(
        path_of(
            R"j({"schema": 1, "dates": [{"name": "d", "field": "first_order", "years": [0], "then": [{"send": "x"}]}]})j") ==
        "$.dates[0].years[0]");
    CHECK(path_of(R"j({"schema": 1, "rules": [{"name": "r", "when": "track", "then": [
                       {"later": {"after": "1d", "then": [{"later": {"after": "1d", "then": [{"send": "x"}]}}]}}]}]})j") ==
          "$.rules[0].then[0].later.then[0].later");
    CHECK(
        path_of(
            R"j({"schema": 1, "rules": [{"name": "r", "when": "track", "then": [{"later": {"then": [{"send": "x"}]}}]}]})j") ==
        "$.rules[0].then[0].later.after");
}

TEST_CASE("an inactive trigger fires after a quiet period, re-armed by every message", "[dates][inactive]") {
    engine e(make_memory_store());
    e.load_definitions(
        R"j({"schema": 1, "rules": [{"name": "win back", "when": "inactive", "filter": {"for": "30d"},
      "then": [{"send": "Lâu rồi không gặp bạn!"}]}]})j");
    std::int64_t seen = 0;
    const auto t = parse_time("2026-01-05T03:00:00Z");
    e.ingest(event::message({"zalo", "1"}, "hi").at_time(t));
    e.ingest(event::message({"zalo", "1"}, "again").at_time(t + 10 * 24h));
    CHECK(sent_between(e, t + 39 * 24h, seen).empty());
    CHECK(sent_between(e, t + 41 * 24h, seen) ==
          std::vector<std::string>{"2026-02-14T03:00:00Z Lâu rồi không gặp bạn!"});
    CHECK(sent_between(e, t + 100 * 24h, seen).empty()); // once per quiet period
    CHECK_THROWS_AS(
        definitions::parse(
            R"j({"schema": 1, "rules": [{"name": "r", "when": "inactive", "then": [{"send": "x"}]}]})j"),
        definition_error);
}
