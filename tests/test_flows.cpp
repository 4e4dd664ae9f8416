#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include "support.hpp"

#include <filesystem>
#include <map>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

time_point t0() {
    return parse_time("2026-01-05T10:00:00+07:00");
}

// Wraps blocks into a one-flow document started by the postback GO.
std::string one_flow(const std::string& blocks, const std::string& extra_fields = "") {
    return R"({"schema": 1, "tags": ["A", "B"],
      "fields": [{"name": "age", "type": "number"}, {"name": "colour", "type": "text"}, {"name": "count", "type": "number"},
                 {"name": "mail", "type": "email"}, {"name": "log", "type": "text"})" +
           extra_fields + R"(],
      "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": )" +
           blocks + "}]}";
}

struct harness {
    engine e{make_memory_store()};
    identity who{"zalo", "1"};
    time_point now = t0();
    std::int64_t seen = 0;

    explicit harness(const std::string& defs) { e.load_definitions(defs); }

    ingest_result send(event ev) { return e.ingest(ev.at_time(now)); }
    ingest_result go() { return send(event::postback_of(who, "GO")); }
    ingest_result say(const std::string& text) { return send(event::message(who, text)); }
    void wait(duration d) {
        now += d;
        e.advance_to(now);
    }
    // Texts sent since the last call.
    std::vector<std::string> sent() {
        std::vector<std::string> out;
        for (const auto& m : e.outbox(seen)) {
            out.push_back(m.text);
            seen = m.id;
        }
        return out;
    }
    contact me() const { return *e.find_contact(who); }
};

using texts = std::vector<std::string>;

} // namespace

TEST_CASE("a send block sends text with quick replies and buttons, then follows next", "[flows]") {
    harness h(one_flow(R"j([
      {"id": "hi", "kind": "send", "text": "Chào {{#name}}{{name}}{{/name}}{{^name}}bạn{{/name}}",
       "quick_replies": ["Áo", "Quần"], "buttons": [{"title": "Thanh toán", "payload": "CHECKOUT"}], "next": "bye"},
      {"id": "bye", "kind": "send", "text": "Tạm biệt"}])j"));
    h.go();
    const auto rows = h.e.outbox();
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].text == "Chào bạn");
    CHECK(rows[0].quick_replies == std::vector<std::string>{"Áo", "Quần"});
    CHECK(rows[0].buttons == std::vector<button>{{"Thanh toán", "CHECKOUT"}});
    CHECK(rows[0].cause == "flow:f/hi");
    CHECK(rows[1].text == "Tạm biệt");
    CHECK_FALSE(h.me().run); // the flow ended
}

TEST_CASE("an ask block validates, re-asks, saves the typed answer and gives up after the retry limit",
          "[flows]") {
    harness h(one_flow(R"j([
      {"id": "q", "kind": "ask", "text": "Bạn bao nhiêu tuổi?", "input": "number", "field": "age",
       "retry_text": "Bạn nhập số giúp shop nhé", "max_retries": 1, "next": "ok", "on_invalid": "human"},
      {"id": "ok", "kind": "send", "text": "Cảm ơn, {{age}} tuổi"},
      {"id": "human", "kind": "send", "text": "Shop sẽ gọi lại"}])j"));
    h.go();
    CHECK(h.sent() == texts{"Bạn bao nhiêu tuổi?"});
    h.say("ba mươi");
    CHECK(h.sent() == texts{"Bạn nhập số giúp shop nhé"});
    h.say("30");
    CHECK(h.sent() == texts{"Cảm ơn, 30 tuổi"});
    CHECK(h.me().fields.at("age").data == value{30.0});

    h.go();
    h.sent();
    h.say("x");
    h.say("y"); // second bad answer: more than max_retries
    CHECK(h.sent() == texts{"Bạn nhập số giúp shop nhé", "Shop sẽ gọi lại"});
}

