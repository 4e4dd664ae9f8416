#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

using namespace tagflow;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// A document that uses every feature once: both tag forms, every field type, every trigger with
// its filter, every action kind, "if", "once" and descriptions.
const char* full_document = R"json({
  "schema": 1,
  "tags": [
    "Khách mới",
    {"name": "Khách VIP", "description": "3 đơn hoặc 5.000.000 VND"},
    "Hỏi giá", "Đã mua Áo A", "Đã đăng ký", "Khách hàng", "Đang chờ"
  ],
  "fields": [
    {"name": "size", "type": "text", "description": "Áo size"},
    {"name": "age", "type": "number"},
    {"name": "subscribed", "type": "bool"},
    {"name": "birthday", "type": "date"},
    {"name": "work_phone", "type": "phone"},
    {"name": "work_email", "type": "email"},
    {"name": "phone", "type": "phone"},
    {"name": "name", "type": "text"}
  ],
  "rules": [
    {"name": "price", "description": "Hỏi giá", "when": "message_received",
     "filter": {"keywords": ["giá", "bao nhiêu"]}, "then": [{"add_tag": "Hỏi giá"}]},
    {"name": "welcome", "when": "first_message", "filter": {"contains": "xin chào"}, "once": true,
     "then": [{"send": "Chào {{name}}!"}, {"add_tag": "Khách mới"}]},
    {"name": "welcome back", "when": "returning_message", "filter": {"regex": "^(hi|chào)"}, "once": false,
     "then": [{"remove_tag": "Khách mới"}]},
    {"name": "size button", "when": "postback", "filter": {"payload": "SIZE_M"},
     "then": [{"set_field": {"field": "size", "value": "M"}}]},
    {"name": "form opened", "when": "form_opened", "filter": {"form": "đăng ký"},
     "then": [{"add_tag": "Đang chờ"}]},
    {"name": "form sent", "when": "form_submitted", "filter": {"form": "đăng ký"},
     "then": [{"set_field": {"field": "subscribed", "value": true}}, {"remove_tag": "Đang chờ"},
              {"add_tag": "Đã đăng ký"}]},
    {"name": "bought A", "when": "order_placed", "filter": {"item": "Áo A"},
     "if": "orders >= 1 and not tag(\"Đã mua Áo A\")",
     "then": [{"add_tag": "Đã mua Áo A"},
              {"send": {"text": "Cảm ơn {{name}} đã mua {{last_product}}", "purpose": "transactional"}}]},
    {"name": "profile", "when": "profile_updated", "if": "has(\"age\") and field(\"age\") >= 18",
     "then": [{"set_field": {"field": "age", "value": 18}}]},
    {"name": "linked", "when": "customer_linked", "then": [{"clear_field": "work_email"}]},
    {"name": "noted", "when": "note_added", "then": [{"add_note": "Đã xem ghi chú của {{name}}"}]},
    {"name": "tracked", "when": "track", "filter": {"name": "cart_abandoned"},
     "then": [{"send": {"text": "Bạn quên giỏ hàng!", "purpose": "promotional"}}]},
    {"name": "vip added", "when": "tag_added", "filter": {"tag": "Khách VIP"},
     "then": [{"send": {"text": "Chúc mừng!"}}]},
    {"name": "vip removed", "when": "tag_removed", "filter": {"tag": "Khách VIP"},
     "then": [{"add_note": "Hết VIP"}]},
    {"name": "became customer", "when": "lifecycle_changed", "filter": {"to": "customer"},
     "then": [{"add_tag": "Khách hàng"}]}
  ]
})json";

struct refusal {
    std::string path;
    std::string message;
};

// Parses a document that must be refused and returns where and why.
refusal refuse(std::string_view json) {
    try {
        (void)definitions::parse(json);
    } catch (const definition_error& e) {
        CHECK(e.code() == errc::invalid_definition);
        return {e.path(), e.what()};
    }
    FAIL("the document was accepted: " << json);
    return {};
}

// A document with a few declarations and one rule, given as JSON text.
std::string with_rule(std::string_view rule) {
    return std::string(R"j({"schema":1,"tags":["Khách VIP","Khách mới"],)j"
                       R"j("fields":[{"name":"size","type":"text"}],"rules":[)j") +
           std::string(rule) + "]}";
}

