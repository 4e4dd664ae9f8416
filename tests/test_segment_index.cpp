#include <catch2/catch.hpp>

#include <tagflow/segment_index.hpp>
#include <tagflow/tagflow.hpp>

using namespace tagflow;

namespace {

// Reads tags only: the per-contact evaluation the index must agree with.
struct tags_of final : expression_context {
    explicit tags_of(const contact& c) : c_(c) {}
    bool has_tag(std::string_view tag) const override { return c_.has_tag(tag); }
    value field(std::string_view) const override { return {}; }
    value attribute(std::string_view) const override { return {}; }
    const contact& c_;
};

} // namespace

TEST_CASE("tag-only conditions become tag formulas", "[segment_index]") {
    const auto f =
        expression::parse(R"(tag("Khách VIP") and not tag("Đã mua Áo A") or tag("X"))").as_tag_formula();
    REQUIRE(f);
    CHECK(f->what == tag_formula::kind::any_of);
    REQUIRE(f->children.size() == 2);
    CHECK(f->children[0].what == tag_formula::kind::all_of);
    CHECK(f->children[0].children[1].what == tag_formula::kind::negate);
    CHECK(f->children[0].children[1].children[0].tag == "Đã mua Áo A");
    CHECK_FALSE(expression::parse(R"(tag("A") and orders >= 2)").as_tag_formula());
    CHECK(expression{}.as_tag_formula()->constant);
}

TEST_CASE("the index answers tag conditions like the per-contact evaluation", "[segment_index]") {
    engine e(make_memory_store());
    e.load_definitions(R"({"schema": 1, "tags": ["A", "B", "C"]})");
    // Contact n carries A when n % 2 == 0, B when n % 3 == 0, C when n % 5 == 0.
    for (int n = 1; n <= 60; ++n) {
        const identity who{"zalo", std::to_string(n)};
        e.ingest(event::message(who, "hi"));
        if (n % 2 == 0)
            e.ingest(event::add_tag(who, "A"));
        if (n % 3 == 0)
            e.ingest(event::add_tag(who, "B"));
        if (n % 5 == 0)
            e.ingest(event::add_tag(who, "C"));
    }
    const auto index = segment_index::build(e);
    CHECK(index.size() == 60);
    for (const char* text : {R"(tag("A") and tag("B") and not tag("C"))", R"(tag("A") or tag("C"))",
                             R"(not tag("B"))", R"(tag("Z"))", R"(not tag("Z") and tag("A"))", "true",
                             R"(tag("A") and (tag("B") or not tag("C")))"}) {
        INFO(text);
        const auto cond = expression::parse(text);
        std::vector<contact_id> expected;
        for (const auto& c : e.contacts()) {
            if (cond.evaluate(tags_of(c))) {
                expected.push_back(c.id);
            }
        }
        CHECK(index.members(cond) == expected);
        CHECK(index.count(cond) == expected.size());
    }
    CHECK_THROWS_AS(index.count(expression::parse("orders > 1")), error);
}

TEST_CASE("the index follows updates and removals", "[segment_index]") {
    segment_index index;
    index.update(1, {"A", "B"});
    index.update(2, {"A"});
    index.add_tag(3, "B");
    const auto ab = expression::parse(R"(tag("A") and tag("B"))");
    CHECK(index.members(ab) == std::vector<contact_id>{1});
    index.update(1, {"B"});
    CHECK(index.count(ab) == 0);
    index.remove(3);
    CHECK(index.members(expression::parse(R"(tag("B"))")) == std::vector<contact_id>{1});
    CHECK(index.size() == 2);
    CHECK_THROWS_AS(index.add_tag(0, "A"), error);
    CHECK_THROWS_AS(index.add_tag(std::int64_t{1} << 40, "A"), error);
}
