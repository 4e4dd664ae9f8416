#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include <boost/json.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

using namespace tagflow;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// 2026-01-05 10:00 in Asia/Ho_Chi_Minh is 03:00 UTC.
const time_point monday_10am = std::chrono::sys_days{std::chrono::year{2026} / 1 / 5} + 3h;

const identity zalo{"zalo", "1001"};

// Parses an event that must be refused and returns the field it names and the message.
std::pair<std::string, std::string> refuse(std::string_view json) {
    try {
        (void)event_from_json(json);
    } catch (const event_error& e) {
        CHECK(e.code() == errc::invalid_event);
        return {e.field(), e.what()};
    }
    FAIL("the event was accepted: " << json);
    return {};
}

void check_refusal(std::string_view json, const std::string& field, const std::string& needle) {
    INFO(json);
    const auto [got_field, message] = refuse(json);
    CHECK(got_field == field);
    CHECK_THAT(message, StartsWith(field.empty() ? std::string("event: ") : "event." + field + ": "));
    CHECK_THAT(message, Contains(needle));
}

// Every kind of event, with as many members set as make sense for it.
std::vector<event> every_kind() {
    std::vector<event> out;
    out.push_back(event::message(zalo, "Xin chào, cho mình hỏi giá Áo A size M? 🙂")
                      .with_key("zalo:msg:1")
                      .at_time(monday_10am + 250ms));
    out.push_back(
        event::postback_of({"messenger", "3001"}, "MUA_NGAY").at_time(monday_10am).with_key("pb-1"));
    out.push_back(event::form_open({"web", "visitor-77"}, "Đăng ký nhận ưu đãi"));
    out.push_back(event::form_submit({"web", "visitor-77"}, "Đăng ký nhận ưu đãi",
                                     {{"họ_tên", "Trần Thị Bích Ngọc"}, {"size", "M"}, {"số_lượng", "2"}})
                      .at_time(monday_10am + 1min));
    out.push_back(
        event::order_of(zalo, order_info{"DH-2026-0001", 1250000, "VND", {"Áo A", "Quần jean xanh", "Mũ"}})
            .with_key("order:DH-2026-0001")
            .at_time(monday_10am + 2h));
    out.push_back(event::order_of(zalo, order_info{"US-1", 19.99, "USD", {"Áo thun"}}));
    out.push_back(event::order_of(zalo, order_info{}));
    profile_update p;
    p.name = "Nguyễn Văn Đức";
    p.phone = "0912 345 678";
    p.email = "Duc.Nguyen@Example.vn";
    p.time_zone = "Asia/Ho_Chi_Minh";
    p.locale = "vi-VN";
    p.fields = {{"size", "XL"}, {"birthday", "1990-05-17"}, {"ghi_chú", "Giao giờ hành chính"}};
    out.push_back(event::profile_of(zalo, p).at_time(monday_10am));
    profile_update only_fields;
    only_fields.fields = {{"age", "31"}};
    out.push_back(event::profile_of(zalo, only_fields));
    profile_update blank_name;
    blank_name.name = "";
    out.push_back(event::profile_of(zalo, blank_name));
    out.push_back(event::link_customer(zalo, "KH-000123").for_contact(42).at_time(monday_10am));
    out.push_back(event::note_of(zalo, "staff:lan", "Khách hẹn ghé cửa hàng thứ Bảy.\nGọi lại trước 9h."));
    out.push_back(event::track_of(zalo, "cart_abandoned", {{"giá_trị", "450000"}, {"sản_phẩm", "Váy hoa"}}));
    out.push_back(event::track_of(zalo, "page_view"));
    out.push_back(event::add_tag(zalo, "Khách VIP").with_key("tag-1"));
    out.push_back(event::remove_tag({"messenger", "3001"}, "Đã mua Áo A").for_contact(7));
    event lifecycle_event;
    lifecycle_event.kind = event_kind::lifecycle_changed;
    lifecycle_event.contact = 7;
    lifecycle_event.at = monday_10am;
    out.push_back(lifecycle_event);
    // Any kind may carry profile changes along.
    profile_update with_message;
    with_message.email = "lan@example.com";
    auto message_with_profile = event::message({"web", "chat:9"}, "Email mình: lan@example.com");
    message_with_profile.profile = with_message;
    out.push_back(message_with_profile);
    return out;
}

} // namespace