// Checks a refusal's path and that its message starts with the path and carries `needle`.
void check_refusal(std::string_view json, const std::string& path, const std::string& needle) {
    INFO(json);
    const auto r = refuse(json);
    CHECK(r.path == path);
    CHECK_THAT(r.message, StartsWith(path + ": "));
    CHECK_THAT(r.message, Contains(needle));
}

} // namespace

TEST_CASE("a full definitions document loads every tag, field, trigger, filter and action", "[definitions]") {
    const auto d = definitions::parse(full_document);
    CHECK(d.schema_version() == 1);

    REQUIRE(d.tags().size() == 7);
    CHECK(d.tags()[0].name == "Khách mới");
    CHECK(d.tags()[0].description.empty());
    CHECK(d.tags()[1].name == "Khách VIP");
    CHECK(d.tags()[1].description == "3 đơn hoặc 5.000.000 VND");
    CHECK(d.has_tag("Khách VIP"));
    CHECK(d.has_tag("Đã mua Áo A"));
    CHECK_FALSE(d.has_tag("khách vip"));
    CHECK_FALSE(d.has_tag("Khach VIP"));

    REQUIRE(d.fields().size() == 8);
    const std::vector<std::pair<std::string, field_type>> expected_fields{
        {"size", field_type::text},          {"age", field_type::number},
        {"subscribed", field_type::boolean}, {"birthday", field_type::date},
        {"work_phone", field_type::phone},   {"work_email", field_type::email},
        {"phone", field_type::phone},        {"name", field_type::text}};
    for (std::size_t i = 0; i < expected_fields.size(); ++i) {
        CHECK(d.fields()[i].name == expected_fields[i].first);
        CHECK(d.fields()[i].type == expected_fields[i].second);
    }
    CHECK(d.fields()[0].description == "Áo size");
    const auto* age = d.find_field("age");
    REQUIRE(age != nullptr);
    CHECK(age->type == field_type::number);
    CHECK(age == &d.fields()[1]);
    CHECK(d.find_field("missing") == nullptr);
    CHECK(d.find_field("Age") == nullptr);
    CHECK(d.find_field("email") == nullptr); // built-in, but not declared here

    const auto& rules = d.rules();
    REQUIRE(rules.size() == 14);
    const std::vector<trigger> triggers{trigger::message_received,
                                        trigger::first_message,
                                        trigger::returning_message,
                                        trigger::postback,
                                        trigger::form_opened,
                                        trigger::form_submitted,
                                        trigger::order_placed,
                                        trigger::profile_updated,
                                        trigger::customer_linked,
                                        trigger::note_added,
                                        trigger::track,
                                        trigger::tag_added,
                                        trigger::tag_removed,
                                        trigger::lifecycle_changed};
    for (std::size_t i = 0; i < triggers.size(); ++i) {
        INFO("rule " << i);
        CHECK(rules[i].when == triggers[i]);
        CHECK(rules[i].path == "$.rules[" + std::to_string(i) + "]");
        CHECK_FALSE(rules[i].actions.empty());
    }

    // Message filters are compiled text filters keeping their patterns as written.
    REQUIRE(rules[0].filter.text);
    CHECK(rules[0].name == "price");
    CHECK(rules[0].filter.text->kind() == match_kind::keyword);
    CHECK(rules[0].filter.text->patterns() == std::vector<std::string>{"giá", "bao nhiêu"});
    CHECK(rules[0].filter.text->matches("GIÁ?"));
    CHECK_FALSE(rules[0].once);
    REQUIRE(rules[1].filter.text);
    CHECK(rules[1].filter.text->kind() == match_kind::contains);
    CHECK(rules[1].filter.text->patterns() == std::vector<std::string>{"xin chào"});
    CHECK(rules[1].once);
    REQUIRE(rules[2].filter.text);
    CHECK(rules[2].filter.text->kind() == match_kind::regex);
    CHECK(rules[2].filter.text->patterns() == std::vector<std::string>{"^(hi|chào)"});
    CHECK_FALSE(rules[2].once);
    CHECK(rules[3].filter.payload == "SIZE_M");
    CHECK(rules[4].filter.form == "đăng ký");
    CHECK(rules[5].filter.form == "đăng ký");
    CHECK(rules[6].filter.item == "Áo A");
    CHECK(rules[10].filter.name == "cart_abandoned");
    CHECK(rules[11].filter.tag == "Khách VIP");
    CHECK(rules[12].filter.tag == "Khách VIP");
    REQUIRE(rules[13].filter.to);
    CHECK(*rules[13].filter.to == lifecycle::customer);
    // Triggers without a filter do not narrow.
    for (std::size_t i : {7u, 8u, 9u}) {
        const auto& f = rules[i].filter;
        CHECK_FALSE(f.text);
        CHECK(f.payload.empty());
        CHECK(f.form.empty());
        CHECK(f.item.empty());
        CHECK(f.tag.empty());
        CHECK_FALSE(f.to);
        CHECK(f.name.empty());
    }

    // Conditions are parsed, and rules without one get the empty (always true) condition.
    CHECK(rules[6].condition.source() == "orders >= 1 and not tag(\"Đã mua Áo A\")");
    CHECK(rules[6].condition.referenced_tags() == std::vector<std::string>{"Đã mua Áo A"});
    CHECK(rules[7].condition.referenced_fields() == std::vector<std::string>{"age"});
    CHECK(rules[0].condition.source().empty());

    // Every action kind, with its members.
    REQUIRE(rules[0].actions.size() == 1);
    CHECK(rules[0].actions[0].what == action::kind::add_tag);
    CHECK(rules[0].actions[0].tag == "Hỏi giá");
    REQUIRE(rules[1].actions.size() == 2);
    CHECK(rules[1].actions[0].what == action::kind::send);
    CHECK(rules[1].actions[0].text == "Chào {{name}}!");
    CHECK(rules[1].actions[0].purpose == "reply");
    CHECK(rules[2].actions[0].what == action::kind::remove_tag);
    CHECK(rules[2].actions[0].tag == "Khách mới");
    CHECK(rules[3].actions[0].what == action::kind::set_field);
    CHECK(rules[3].actions[0].field == "size");
    CHECK(rules[3].actions[0].value == "M");
    REQUIRE(rules[5].actions.size() == 3);
    CHECK(rules[5].actions[0].what == action::kind::set_field);
    CHECK(rules[5].actions[0].field == "subscribed");
    CHECK(rules[5].actions[0].value == "true");
    CHECK(rules[7].actions[0].value == "18");
    REQUIRE(rules[6].actions.size() == 2);
    CHECK(rules[6].actions[1].what == action::kind::send);
    CHECK(rules[6].actions[1].text == "Cảm ơn {{name}} đã mua {{last_product}}");
    CHECK(rules[6].actions[1].purpose == "transactional");
    CHECK(rules[8].actions[0].what == action::kind::clear_field);
    CHECK(rules[8].actions[0].field == "work_email");
    CHECK(rules[9].actions[0].what == action::kind::add_note);
    CHECK(rules[9].actions[0].text == "Đã xem ghi chú của {{name}}");
    CHECK(rules[10].actions[0].purpose == "promotional");
    CHECK(rules[11].actions[0].what == action::kind::send);
    CHECK(rules[11].actions[0].text == "Chúc mừng!");
    CHECK(rules[11].actions[0].purpose == "reply");
}