TEST_CASE("an ask block with choices accepts answers without accents or case and times out", "[flows]") {
    harness h(one_flow(R"j([
      {"id": "q", "kind": "ask", "text": "Màu gì?", "input": "choice", "choices": ["Xanh lá", "Đỏ"], "field": "colour",
       "timeout": "30m", "on_timeout": "late", "next": "ok"},
      {"id": "ok", "kind": "send", "text": "Màu {{colour}}"},
      {"id": "late", "kind": "send", "text": "Bạn bận rồi, shop chờ nhé"}])j"));
    h.go();
    CHECK(h.e.outbox().back().quick_replies == std::vector<std::string>{"Xanh lá", "Đỏ"});
    h.say("xanh LA");
    CHECK(h.sent() == texts{"Màu gì?", "Màu Xanh lá"});
    CHECK(h.me().fields.at("colour").data == value{std::string("Xanh lá")});
    // The answer cancelled the timeout in the same transaction: nothing fires later.
    h.wait(1h);
    CHECK(h.sent().empty());

    h.go();
    h.sent();
    h.wait(29min);
    CHECK(h.sent().empty());
    h.wait(1min);
    CHECK(h.sent() == texts{"Bạn bận rồi, shop chờ nhé"});
}

TEST_CASE("a condition block takes the first branch that holds, else its else exit", "[flows]") {
    harness h(one_flow(R"j([
      {"id": "c", "kind": "condition", "branches": [
         {"if": "tag(\"A\")", "next": "a"}, {"if": "orders >= 1", "next": "buyer"}], "else": "other"},
      {"id": "a", "kind": "send", "text": "A"},
      {"id": "buyer", "kind": "send", "text": "buyer"},
      {"id": "other", "kind": "send", "text": "other"}])j"));
    h.go();
    h.send(event::order_of(h.who, {"1", 10, "VND", {"x"}}));
    h.go();
    h.send(event::add_tag(h.who, "A"));
    h.go();
    CHECK(h.sent() == texts{"other", "buyer", "A"});
}

TEST_CASE("tag and set_field blocks change the contact: set, append, increment and clear", "[flows]") {
    harness h(one_flow(R"j([
      {"id": "t", "kind": "tag", "add": ["A"], "remove": ["B"], "next": "s"},
      {"id": "s", "kind": "set_field", "field": "log", "value": "x", "next": "ap"},
      {"id": "ap", "kind": "set_field", "field": "log", "op": "append", "value": "y", "next": "inc"},
      {"id": "inc", "kind": "set_field", "field": "count", "op": "increment", "value": 2, "next": "inc2"},
      {"id": "inc2", "kind": "set_field", "field": "count", "op": "increment", "value": "1.5", "next": "cl"},
      {"id": "cl", "kind": "set_field", "field": "colour", "op": "clear"}])j"));
    h.send(event::add_tag(h.who, "B"));
    h.send(event::profile_of(h.who, {.fields = {{"colour", "đỏ"}}}));
    auto r = h.go();
    CHECK(r.tags_added == std::vector<std::string>{"A"});
    CHECK(r.tags_removed == std::vector<std::string>{"B"});
    const auto c = h.me();
    CHECK(c.fields.at("log").data == value{std::string("xy")});
    CHECK(c.fields.at("count").data == value{3.5});
    CHECK(c.fields.count("colour") == 0);
}

TEST_CASE("a wait block delays, and a reply ends a wait for a reply before its timeout", "[flows]") {
    harness h(one_flow(R"j([
      {"id": "w", "kind": "wait", "delay": "2h", "next": "after"},
      {"id": "after", "kind": "send", "text": "2 giờ sau", "next": "ask"},
      {"id": "ask", "kind": "wait", "until_reply": true, "timeout": "1d", "next": "thanks", "on_timeout": "quiet"},
      {"id": "thanks", "kind": "send", "text": "cảm ơn"},
      {"id": "quiet", "kind": "send", "text": "im lặng"}])j"));
    h.go();
    REQUIRE(h.e.next_timer());
    CHECK(*h.e.next_timer() == t0() + 2h);
    h.wait(119min);
    CHECK(h.sent().empty());
    h.wait(1min);
    CHECK(h.sent() == texts{"2 giờ sau"});
    h.say("ok");
    CHECK(h.sent() == texts{"cảm ơn"});
    CHECK_FALSE(h.e.next_timer()); // the reply removed the timeout timer
}

TEST_CASE("a wait until a condition continues as soon as it holds, or times out", "[flows]") {
    harness h(one_flow(R"j([
      {"id": "w", "kind": "wait", "until": "tag(\"A\")", "timeout": "1h", "next": "yes", "on_timeout": "no"},
      {"id": "yes", "kind": "send", "text": "có A"},
      {"id": "no", "kind": "send", "text": "không có A"}])j"));
    h.go();
    h.send(event::add_tag(h.who, "A"));
    CHECK(h.sent() == texts{"có A"});
    h.send(event::remove_tag(h.who, "A"));
    h.go();
    h.wait(1h);
    CHECK(h.sent() == texts{"không có A"});
}

