#include <catch2/catch.hpp>

#include <tagflow/error.hpp>
#include <tagflow/graph.hpp>

#include <string>

using namespace tagflow;
using Catch::Contains;

namespace {

// The definitions of tests/scenarios/s1_checkout_flow.json: the checkout flow and its form.
const char* const s1_definitions = R"j({"schema": 1,
  "tags": ["Kiểm tra thông tin giao hàng", "Hoàn tất đơn hàng"],
  "fields": [{"name": "address", "type": "text"}, {"name": "phone", "type": "phone"}],
  "flows": [{"name": "checkout", "triggers": [{"postback": "CHECKOUT"}, {"contains": "thanh toán"}], "blocks": [
    {"id": "check", "kind": "condition", "branches": [{"if": "has(\"address\") and has(\"phone\")", "next": "thanks_known"}],
     "else": "need_info"},
    {"id": "thanks_known", "kind": "send", "text": "Cảm ơn {{name}}! Đơn hàng của bạn đã hoàn tất.", "next": "done_known"},
    {"id": "done_known", "kind": "tag", "add": ["Hoàn tất đơn hàng"]},
    {"id": "need_info", "kind": "tag", "add": ["Kiểm tra thông tin giao hàng"], "next": "shipping_form"},
    {"id": "shipping_form", "kind": "form", "form": "Thông tin giao hàng",
     "text": "Bạn vui lòng điền thông tin giao hàng nhé.",
     "fields": [{"name": "address", "label": "Địa chỉ"}, {"name": "phone", "label": "Số điện thoại"}],
     "invalid_text": "Vui lòng kiểm tra: {{invalid}}", "next": "Hoàn tất đơn hàng"},
    {"id": "Hoàn tất đơn hàng", "kind": "tag", "remove": ["Kiểm tra thông tin giao hàng"], "add": ["Hoàn tất đơn hàng"],
     "next": "thank_you"},
    {"id": "thank_you", "kind": "send", "text": "Cảm ơn bạn! Đơn hàng sẽ được giao tới {{address}}."}]}]})j";

// A flow whose ids and texts need escaping in both formats, and that leaves for other flows.
const char* const tricky_definitions =
    R"j({"schema": 1, "fields": [{"name": "age", "type": "number"}], "flows": [
  {"name": "main \"x\"", "triggers": [{"postback": "GO"}], "blocks": [
    {"id": "say \"hi\" \\", "kind": "send", "text": "a\nb <i>&</i> #1; `c` | d\\", "next": "q"},
    {"id": "q", "kind": "ask", "text": "Bạn bao nhiêu tuổi?", "field": "age", "input": "number", "timeout": "30m",
     "on_timeout": "r", "on_invalid": "r", "next": "r"},
    {"id": "r", "kind": "randomizer", "paths": [{"weight": 3, "next": "sub"}, {"next": "jump"}]},
    {"id": "sub", "kind": "call", "flow": "other", "next": "again"},
    {"id": "again", "kind": "go_to", "flow": "main \"x\""},
    {"id": "jump", "kind": "go_to", "flow": "other"}]},
  {"name": "other", "blocks": [{"id": "e", "kind": "end"}]}]})j";

} // namespace

TEST_CASE("the S1 checkout flow as DOT: one node per block, edges by exit, escaped", "[graph]") {
    const auto defs = definitions::parse(s1_definitions);
    CHECK(flow_to_dot(defs, "checkout") ==
          R"dot(digraph "checkout" {
    labelloc="t";
    label="flow checkout";
    entry [label="start", shape=circle];
    b0 [label="check\ncondition", shape=diamond];
    b1 [label="thanks_known\nsend\nCảm ơn {{name}}! Đơn hàng của bạn đã ho…", shape=box];
    b2 [label="done_known\ntag\n+ Hoàn tất đơn hàng", shape=hexagon];
    b3 [label="need_info\ntag\n+ Kiểm tra thông tin giao hàng", shape=hexagon];
    b4 [label="shipping_form\nform\nThông tin giao hàng\naddress, phone", shape=note];
    b5 [label="Hoàn tất đơn hàng\ntag\n- Kiểm tra thông tin giao hàng\n+ Hoàn tất đơn hàng", shape=hexagon];
    b6 [label="thank_you\nsend\nCảm ơn bạn! Đơn hàng sẽ được giao tới {…", shape=box];
    entry -> b0;
    b0 -> b1 [label="has(\"address\") and has(\"phone\")"];
    b0 -> b3 [label="else"];
    b1 -> b2 [label="next"];
    b3 -> b4 [label="next"];
    b4 -> b5 [label="next"];
    b5 -> b6 [label="next"];
}
)dot");
}

TEST_CASE("the S1 checkout flow as Mermaid: shapes by kind and entity-escaped quotes", "[graph]") {
    const auto defs = definitions::parse(s1_definitions);
    CHECK(flow_to_mermaid(defs, "checkout") ==
          R"mmd(flowchart TD
    entry(("start"))
    b0{"check<br>condition"}
    b1["thanks_known<br>send<br>Cảm ơn {{name}}! Đơn hàng của bạn đã ho…"]
    b2{{"done_known<br>tag<br>+ Hoàn tất đơn hàng"}}
    b3{{"need_info<br>tag<br>+ Kiểm tra thông tin giao hàng"}}
    b4[\"shipping_form<br>form<br>Thông tin giao hàng<br>address, phone"\]
    b5{{"Hoàn tất đơn hàng<br>tag<br>- Kiểm tra thông tin giao hàng<br>+ Hoàn tất đơn hàng"}}
    b6["thank_you<br>send<br>Cảm ơn bạn! Đơn hàng sẽ được giao tới {…"]
    entry --> b0
    b0 -->|"has(#quot;address#quot;) and has(#quot;phone#quot;)"| b1
    b0 -->|"else"| b3
    b1 -->|"next"| b2
    b3 -->|"next"| b4
    b4 -->|"next"| b5
    b5 -->|"next"| b6
)mmd");
}