TEST_CASE("trigger names are the ones written in definitions", "[definitions]") {
    CHECK(to_string(trigger::message_received) == "message_received");
    CHECK(to_string(trigger::first_message) == "first_message");
    CHECK(to_string(trigger::returning_message) == "returning_message");
    CHECK(to_string(trigger::lifecycle_changed) == "lifecycle_changed");
    CHECK(is_profile_field("phone"));
    CHECK(is_profile_field("customer_id"));
    CHECK(is_profile_field("timezone"));
    CHECK_FALSE(is_profile_field("size"));
    CHECK_FALSE(is_profile_field("time_zone"));
}

TEST_CASE("empty definitions and a minimal document", "[definitions]") {
    const definitions empty;
    CHECK(empty.schema_version() == 1);
    CHECK(empty.tags().empty());
    CHECK(empty.fields().empty());
    CHECK(empty.rules().empty());
    CHECK(empty.find_field("size") == nullptr);
    CHECK_FALSE(empty.has_tag("Khách VIP"));

    const auto minimal = definitions::parse(R"j({"schema": 1})j");
    CHECK(minimal.rules().empty());
    CHECK(minimal.source() == R"j({"schema":1})j");
    const auto lists = definitions::parse(R"j({"schema": 1, "tags": [], "fields": [], "rules": []})j");
    CHECK(lists.tags().empty());
}

