// Message templates (src/render.cpp): what a template sees of a contact, and that rendering the
// same template many times, or very many templates, gives the same text every time.
#include "detail/render.hpp"

#include <catch2/catch.hpp>

#include <string>

using tagflow::contact;
using tagflow::field_type;
using tagflow::field_value;
using tagflow::detail::render_template;
using tagflow::detail::template_error;

namespace {

contact lan() {
    contact c;
    c.profile.name = "Lan";
    c.profile.phone = "+84912345678";
    c.profile.email = "lan@example.com";
    c.profile.time_zone = "Asia/Ho_Chi_Minh";
    c.profile.locale = "vi-VN";
    c.profile.customer_id = "KH-7";
    c.stage = tagflow::lifecycle::customer;
    c.activity.orders = 3;
    c.activity.total_spent = 1250000;
    c.activity.last_product = "Áo dài";
    c.fields["size"] = field_value{field_type::text, std::string("M")};
    c.fields["age"] = field_value{field_type::number, 31.0};
    c.fields["vip"] = field_value{field_type::boolean, true};
    c.fields["newsletter"] = field_value{field_type::boolean, false};
    return c;
}

} // namespace

TEST_CASE("templates show the built-in attributes of a contact", "[render]") {
    const auto c = lan();
    CHECK(render_template("{{name}} {{phone}} {{email}}", c) == "Lan +84912345678 lan@example.com");
    CHECK(render_template("{{timezone}} {{locale}} {{customer_id}} {{type}}", c) ==
          "Asia/Ho_Chi_Minh vi-VN KH-7 customer");
    CHECK(render_template("{{orders}} đơn, {{total_spent}}đ, {{last_product}}", c) ==
          "3 đơn, 1250000đ, Áo dài");
}

TEST_CASE("templates show custom fields by name and under fields", "[render]") {
    const auto c = lan();
    CHECK(render_template("size {{size}}, age {{age}}", c) == "size M, age 31");
    CHECK(render_template("size {{fields.size}}, age {{fields.age}}", c) == "size M, age 31");
    CHECK(render_template("{{#fields}}{{size}}{{/fields}}", c) == "M");
}

TEST_CASE("boolean fields open and skip sections", "[render]") {
    const auto c = lan();
    CHECK(render_template("{{#vip}}VIP {{/vip}}{{name}}", c) == "VIP Lan");
    CHECK(render_template(
              "{{#newsletter}}subscribed{{/newsletter}}{{^newsletter}}not subscribed{{/newsletter}}", c) ==
          "not subscribed");
    CHECK(render_template("{{#fields.vip}}yes{{/fields.vip}}", c) == "yes");
}

TEST_CASE("unknown values are unset, so an inverted section can stand in for them", "[render]") {
    contact stranger;
    CHECK(render_template("Chào {{#name}}{{name}}{{/name}}{{^name}}bạn{{/name}}!", stranger) == "Chào bạn!");
    CHECK(render_template("[{{phone}}][{{size}}][{{fields.size}}][{{no_such_thing}}]", stranger) ==
          "[][][][]");
    CHECK(render_template("{{orders}} {{total_spent}} {{type}}", stranger) == "0 0 stranger");
    CHECK(render_template("{{#name}}{{name}}{{/name}}", lan()) == "Lan");
}

TEST_CASE("a section over a text value can show the value as a dot", "[render]") {
    CHECK(render_template("{{#name}}<{{.}}>{{/name}}", lan()) == "<Lan>");
}

TEST_CASE("a built-in attribute wins over a custom field of the same name, unless it is unknown",
          "[render]") {
    auto c = lan();
    c.fields["name"] = field_value{field_type::text, std::string("from a field")};
    CHECK(render_template("{{name}}|{{fields.name}}", c) == "Lan|from a field");
    c.profile.name.clear();
    CHECK(render_template("{{name}}", c) == "from a field");
}

TEST_CASE("values are inserted as they are, without HTML escaping", "[render]") {
    auto c = lan();
    c.profile.name = "<b>Lan & Minh</b>";
    CHECK(render_template("{{name}}", c) == "<b>Lan & Minh</b>");
    CHECK(render_template("{{{name}}}", c) == "<b>Lan & Minh</b>");
}

TEST_CASE("text without variables comes back unchanged", "[render]") {
    CHECK(render_template("Xin chào! Cảm ơn bạn.", lan()) == "Xin chào! Cảm ơn bạn.");
    CHECK(render_template("", lan()).empty());
    CHECK(render_template("line one\nline two\n", lan()) == "line one\nline two\n");
}

TEST_CASE("rendering the same template again gives the same text for each contact", "[render]") {
    auto a = lan();
    contact b;
    b.profile.name = "Minh";
    const std::string text = "Chào {{name}}{{#vip}} (VIP){{/vip}}";
    for (int i = 0; i < 3; ++i) {
        CHECK(render_template(text, a) == "Chào Lan (VIP)");
        CHECK(render_template(text, b) == "Chào Minh");
    }
    a.profile.name = "Lan Anh"; // a changed contact is seen at once: nothing of it is kept
    CHECK(render_template(text, a) == "Chào Lan Anh (VIP)");
}

TEST_CASE("many different templates all render right", "[render]") {
    // More distinct templates than any cache of parsed templates would keep.
    const auto c = lan();
    for (int i = 0; i < 3000; ++i) {
        const auto n = std::to_string(i);
        REQUIRE(render_template(n + " {{name}} " + n, c) == n + " Lan " + n);
    }
    CHECK(render_template("0 {{name}} 0", c) == "0 Lan 0");
}

TEST_CASE("template errors name the problem, and a broken template renders as nothing", "[render]") {
    CHECK_FALSE(template_error("Chào {{name}}").has_value());
    const auto problem = template_error("Chào {{#name}}");
    REQUIRE(problem.has_value());
    CHECK_FALSE(problem->empty());
    CHECK(render_template("Chào {{#name}}", lan()).empty());
}
