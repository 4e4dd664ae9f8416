#include <catch2/catch.hpp>

#include "detail/codec.hpp"

#include <tagflow/error.hpp>

#include <boost/json.hpp>

namespace json = boost::json;
using namespace tagflow;
using detail::contact_shape;

namespace {

// A contact with every part the document holds set to something other than its default.
contact everything_set() {
    contact c;
    c.id = 42;
    c.identities = {identity{"messenger", "psid-9"}, identity{"zalo", "u-1"}};
    c.profile = profile{"Lan", "+84912345678", "lan@example.vn", "Asia/Ho_Chi_Minh", "vi-VN", "cus-7"};
    c.stage = lifecycle::customer;
    c.fields["size"] = field_value{field_type::text, std::string("M")};
    c.fields["points"] = field_value{field_type::number, 12.5};
    c.fields["vip"] = field_value{field_type::boolean, true};
    c.tags["Khách VIP"] = parse_time("2026-03-02T12:00:00Z");
    c.notes.push_back(note{"staff:lan", parse_time("2026-03-02T12:01:00Z"), "gọi lại sau 5 giờ"});
    c.activity.first_seen = parse_time("2026-01-01T00:00:00Z");
    c.activity.last_inbound = parse_time("2026-03-02T12:00:00Z");
    c.activity.last_message = parse_time("2026-03-02T11:59:00Z");
    c.activity.last_order = parse_time("2026-02-14T08:00:00Z");
    c.activity.first_order = parse_time("2026-01-05T08:00:00Z");
    c.activity.conversations = 3;
    c.activity.orders = 2;
    c.activity.total_spent = 950000;
    c.activity.returning = true;
    c.activity.last_channel = "zalo";
    c.activity.last_product = "áo khoác";
    c.fired_rules = {"welcome"};
    c.run = flow_run{"checkout", "ask_phone", "reply", 1, 7, 0, 2, {flow_frame{"main", "thanks"}}};
    c.open_form = "address";
    c.sequences["nurture"] = sequence_state{parse_time("2026-03-01T00:00:00Z"),
                                            2,
                                            parse_time("2026-03-02T00:00:00Z"),
                                            9,
                                            1,
                                            true,
                                            false,
                                            std::nullopt};
    c.date_timers["birthday"] = {"2026-05-01", 11};
    c.capped_sends["promotional"] = {parse_time("2026-03-02T10:00:00Z")};
    c.segments["vip"] = parse_time("2026-03-02T12:00:00Z");
    channel_state zalo;
    zalo.last_inbound = parse_time("2026-03-02T12:00:00Z");
    zalo.replies_since_inbound = 2;
    zalo.follower = false; // a known "no" is not the default "unknown": it must survive
    zalo.sends["promotional"] = {parse_time("2026-03-02T10:00:00Z")};
    c.channels["zalo"] = zalo;
    c.paused_until = parse_time("2026-03-03T00:00:00Z");
    return c;
}

contact read_back(const contact& c, contact_shape shape) {
    return detail::contact_from_json(json::parse(json::serialize(detail::contact_to_json(c, shape))));
}

} // namespace

TEST_CASE("a contact with every part set reads back the same from either shape", "[codec]") {
    const auto c = everything_set();
    CHECK(read_back(c, contact_shape::full) == c);
    CHECK(read_back(c, contact_shape::stored) == c);
}

TEST_CASE("the stored shape leaves default values out and they read back as defaults", "[codec]") {
    contact c;
    c.id = 7;
    c.identities = {identity{"zalo", "1"}};
    c.tags["Khách VIP"] = parse_time("2026-03-02T12:00:00Z");
    c.channels["zalo"].follower = true;
    const auto stored = detail::contact_to_json(c, contact_shape::stored);
    for (const char* key : {"profile", "fields", "notes", "activity", "fired_rules", "run"}) {
        INFO(key);
        CHECK_FALSE(stored.contains(key));
    }
    CHECK(stored.at("channels").at("zalo").as_object().size() == 1); // only "follower"
    CHECK(read_back(c, contact_shape::stored) == c);

    // The public shape keeps every key, empty or not, for callers that read it.
    const auto full = detail::contact_to_json(c, contact_shape::full);
    for (const char* key : {"profile", "fields", "notes", "activity", "fired_rules", "run"}) {
        INFO(key);
        CHECK(full.contains(key));
    }
    CHECK(full.at("profile").at("name") == "");
    CHECK(full.at("activity").at("orders") == 0);
    CHECK(json::serialize(full).size() > json::serialize(stored).size());
}