TEST_CASE("the source of definitions is compact canonical JSON in document order", "[definitions]") {
    const auto d = definitions::parse(full_document);
    const auto& source = d.source();
    CHECK(source.find('\n') == std::string::npos);
    CHECK(source.find(": ") == std::string::npos);
    CHECK(source.find(", ") == std::string::npos);
    CHECK_THAT(source, StartsWith(R"j({"schema":1,"tags":["Khách mới",{"name":"Khách VIP")j"));
    CHECK_THAT(source, Contains(R"j("if":"orders >= 1 and not tag(\"Đã mua Áo A\")")j"));
    // Semantically the same document.
    CHECK(boost::json::parse(source) == boost::json::parse(full_document));
    // Canonical: loading the source again gives the same source and the same rules.
    const auto again = definitions::parse(source);
    CHECK(again.source() == source);
    CHECK(again.rules().size() == d.rules().size());

    const auto spaced = definitions::parse(" {\n \"schema\" : 1 , \"tags\" : [ \"A\" , \"B\" ] }\n");
    CHECK(spaced.source() == R"j({"schema":1,"tags":["A","B"]})j");
}

TEST_CASE("load_file reads a definitions file and refuses a missing one with not_found", "[definitions]") {
    const auto d = definitions::load_file(std::filesystem::path(TAGFLOW_TEST_DATA_DIR) / "fixtures" /
                                          "shop_definitions.json");
    CHECK(d.has_tag("Khách VIP"));
    CHECK(d.tags()[2].description == "3 orders or 5,000,000 VND spent");
    CHECK(d.find_field("birthday") != nullptr);
    CHECK(d.rules().size() == 3);

    const auto missing = std::filesystem::temp_directory_path() / "tagflow_no_such_definitions_file.json";
    std::filesystem::remove(missing);
    try {
        (void)definitions::load_file(missing);
        FAIL("a missing file was loaded");
    } catch (const definition_error&) {
        FAIL("a missing file is not a definition error");
    } catch (const error& e) {
        CHECK(e.code() == errc::not_found);
        CHECK_THAT(std::string(e.what()), Contains(missing.string()));
    }

    // A file that exists but holds a bad document is a definition error with a path.
    try {
        (void)definitions::load_file(std::filesystem::path(TAGFLOW_TEST_DATA_DIR) / "fixtures" /
                                     "bad_definitions.json");
        FAIL("a bad document was loaded");
    } catch (const definition_error& e) {
        CHECK(e.path() == "$.rules[0].then[0].add_tag");
        CHECK_THAT(std::string(e.what()), Contains("tag \"VIP\" is not declared"));
    }
}

TEST_CASE("malformed JSON is refused at the root", "[definitions]") {
    check_refusal(R"j({"schema": 1,)j", "$", "malformed JSON");
    check_refusal("", "$", "malformed JSON");
    check_refusal(R"j({"schema": 1} trailing)j", "$", "malformed JSON");
    check_refusal(R"j({"schema": 1, /* comment */ "tags": []})j", "$", "malformed JSON");
    check_refusal("[1, 2]", "$", "expected an object, got an array");
    check_refusal("\"text\"", "$", "expected an object, got a string");
}

TEST_CASE("a missing or unsupported schema version is refused", "[definitions]") {
    check_refusal(R"j({})j", "$.schema", "required");
    check_refusal(R"j({"tags": []})j", "$.schema", "expected the schema version 1");
    check_refusal(R"j({"schema": 2})j", "$.schema", "unsupported schema version 2");
    check_refusal(R"j({"schema": 0})j", "$.schema", "this tagflow reads version 1");
    check_refusal(R"j({"schema": "1"})j", "$.schema", "unsupported schema version \"1\"");
    check_refusal(R"j({"schema": null})j", "$.schema", "unsupported schema version null");
}

TEST_CASE("unknown keys are refused with the allowed keys listed", "[definitions]") {
    check_refusal(R"j({"schema": 1, "broadcasts": []})j", "$.broadcasts",
                  "unknown key; expected one of: schema, tags, fields, segments, flows, sequences, dates, "
                  "caps, rules, channels, policies");
    check_refusal(R"j({"schema": 1, "tags": [{"name": "A", "colour": "red"}]})j", "$.tags[0].colour",
                  "expected one of: name, description");
    check_refusal(R"j({"schema": 1, "fields": [{"name": "a", "type": "text", "default": ""}]})j",
                  "$.fields[0].default", "expected one of: name, type, description");
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "order_placed", "priority": 1, "then": [{"add_tag": "Khách VIP"}]})j"),
        "$.rules[0].priority",
        "unknown key; expected one of: name, description, when, filter, if, then, once");
    check_refusal(with_rule(R"j({"name": "r", "when": "message_received", "filter": {"keyword": ["a"]},
                                "then": [{"add_tag": "Khách VIP"}]})j"),
                  "$.rules[0].filter.keyword", "expected one of: keywords, contains, regex");
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "order_placed", "then": [{"add_tag": "Khách VIP"}, {"tag": "Khách VIP"}]})j"),
        "$.rules[0].then[1].tag",
        "expected one of: add_tag, remove_tag, set_field, clear_field, add_note, send");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed",
                                "then": [{"set_field": {"field": "size", "value": "M", "type": "text"}}]})j"),
                  "$.rules[0].then[0].set_field.type", "expected one of: field, value");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed",
                                "then": [{"send": {"text": "Chào", "channel": "zalo"}}]})j"),
                  "$.rules[0].then[0].send.channel", "expected one of: text, purpose");
}

