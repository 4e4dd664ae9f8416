#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

time_point at(const char* local) {
    return parse_time(std::string(local) + "+07:00");
}

std::string refused_path(const std::string& doc) {
    try {
        (void)definitions::parse(doc);
    } catch (const definition_error& e) {
        return e.path();
    }
    return "accepted";
}

constexpr const char* vip_definitions = R"j({"schema": 1, "tags": ["Khách VIP", "Đã mua Áo A", "Ưu tiên"],
  "segments": [{"name": "vip chưa mua áo", "if": "tag(\"Khách VIP\") and not tag(\"Đã mua Áo A\")"}],
  "rules": [
    {"name": "in", "when": "segment_entered", "filter": {"segment": "vip chưa mua áo"}, "then": [{"add_tag": "Ưu tiên"}]},
    {"name": "out", "when": "segment_left", "filter": {"segment": "vip chưa mua áo"}, "then": [{"remove_tag": "Ưu tiên"}]}
  ]})j";

} // namespace

TEST_CASE("segment membership follows every change and raises entered and left", "[segments]") {
    engine e(make_memory_store());
    e.load_definitions(vip_definitions);
    const identity who{"zalo", "1"};
    e.ingest(event::add_tag(who, "Khách VIP").at_time(at("2026-01-05T10:00")));
    auto c = *e.find_contact(who);
    REQUIRE(c.segments.count("vip chưa mua áo") == 1);
    CHECK(c.segments.at("vip chưa mua áo") == at("2026-01-05T10:00"));
    CHECK(c.has_tag("Ưu tiên"));

    e.ingest(event::add_tag(who, "Đã mua Áo A").at_time(at("2026-01-06T10:00")));
    c = *e.find_contact(who);
    CHECK(c.segments.empty());
    CHECK_FALSE(c.has_tag("Ưu tiên"));

    std::vector<std::string> kinds;
    for (const auto& r : e.event_log()) {
        if (r.kind.rfind("segment_", 0) == 0) {
            kinds.push_back(r.kind);
            CHECK(r.origin == "segment:vip chưa mua áo");
        }
    }
    CHECK(kinds == std::vector<std::string>{"segment_entered", "segment_left"});
    CHECK_THAT(e.contact_json(c.id), !Catch::Contains("\"segments\""));
}

TEST_CASE("a clock-dependent segment is re-checked without any event", "[segments]") {
    engine e(make_memory_store());
    e.load_definitions(R"j({"schema": 1, "tags": ["Ngủ đông"],
      "segments": [{"name": "quiet", "if": "days_since_last_inbound >= 3", "recheck": "6h"}],
      "rules": [{"name": "mark", "when": "segment_entered", "filter": {"segment": "quiet"}, "then": [{"add_tag": "Ngủ đông"}]}]})j");
    REQUIRE(e.current_definitions().segments().front().recheck == 6h);
    const identity who{"zalo", "2"};
    e.ingest(event::message(who, "hi").at_time(at("2026-01-05T10:00")));
    e.advance_to(at("2026-01-08T09:00"));
    CHECK_FALSE(e.find_contact(who)->has_tag("Ngủ đông"));
    e.advance_to(at("2026-01-08T16:00"));
    const auto c = *e.find_contact(who);
    CHECK(c.has_tag("Ngủ đông"));
    CHECK(c.segments.at("quiet") == at("2026-01-08T10:00")); // 12 rechecks of 6 h after the message
    // A message brings the contact back out at once.
    e.ingest(event::message(who, "again").at_time(at("2026-01-09T10:00")));
    CHECK(e.find_contact(who)->segments.empty());
}

TEST_CASE("segments default to a daily re-check only when they read the clock", "[segments]") {
    const auto defs = definitions::parse(R"j({"schema": 1, "tags": ["A"],
      "segments": [{"name": "a", "if": "tag(\"A\")"}, {"name": "old", "if": "days_since_first_seen > 30"}]})j");
    CHECK(defs.find_segment("a")->recheck == duration{});
    CHECK(defs.find_segment("old")->recheck == 24h);
    CHECK(defs.find_segment("nope") == nullptr);
}

TEST_CASE("bad segments are refused with their path", "[segments]") {
    CHECK(refused_path(R"j({"schema": 1, "segments": [{"name": "x", "if": "ordrs > 1"}]})j") ==
          "$.segments[0].if");
    CHECK(refused_path(R"j({"schema": 1, "segments": [{"name": "x", "if": "tag(\"Nope\")"}]})j") ==
          "$.segments[0].if");
    CHECK(refused_path(R"j({"schema": 1, "segments": [{"name": "x", "if": "orders > 1"},
                                                      {"name": "x", "if": "orders > 2"}]})j") ==
          "$.segments[1].name");
    CHECK(refused_path(
              R"j({"schema": 1, "segments": [{"name": "x", "if": "orders > 1", "recheck": "soon"}]})j") ==
          "$.segments[0].recheck");
    CHECK(refused_path(R"j({"schema": 1, "segments": [{"name": "x"}]})j") == "$.segments[0].if");
    CHECK(refused_path(R"j({"schema": 1, "rules": [{"name": "r", "when": "segment_entered",
        "filter": {"segment": "ghost"}, "then": []}]})j") == "$.rules[0].filter.segment");
}

TEST_CASE("a segment dropped from the definitions is left quietly", "[segments]") {
    engine e(make_memory_store());
    e.load_definitions(vip_definitions);
    const identity who{"zalo", "1"};
    e.ingest(event::add_tag(who, "Khách VIP").at_time(at("2026-01-05T10:00")));
    e.load_definitions(R"j({"schema": 1, "tags": ["Khách VIP", "Đã mua Áo A", "Ưu tiên"]})j");
    e.ingest(event::message(who, "hi").at_time(at("2026-01-05T11:00")));
    CHECK(e.find_contact(who)->segments.empty());
}

TEST_CASE("a sequence can follow a declared segment by name", "[segments]") {
    engine e(make_memory_store());
    e.load_definitions(R"j({"schema": 1, "tags": ["Khách VIP"],
      "segments": [{"name": "vip", "if": "tag(\"Khách VIP\")"}],
      "sequences": [{"name": "welcome vip", "follows": {"segment": "vip"},
                     "steps": [{"after": "1h", "send": "Chào mừng Khách VIP!"}]}]})j");
    REQUIRE(e.current_definitions().sequences().front().follows_named_segment == "vip");
    const identity who{"zalo", "1"};
    e.ingest(event::add_tag(who, "Khách VIP").at_time(at("2026-01-05T10:00")));
    e.advance_to(at("2026-01-05T12:00"));
    const auto out = e.outbox();
    REQUIRE(out.size() == 1);
    CHECK(out[0].text == "Chào mừng Khách VIP!");
    CHECK(out[0].cause == "sequence:welcome vip");
}
