// Tests of the condition language: parsing, precedence, evaluation semantics and error columns.
#include <tagflow/error.hpp>
#include <tagflow/expression.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using tagflow::expression;
using tagflow::value;

struct fake_contact : tagflow::expression_context {
    std::set<std::string, std::less<>> tags;
    std::map<std::string, value, std::less<>> fields;
    std::map<std::string, value, std::less<>> attributes;
    mutable int tag_lookups = 0;

    bool has_tag(std::string_view tag) const override {
        ++tag_lookups;
        return tags.find(tag) != tags.end();
    }
    value field(std::string_view name) const override {
        const auto it = fields.find(name);
        return it == fields.end() ? value{} : it->second;
    }
    value attribute(std::string_view name) const override {
        const auto it = attributes.find(name);
        return it == attributes.end() ? value{} : it->second;
    }
};

bool eval(std::string_view source, const fake_contact& ctx = {}) {
    return expression::parse(source).evaluate(ctx);
}

value eval_value(std::string_view source, const fake_contact& ctx = {}) {
    return expression::parse(source).evaluate_value(ctx);
}

// Parses source expecting a syntax_error and returns it, so tests can check column and message.
tagflow::syntax_error parse_error(std::string_view source) {
    try {
        (void)expression::parse(source);
    } catch (const tagflow::syntax_error& e) {
        return e;
    }
    FAIL("expected a syntax_error for: " << source);
    return tagflow::syntax_error(0, "unreachable");
}

void check_error(std::string_view source, std::size_t column, const std::string& message) {
    INFO("source: " << source);
    const auto e = parse_error(source);
    CHECK(e.code() == tagflow::errc::syntax_error);
    CHECK(e.column() == column);
    CHECK(std::string(e.what()) == "column " + std::to_string(column) + ": " + message);
}

} // namespace

TEST_CASE("a default constructed expression is true and references nothing", "[expression]") {
    const expression e;
    const fake_contact nobody;
    CHECK(e.evaluate(nobody));
    CHECK(e.evaluate_value(nobody) == value{true});
    CHECK(e.source().empty());
    CHECK(e.referenced_tags().empty());
    CHECK(e.referenced_fields().empty());
}

TEST_CASE("the VIP segment example selects the right contacts", "[expression]") {
    const auto e = expression::parse(R"(tag("Khách VIP") and not tag("Đã mua Áo A") and orders >= 2)");

    fake_contact vip_two_orders;
    vip_two_orders.tags = {"Khách VIP"};
    vip_two_orders.attributes["orders"] = 2.0;
    CHECK(e.evaluate(vip_two_orders));

    fake_contact vip_already_bought = vip_two_orders;
    vip_already_bought.tags.insert("Đã mua Áo A");
    CHECK_FALSE(e.evaluate(vip_already_bought));

    fake_contact vip_one_order = vip_two_orders;
    vip_one_order.attributes["orders"] = 1.0;
    CHECK_FALSE(e.evaluate(vip_one_order));

    fake_contact not_vip;
    not_vip.attributes["orders"] = 5.0;
    CHECK_FALSE(e.evaluate(not_vip));

    fake_contact vip_many_orders = vip_two_orders;
    vip_many_orders.attributes["orders"] = 17.0;
    vip_many_orders.tags.insert("Đã mua Áo B");
    CHECK(e.evaluate(vip_many_orders));

    fake_contact vip_without_orders_attribute;
    vip_without_orders_attribute.tags = {"Khách VIP"};
    CHECK_FALSE(e.evaluate(vip_without_orders_attribute));

    CHECK(e.referenced_tags() == std::vector<std::string>{"Khách VIP", "Đã mua Áo A"});
}

TEST_CASE("not binds tighter than and, which binds tighter than or", "[expression]") {
    // If "or" bound tighter this would be (true or false) and false.
    CHECK(eval("true or false and false"));
    CHECK(eval("false and false or true"));
    // If "not" bound looser these would negate the whole conjunction or disjunction.
    CHECK_FALSE(eval("not false and false"));
    CHECK(eval("not true or true"));
    CHECK_FALSE(eval("not not false"));
    // "not" applies to a whole comparison.
    fake_contact c;
    c.attributes["orders"] = 3.0;
    CHECK(eval("not orders < 2", c));
    CHECK_FALSE(eval("not orders > 2", c));
}