TEST_CASE("values of the wrong type are refused naming the expected type", "[definitions]") {
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "order_placed", "once": "yes", "then": [{"add_tag": "Khách VIP"}]})j"),
        "$.rules[0].once", "expected a bool, got a string");
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "order_placed", "once": 1, "then": [{"add_tag": "Khách VIP"}]})j"),
        "$.rules[0].once", "expected a bool, got a number");
    check_refusal(R"j({"schema": 1, "tags": {"A": 1}})j", "$.tags", "expected an array, got an object");
    check_refusal(R"j({"schema": 1, "tags": [1]})j", "$.tags[0]",
                  "expected a tag name or an object, got a number");
    check_refusal(R"j({"schema": 1, "tags": [""]})j", "$.tags[0]", "must not be empty");
    check_refusal(R"j({"schema": 1, "fields": "size"})j", "$.fields", "expected an array, got a string");
    check_refusal(R"j({"schema": 1, "fields": [{"name": "size", "type": 1}]})j", "$.fields[0].type",
                  "expected a string, got a number");
    check_refusal(R"j({"schema": 1, "fields": [{"type": "text"}]})j", "$.fields[0].name", "required");
    check_refusal(R"j({"schema": 1, "rules": {}})j", "$.rules", "expected an array, got an object");
    check_refusal(with_rule(R"j("welcome")j"), "$.rules[0]", "expected an object, got a string");
    check_refusal(with_rule(R"j({"name": 5, "when": "order_placed", "then": [{"add_tag": "Khách VIP"}]})j"),
                  "$.rules[0].name", "expected a string, got a number");
    check_refusal(with_rule(R"j({"when": "order_placed", "then": [{"add_tag": "Khách VIP"}]})j"),
                  "$.rules[0].name", "required");
    check_refusal(with_rule(R"j({"name": "r", "then": [{"add_tag": "Khách VIP"}]})j"), "$.rules[0].when",
                  "required");
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "order_placed", "if": true, "then": [{"add_tag": "Khách VIP"}]})j"),
        "$.rules[0].if", "expected a string, got a bool");
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "order_placed", "filter": "Áo A", "then": [{"add_tag": "Khách VIP"}]})j"),
        "$.rules[0].filter", "expected an object, got a string");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "then": {"add_tag": "Khách VIP"}})j"),
                  "$.rules[0].then", "expected an array, got an object");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "then": ["Khách VIP"]})j"),
                  "$.rules[0].then[0]", "expected an object, got a string");
    check_refusal(
        with_rule(R"j({"name": "r", "when": "order_placed", "then": [{"add_tag": ["Khách VIP"]}]})j"),
        "$.rules[0].then[0].add_tag", "expected a string, got an array");
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "order_placed", "then": [{"set_field": {"field": "size", "value": null}}]})j"),
        "$.rules[0].then[0].set_field.value", "expected a string, number or bool, got null");
    check_refusal(
        with_rule(R"j({"name": "r", "when": "order_placed", "then": [{"set_field": {"field": "size"}}]})j"),
        "$.rules[0].then[0].set_field.value", "required");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "then": [{"send": 5}]})j"),
                  "$.rules[0].then[0].send", "expected an object, got a number");
    check_refusal(with_rule(R"j({"name": "r", "when": "message_received", "filter": {"keywords": ["a", 2]},
                                "then": [{"add_tag": "Khách VIP"}]})j"),
                  "$.rules[0].filter.keywords[1]", "expected a string, got a number");
}

