#include <catch2/catch.hpp>

#include <tagflow/error.hpp>
#include <tagflow/lint.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

using namespace tagflow;

namespace {

using found = std::vector<std::pair<std::string, std::string>>; // path, code

found paths_and_codes(const std::vector<lint_finding>& findings) {
    found out;
    for (const auto& f : findings) {
        out.emplace_back(f.path, f.code);
    }
    return out;
}

found lint_json(const std::string& doc) {
    return paths_and_codes(lint(definitions::parse(doc)));
}

const std::filesystem::path fixtures = std::filesystem::path(TAGFLOW_TEST_DATA_DIR) / "fixtures";

} // namespace

TEST_CASE("a clean document has no findings", "[lint]") {
    CHECK(lint_file(fixtures / "s1_definitions.json").empty());
    // Every exit kind, a rule starting a flow, a call, a timed ask and a tag added before it is
    // removed: nothing to report.
    CHECK(lint(definitions::parse(R"j({"schema": 1, "tags": ["Khách mới", "Đã hỏi giá"],
      "fields": [{"name": "size", "type": "text"}],
      "rules": [{"name": "welcome", "when": "first_message", "then": [{"add_tag": "Khách mới"}, {"start_flow": "menu"}]}],
      "flows": [
        {"name": "menu", "blocks": [
          {"id": "hi", "kind": "send", "text": "Chào bạn", "next": "ask_size"},
          {"id": "ask_size", "kind": "ask", "text": "Size gì?", "input": "choice", "choices": ["S", "M"], "field": "size",
           "timeout": "1d", "on_timeout": "bye", "on_invalid": "bye", "next": "price"},
          {"id": "price", "kind": "call", "flow": "price", "next": "bye"},
          {"id": "bye", "kind": "tag", "remove": ["Khách mới"], "next": "end"},
          {"id": "end", "kind": "end"}]},
        {"name": "price", "triggers": [{"keywords": ["giá"]}], "blocks": [
          {"id": "p", "kind": "tag", "add": ["Đã hỏi giá"], "next": "say"},
          {"id": "say", "kind": "send", "text": "Áo {{size}} giá 200.000 ₫"}]}]})j"))
              .empty());
}

TEST_CASE("lint reports blocks no exit leads to, following every kind of exit", "[lint]") {
    const auto doc =
        R"j({"schema": 1, "tags": ["A"], "fields": [{"name": "age", "type": "number"}], "flows": [
      {"name": "main", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "q", "kind": "ask", "text": "?", "field": "age", "timeout": "1h", "on_timeout": "late",
         "on_invalid": "bad", "next": "pick"},
        {"id": "pick", "kind": "randomizer", "paths": [{"next": "cond"}, {"next": "late"}]},
        {"id": "cond", "kind": "condition", "branches": [{"if": "tag(\"A\")", "next": "sub"}], "else": "bad"},
        {"id": "sub", "kind": "call", "flow": "sub", "next": "late"},
        {"id": "late", "kind": "send", "text": "late"},
        {"id": "bad", "kind": "end"},
        {"id": "orphan", "kind": "send", "text": "nobody comes here", "next": "orphan2"},
        {"id": "orphan2", "kind": "end"}]},
      {"name": "sub", "blocks": [
        {"id": "s1", "kind": "send", "text": "s", "next": "s2"},
        {"id": "s2", "kind": "end"}]}]})j";
    CHECK(lint_json(doc) == found{{"$.flows[0].blocks[6]", "unreachable_block"},
                                  {"$.flows[0].blocks[7]", "unreachable_block"}});
    const auto findings = lint(definitions::parse(doc));
    CHECK(findings[0].level == lint_finding::severity::warning);
    CHECK(findings[0].message ==
          "block \"orphan\" cannot be reached from the start of flow \"main\" (block \"q\"): "
          "no next, else, branch, path, on_invalid, on_timeout or on_failure leads to it");
}

TEST_CASE("lint sorts findings by path, comparing indices as numbers", "[lint]") {
    std::string blocks = R"j({"id": "b0", "kind": "send", "text": "x", "next": "b1"})j";
    for (int i = 1; i < 12; ++i) {
        blocks += R"j(, {"id": "b)j" + std::to_string(i) + R"j(", "kind": "end"})j";
    }
    const auto doc =
        R"j({"schema": 1, "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": [)j" + blocks +
        "]}]}";
    found expected;
    for (int i = 2; i < 12; ++i) {
        expected.emplace_back("$.flows[0].blocks[" + std::to_string(i) + "]", "unreachable_block");
    }
    CHECK(lint_json(doc) == expected); // [10] and [11] after [9], not after [1]
    CHECK(lint(definitions::parse(doc)) == lint(definitions::parse(doc)));
}