TEST_CASE("a contact with no data at all reads back from a document of just its id", "[codec]") {
    const auto c = detail::contact_from_json(json::parse(R"({"id": 3, "type": "stranger"})"));
    contact expected;
    expected.id = 3;
    CHECK(c == expected);
}

TEST_CASE("a damaged contact document throws instead of reading as defaults", "[codec]") {
    // A key of the wrong kind is damage, not an omitted default.
    CHECK_THROWS(detail::contact_from_json(json::parse(R"({"id": 1, "tags": 5})")));
    CHECK_THROWS(detail::contact_from_json(json::parse(R"({"id": 1, "profile": []})")));
    CHECK_THROWS(detail::contact_from_json(json::parse(R"({"id": 1, "activity": {"returning": "yes"}})")));
}

TEST_CASE("the contact document text is exactly what Boost.JSON writes for it", "[codec]") {
    // Stored documents are written without building a tree; a reader (or an export compared byte
    // for byte) must not be able to tell.
    auto c = everything_set();
    c.profile.name = "Lan \"Bé\" \\ \t\n\x01 đ";
    c.fields["ratio"] = field_value{field_type::number, 0.3};
    c.fields["unset"] = field_value{field_type::text, std::monostate{}};
    c.activity.total_spent = 1234.5;
    c.paused_until = time_point::max();
    for (const auto shape : {contact_shape::full, contact_shape::stored}) {
        const auto text = detail::contact_json_text(c, shape);
        CHECK(json::serialize(json::parse(text)) == text);
        CHECK(detail::contact_from_json(json::parse(text)) == c);
    }
    const auto bare = detail::contact_json_text(contact{}, contact_shape::stored);
    CHECK(bare == R"({"id":0,"type":"stranger","identities":[]})");
}

TEST_CASE("an input event's text is exactly what Boost.JSON writes for it", "[codec]") {
    order_info o;
    o.order_id = "DH-9";
    o.total = 1234.5;
    o.currency = "VND";
    o.items = {"áo", "quần\n"};
    auto e = event::order_of(identity{"zalo", "u \"1\""}, o);
    CHECK(event_from_json(to_json(e)).order.items == o.items);
    e.at = parse_time("2026-03-02T12:00:00.250Z");
    e.key = "shop:order/DH-9";
    e.data["source"] = "pos\t1";
    e.profile.name = "Lan";
    e.profile.fields["size"] = "M";
    e.until = parse_time("2026-03-03T00:00:00Z");
    const auto text = to_json(e);
    CHECK(json::serialize(json::parse(text)) == text);
    CHECK(json::parse(text).at("order").at("items").at(1) == "quần\n");
}

TEST_CASE("an input's outcome text is exactly what Boost.JSON writes for the outcome tree", "[codec]") {
    // The log keeps the outcome of every input as text written directly; `tagflow simulate` and
    // result_from_json read it as the tree result_to_json builds.
    ingest_result empty;
    CHECK(detail::result_json_text(empty) == json::serialize(detail::result_to_json(empty)));
    CHECK(
        detail::result_json_text(empty) ==
        R"({"event_id":0,"contact":0,"contact_created":false,"duplicate":false,"merged":[],"tags_added":[],)"
        R"("tags_removed":[],"rules_fired":[],"messages":[]})");

    ingest_result full;
    full.event_id = 9007199254740993; // past a double's exact range: written as an integer
    full.contact = 12;
    full.contact_created = true;
    full.duplicate = true;
    full.merged = {3, 4};
    full.tags_added = {"Khách \"VIP\"", "đã mua\n"};
    full.tags_removed = {"Lead"};
    full.lifecycle_now = lifecycle::customer;
    full.rules_fired = {"welcome", "tag buyers"};
    full.messages = {7, 8, 9};
    const auto text = detail::result_json_text(full);
    CHECK(text == json::serialize(detail::result_to_json(full)));
    const auto back = detail::result_from_json(json::parse(text));
    CHECK(back.event_id == full.event_id);
    CHECK(back.tags_added == full.tags_added);
    CHECK(back.lifecycle_now == full.lifecycle_now);
    CHECK(back.messages == full.messages);
}