TEST_CASE("an unknown trigger is refused listing the triggers", "[definitions]") {
    check_refusal(with_rule(R"j({"name": "r", "when": "message", "then": [{"add_tag": "Khách VIP"}]})j"),
                  "$.rules[0].when",
                  "unknown trigger \"message\"; expected one of: message_received, first_message");
    check_refusal(with_rule(R"j({"name": "r", "when": "Order_Placed", "then": [{"add_tag": "Khách VIP"}]})j"),
                  "$.rules[0].when", "lifecycle_changed");
}

TEST_CASE("an unknown field type is refused listing the types", "[definitions]") {
    check_refusal(R"j({"schema": 1, "fields": [{"name": "size", "type": "string"}]})j", "$.fields[0].type",
                  "unknown field type \"string\"; expected one of: text, number, bool, date, phone, email");
    check_refusal(
        R"j({"schema": 1, "fields": [{"name": "ok", "type": "bool"}, {"name": "n", "type": "boolean"}]})j",
        "$.fields[1].type", "unknown field type \"boolean\"");
}

TEST_CASE("duplicate tags, fields and rules are refused", "[definitions]") {
    check_refusal(R"j({"schema": 1, "tags": ["Khách VIP", "Khách mới", "Khách VIP"]})j", "$.tags[2]",
                  "duplicate tag \"Khách VIP\"");
    check_refusal(R"j({"schema": 1, "tags": ["Khách VIP", {"name": "Khách VIP", "description": "x"}]})j",
                  "$.tags[1]", "duplicate tag \"Khách VIP\"");
    check_refusal(
        R"j({"schema": 1, "fields": [{"name": "size", "type": "text"}, {"name": "size", "type": "number"}]})j",
        "$.fields[1]", "duplicate field \"size\"");
    check_refusal(with_rule(R"j({"name": "vip", "when": "order_placed", "then": [{"add_tag": "Khách VIP"}]},
                               {"name": "vip", "when": "tag_added", "then": [{"add_note": "x"}]})j"),
                  "$.rules[1].name", "duplicate rule name \"vip\"");
}

TEST_CASE("field names must be lowercase ASCII identifiers", "[definitions]") {
    for (const char* bad : {"Size", "1st", "kích_thước", "shoe size", "shoe-size", "fields.size"}) {
        check_refusal(std::string(R"j({"schema": 1, "fields": [{"name": ")j") + bad +
                          R"j(", "type": "text"}]})j",
                      "$.fields[0].name", std::string("\"") + bad + "\" is not a field name");
    }
    check_refusal(R"j({"schema": 1, "fields": [{"name": "", "type": "text"}]})j", "$.fields[0].name",
                  "must not be empty");
    const auto ok = definitions::parse(R"j({"schema": 1, "fields": [{"name": "_a1_b", "type": "text"}]})j");
    CHECK(ok.find_field("_a1_b") != nullptr);
}

TEST_CASE("a built-in profile field declared with another type is refused", "[definitions]") {
    check_refusal(R"j({"schema": 1, "fields": [{"name": "phone", "type": "text"}]})j", "$.fields[0].type",
                  "\"phone\" is a built-in profile field of type phone");
    check_refusal(R"j({"schema": 1, "fields": [{"name": "email", "type": "text"}]})j", "$.fields[0].type",
                  "\"email\" is a built-in profile field of type email");
    check_refusal(R"j({"schema": 1, "fields": [{"name": "name", "type": "number"}]})j", "$.fields[0].type",
                  "\"name\" is a built-in profile field of type text");
    // Declared with their own type they are accepted.
    const auto d = definitions::parse(R"j({"schema": 1, "fields": [{"name": "phone", "type": "phone"},
                                          {"name": "customer_id", "type": "text"}]})j");
    CHECK(d.find_field("phone") != nullptr);
}