TEST_CASE("a randomizer is sticky per contact and follows the weights", "[flows]") {
    const auto defs = one_flow(R"j([
      {"id": "r", "kind": "randomizer", "paths": [{"weight": 3, "next": "a"}, {"weight": 1, "next": "b"}]},
      {"id": "a", "kind": "send", "text": "a"},
      {"id": "b", "kind": "send", "text": "b"}])j");
    engine e(make_memory_store());
    e.load_definitions(defs);
    std::map<std::string, int> counts;
    for (int i = 0; i < 400; ++i) {
        const identity who{"zalo", std::to_string(i)};
        e.ingest(event::postback_of(who, "GO"));
        e.ingest(event::postback_of(who, "GO"));
    }
    const auto rows = e.outbox();
    REQUIRE(rows.size() == 800);
    for (std::size_t i = 0; i < rows.size(); i += 2) {
        CHECK(rows[i].text == rows[i + 1].text); // the same contact, the same path
        ++counts[rows[i].text];
    }
    CHECK(counts["a"] > 240);
    CHECK(counts["b"] > 60);
}

TEST_CASE("call runs a sub-flow and returns; go_to continues elsewhere", "[flows]") {
    harness h(R"j({"schema": 1, "flows": [
      {"name": "main", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "c", "kind": "call", "flow": "sub", "next": "back"},
        {"id": "back", "kind": "send", "text": "back", "next": "jump"},
        {"id": "jump", "kind": "go_to", "flow": "other"}]},
      {"name": "sub", "blocks": [{"id": "s", "kind": "send", "text": "sub"}]},
      {"name": "other", "blocks": [{"id": "o", "kind": "send", "text": "other", "next": "e"}, {"id": "e", "kind": "end"}]}
    ]})j");
    h.go();
    CHECK(h.sent() == texts{"sub", "back", "other"});
    CHECK_FALSE(h.me().run);
}

TEST_CASE("a flow that loops without waiting is stopped and logged", "[flows]") {
    harness h(one_flow(R"j([
      {"id": "a", "kind": "tag", "add": ["A"], "next": "b"},
      {"id": "b", "kind": "tag", "remove": ["A"], "next": "a"}])j"));
    h.go();
    bool limited = false;
    for (const auto& row : h.e.event_log()) {
        limited = limited || row.kind == "flow_loop_limit";
    }
    CHECK(limited);
    CHECK_FALSE(h.me().run);
}

TEST_CASE("an interrupting trigger starts its flow while another waits for an answer", "[flows]") {
    harness h(R"j({"schema": 1, "fields": [{"name": "colour", "type": "text"}], "flows": [
      {"name": "ask", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "q", "kind": "ask", "text": "Màu?", "field": "colour", "next": "ok"},
        {"id": "ok", "kind": "send", "text": "ok {{colour}}"}]},
      {"name": "menu", "triggers": [{"keywords": ["menu"], "interrupts": true}, {"contains": "giá"}], "blocks": [
        {"id": "m", "kind": "send", "text": "Menu"}]}
    ]})j");
    h.go();
    h.say("giá bao nhiêu"); // not interrupting: it is the answer
    CHECK(h.sent() == texts{"Màu?", "ok giá bao nhiêu"});
    h.go();
    h.say("MENU");
    CHECK(h.sent() == texts{"Màu?", "Menu"});
}

TEST_CASE("rules start flows, and in-flight runs stay on the definitions they started on",
          "[flows][versions]") {
    const std::string v1 = R"j({"schema": 1, "fields": [{"name": "colour", "type": "text"}],
      "rules": [{"name": "start", "when": "postback", "filter": {"payload": "GO"}, "then": [{"start_flow": "f"}]}],
      "flows": [{"name": "f", "blocks": [
        {"id": "q", "kind": "ask", "text": "v1 question", "field": "colour", "next": "done"},
        {"id": "done", "kind": "send", "text": "v1 done"}]}]})j";
    const std::string v2 = R"j({"schema": 1, "fields": [{"name": "colour", "type": "text"}],
      "rules": [{"name": "start", "when": "postback", "filter": {"payload": "GO"}, "then": [{"start_flow": "f"}]}],
      "flows": [{"name": "f", "blocks": [
        {"id": "q2", "kind": "ask", "text": "v2 question", "field": "colour", "next": "done2"},
        {"id": "done2", "kind": "send", "text": "v2 done"}]}]})j";
    harness h(v1);
    h.go();
    CHECK(h.e.load_definitions(v2) == 2);
    h.say("xanh"); // the v1 run continues with v1's blocks
    CHECK(h.sent() == texts{"v1 question", "v1 done"});
    h.go();
    h.say("đỏ");
    CHECK(h.sent() == texts{"v2 question", "v2 done"});
}