TEST_CASE("every event kind survives a JSON round trip unchanged", "[event]") {
    std::set<event_kind> kinds;
    for (const auto& e : every_kind()) {
        const auto json = to_json(e);
        INFO(json);
        kinds.insert(e.kind);
        const auto back = event_from_json(json);
        CHECK(back == e);
        // The serialised form is stable: the same event always gives the same bytes.
        CHECK(to_json(back) == json);
        CHECK_THAT(json, StartsWith("{\"kind\":\"" + std::string(to_string(e.kind)) + "\""));
    }
    CHECK(kinds.size() == 12);
}

TEST_CASE("to_json writes compact JSON with a fixed key order and UTF-8 kept as is", "[event]") {
    const auto e = event::message(zalo, "Xin chào").with_key("m1").at_time(monday_10am);
    CHECK(to_json(e) == R"({"kind":"message_received","identity":"zalo:1001","at":"2026-01-05T03:00:00Z",)"
                        R"("key":"m1","text":"Xin chào"})");

    const auto order = event::order_of(zalo, order_info{"DH1", 950000, "VND", {"Áo A", "Quần B"}});
    CHECK(to_json(order) ==
          R"({"kind":"order_placed","identity":"zalo:1001",)"
          R"("order":{"id":"DH1","total":950000,"currency":"VND","items":["Áo A","Quần B"]}})");

    const auto by_contact = event::add_tag(zalo, "Khách VIP").for_contact(12);
    CHECK(to_json(by_contact) == R"({"kind":"tag_added","contact":12,"tag":"Khách VIP"})");
}

TEST_CASE("event_from_json reads the documented form", "[event]") {
    const auto e = event_from_json(R"({"kind":"message_received","identity":"zalo:1001",)"
                                   R"("text":"Xin chào","at":"2026-01-05T10:00:00+07:00","key":"m1"})");
    CHECK(e == event::message(zalo, "Xin chào").at_time(monday_10am).with_key("m1"));

    // Numbers and bools in form data and track properties keep their text.
    const auto t = event_from_json(R"({"kind":"track","identity":"web:1","name":"checkout",)"
                                   R"("data":{"qty":2,"price":199000.5,"gift":true,"note":"gói quà"}})");
    REQUIRE(t.data.size() == 4);
    CHECK(t.data.at("qty") == "2");
    CHECK(t.data.at("gift") == "true");
    CHECK(t.data.at("note") == "gói quà");
    CHECK(std::stod(t.data.at("price")) == 199000.5);

    // An order without a currency is in VND; an integer total reads as a number.
    const auto o =
        event_from_json(R"({"kind":"order_placed","contact":3,"order":{"id":"A1","total":500000}})");
    CHECK(o.contact == 3);
    CHECK(o.identity == identity{});
    CHECK(o.order.currency == "VND");
    CHECK(o.order.total == 500000);
    CHECK(o.order.items.empty());

    const auto p = event_from_json(R"({"kind":"profile_updated","identity":"messenger:3001",)"
                                   R"("profile":{"name":"Lê Thu","fields":{"age":31,"vip":false}}})");
    CHECK(p.profile.name == "Lê Thu");
    CHECK_FALSE(p.profile.phone);
    CHECK(p.profile.fields == std::map<std::string, std::string>{{"age", "31"}, {"vip", "false"}});
}

TEST_CASE("malformed event JSON is refused as an invalid event", "[event]") {
    check_refusal(R"({"kind":"message_received",)", "", "malformed JSON");
    check_refusal("", "", "malformed JSON");
    check_refusal(R"({"kind":"track"} {})", "", "malformed JSON");
    check_refusal(R"(["message_received"])", "", "expected an object");
    check_refusal("null", "", "expected an object");
}

TEST_CASE("an event without a known kind is refused at kind", "[event]") {
    check_refusal(R"({"identity":"zalo:1001","text":"hi"})", "kind", "required");
    check_refusal(R"({"kind":"message","identity":"zalo:1001"})", "kind", "unknown event kind \"message\"");
    check_refusal(R"({"kind":"Message_Received"})", "kind", "unknown event kind");
    check_refusal(R"({"kind":3})", "kind", "expected a string");
    check_refusal(R"({"kind":null})", "kind", "expected a string");
}

TEST_CASE("unknown event keys are refused naming the key", "[event]") {
    check_refusal(R"({"kind":"message_received","identity":"zalo:1","texts":"hi"})", "texts",
                  "unknown key; expected one of: kind, identity, contact, at, key, text");
    check_refusal(R"({"kind":"profile_updated","identity":"zalo:1","profile":{"phones":"0912345678"}})",
                  "profile.phones", "expected one of: name, phone, email, timezone, locale, fields");
    check_refusal(
        R"({"kind":"profile_updated","identity":"zalo:1","profile":{"time_zone":"Asia/Ho_Chi_Minh"}})",
        "profile.time_zone", "unknown key");
    check_refusal(R"({"kind":"order_placed","identity":"zalo:1","order":{"id":"1","item":"Áo A"}})",
                  "order.item", "expected one of: id, total, currency, items");
}