TEST_CASE("a rule using an undeclared tag is refused where it uses it", "[definitions]") {
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "then": [{"add_tag": "VIP"}]})j"),
                  "$.rules[0].then[0].add_tag", "tag \"VIP\" is not declared in $.tags");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed",
                                "then": [{"add_tag": "Khách VIP"}, {"remove_tag": "khách mới"}]})j"),
                  "$.rules[0].then[1].remove_tag", "tag \"khách mới\" is not declared");
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "tag_added", "filter": {"tag": "VIP"}, "then": [{"add_note": "x"}]})j"),
        "$.rules[0].filter.tag", "tag \"VIP\" is not declared");
    check_refusal(with_rule(R"j({"name": "r", "when": "tag_removed", "filter": {"tag": "Khach VIP"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.tag", "tag \"Khach VIP\" is not declared");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "if": "orders > 1 and tag(\"VIP\")",
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].if", "tag \"VIP\" is not declared");
}

TEST_CASE("a rule using an undeclared field is refused where it uses it", "[definitions]") {
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed",
                                "then": [{"set_field": {"field": "colour", "value": "đỏ"}}]})j"),
                  "$.rules[0].then[0].set_field.field", "field \"colour\" is not declared in $.fields");
    check_refusal(
        with_rule(R"j({"name": "r", "when": "order_placed", "then": [{"clear_field": "colour"}]})j"),
        "$.rules[0].then[0].clear_field", "field \"colour\" is not declared");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "if": "field(\"colour\") == \"đỏ\"",
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].if", "field \"colour\" is not declared");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "if": "has(\"colour\")",
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].if", "field \"colour\" is not declared");
    // Built-in profile fields need no declaration.
    const auto d = definitions::parse(with_rule(R"j({"name": "r", "when": "order_placed",
        "if": "has(\"phone\") and field(\"customer_id\") != null",
        "then": [{"set_field": {"field": "name", "value": "Lan"}}, {"clear_field": "email"},
                 {"set_field": {"field": "size", "value": "{{size}}"}}]})j"));
    CHECK(d.rules()[0].actions.size() == 3);
}

TEST_CASE("a bad expression is refused at the rule's if with the column", "[definitions]") {
    const std::string condition = "orders >= 2 and and tag(\"Khách VIP\")";
    std::size_t column = 0;
    try {
        (void)expression::parse(condition);
        FAIL("the expression parsed");
    } catch (const syntax_error& e) {
        column = e.column();
    }
    REQUIRE(column > 0);
    check_refusal(
        with_rule(R"j({"name": "r", "when": "order_placed", "if": "orders >= 2 and and tag(\"Khách VIP\")",
                                "then": [{"add_note": "x"}]})j"),
        "$.rules[0].if", "column " + std::to_string(column) + ": ");
    CHECK(column == 17);
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "order_placed", "if": "orderz > 1", "then": [{"add_note": "x"}]})j"),
        "$.rules[0].if", "column 1: ");
    // The column counts code points, so it points at the right character in Vietnamese text.
    check_refusal(with_rule(R"j({"name": "ok", "when": "order_placed", "then": [{"add_note": "x"}]},
                               {"name": "r", "when": "order_placed", "if": "tag(\"Khách VIP\") @",
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[1].if", "column 18: ");
    check_refusal(
        with_rule(R"j({"name": "r", "when": "order_placed", "if": "", "then": [{"add_note": "x"}]})j"),
        "$.rules[0].if", "must not be empty");
}

TEST_CASE("an invalid mustache template is refused at the template", "[definitions]") {
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "then": [{"send": "Chào {{name"}]})j"),
                  "$.rules[0].then[0].send", "invalid template");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed",
                                "then": [{"add_tag": "Khách VIP"}, {"send": {"text": "{{#vip}}Chào", "purpose": "reply"}}]})j"),
                  "$.rules[0].then[1].send.text", "invalid template");
    check_refusal(
        with_rule(R"j({"name": "r", "when": "order_placed", "then": [{"add_note": "{{/name}}"}]})j"),
        "$.rules[0].then[0].add_note", "invalid template");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed",
                                "then": [{"set_field": {"field": "size", "value": "{{size"}}]})j"),
                  "$.rules[0].then[0].set_field.value", "invalid template");
}

