#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include "support.hpp"

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

// Local times in Asia/Ho_Chi_Minh (UTC+7).
time_point at(const char* local) {
    return parse_time(std::string(local) + "+07:00");
}

std::string with_sequence(const std::string& sequence) {
    return R"j({"schema": 1, "tags": ["Follow", "Done", "VIP"], "fields": [{"name": "orders_note", "type": "text"}],
      "sequences": [)j" +
           sequence + "]}";
}

struct harness {
    engine e{make_memory_store()};
    identity who{"zalo", "1"};
    std::int64_t seen = 0;

    explicit harness(const std::string& defs) { e.load_definitions(defs); }
    void tag(bool add, const char* when, const char* name = "Follow") {
        e.advance_to(at(when));
        e.ingest((add ? event::add_tag(who, name) : event::remove_tag(who, name)).at_time(at(when)));
    }
    // (local time, text) of messages decided since the last call, after advancing to `until`.
    std::vector<std::pair<std::string, std::string>> sent_until(const char* until) {
        e.advance_to(at(until));
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& m : e.outbox(seen)) {
            const auto local = format_time(m.created_at + 7h);
            out.emplace_back(local.substr(0, 16), m.text);
            seen = m.id;
        }
        return out;
    }
};

using sends = std::vector<std::pair<std::string, std::string>>;

} // namespace

TEST_CASE("steps run after entry or after the previous step, inside the send window", "[sequences]") {
    harness h(with_sequence(
        R"j({"name": "s", "follows": {"tag": "Follow"}, "window": {"from": "08:00", "to": "21:00"},
      "steps": [{"after": "24h", "send": "one"}, {"after": "2h", "from": "previous", "send": "two"},
                {"after": "30h", "from": "entry", "send": "three"}]})j"));
    h.tag(true, "2026-01-05T20:30");
    CHECK(h.sent_until("2026-01-10T00:00") ==
          sends{{"2026-01-06T20:30", "one"},
                {"2026-01-07T08:00", "two"},     // 22:30 is closed: next opening
                {"2026-01-07T08:00", "three"}}); // due 02:30, waits too
}

TEST_CASE("leaving the tag cancels every pending step at once", "[sequences]") {
    harness h(with_sequence(R"j({"name": "s", "follows": {"tag": "Follow"},
      "steps": [{"after": "1h", "send": "one"}, {"after": "1h", "from": "previous", "send": "two"}]})j"));
    h.tag(true, "2026-01-05T10:00");
    CHECK(h.sent_until("2026-01-05T11:30") == sends{{"2026-01-05T11:00", "one"}});
    h.tag(false, "2026-01-05T11:45");
    CHECK_FALSE(h.e.next_timer()); // the pending step's timer was removed in the same transaction
    CHECK(h.sent_until("2026-01-09T00:00").empty());
}

TEST_CASE("tag steps and the end action change tags; the last step can end the subscription", "[sequences]") {
    harness h(with_sequence(R"j({"name": "s", "follows": {"tag": "Follow"},
      "steps": [{"after": "1d", "remove_tags": ["Follow"], "add_tags": ["Done"]}]},
      {"name": "t", "follows": {"tag": "VIP"}, "steps": [{"after": "1h", "send": "vip"}], "end": {"add_tags": ["Done"]}})j"));
    h.tag(true, "2026-01-05T10:00");
    h.e.advance_to(at("2026-01-06T10:00"));
    auto c = *h.e.find_contact(h.who);
    CHECK_FALSE(c.has_tag("Follow"));
    CHECK(c.has_tag("Done"));
    CHECK(c.sequences.at("s").completed);

    h.tag(false, "2026-01-06T11:00", "Done");
    h.tag(true, "2026-01-06T11:00", "VIP");
    CHECK(h.sent_until("2026-01-06T13:00") == sends{{"2026-01-06T12:00", "vip"}});
    CHECK(h.e.find_contact(h.who)->has_tag("Done"));
}