TEST_CASE("lint reports each loop without a wait once, at its first block, across flows and calls",
          "[lint]") {
    const auto doc =
        R"j({"schema": 1, "tags": ["A"], "fields": [{"name": "age", "type": "number"}], "flows": [
      {"name": "spin", "triggers": [{"postback": "SPIN"}], "blocks": [
        {"id": "a", "kind": "tag", "add": ["A"], "next": "b"},
        {"id": "b", "kind": "tag", "remove": ["A"], "next": "a"}]},
      {"name": "paced", "triggers": [{"postback": "PACED"}], "blocks": [
        {"id": "q", "kind": "ask", "text": "?", "field": "age", "timeout": "1h", "next": "s"},
        {"id": "s", "kind": "send", "text": "ok", "next": "q"}]},
      {"name": "self", "triggers": [{"postback": "SELF"}], "blocks": [
        {"id": "c", "kind": "condition", "branches": [{"if": "tag(\"A\")", "next": "c"}]}]},
      {"name": "ping", "triggers": [{"postback": "PING"}], "blocks": [
        {"id": "p", "kind": "send", "text": "ping", "next": "j"},
        {"id": "j", "kind": "go_to", "flow": "pong"}]},
      {"name": "pong", "blocks": [
        {"id": "o", "kind": "send", "text": "pong", "next": "k"},
        {"id": "k", "kind": "go_to", "flow": "ping"}]},
      {"name": "caller", "triggers": [{"postback": "CALL"}], "blocks": [
        {"id": "x", "kind": "call", "flow": "quick", "next": "x"}]},
      {"name": "quick", "blocks": [{"id": "y", "kind": "send", "text": "hi"}]},
      {"name": "patient", "triggers": [{"postback": "PATIENT"}], "blocks": [
        {"id": "z", "kind": "call", "flow": "sleeps", "next": "z"}]},
      {"name": "sleeps", "blocks": [{"id": "w", "kind": "wait", "delay": "1h"}]}]})j";
    // paced waits at its ask; patient's loop passes through a flow that waits before it ends.
    CHECK(lint_json(doc) == found{{"$.flows[0].blocks[0]", "loop_without_wait"},
                                  {"$.flows[2].blocks[0]", "loop_without_wait"},
                                  {"$.flows[3].blocks[0]", "loop_without_wait"},
                                  {"$.flows[5].blocks[0]", "loop_without_wait"}});
    const auto findings = lint(definitions::parse(doc));
    CHECK(findings[0].message ==
          "blocks loop without a block that waits (ask, form, wait, request, handoff): "
          "\"a\" -> \"b\" -> \"a\"; a run that enters the loop is stopped after 100 steps");
    CHECK_THAT(findings[1].message, Catch::Contains(": \"c\" -> \"c\";"));
    CHECK_THAT(
        findings[2].message,
        Catch::Contains(": \"p\" -> \"j\" -> \"o\" (flow \"pong\") -> \"k\" (flow \"pong\") -> \"p\";"));
    CHECK_THAT(findings[3].message, Catch::Contains(": \"x\" -> \"x\";"));
}

TEST_CASE("lint reports tags removed but never added, at each removal", "[lint]") {
    CHECK(lint_json(R"j({"schema": 1, "tags": ["A", "B", "C"],
      "rules": [{"name": "add_a", "when": "order_placed", "then": [{"add_tag": "A"}]},
                {"name": "drop", "when": "track", "filter": {"name": "x"}, "then": [{"remove_tag": "A"}, {"remove_tag": "B"}]}],
      "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "t", "kind": "tag", "add": ["C"], "remove": ["A", "B"], "next": "u"},
        {"id": "u", "kind": "tag", "remove": ["C"]}]}]})j") ==
          found{{"$.flows[0].blocks[0].remove[1]", "tag_removed_never_added"},
                {"$.rules[1].then[1].remove_tag", "tag_removed_never_added"}});
}

TEST_CASE("lint reports forms without a callback", "[lint]") {
    const auto findings =
        lint(definitions::parse(R"j({"schema": 1, "fields": [{"name": "address", "type": "text"}],
      "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "ship", "kind": "form", "form": "Giao hàng", "fields": [{"name": "address"}], "next": "survey"},
        {"id": "survey", "kind": "form", "form": "Khảo sát", "fields": [{"name": "address"}]}]}]})j"));
    CHECK(paths_and_codes(findings) == found{{"$.flows[0].blocks[1]", "form_without_callback"}});
    CHECK(findings[0].message ==
          "form block \"survey\" (form \"Khảo sát\") has no \"next\": a complete submission "
          "ends the flow and nothing runs after it");
}