TEST_CASE("timers are durable: a delay survives reopening the SQLite file", "[flows][sqlite]") {
    const auto db = std::filesystem::temp_directory_path() / "tagflow_flow_timers.db";
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(db.string() + suffix);
    }
    const auto defs = one_flow(R"j([{"id": "w", "kind": "wait", "delay": "3h", "next": "s"},
                                   {"id": "s", "kind": "send", "text": "later", "buttons": [{"title": "OK", "payload": "OK"}]}])j");
    {
        auto e = engine::open(db.string());
        e.load_definitions(defs);
        e.ingest(event::postback_of({"zalo", "1"}, "GO").at_time(t0()));
        CHECK(e.advance_to(t0() + 1h) == 0);
    }
    auto e = engine::open(db.string());
    CHECK(e.next_timer() == t0() + 3h);
    CHECK(e.advance_to(t0() + 5h) == 1);
    REQUIRE(e.outbox().size() == 1);
    CHECK(e.outbox()[0].text == "later");
    CHECK(e.outbox()[0].created_at == t0() + 3h); // fired at its due time, not when we looked
    CHECK(e.outbox()[0].buttons == std::vector<button>{{"OK", "OK"}});
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(db.string() + suffix);
    }
}

TEST_CASE("bad flow definitions are refused with the JSON path", "[flows][definitions]") {
    auto path_of = [](const std::string& doc) { return testing::refused_path(doc); };
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "send", "text": "x", "next": "nowhere"}])j")) ==
          "$.flows[0].blocks[0].next");
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "teleport"}])j")) == "$.flows[0].blocks[0].kind");
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "end"}, {"id": "a", "kind": "end"}])j")) ==
          "$.flows[0].blocks[1].id");
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "ask", "text": "?", "field": "nope"}])j")) ==
          "$.flows[0].blocks[0].field");
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "wait", "delay": "soon"}])j")) ==
          "$.flows[0].blocks[0].delay");
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "wait", "until_reply": true, "on_timeout": "a"}])j")) ==
          "$.flows[0].blocks[0].on_timeout");
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "tag", "add": ["Z"]}])j")) ==
          "$.flows[0].blocks[0].add[0]");
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "go_to", "flow": "ghost"}])j")) ==
          "$.flows[0].blocks[0].flow");
    CHECK(path_of(one_flow(
              R"j([{"id": "a", "kind": "condition", "branches": [{"if": "tag(", "next": "a"}]}])j")) ==
          "$.flows[0].blocks[0].branches[0].if");
    CHECK(path_of(one_flow(R"j([{"id": "a", "kind": "form", "form": "F", "fields": []}])j")) ==
          "$.flows[0].blocks[0].fields");
    CHECK(
        path_of(
            R"j({"schema": 1, "rules": [{"name": "r", "when": "track", "then": [{"start_flow": "x"}]}]})j") ==
        "$.rules[0].then[0].start_flow");
    CHECK(
        path_of(
            R"j({"schema": 1, "flows": [{"name": "f", "start": "x", "blocks": [{"id": "a", "kind": "end"}]}]})j") ==
        "$.flows[0].start");
}