TEST_CASE("re-entry restarts by default, or is ignored within a period", "[sequences]") {
    const auto steps = std::string(R"j("steps": [{"after": "1h", "send": "hello"}])j");
    SECTION("restart") {
        harness h(with_sequence(R"j({"name": "s", "follows": {"tag": "Follow"}, )j" + steps + "}"));
        h.tag(true, "2026-01-05T10:00");
        h.tag(false, "2026-01-05T12:00");
        h.tag(true, "2026-01-05T13:00");
        CHECK(h.sent_until("2026-01-06T00:00") ==
              sends{{"2026-01-05T11:00", "hello"}, {"2026-01-05T14:00", "hello"}});
    }
    SECTION("ignore within 30 days, even when staying in past the period") {
        harness h(with_sequence(
            R"j({"name": "s", "follows": {"tag": "Follow"}, "reentry": {"policy": "ignore", "within": "30d"}, )j" +
            steps + "}"));
        h.tag(true, "2026-01-05T10:00");
        h.tag(false, "2026-01-05T12:00");
        h.tag(true, "2026-01-20T10:00");
        h.e.ingest(event::message(h.who, "hi").at_time(at("2026-02-20T10:00")));
        CHECK(h.sent_until("2026-03-01T00:00") == sends{{"2026-01-05T11:00", "hello"}});
        h.tag(false, "2026-03-01T00:00");
        h.tag(true, "2026-04-15T10:00"); // more than 30 days after leaving: a new subscription
        CHECK(h.sent_until("2026-04-16T00:00") == sends{{"2026-04-15T11:00", "hello"}});
    }
}

TEST_CASE("a cap limits the messages of one subscription", "[sequences]") {
    harness h(with_sequence(R"j({"name": "s", "follows": {"tag": "Follow"}, "max_sends": 1,
      "steps": [{"after": "1h", "send": "one"}, {"after": "1h", "from": "previous", "send": "two"}]})j"));
    h.tag(true, "2026-01-05T10:00");
    CHECK(h.sent_until("2026-01-06T00:00") == sends{{"2026-01-05T11:00", "one"}});
}

TEST_CASE("a sequence can follow a segment expression", "[sequences]") {
    harness h(with_sequence(
        R"j({"name": "big spenders", "follows": {"segment": "total_spent >= 1000000 and not tag(\"VIP\")"},
      "steps": [{"after": "2h", "send": "Cảm ơn bạn đã mua nhiều!"}]})j"));
    h.e.ingest(event::order_of(h.who, {"1", 600000, "VND", {"Áo"}}).at_time(at("2026-01-05T09:00")));
    h.e.ingest(event::order_of(h.who, {"2", 600000, "VND", {"Quần"}}).at_time(at("2026-01-05T10:00")));
    CHECK(h.sent_until("2026-01-05T13:00") == sends{{"2026-01-05T12:00", "Cảm ơn bạn đã mua nhiều!"}});
}

TEST_CASE("windows are in the contact's own time zone", "[sequences]") {
    harness h(with_sequence(
        R"j({"name": "s", "follows": {"tag": "Follow"}, "window": {"from": "09:00", "to": "17:00"},
      "steps": [{"after": "1h", "send": "hi"}]})j"));
    h.e.ingest(event::profile_of(h.who, {.time_zone = "Europe/London"}).at_time(at("2026-01-05T08:00")));
    h.tag(true, "2026-01-05T08:00"); // 01:00 in London: due 02:00 London, opens 09:00 London = 16:00 +07
    CHECK(h.sent_until("2026-01-06T00:00") == sends{{"2026-01-05T16:00", "hi"}});
}

TEST_CASE("bad sequences are refused with the JSON path", "[sequences][definitions]") {
    auto path_of = [](const std::string& seq) { return testing::refused_path(with_sequence(seq)); };
    CHECK(path_of(R"j({"name": "s", "steps": [{"after": "1h", "send": "x"}]})j") == "$.sequences[0].follows");
    CHECK(
        path_of(R"j({"name": "s", "follows": {"tag": "Nope"}, "steps": [{"after": "1h", "send": "x"}]})j") ==
        "$.sequences[0].follows.tag");
    CHECK(path_of(R"j({"name": "s", "follows": {"tag": "Follow"}, "steps": []})j") == "$.sequences[0].steps");
    CHECK(path_of(R"j({"name": "s", "follows": {"tag": "Follow"}, "steps": [{"send": "x"}]})j") ==
          "$.sequences[0].steps[0].after");
    CHECK(
        path_of(
            R"j({"name": "s", "follows": {"tag": "Follow"}, "steps": [{"after": "1h", "send": "x", "add_tags": ["Done"]}]})j") ==
        "$.sequences[0].steps[0]");
    CHECK(path_of(R"j({"name": "s", "follows": {"tag": "Follow"}, "window": {"from": "25:00", "to": "21:00"},
                      "steps": [{"after": "1h", "send": "x"}]})j") == "$.sequences[0].window");
    CHECK(
        path_of(
            R"j({"name": "s", "follows": {"tag": "Follow"}, "steps": [{"after": "1h", "send_form": {"flow": "f", "block": "b"}}]})j") ==
        "$.sequences[0].steps[0].send_form.flow");
    CHECK(path_of(R"j({"name": "s", "follows": {"tag": "Follow"}, "reentry": {"policy": "ignore"},
                      "steps": [{"after": "1h", "send": "x"}]})j") == "$.sequences[0].reentry.within");
}