TEST_CASE("a send with an unknown purpose is refused listing the purposes", "[definitions]") {
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed",
                                "then": [{"send": {"text": "Giảm 50%", "purpose": "marketing"}}]})j"),
                  "$.rules[0].then[0].send.purpose",
                  "unknown purpose \"marketing\"; expected reply, transactional or promotional");
    check_refusal(
        with_rule(R"j({"name": "r", "when": "order_placed", "then": [{"send": {"purpose": "reply"}}]})j"),
        "$.rules[0].then[0].send.text", "required");
}

TEST_CASE("a rule without actions is refused", "[definitions]") {
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "then": []})j"), "$.rules[0].then",
                  "a rule needs at least one action");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed"})j"), "$.rules[0].then",
                  "required; expected an array of actions");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "then": [{}]})j"), "$.rules[0].then[0]",
                  "exactly one of: add_tag");
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed",
                                "then": [{"add_tag": "Khách VIP", "add_note": "x"}]})j"),
                  "$.rules[0].then[0]", "exactly one of: add_tag");
}

TEST_CASE("a filter key the trigger does not take is refused", "[definitions]") {
    check_refusal(with_rule(R"j({"name": "r", "when": "order_placed", "filter": {"payload": "BUY"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.payload", "unknown key; expected one of: item");
    check_refusal(with_rule(R"j({"name": "r", "when": "postback", "filter": {"contains": "mua"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.contains", "expected one of: payload");
    check_refusal(with_rule(R"j({"name": "r", "when": "tag_added", "filter": {"item": "Áo A"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.item", "expected one of: tag");
    check_refusal(with_rule(R"j({"name": "r", "when": "message_received", "filter": {"payload": "BUY"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.payload", "expected one of: keywords, contains, regex");
    // Triggers that take no filter say so.
    check_refusal(with_rule(R"j({"name": "r", "when": "profile_updated", "filter": {"form": "x"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.form", "trigger \"profile_updated\" takes no filter");
    check_refusal(with_rule(R"j({"name": "r", "when": "customer_linked", "filter": {"tag": "Khách VIP"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.tag", "trigger \"customer_linked\" takes no filter");
    // An empty filter narrows nothing and is fine there.
    CHECK_NOTHROW(definitions::parse(with_rule(R"j({"name": "r", "when": "note_added", "filter": {},
                                                  "then": [{"add_note": "x"}]})j")));
}

TEST_CASE("filter values are validated", "[definitions]") {
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "message_received", "filter": {"keywords": ["a"], "contains": "b"},
                                "then": [{"add_note": "x"}]})j"),
        "$.rules[0].filter", "expected exactly one of: keywords, contains, regex");
    check_refusal(
        with_rule(R"j({"name": "r", "when": "first_message", "filter": {}, "then": [{"add_note": "x"}]})j"),
        "$.rules[0].filter", "expected exactly one of: keywords, contains, regex");
    check_refusal(with_rule(R"j({"name": "r", "when": "message_received", "filter": {"keywords": []},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.keywords", "at least one keyword");
    check_refusal(with_rule(R"j({"name": "r", "when": "message_received", "filter": {"keywords": ["?!"]},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.keywords", "keyword \"?!\" is empty");
    check_refusal(with_rule(R"j({"name": "r", "when": "returning_message", "filter": {"regex": "(giá"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.regex", "invalid regex \"(giá\"");
    check_refusal(with_rule(R"j({"name": "r", "when": "lifecycle_changed", "filter": {"to": "vip"},
                                "then": [{"add_note": "x"}]})j"),
                  "$.rules[0].filter.to", "unknown lifecycle \"vip\"; expected stranger, lead or customer");
    check_refusal(
        with_rule(R"j({"name": "r", "when": "postback", "filter": {}, "then": [{"add_note": "x"}]})j"),
        "$.rules[0].filter.payload", "required");
    check_refusal(
        with_rule(
            R"j({"name": "r", "when": "form_submitted", "filter": {"form": ""}, "then": [{"add_note": "x"}]})j"),
        "$.rules[0].filter.form", "must not be empty");
}