TEST_CASE("a handoff pauses every automation until resumed or until its duration passes",
          "[flows][handoff]") {
    harness h(R"j({"schema": 1, "tags": ["Cần chăm sóc"],
      "rules": [{"name": "echo", "when": "message_received", "then": [{"send": "bot: {{name}}"}]}],
      "flows": [{"name": "f", "triggers": [{"postback": "GO"}, {"postback": "GO2"}], "blocks": [
        {"id": "tag", "kind": "tag", "add": ["Cần chăm sóc"], "next": "human"},
        {"id": "human", "kind": "handoff", "next": "back"},
        {"id": "back", "kind": "send", "text": "Bot đã quay lại"}]},
       {"name": "g", "triggers": [{"postback": "TIMED"}], "blocks": [
        {"id": "human", "kind": "handoff", "duration": "2h", "next": "back"},
        {"id": "back", "kind": "send", "text": "Hết 2 giờ"}]}]})j");
    h.go();
    CHECK(h.me().paused_until == time_point::max());
    h.say("Cho mình gặp nhân viên");
    h.send(event::postback_of(h.who, "GO2"));
    CHECK(h.sent().empty()); // neither the rule nor the flow trigger speaks while a human has it
    h.send(event::resume_automation(h.who));
    CHECK(h.sent() == texts{"Bot đã quay lại"});
    CHECK_FALSE(h.me().paused_until);
    h.say("hi");
    CHECK(h.sent() == texts{"bot: "});

    h.send(event::postback_of(h.who, "TIMED"));
    h.wait(1h);
    h.say("còn ai không?");
    CHECK(h.sent().empty());
    h.wait(1h);
    CHECK(h.sent() == texts{"Hết 2 giờ"});
}

TEST_CASE("why: a flow message is explained by its input, the flow and the blocks passed", "[flows][why]") {
    harness h(one_flow(R"j([
      {"id": "c", "kind": "condition", "branches": [{"if": "tag(\"A\")", "next": "yes"}], "else": "no"},
      {"id": "yes", "kind": "send", "text": "yes"},
      {"id": "no", "kind": "tag", "add": ["A"], "next": "ask"},
      {"id": "ask", "kind": "ask", "text": "Màu?", "field": "colour", "next": "yes"}])j"));
    h.send(event::postback_of(h.who, "GO").with_key("pb-1"));
    const auto rows = h.e.outbox();
    REQUIRE(rows.size() == 1);
    const auto why = h.e.explain(rows[0].id);
    CHECK(why.decided_by == "flow:f/ask");
    REQUIRE_FALSE(why.chain.empty());
    CHECK(why.chain.front().origin == "input");
    CHECK(why.chain.front().key == "pb-1");
    std::vector<std::string> blocks;
    for (const auto& s : why.steps) {
        if (s.kind == "block_entered") {
            blocks.push_back(s.body);
        }
    }
    REQUIRE(blocks.size() == 3);
    CHECK(blocks[0].find("\"block\":\"c\"") != std::string::npos);
    CHECK(blocks[2].find("\"block\":\"ask\"") != std::string::npos);
    CHECK_THROWS_AS(h.e.explain(999), error);

    const auto counters = h.e.block_counters();
    auto find = [&](const std::string& block) {
        for (const auto& c : counters) {
            if (c.block == block) {
                return c;
            }
        }
        return block_counter{};
    };
    CHECK(find("c").entered == 1);
    CHECK(find("c").completed == 1);
    CHECK(find("ask").waiting == 1);
    CHECK(find("ask").completed == 0);
    CHECK(find("yes").entered == 0);
}

TEST_CASE("migrate_runs moves runs to the current definitions where their block still exists",
          "[flows][versions]") {
    const std::string v1 = R"j({"schema": 1, "fields": [{"name": "colour", "type": "text"}], "flows": [
      {"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "q", "kind": "ask", "text": "v1?", "field": "colour", "next": "done"},
        {"id": "done", "kind": "send", "text": "v1 done"}]},
      {"name": "g", "triggers": [{"postback": "GO2"}], "blocks": [
        {"id": "old", "kind": "ask", "text": "g?", "field": "colour"}]}]})j";
    const std::string v2 = R"j({"schema": 1, "fields": [{"name": "colour", "type": "text"}], "flows": [
      {"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "q", "kind": "ask", "text": "v2?", "field": "colour", "next": "done"},
        {"id": "done", "kind": "send", "text": "v2 done"}]},
      {"name": "g", "triggers": [{"postback": "GO2"}], "blocks": [
        {"id": "new", "kind": "ask", "text": "g2?", "field": "colour"}]}]})j";
    engine e(make_memory_store());
    e.load_definitions(v1);
    e.ingest(event::postback_of({"zalo", "1"}, "GO"));
    e.ingest(event::postback_of({"zalo", "2"}, "GO2"));
    e.load_definitions(v2);
    const auto m = e.migrate_runs();
    CHECK(m.migrated == 1);
    CHECK(m.left == std::vector<contact_id>{2});
    CHECK(e.find_contact({"zalo", "1"})->run->definitions_version == 2);
    CHECK(e.find_contact({"zalo", "2"})->run->definitions_version == 1);
    e.ingest(event::message({"zalo", "1"}, "xanh"));
    CHECK(e.outbox().back().text == "v2 done");
    CHECK(e.migrate_runs().migrated == 0);
}