TEST_CASE("timers fired in one advance keep (due, id) order even when they schedule earlier ones",
          "[sequences][timers]") {
    engine e(make_memory_store());
    e.load_definitions(R"j({"schema": 1, "tags": ["Follow"],
      "sequences": [{"name": "s", "follows": {"tag": "Follow"}, "steps": [{"after": "2h", "send": "sequence at 2h"}]}],
      "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "a", "kind": "wait", "delay": "1h", "next": "b"},
        {"id": "b", "kind": "wait", "delay": "30m", "next": "c"},
        {"id": "c", "kind": "send", "text": "flow at 1h30"}]}]})j");
    const auto t = at("2026-01-05T10:00");
    for (int i = 0; i < 300; ++i) { // more contacts than one batch holds
        const identity who{"zalo", std::to_string(i)};
        e.ingest(event::add_tag(who, "Follow").at_time(t));
        e.ingest(event::postback_of(who, "GO").at_time(t));
    }
    CHECK(e.advance_to(t + 3h) == 300 * 3); // two flow delays and one sequence step each
    const auto rows = e.outbox();
    REQUIRE(rows.size() == 600);
    for (std::size_t i = 1; i < rows.size(); ++i) {
        CHECK(rows[i - 1].created_at <= rows[i].created_at);
    }
    CHECK(rows.front().text == "flow at 1h30");
    CHECK(rows.back().text == "sequence at 2h");
}

TEST_CASE("sequences follow the contact even while a human has it", "[sequences][handoff]") {
    engine e(make_memory_store());
    e.load_definitions(R"j({"schema": 1, "tags": ["Follow"],
      "sequences": [{"name": "s", "follows": {"tag": "Follow"}, "steps": [{"after": "2h", "send": "step"}]}],
      "flows": [{"name": "human", "triggers": [{"postback": "HUMAN"}], "blocks": [{"id": "h", "kind": "handoff"}]}]})j");
    const identity who{"zalo", "1"};
    const auto t = at("2026-01-05T10:00");
    e.ingest(event::add_tag(who, "Follow").at_time(t));
    e.ingest(event::postback_of(who, "HUMAN").at_time(t + 10min));
    e.ingest(event::remove_tag(who, "Follow").at_time(t + 20min)); // staff close the case meanwhile
    e.advance_to(t + 5h);
    e.ingest(event::resume_automation(who).at_time(t + 6h));
    e.advance_to(t + 3 * 24h);
    CHECK(e.outbox().empty()); // no message after the tag is gone, ever
    CHECK_FALSE(e.next_timer());
}

TEST_CASE("a subscription that starts and ends in one event leaves no timer behind", "[sequences][timers]") {
    engine e(make_memory_store());
    e.load_definitions(R"j({"schema": 1, "tags": ["Follow", "Done"],
      "rules": [{"name": "close", "when": "tag_added", "filter": {"tag": "Follow"}, "if": "tag(\"Done\")",
                 "then": [{"remove_tag": "Follow"}]}],
      "sequences": [{"name": "s", "follows": {"tag": "Follow"}, "steps": [{"after": "1h", "send": "x"}]}]})j");
    const identity who{"zalo", "1"};
    e.ingest(event::add_tag(who, "Done").at_time(at("2026-01-05T10:00")));
    e.ingest(event::add_tag(who, "Follow").at_time(at("2026-01-05T10:00")));
    CHECK_FALSE(e.find_contact(who)->has_tag("Follow"));
    CHECK_FALSE(e.next_timer());
}

TEST_CASE("a segment that stops holding with time is re-checked before a step runs", "[sequences]") {
    engine e(make_memory_store());
    e.load_definitions(
        R"j({"schema": 1, "sequences": [{"name": "fresh", "follows": {"segment": "days_since_last_inbound < 1"},
      "steps": [{"after": "2d", "send": "still chatting?"}]}]})j");
    e.ingest(event::message({"zalo", "1"}, "hi").at_time(at("2026-01-05T10:00")));
    e.advance_to(at("2026-01-10T00:00"));
    CHECK(e.outbox().empty());
    CHECK_FALSE(e.find_contact({"zalo", "1"})->sequences.at("fresh").active);
}

TEST_CASE("an engine refuses an unknown default time zone", "[sequences]") {
    engine_options o;
    o.default_time_zone = "Mars/Olympus";
    CHECK_THROWS_AS(engine(make_memory_store(), o), error);
}