TEST_CASE("parentheses override precedence", "[expression]") {
    CHECK_FALSE(eval("(true or false) and false"));
    CHECK(eval("not (false and true)"));
    CHECK_FALSE(eval("not (true or false)"));
    CHECK(eval("((((true))))"));
    CHECK(eval("(false or (true and (not false)))"));
}

TEST_CASE("symbol synonyms behave like the keywords", "[expression]") {
    CHECK(eval("true || false && false"));
    CHECK_FALSE(eval("!true"));
    CHECK_FALSE(eval("!false && false"));
    CHECK(eval("!(false&&true)"));
    CHECK(eval("1!=2"));
}

TEST_CASE("literals evaluate to their values", "[expression]") {
    CHECK(eval_value("42") == value{42.0});
    CHECK(eval_value("-7") == value{-7.0});
    CHECK(eval_value("3.25") == value{3.25});
    CHECK(eval_value("-0.5") == value{-0.5});
    CHECK(eval_value("true") == value{true});
    CHECK(eval_value("false") == value{false});
    CHECK(eval_value("null") == value{});
    CHECK(eval_value(R"("Xin chào")") == value{std::string("Xin chào")});
    CHECK(eval_value(R"("say \"hi\" \\ bye")") == value{std::string(R"(say "hi" \ bye)")});
    CHECK(eval_value(R"("")") == value{std::string()});
    CHECK(eval_value("orders > 1") == value{false});
    CHECK(eval("  \t\n true \r\n"));
}

TEST_CASE("truthiness of each kind of value", "[expression]") {
    CHECK_FALSE(eval("null"));
    CHECK(eval("true"));
    CHECK_FALSE(eval("false"));
    CHECK(eval("1"));
    CHECK(eval("-0.25"));
    CHECK_FALSE(eval("0"));
    CHECK_FALSE(eval("-0"));
    CHECK(eval(R"("x")"));
    CHECK_FALSE(eval(R"("")"));
    fake_contact c;
    CHECK_FALSE(eval("name", c));
    c.attributes["name"] = std::string("Lan");
    CHECK(eval("name", c));
    CHECK(eval("not email", c));
}

TEST_CASE("attributes are read from the context", "[expression]") {
    fake_contact c;
    c.attributes["lifecycle"] = std::string("customer");
    c.attributes["total_spent"] = 1500000.0;
    c.attributes["returning"] = true;
    c.attributes["channel"] = std::string("zalo");
    c.attributes["days_since_last_inbound"] = 3.0;
    CHECK(eval(R"(lifecycle == "customer" and total_spent >= 1000000)", c));
    CHECK(eval("returning and not first_time", c));
    CHECK(eval(R"(channel == "zalo" and days_since_last_inbound < 7)", c));
    CHECK(eval_value("total_spent", c) == value{1500000.0});
    // An attribute without a value is null: every ordering is false, equality with null holds.
    CHECK_FALSE(eval("days_since_last_order > 30", c));
    CHECK_FALSE(eval("days_since_last_order <= 30", c));
    CHECK(eval("days_since_last_order == null", c));
    CHECK(eval_value("days_since_first_seen", c) == value{});
    for (const char* name : {"lifecycle", "orders", "total_spent", "conversations", "returning", "first_time",
                             "name", "email", "phone", "timezone", "locale", "channel",
                             "days_since_last_inbound", "days_since_first_seen", "days_since_last_order"}) {
        INFO(name);
        CHECK_NOTHROW(expression::parse(name));
    }
}

TEST_CASE("functions tag field has contains and lower", "[expression]") {
    fake_contact c;
    c.tags = {"Khách VIP"};
    c.fields["size"] = std::string("XL");
    c.fields["note"] = std::string("");
    c.fields["height"] = 172.0;
    c.attributes["name"] = std::string("Nguyễn Văn AN");

    CHECK(eval(R"(tag("Khách VIP"))", c));
    CHECK_FALSE(eval(R"(tag("khách vip"))", c)); // the context decides; the fake is exact
    CHECK(eval_value(R"(field("size"))", c) == value{std::string("XL")});
    CHECK(eval_value(R"(field("missing"))", c) == value{});
    CHECK(eval(R"(field("height") > 170)", c));

    CHECK(eval(R"(has("size"))", c));
    CHECK(eval(R"(has("height"))", c));
    CHECK_FALSE(eval(R"(has("note"))", c));
    CHECK_FALSE(eval(R"(has("missing"))", c));

    CHECK(eval(R"(contains(name, "Văn"))", c));
    CHECK_FALSE(eval(R"(contains(name, "văn"))", c));
    CHECK(eval(R"(contains(name, ""))", c));
    CHECK_FALSE(eval(R"(contains(field("missing"), "a"))", c));
    CHECK_FALSE(eval(R"(contains(field("height"), "17"))", c));
    CHECK(eval(R"(contains(lower(name), "an"))", c));

    // lower() touches ASCII letters only; the Vietnamese capitals stay as they are.
    CHECK(eval_value(R"(lower("ĐÀ NẴNG Hue"))", c) == value{std::string("ĐÀ nẴng hue")});
    CHECK(eval_value("lower(name)", c) == value{std::string("nguyễn văn an")});
    CHECK(eval_value(R"(lower(field("height")))", c) == value{172.0});
    CHECK(eval_value(R"(lower(field("missing")))", c) == value{});
    CHECK(eval(R"(lower(field("size")) == "xl")", c));
}

TEST_CASE("equality across types", "[expression]") {
    CHECK(eval("1 == 1"));
    CHECK(eval("1 == 1.0"));
    CHECK(eval("0.5 != 0.25"));
    CHECK(eval(R"("a" == "a")"));
    CHECK(eval(R"("a" != "A")"));
    CHECK(eval("true == true"));
    CHECK(eval("true != false"));
    CHECK(eval("null == null"));
    // A number and text that reads as a number compare numerically.
    CHECK(eval(R"(2 == "2")"));
    CHECK(eval(R"("2.50" == 2.5)"));
    CHECK(eval(R"(-3 == "-3")"));
    CHECK(eval(R"(2 != "2")") == false);
    // Text that is not exactly a number is just different.
    CHECK_FALSE(eval(R"(2 == " 2")"));
    CHECK_FALSE(eval(R"(2 == "2x")"));
    CHECK_FALSE(eval(R"(1000 == "1e3")"));
    CHECK(eval(R"(2 != "two")"));
    // Two texts compare as text even when both read as numbers.
    CHECK_FALSE(eval(R"("2" == "2.0")"));
    // Other mixed pairs are unequal.
    CHECK_FALSE(eval("true == 1"));
    CHECK_FALSE(eval(R"(true == "true")"));
    CHECK_FALSE(eval("null == 0"));
    CHECK_FALSE(eval(R"(null == "")"));
    CHECK(eval("null != false"));

    fake_contact c;
    c.fields["age"] = std::string("30");
    CHECK(eval(R"(field("age") == 30)", c));
    CHECK(eval(R"(field("unset") == null)", c));
    CHECK_FALSE(eval(R"(field("unset") == "")", c));
}

TEST_CASE("ordering across types", "[expression]") {
    CHECK(eval("1 < 2"));
    CHECK(eval("2 <= 2"));
    CHECK(eval("-1.5 > -2"));
    CHECK(eval("3 >= 3"));
    CHECK_FALSE(eval("3 > 3"));
    // Text orders by bytes: uppercase before lowercase, any non-ASCII after ASCII.
    CHECK(eval(R"("apple" < "banana")"));
    CHECK(eval(R"("Zebra" < "apple")"));
    CHECK(eval(R"("é" > "z")"));
    CHECK(eval(R"("ab" < "abc")"));
    CHECK(eval(R"("2024-01-31" < "2024-02-01")"));
    CHECK(eval(R"("10" < "9")"));
    // A number against numeric text orders numerically.
    CHECK(eval(R"(10 > "9")"));
    CHECK(eval(R"("9" < 10)"));
    CHECK_FALSE(eval(R"(10 > "nine")"));
    CHECK_FALSE(eval(R"(10 < "nine")"));
    // Anything involving null is false, in every direction.
    for (const char* op : {"<", "<=", ">", ">="}) {
        INFO(op);
        CHECK_FALSE(eval(std::string("null ") + op + " 1"));
        CHECK_FALSE(eval(std::string("1 ") + op + " null"));
        CHECK_FALSE(eval(std::string("null ") + op + " null"));
        CHECK_FALSE(eval(std::string("true ") + op + " false"));
        CHECK_FALSE(eval(std::string("true ") + op + " 1"));
    }
}

TEST_CASE("and and or short circuit", "[expression]") {
    fake_contact c;
    c.tags = {"a"};
    CHECK_FALSE(eval(R"(false and tag("a"))", c));
    CHECK(c.tag_lookups == 0);
    CHECK(eval(R"(true or tag("a"))", c));
    CHECK(c.tag_lookups == 0);
    CHECK(eval(R"(tag("a") or tag("b") or tag("c"))", c));
    CHECK(c.tag_lookups == 1);
    c.tag_lookups = 0;
    CHECK_FALSE(eval(R"(tag("x") and tag("a") and tag("b"))", c));
    CHECK(c.tag_lookups == 1);
}

TEST_CASE("referenced tags and fields are sorted and unique", "[expression]") {
    const auto e = expression::parse(R"(tag("b") or tag("a") and tag("b") or has("z") and field("m") == 1 )"
                                     R"~(or field("z") != "" or contains(field("c"), "tag(\"q\")"))~");
    CHECK(e.referenced_tags() == std::vector<std::string>{"a", "b"});
    CHECK(e.referenced_fields() == std::vector<std::string>{"c", "m", "z"});
    const auto none = expression::parse("orders > 1");
    CHECK(none.referenced_tags().empty());
    CHECK(none.referenced_fields().empty());
}

TEST_CASE("an expression keeps its source and copies share the parsed tree", "[expression]") {
    const std::string source = R"(  tag("VIP")  and orders>1 )";
    const auto e = expression::parse(source);
    CHECK(e.source() == source);
    const expression copy = e; // NOLINT(performance-unnecessary-copy-initialization)
    CHECK(copy.source() == source);
    CHECK(&copy.source() == &e.source());
    fake_contact c;
    c.tags = {"VIP"};
    c.attributes["orders"] = 2.0;
    CHECK(copy.evaluate(c));
    expression assigned;
    assigned = e;
    CHECK(assigned.evaluate(c));
    CHECK(assigned.referenced_tags() == std::vector<std::string>{"VIP"});
}

TEST_CASE("empty and blank sources are syntax errors", "[expression]") {
    check_error("", 1, "empty expression");
    check_error("   \t ", 1, "empty expression");
}

TEST_CASE("incomplete expressions report the end", "[expression]") {
    check_error("orders >=", 10, "unexpected end of expression");
    check_error("true and", 9, "unexpected end of expression");
    check_error("not ", 5, "unexpected end of expression");
    check_error("tag(", 5, "unexpected end of expression");
    check_error(R"(tag("Khách VIP") and not tag("Đã mua Áo A") and orders >= )", 59,
                "unexpected end of expression");
}

TEST_CASE("string literal errors", "[expression]") {
    check_error(R"(name == "abc)", 9, "unterminated string");
    check_error(R"("Đã mua" == "x)", 13, "unterminated string");
    check_error(R"(name == "ends with backslash\)", 9, "unterminated string");
    check_error(R"(name == "a\nb")", 11, R"(unknown escape "\n" in string; only \" and \\ are allowed)");
    check_error("name == \"a\xff\"", 11, "invalid UTF-8 in string");
    check_error("name == \"\xc3\"", 10, "invalid UTF-8 in string");
}

TEST_CASE("number literal errors", "[expression]") {
    check_error("orders > 1_000", 10, "underscores are not allowed in numbers");
    check_error("orders > 1.", 10, R"(expected a digit after "." in number)");
    check_error("orders > 12abc", 10, R"(invalid number "12abc")");
    check_error("orders > 1.2.3", 10, R"(invalid number "1.2.3")");
    check_error("orders > - 1", 10, R"(expected a digit after "-")");
    check_error("-orders", 1, R"(expected a digit after "-")");
    check_error("orders > " + std::string(400, '9'), 10,
                "number \"" + std::string(400, '9') + "\" is out of range");
    check_error("orders > .5", 10, R"(unexpected character ".")");
}

TEST_CASE("unknown identifiers list the known ones", "[expression]") {
    const std::string known = "lifecycle, orders, total_spent, conversations, returning, first_time, name, "
                              "email, phone, timezone, locale, channel, days_since_last_inbound, "
                              "days_since_first_seen, days_since_last_order";
    check_error("ordrs >= 2", 1, "unknown identifier \"ordrs\"; expected one of: " + known);
    // The Vietnamese text before the typo counts in code points, not bytes.
    check_error(R"(tag("Khách VIP") and ordrs >= 2)", 22,
                "unknown identifier \"ordrs\"; expected one of: " + known);
    check_error("Orders > 1", 1, "unknown identifier \"Orders\"; expected one of: " + known);
    check_error("tag and true", 1, R"("tag" is a function; write tag(...))");
}

TEST_CASE("unknown functions and bad arguments point at the function name", "[expression]") {
    check_error(R"(tags("VIP"))", 1,
                R"(unknown function "tags"; expected one of: tag, field, has, contains, lower)");
    check_error(R"(true and orders(1))", 10,
                R"(unknown function "orders"; expected one of: tag, field, has, contains, lower)");
    check_error(R"(true or tag())", 9, "tag expects 1 argument, got 0");
    check_error(R"(tag("a", "b"))", 1, "tag expects 1 argument, got 2");
    check_error(R"(contains("a"))", 1, "contains expects 2 arguments, got 1");
    check_error(R"(lower("a", "b"))", 1, "lower expects 1 argument, got 2");
    check_error(R"(tag(name))", 1, R"(tag expects a string literal argument, e.g. tag("VIP"))");
    check_error(R"(field(1))", 1, R"(field expects a string literal argument, e.g. field("VIP"))");
    check_error(R"(has(lower("x")))", 1, R"(has expects a string literal argument, e.g. has("VIP"))");
    check_error(R"(tag(""))", 1, "tag expects a non-empty name");
    check_error(R"(name == "Đơn" or contains(1, "x"))", 18, "contains expects text arguments");
    check_error(R"(contains(name, tag("x")))", 1, "contains expects text arguments");
    check_error(R"(lower(null))", 1, "lower expects text arguments");
}

TEST_CASE("missing closing parentheses", "[expression]") {
    check_error(R"(tag("VIP" true)", 11, R"~(expected ")" after arguments of tag)~");
    check_error(R"(tag("Đã mua" "Áo"))", 14, R"~(expected ")" after arguments of tag)~");
    check_error(R"(contains(name, "x")", 19, R"~(expected ")" after arguments of contains)~");
    check_error("(true or false", 15, R"~(expected ")" to close "(" at column 1)~");
    check_error(R"~(tag("Đã") and (true or (false))~", 31, R"~(expected ")" to close "(" at column 15)~");
    check_error("true)", 5, R"~(unmatched ")")~");
    check_error(R"(field("ghi chú") == "Đơn hàng" ) )", 32, R"~(unmatched ")")~");
}