TEST_CASE("lint reports asks and waits for the contact without a timeout", "[lint]") {
    CHECK(lint_json(R"j({"schema": 1, "fields": [{"name": "age", "type": "number"}],
      "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "q1", "kind": "ask", "text": "?", "field": "age", "next": "q2"},
        {"id": "q2", "kind": "ask", "text": "?", "field": "age", "timeout": "1h", "next": "w1"},
        {"id": "w1", "kind": "wait", "until_reply": true, "next": "w2"},
        {"id": "w2", "kind": "wait", "until": "field(\"age\") > 3", "next": "w3"},
        {"id": "w3", "kind": "wait", "delay": "1h", "next": "w4"},
        {"id": "w4", "kind": "wait", "until_reply": true, "timeout": "1d"}]}]})j") ==
          found{{"$.flows[0].blocks[0]", "wait_without_timeout"},
                {"$.flows[0].blocks[2]", "wait_without_timeout"},
                {"$.flows[0].blocks[3]", "wait_without_timeout"}});
}

TEST_CASE("lint reports flows nothing starts, following go_to and call from started flows only", "[lint]") {
    const auto findings = lint(definitions::parse(R"j({"schema": 1,
      "rules": [{"name": "r", "when": "track", "filter": {"name": "go"}, "then": [{"start_flow": "ruled"}]}],
      "flows": [
        {"name": "main", "triggers": [{"postback": "GO"}], "blocks": [
          {"id": "m", "kind": "call", "flow": "sub"},
          {"id": "dead", "kind": "go_to", "flow": "dead_end"}]},
        {"name": "sub", "blocks": [{"id": "s", "kind": "end"}]},
        {"name": "ruled", "blocks": [{"id": "r", "kind": "end"}]},
        {"name": "orphan", "blocks": [{"id": "o", "kind": "go_to", "flow": "chained"}]},
        {"name": "chained", "blocks": [{"id": "c", "kind": "end"}]},
        {"name": "dead_end", "blocks": [{"id": "d", "kind": "end"}]},
        {"name": "selfish", "blocks": [
          {"id": "s", "kind": "send", "text": "x", "next": "later"},
          {"id": "later", "kind": "wait", "delay": "1d", "next": "j"},
          {"id": "j", "kind": "go_to", "flow": "selfish"}]}]})j"));
    CHECK(paths_and_codes(findings) == found{{"$.flows[0].blocks[1]", "unreachable_block"},
                                             {"$.flows[3]", "flow_never_started"},
                                             {"$.flows[4]", "flow_never_started"},
                                             {"$.flows[5]", "flow_never_started"},
                                             {"$.flows[6]", "flow_never_started"}});
    CHECK(findings[1].message ==
          "flow \"orphan\" is never started: it has no triggers, no rule starts it with "
          "start_flow and no go_to or call block leads to it");
    CHECK(findings[2].message ==
          "flow \"chained\" is never started: the go_to and call blocks that lead to it are "
          "unreachable or in flows that are never started");
    CHECK_THAT(findings[3].message, Catch::Contains("the go_to and call blocks that lead to it"));
    CHECK_THAT(findings[4].message, Catch::Contains("it has no triggers")); // its own go_to does not count
}

TEST_CASE("lint_file turns a refused document into one error finding", "[lint]") {
    const auto findings = lint_file(fixtures / "dangling_block.json");
    REQUIRE(findings.size() == 1);
    CHECK(findings[0].level == lint_finding::severity::error);
    CHECK(findings[0].path == "$.flows[0].blocks[0].next");
    CHECK(findings[0].code == "invalid_definitions");
    CHECK(findings[0].message == "no block \"menu\" in flow \"greeting\"");
    CHECK(to_string(findings[0].level) == "error");
    CHECK(to_string(lint_finding::severity::warning) == "warning");
    CHECK(lint_file(fixtures / "bad_definitions.json") ==
          std::vector<lint_finding>{{lint_finding::severity::error, "$.rules[0].then[0].add_tag",
                                     "invalid_definitions", "tag \"VIP\" is not declared in $.tags"}});
    try {
        (void)lint_file(fixtures / "no_such_file.json");
        FAIL("an unreadable file must throw");
    } catch (const error& e) {
        CHECK(e.code() == errc::not_found);
    }
}