TEST_CASE("frequency caps defer promotional messages across automations and never drop them", "[caps]") {
    engine e(make_memory_store());
    e.load_definitions(R"j({"schema": 1, "caps": [{"purpose": "promotional", "max": 2, "per": "24h"}],
      "rules": [{"name": "promo", "when": "track", "filter": {"name": "promo"}, "then": [{"send": {"text": "Ưu đãi", "purpose": "promotional"}}]},
                {"name": "reply", "when": "message_received", "then": [{"send": "Dạ"}]}]})j");
    const identity who{"zalo", "1"};
    const auto t = at("2026-01-05T10:00");
    for (int h = 0; h < 4; ++h) {
        e.ingest(event::track_of(who, "promo").at_time(t + std::chrono::hours(h)));
        e.ingest(event::message(who, "hi").at_time(t + std::chrono::hours(h)));
    }
    std::vector<std::string> promos;
    int replies = 0;
    for (const auto& m : e.outbox()) {
        if (m.purpose == "promotional") {
            promos.push_back(std::string(to_string(m.status)) +
                             (m.not_before ? " " + format_time(*m.not_before) : ""));
        } else {
            CHECK(m.status == message_status::pending); // replies are never capped
            ++replies;
        }
    }
    CHECK(replies == 4);
    CHECK(promos == std::vector<std::string>{"pending", "pending", "deferred 2026-01-06T03:00:00Z",
                                             "deferred 2026-01-06T04:00:00Z"});
    CHECK_THROWS_AS(
        definitions::parse(R"j({"schema": 1, "caps": [{"purpose": "reply", "max": 1, "per": "1h"}]})j"),
        definition_error);
}

TEST_CASE("after downtime, late steps are sent late or skipped as each sequence declares",
          "[sequences][downtime]") {
    time_point clock = at("2026-01-05T10:00");
    engine_options o;
    o.clock = [&clock] { return clock; };
    engine e(make_memory_store(), o);
    e.load_definitions(R"j({"schema": 1, "tags": ["A", "B"], "sequences": [
      {"name": "late ok", "follows": {"tag": "A"}, "steps": [{"after": "1h", "send": "sent late"}]},
      {"name": "fresh only", "follows": {"tag": "B"}, "skip_if_late": "6h",
       "steps": [{"after": "1h", "send": "never"}, {"after": "1d", "from": "previous", "send": "next day"}]}]})j");
    const identity who{"zalo", "1"};
    e.ingest(event::add_tag(who, "A"));
    e.ingest(event::add_tag(who, "B"));
    clock += 48h; // the process was down for two days
    e.advance_to(clock);
    std::vector<std::string> texts;
    for (const auto& m : e.outbox()) {
        texts.push_back(m.text);
    }
    // "next day" was also due during the downtime (a day after the skipped step): skipped too.
    CHECK(texts == std::vector<std::string>{"sent late"});
    bool skipped = false;
    for (const auto& r : e.event_log()) {
        skipped = skipped || r.kind == "sequence_step_skipped_late";
    }
    CHECK(skipped);
    CHECK(e.outbox()[0].created_at == at("2026-01-05T11:00")); // decided as of its due time
    // The log says which step ran and how late: 47 h after its 11:00 due time.
    std::vector<std::pair<std::string, std::string>> late_ok;
    for (const auto& r : e.event_log()) {
        if (r.origin == "sequence:late ok") {
            late_ok.emplace_back(r.kind, r.body);
        }
    }
    CHECK(late_ok == std::vector<std::pair<std::string, std::string>>{
                         {"sequence_entered", R"({"sequence":"late ok"})"},
                         {"sequence_step", R"({"sequence":"late ok","step":0,"late_by_ms":169200000})"},
                         {"sequence_completed", R"({"sequence":"late ok"})"}});
}

TEST_CASE("a step on time logs its index and no lateness", "[sequences]") {
    time_point clock = at("2026-01-05T09:00");
    engine_options o;
    o.clock = [&clock] { return clock; };
    engine e(make_memory_store(), o);
    e.load_definitions(with_sequence(R"j({"name": "s \"quoted\"", "follows": {"tag": "Follow"},
      "steps": [{"after": "1h", "send": "one"}, {"after": "1h", "from": "previous", "send": "two"}]})j"));
    e.ingest(event::add_tag({"zalo", "1"}, "Follow"));
    for (const char* due : {"2026-01-05T10:00", "2026-01-05T11:00"}) {
        clock = at(due); // the engine wakes exactly when each step is due
        e.advance_to(clock);
    }
    std::vector<std::string> steps;
    for (const auto& r : e.event_log()) {
        if (r.kind == "sequence_step") {
            steps.push_back(r.body);
        }
    }
    // Names are escaped as JSON strings.
    CHECK(steps == std::vector<std::string>{R"({"sequence":"s \"quoted\"","step":0})",
                                            R"({"sequence":"s \"quoted\"","step":1})"});
}