TEST_CASE("event members of the wrong type are refused naming the field", "[event]") {
    check_refusal(R"({"kind":"message_received","identity":"zalo1001"})", "identity",
                  "expected \"channel:external_id\", got \"zalo1001\"");
    check_refusal(R"({"kind":"message_received","identity":":1001"})", "identity", "channel:external_id");
    check_refusal(R"({"kind":"message_received","identity":"zalo:"})", "identity", "channel:external_id");
    check_refusal(R"({"kind":"message_received","identity":1001})", "identity", "expected a string");
    check_refusal(R"({"kind":"message_received","contact":"12"})", "contact",
                  "expected an integer contact id");
    check_refusal(R"({"kind":"message_received","contact":1.5})", "contact",
                  "expected an integer contact id");
    check_refusal(R"({"kind":"message_received","contact":true})", "contact",
                  "expected an integer contact id");
    check_refusal(R"({"kind":"message_received","contact":18446744073709551615})", "contact",
                  "expected an integer contact id");
    check_refusal(R"({"kind":"message_received","identity":"zalo:1","at":"yesterday"})", "at",
                  "invalid time \"yesterday\"");
    check_refusal(R"({"kind":"message_received","identity":"zalo:1","at":"2026-01-05T10:00"})", "at",
                  "missing zone");
    check_refusal(R"({"kind":"message_received","identity":"zalo:1","at":1767582000000})", "at",
                  "expected a string");
    check_refusal(R"({"kind":"message_received","identity":"zalo:1","text":42})", "text",
                  "expected a string");
    check_refusal(R"({"kind":"message_received","identity":"zalo:1","key":null})", "key",
                  "expected a string");
    check_refusal(R"({"kind":"note_added","identity":"zalo:1","author":["lan"]})", "author",
                  "expected a string");
    check_refusal(R"({"kind":"order_placed","identity":"zalo:1","order":{"id":"1","total":"950000"}})",
                  "order.total", "expected a number");
    check_refusal(R"({"kind":"order_placed","identity":"zalo:1","order":{"id":1}})", "order.id",
                  "expected a string");
    check_refusal(R"({"kind":"order_placed","identity":"zalo:1","order":{"items":["Áo A",5,"Mũ"]}})",
                  "order.items[1]", "expected a string");
    check_refusal(R"({"kind":"order_placed","identity":"zalo:1","order":{"items":"Áo A"}})", "order.items",
                  "expected an array of strings");
    check_refusal(R"({"kind":"order_placed","identity":"zalo:1","order":[]})", "order", "expected an object");
    check_refusal(
        R"({"kind":"profile_updated","identity":"zalo:1","profile":{"fields":{"size":"M","x":{"a":1}}}})",
        "profile.fields.x", "expected a string, number or bool");
    check_refusal(R"({"kind":"profile_updated","identity":"zalo:1","profile":{"fields":["size"]}})",
                  "profile.fields", "expected an object");
    check_refusal(R"({"kind":"profile_updated","identity":"zalo:1","profile":{"name":5}})", "profile.name",
                  "expected a string");
    check_refusal(R"({"kind":"profile_updated","identity":"zalo:1","profile":"Lan"})", "profile",
                  "expected an object");
    check_refusal(R"({"kind":"track","identity":"zalo:1","name":"x","data":{"items":[1,2]}})", "data.items",
                  "expected a string, number or bool");
    check_refusal(R"({"kind":"form_submitted","identity":"zalo:1","form":"f","data":{"a":null}})", "data.a",
                  "expected a string, number or bool");
}