TEST_CASE("misplaced tokens and stray characters", "[expression]") {
    check_error("true false", 6, R"(unexpected "false"; expected "and", "or" or the end)");
    check_error(R"(orders > 1 "x")", 12, R"(unexpected string "x"; expected "and", "or" or the end)");
    check_error("and true", 1, R"(unexpected "and"; expected a value)");
    check_error("orders > not true", 10, R"(unexpected "not"; expected a value)");
    check_error("tag(,)", 5, R"(unexpected ","; expected a value)");
    check_error("()", 2, R"~(unexpected ")"; expected a value)~");
    check_error("1 < 2 < 3", 7, R"(comparisons cannot be chained; use parentheses and "and")");
    check_error("(1 == 1 == 1)", 9, R"(comparisons cannot be chained; use parentheses and "and")");
    check_error("orders = 2", 8, R"(unexpected "="; use "==" to compare)");
    check_error(R"(contains(name, "Nguyễn") & x)", 26, R"(unexpected "&"; use "&&" or "and")");
    check_error("true | false", 6, R"(unexpected "|"; use "||" or "or")");
    check_error("orders @ 2", 8, R"(unexpected character "@")");
    check_error("tên == 1", 2, R"(unexpected character "ê")");
    check_error("true\x01", 5, "unexpected control character");
    check_error("true \xff", 6, "invalid UTF-8");
}

TEST_CASE("nesting is limited", "[expression]") {
    CHECK(eval(std::string(200, '(') + "true" + std::string(200, ')')));
    std::string deep_not;
    for (int i = 0; i < 200; ++i) {
        deep_not += "not ";
    }
    CHECK(eval(deep_not + "true"));
    const auto e = parse_error(std::string(300, '(') + "true" + std::string(300, ')'));
    CHECK(e.column() == 257);
    CHECK(std::string(e.what()) == "column 257: expression nested too deeply (more than 256 levels)");
    // Long flat chains are not nesting and stay fine.
    std::string chain = "false";
    for (int i = 0; i < 5000; ++i) {
        chain += " or false";
    }
    CHECK_FALSE(eval(chain));
    CHECK(eval(chain + " or true"));
}