TEST_CASE("graph labels escape quotes, backslashes and markup, and flatten newlines", "[graph]") {
    const auto defs = definitions::parse(tricky_definitions);
    const auto dot = flow_to_dot(defs, "main \"x\"");
    CHECK_THAT(dot, Contains(R"(digraph "main \"x\"" {)"));
    CHECK_THAT(dot, Contains(R"(b0 [label="say \"hi\" \\\nsend\na b <i>&</i> #1; `c` | d\\", shape=box];)"));
    CHECK_THAT(dot, Contains("b1 [label=\"q\\nask \xE2\x86\x92 age\\nBạn bao nhiêu tuổi?\\ntimeout 30m\", "
                             "shape=parallelogram];"));
    const auto mermaid = flow_to_mermaid(defs, "main \"x\"");
    CHECK_THAT(
        mermaid,
        Contains(
            R"(b0["say #quot;hi#quot; \<br>send<br>a b #60;i#62;#38;#60;/i#62; #35;1; #96;c#96; #124; d\"])"));
    CHECK_THAT(mermaid, Contains(R"(b4>"again<br>go_to<br>main #quot;x#quot;"])"));
}

TEST_CASE("graph edges cover every exit; go_to and call lead to one node per other flow", "[graph]") {
    const auto defs = definitions::parse(tricky_definitions);
    const auto dot = flow_to_dot(defs, "main \"x\"");
    CHECK_THAT(dot, Contains("    b1 -> b2 [label=\"next\"];\n"
                             "    b1 -> b2 [label=\"invalid\"];\n"
                             "    b1 -> b2 [label=\"timeout\"];\n"
                             "    b2 -> b3 [label=\"weight 3\"];\n"
                             "    b2 -> b5 [label=\"weight 1\"];\n"
                             "    b3 -> f1 [label=\"call\"];\n"
                             "    b3 -> b4 [label=\"next\"];\n"
                             "    b4 -> b0 [label=\"go_to\"];\n" // its own flow: back to the start block
                             "    b5 -> f1 [label=\"go_to\"];\n"
                             "}\n"));
    CHECK_THAT(dot,
               Contains("    f1 [label=\"other\\nflow\", shape=folder, style=dashed];\n    entry -> b0;"));
    const auto mermaid = flow_to_mermaid(defs, "main \"x\"");
    CHECK_THAT(mermaid, Contains("    b3[[\"sub<br>call<br>other\"]]\n"));
    CHECK_THAT(mermaid, Contains("    f1(\"other<br>flow\")\n"));
    CHECK_THAT(mermaid, Contains("    b3 -->|\"call\"| f1\n    b3 -->|\"next\"| b4\n"));
    CHECK_THAT(mermaid, Contains("    classDef other_flow stroke-dasharray: 5 5\n    class f1 other_flow\n"));
    CHECK(flow_to_dot(defs, "other") == flow_to_dot(defs, "other")); // deterministic
    CHECK_THAT(flow_to_dot(defs, "other"), Contains("b0 [label=\"e\\nend\", shape=doublecircle];"));
}

TEST_CASE("graph labels are cut at 40 code points without splitting a character", "[graph]") {
    // 45 Vietnamese letters, most of them two or three bytes long: 39 are kept, then "…".
    const std::string vietnamese = "ĐườngĐườngĐườngĐườngĐườngĐườngĐườngĐườngĐường";
    // 38 letters, then "ế" written decomposed (e + U+0302 + U+0301) straddling the cut, then more.
    const std::string decomposed = std::string(38, 'a') + "e\xCC\x82\xCC\x81xyz";
    auto send = [](const std::string& id, const std::string& text, const std::string& next) {
        return R"j({"id": ")j" + id + R"j(", "kind": "send", "text": ")j" + text + R"j(", "next": ")j" +
               next + "\"}";
    };
    const auto doc = R"j({"schema": 1, "flows": [{"name": "f", "start": "a", "blocks": [)j" +
                     send("a", vietnamese, "b") + ", " + send("b", decomposed, "a") + "]}]}";
    const auto dot = flow_to_dot(definitions::parse(doc), "f");
    CHECK_THAT(dot, Contains("\\nĐườngĐườngĐườngĐườngĐườngĐườngĐườngĐườn…\""));
    CHECK_THAT(dot, Contains("\\n" + std::string(38, 'a') + "e\xCC\x82\xCC\x81\xE2\x80\xA6\""));
}

TEST_CASE("drawing an unknown flow throws not_found", "[graph]") {
    const auto defs = definitions::parse(s1_definitions);
    for (auto draw : {&flow_to_dot, &flow_to_mermaid}) {
        try {
            (void)draw(defs, "nope");
            FAIL("an unknown flow must throw");
        } catch (const error& e) {
            CHECK(e.code() == errc::not_found);
            CHECK_THAT(std::string(e.what()), Contains("\"nope\""));
        }
    }
}