TEST_CASE("parse_time reads ISO 8601 with Z, offsets and milliseconds", "[event]") {
    CHECK(parse_time("2026-01-05T03:00:00Z") == monday_10am);
    CHECK(parse_time("2026-01-05T03:00Z") == monday_10am);
    CHECK(parse_time("2026-01-05 03:00:00Z") == monday_10am);
    CHECK(parse_time("2026-01-05T03:00:00z") == monday_10am);
    CHECK(parse_time("2026-01-05T10:00:00+07:00") == monday_10am);
    CHECK(parse_time("2026-01-05T10:00+0700") == monday_10am);
    CHECK(parse_time("2026-01-04T22:00:00-05:00") == monday_10am);
    CHECK(parse_time("2026-01-04T22:00:00-0500") == monday_10am);
    CHECK(parse_time("2026-01-05T08:45:00+05:45") == monday_10am);
    CHECK(parse_time("2026-01-05T03:00:00+00:00") == monday_10am);
    CHECK(parse_time("2026-01-05T03:00:00.250Z") == monday_10am + 250ms);
    CHECK(parse_time("2026-01-05T03:00:00.5Z") == monday_10am + 500ms);
    CHECK(parse_time("2026-01-05T03:00:00.05Z") == monday_10am + 50ms);
    CHECK(parse_time("2026-01-05T03:00:00.007Z") == monday_10am + 7ms);
    CHECK(parse_time("2026-01-05T03:00:00.123456Z") == monday_10am + 123ms);
    CHECK(parse_time("2026-01-05T10:00:00.999+07:00") == monday_10am + 999ms);
    // Across a day and a year boundary.
    CHECK(parse_time("2026-01-01T06:30:00+07:00") == parse_time("2025-12-31T23:30:00Z"));
    CHECK(parse_time("2024-02-29T00:00:00Z") == std::chrono::sys_days{std::chrono::year{2024} / 2 / 29});
    CHECK(parse_time("1970-01-01T00:00:00Z") == time_point{});
}

TEST_CASE("parse_time refuses anything else with invalid_argument naming the input", "[event]") {
    const char* bad[] = {
        "",
        "2026-01-05",
        "2026-01-05T10:00",       // no zone
        "2026-01-05T10:00:00",    // no zone
        "2026-01-05T10Z",         // no minutes
        "2026-01-05T10:00:00.Z",  // no digits after '.'
        "2026-01-05T10:00:00+7",  // short offset
        "2026-01-05T10:00:00+07", // offset without minutes
        "2026-01-05T10:00:00 +07:00",
        "2026-01-05T10:00:00Zjunk",
        "2026-01-05T10:00:00ZZ",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-02-29T00:00:00Z", // not a leap year
        "2026-04-31T00:00:00Z",
        "2026-01-05T24:00:00Z",
        "2026-01-05T10:60:00Z",
        "2026-01-05T10:00:60Z",
        "2026--1-05T10:00:00Z",
        "26-01-05T10:00:00Z",
        "2026/01/05T10:00:00Z",
        "2026-1-5T10:00:00Z",
        "2026-01-05X10:00:00Z",
        "2026-01-05T1000Z",
        "Monday 10am",
        "２０２６-01-05T10:00:00Z", // full-width digits
    };
    for (const char* text : bad) {
        INFO(text);
        try {
            (void)parse_time(text);
            FAIL("accepted \"" << text << "\"");
        } catch (const error& e) {
            CHECK(e.code() == errc::invalid_argument);
            CHECK_THAT(std::string(e.what()), Contains("\"" + std::string(text) + "\""));
        }
    }
}

// Digit groups take digits only (no sign) and offsets stay within a day.
TEST_CASE("parse_time refuses signs inside digit groups and offsets out of range", "[event]") {
    const char* bad[] = {
        "2026-01-05T-1:00:00Z",      // hour -1
        "2026-01-05T10:-5:00Z",      // minute -5
        "2026-01-05T10:00:-1Z",      // second -1
        "-026-01-05T10:00:00Z",      // year -26
        "2026-01-05T10:00:00+-1:00", // offset hour -1
        "2026-01-05T10:00:00+24:00", // offset beyond +23:59
        "2026-01-05T10:00:00+07:60", // offset minutes beyond 59
    };
    for (const char* text : bad) {
        INFO(text);
        CHECK_THROWS_AS(parse_time(text), error);
    }
}

TEST_CASE("format_time writes UTC with milliseconds only when present", "[event]") {
    CHECK(format_time(monday_10am) == "2026-01-05T03:00:00Z");
    CHECK(format_time(monday_10am + 250ms) == "2026-01-05T03:00:00.250Z");
    CHECK(format_time(monday_10am + 7ms) == "2026-01-05T03:00:00.007Z");
    CHECK(format_time(monday_10am + 23h + 59min + 59s + 999ms) == "2026-01-06T02:59:59.999Z");
    CHECK(format_time(time_point{}) == "1970-01-01T00:00:00Z");
    CHECK(format_time(time_point{} - 500ms) == "1969-12-31T23:59:59.500Z");
    for (auto t : {monday_10am, monday_10am + 1ms, monday_10am + 999ms, time_point{} - 1ms,
                   time_point{std::chrono::sys_days{std::chrono::year{2099} / 12 / 31}} + 86399999ms}) {
        CHECK(parse_time(format_time(t)) == t);
    }
}