TEST_CASE("a form's late-submission policy decides what a submission after its timeout does",
          "[flows][forms]") {
    auto defs = [](const std::string& policy) {
        return R"j({"schema": 1, "fields": [{"name": "colour", "type": "text"}], "flows": [
          {"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
            {"id": "form", "kind": "form", "form": "F", "fields": [{"name": "colour"}], "timeout": "1h",
             "on_timeout": "late", "late_submission": ")j" +
               policy + R"j(", "next": "thanks"},
            {"id": "late", "kind": "send", "text": "hết hạn"},
            {"id": "thanks", "kind": "send", "text": "cảm ơn {{colour}}"}]}]})j";
    };
    for (const std::string policy : {"ignore", "accept"}) {
        harness h(defs(policy));
        h.go();
        h.wait(2h);
        h.send(event::form_submit(h.who, "F", {{"colour", "đỏ"}}));
        h.send(event::form_submit(h.who, "F", {{"colour", "đỏ"}}));
        if (policy == "accept") {
            CHECK(h.sent() == texts{"F", "hết hạn", "cảm ơn đỏ"}); // once, not twice
        } else {
            CHECK(h.sent() == texts{"F", "hết hạn"});
            CHECK(h.me().fields.count("colour") == 0);
        }
    }
}

TEST_CASE("an answer that fits the ask but not the field is a bad answer, not a refused event", "[flows]") {
    harness h(one_flow(R"j([
      {"id": "q", "kind": "ask", "text": "Bao nhiêu?", "field": "age", "retry_text": "Nhập số nhé", "next": "ok"},
      {"id": "ok", "kind": "send", "text": "ok"}])j"));
    h.go();
    CHECK_NOTHROW(h.say("abc")); // text input into a number field
    CHECK(h.sent() == texts{"Bao nhiêu?", "Nhập số nhé"});
    h.say("42");
    CHECK(h.sent() == texts{"ok"});
}

TEST_CASE("a resumed handoff keeps the input log replayable", "[flows][handoff][determinism]") {
    harness h(R"j({"schema": 1, "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "human", "kind": "handoff", "next": "back"}, {"id": "back", "kind": "send", "text": "back"}]}]})j");
    h.go();
    h.send(event::resume_automation(h.who));
    const auto inputs = h.e.input_events();
    CHECK(inputs.size() == 2);
    engine replay(make_memory_store());
    replay.load_definitions(h.e.current_definitions());
    for (const auto& ev : inputs) {
        replay.ingest(ev);
    }
    CHECK(replay.export_json() == h.e.export_json());
}

TEST_CASE("a merged contact's pending delay still wakes the surviving contact", "[flows][merge]") {
    engine e(make_memory_store());
    e.load_definitions(R"j({"schema": 1, "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "w", "kind": "wait", "delay": "1h", "next": "s"}, {"id": "s", "kind": "send", "text": "một giờ sau"}]}]})j");
    const auto t = parse_time("2026-01-05T03:00:00Z");
    e.ingest(event::profile_of({"web", "old"}, {.name = "Mai", .phone = "0912345678"}).at_time(t));
    e.ingest(event::postback_of({"zalo", "new"}, "GO").at_time(t));
    auto r = e.ingest(event::profile_of({"zalo", "new"}, {.phone = "0912345678"}).at_time(t + 1min));
    REQUIRE(r.merged.size() == 1);
    e.advance_to(t + 2h);
    REQUIRE(e.outbox().size() == 1);
    CHECK(e.outbox()[0].text == "một giờ sau");
    CHECK(e.outbox()[0].contact == 1);
}

TEST_CASE("ask choices without a choice input and non-scalar set_field values are refused",
          "[flows][definitions]") {
    auto refused_at = [](const std::string& doc) { return testing::refused_path(doc); };
    CHECK(refused_at(one_flow(
              R"j([{"id": "q", "kind": "ask", "text": "?", "field": "colour", "choices": ["a"]}])j")) ==
          "$.flows[0].blocks[0].choices");
    CHECK(refused_at(one_flow(R"j([{"id": "s", "kind": "set_field", "field": "colour", "value": [1]}])j")) ==
          "$.flows[0].blocks[0].value");
}