TEST_CASE("identity parse and to_string round trip", "[event]") {
    CHECK(identity::parse("zalo:1001") == zalo);
    CHECK(identity::parse("zalo:1001").to_string() == "zalo:1001");
    // Only the first colon separates; the channel's own id may contain more.
    const auto web = identity::parse("web:session:ab:12");
    CHECK(web.channel == "web");
    CHECK(web.external_id == "session:ab:12");
    CHECK(web.to_string() == "web:session:ab:12");
    const auto email = identity::parse("email:lan@example.com");
    CHECK(email.external_id == "lan@example.com");
    for (const char* bad : {"", "zalo", ":1001", "zalo:", ":"}) {
        INFO(bad);
        try {
            (void)identity::parse(bad);
            FAIL("accepted \"" << bad << "\"");
        } catch (const error& e) {
            CHECK(e.code() == errc::invalid_argument);
            CHECK_THAT(std::string(e.what()), Contains("channel:external_id"));
        }
    }
}

TEST_CASE("lifecycle and event kind names round trip", "[event]") {
    for (auto stage : {lifecycle::stranger, lifecycle::lead, lifecycle::customer}) {
        CHECK(parse_lifecycle(to_string(stage)) == stage);
    }
    CHECK(to_string(lifecycle::stranger) == "stranger");
    CHECK(to_string(lifecycle::lead) == "lead");
    CHECK(to_string(lifecycle::customer) == "customer");
    CHECK_FALSE(parse_lifecycle("Lead"));
    CHECK_FALSE(parse_lifecycle("vip"));
    CHECK_FALSE(parse_lifecycle(""));

    const std::vector<std::pair<event_kind, std::string_view>> kinds{
        {event_kind::message_received, "message_received"},
        {event_kind::postback, "postback"},
        {event_kind::form_opened, "form_opened"},
        {event_kind::form_submitted, "form_submitted"},
        {event_kind::order_placed, "order_placed"},
        {event_kind::profile_updated, "profile_updated"},
        {event_kind::customer_linked, "customer_linked"},
        {event_kind::note_added, "note_added"},
        {event_kind::track, "track"},
        {event_kind::tag_added, "tag_added"},
        {event_kind::tag_removed, "tag_removed"},
        {event_kind::lifecycle_changed, "lifecycle_changed"},
    };
    for (const auto& [kind, name] : kinds) {
        CHECK(to_string(kind) == name);
        CHECK(parse_event_kind(name) == kind);
    }
    CHECK_FALSE(parse_event_kind("message"));
    CHECK_FALSE(parse_event_kind("MESSAGE_RECEIVED"));
    CHECK_FALSE(parse_event_kind(""));
}

TEST_CASE("event factories set the kind and the members they name", "[event]") {
    const auto m = event::message(zalo, "Chào shop");
    CHECK(m.kind == event_kind::message_received);
    CHECK(m.identity == zalo);
    CHECK(m.text == "Chào shop");
    CHECK_FALSE(m.at);
    CHECK_FALSE(m.contact);
    CHECK(m.key.empty());

    const auto keyed = m.with_key("k").at_time(monday_10am);
    CHECK(keyed.key == "k");
    CHECK(keyed.at == monday_10am);
    CHECK(m.key.empty()); // the original is untouched

    const auto direct = m.for_contact(5);
    CHECK(direct.contact == 5);
    CHECK(direct.identity == identity{});
    CHECK(direct.text == "Chào shop");

    CHECK(event::note_of(zalo, "staff:lan", "Ghi chú").author == "staff:lan");
    CHECK(event::track_of(zalo, "view").data.empty());
    CHECK(event::remove_tag(zalo, "Khách mới").kind == event_kind::tag_removed);
    CHECK(event::link_customer(zalo, "KH1").customer_id == "KH1");
    CHECK(event::postback_of(zalo, "P").payload == "P");
    CHECK(event::form_open(zalo, "F").kind == event_kind::form_opened);
}

TEST_CASE("parse_time reads back every time format_time writes", "[event]") {
    // Stored documents and log rows are read through a fast path for this exact form; it must
    // agree with the general reader everywhere, leap days and milliseconds included.
    std::uint64_t state = 12345;
    for (int i = 0; i < 20000; ++i) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        const auto ms = static_cast<std::int64_t>(state >> 22) % 4102444800000LL; // 1970 to 2100
        const time_point t{std::chrono::milliseconds{i % 3 == 0 ? ms - ms % 1000 : ms}};
        INFO(format_time(t));
        CHECK(parse_time(format_time(t)) == t);
    }
    CHECK(parse_time("2024-02-29T23:59:59.999Z") == parse_time("2024-03-01T00:00:00Z") - 1ms);
}
