#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include <filesystem>
#include <thread>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

// Times in the scenarios are Asia/Ho_Chi_Minh (UTC+7); D0 is Monday 2026-01-05.
time_point local(const char* text) {
    return parse_time(std::string(text) + "+07:00");
}

const char* shop_rules = R"json({
  "schema": 1,
  "tags": ["Khách mới", "Khách cũ", "Đã mua Áo A", "Đã mua lần 2", "Khách VIP", "Khách hàng", "Hỏi giá"],
  "fields": [{"name": "size", "type": "text"}, {"name": "age", "type": "number"}],
  "rules": [
    {"name": "welcome", "when": "first_message",
     "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}, {"add_tag": "Khách mới"}]},
    {"name": "welcome back", "when": "returning_message",
     "then": [{"send": "Chào {{name}}, rất vui khi bạn quay lại!"},
              {"send": "Bạn đang cần thêm {{last_product}} hay tìm mẫu mới?"},
              {"remove_tag": "Khách mới"}, {"add_tag": "Khách cũ"}]},
    {"name": "price question", "when": "message_received", "filter": {"contains": "giá"},
     "then": [{"add_tag": "Hỏi giá"}]},
    {"name": "bought A", "when": "order_placed", "filter": {"item": "Áo A"}, "then": [{"add_tag": "Đã mua Áo A"}]},
    {"name": "second order", "when": "order_placed", "if": "orders == 2", "then": [{"add_tag": "Đã mua lần 2"}]},
    {"name": "vip", "when": "order_placed", "if": "orders >= 3 or total_spent >= 5000000",
     "then": [{"add_tag": "Khách VIP"}]},
    {"name": "customer tag", "when": "lifecycle_changed", "filter": {"to": "customer"},
     "then": [{"add_tag": "Khách hàng"}]}
  ]
})json";

engine memory_engine() {
    engine e(make_memory_store());
    e.load_definitions(shop_rules);
    return e;
}

std::vector<std::string> texts(const engine& e) {
    std::vector<std::string> out;
    for (const auto& m : e.outbox()) {
        out.push_back(m.text);
    }
    return out;
}

struct temp_db {
    std::filesystem::path path;
    temp_db() {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("tagflow_engine_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".db");
        std::filesystem::remove(path);
    }
    ~temp_db() {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(path.string() + suffix);
        }
    }
};

} // namespace

TEST_CASE("a first message creates a stranger and runs the first-message rule", "[engine]") {
    auto e = memory_engine();
    const identity who{"messenger", "3001"};
    auto r = e.ingest(event::message(who, "Xin chào").at_time(local("2026-01-05T10:00")));
    CHECK(r.contact_created);
    CHECK(r.rules_fired == std::vector<std::string>{"welcome"});
    CHECK(r.tags_added == std::vector<std::string>{"Khách mới"});
    auto c = e.find_contact(who);
    REQUIRE(c);
    CHECK(c->stage == lifecycle::stranger);
    CHECK(c->has_tag("Khách mới"));
    CHECK(c->activity.conversations == 1);
    CHECK_FALSE(c->activity.returning);
    CHECK(texts(e) == std::vector<std::string>{"Chào bạn, Shop rất vui được hỗ trợ bạn!"});
    CHECK(e.outbox().front().to == who);
}

TEST_CASE("a contact who writes again after the gap is greeted as returning, by name and last product",
          "[engine]") {
    auto e = memory_engine();
    const identity who{"messenger", "3001"};
    e.ingest(event::message(who, "Xin chào").at_time(local("2026-01-05T10:00")));
    e.ingest(event::profile_of(who, {.name = "Minh"}).at_time(local("2026-01-05T10:01")));
    e.ingest(event::order_of(who, {"O-1", 350000, "VND", {"Áo A"}}).at_time(local("2026-01-05T11:00")));
    // A message an hour later continues the same conversation: no greeting at all.
    auto same = e.ingest(event::message(who, "Cảm ơn shop").at_time(local("2026-01-05T12:00")));
    CHECK(same.rules_fired.empty());
    auto back = e.ingest(event::message(who, "Shop ơi").at_time(local("2026-01-08T10:00")));
    CHECK(back.rules_fired == std::vector<std::string>{"welcome back"});
    const auto all = texts(e);
    REQUIRE(all.size() == 3);
    CHECK(all[1] == "Chào Minh, rất vui khi bạn quay lại!");
    CHECK(all[2] == "Bạn đang cần thêm Áo A hay tìm mẫu mới?");
    auto c = *e.find_contact(who);
    CHECK(c.has_tag("Khách cũ"));
    CHECK_FALSE(c.has_tag("Khách mới"));
    CHECK(c.activity.returning);
    CHECK(c.activity.conversations == 2);
}

TEST_CASE("the returning gap is configurable", "[engine]") {
    engine_options options;
    options.returning_gap = 1h;
    engine e(make_memory_store(), options);
    e.load_definitions(shop_rules);
    const identity who{"zalo", "1"};
    e.ingest(event::message(who, "a").at_time(local("2026-01-05T10:00")));
    auto r = e.ingest(event::message(who, "b").at_time(local("2026-01-05T11:30")));
    CHECK(r.rules_fired == std::vector<std::string>{"welcome back"});
}

TEST_CASE("a contact known only from an order is returning on their first message", "[engine]") {
    auto e = memory_engine();
    const identity who{"zalo", "77"};
    e.ingest(event::order_of(who, {"O-9", 100000, "VND", {"Quần B"}}).at_time(local("2026-01-05T09:00")));
    auto r = e.ingest(event::message(who, "hi").at_time(local("2026-01-05T09:30")));
    CHECK(r.rules_fired == std::vector<std::string>{"welcome back"});
}

TEST_CASE("orders drive purchase tags, the second-order tag and VIP", "[engine]") {
    auto e = memory_engine();
    const identity who{"web", "s5"};
    auto r1 =
        e.ingest(event::order_of(who, {"1", 300000, "VND", {"ÁO A"}}).at_time(local("2026-01-05T09:00")));
    CHECK(r1.tags_added == std::vector<std::string>{"Đã mua Áo A"});
    auto r2 =
        e.ingest(event::order_of(who, {"2", 300000, "VND", {"Quần"}}).at_time(local("2026-01-06T09:00")));
    CHECK(r2.tags_added == std::vector<std::string>{"Đã mua lần 2"});
    auto r3 = e.ingest(event::order_of(who, {"3", 100, "VND", {"Nón"}}).at_time(local("2026-01-07T09:00")));
    CHECK(r3.tags_added == std::vector<std::string>{"Khách VIP"});

    const identity big{"web", "rich"};
    auto r4 =
        e.ingest(event::order_of(big, {"4", 5000000, "VND", {"Đồng hồ"}}).at_time(local("2026-01-07T09:00")));
    CHECK(r4.tags_added == std::vector<std::string>{"Khách VIP"});
}

TEST_CASE("message filters match without case or diacritics", "[engine]") {
    auto e = memory_engine();
    auto r =
        e.ingest(event::message({"zalo", "5"}, "Cho mình hỏi GIA cái áo").at_time(local("2026-01-05T10:00")));
    CHECK(std::find(r.tags_added.begin(), r.tags_added.end(), "Hỏi giá") != r.tags_added.end());
}

TEST_CASE("lifecycle moves from stranger to lead to customer and raises an event rules react to",
          "[engine]") {
    auto e = memory_engine();
    const identity v1{"web", "v1"};
    e.ingest(event::message(v1, "Xin chào").at_time(local("2026-01-05T10:00")));
    CHECK(e.find_contact(v1)->stage == lifecycle::stranger);
    auto lead = e.ingest(event::profile_of(v1, {.name = "Lan", .email = "Lan@Example.com"}));
    CHECK(lead.lifecycle_now == lifecycle::lead);
    CHECK(e.find_contact(v1)->profile.email == "lan@example.com");
    auto customer = e.ingest(event::link_customer(v1, "C-889"));
    CHECK(customer.lifecycle_now == lifecycle::customer);
    CHECK(customer.tags_added == std::vector<std::string>{"Khách hàng"});
    // It never moves back.
    auto later = e.ingest(event::profile_of(v1, {.name = "Lan Nguyễn"}));
    CHECK_FALSE(later.lifecycle_now);
    CHECK(e.find_contact(v1)->stage == lifecycle::customer);
    bool logged = false;
    for (const auto& r : e.event_log()) {
        logged = logged || (r.kind == "lifecycle_changed" && r.body == R"({"from":"lead","to":"customer"})");
    }
    CHECK(logged);
}

TEST_CASE("an email alone keeps a stranger; adding the name makes a lead", "[engine]") {
    auto e = memory_engine();
    const identity v2{"web", "v2"};
    e.ingest(event::profile_of(v2, {.email = "v2@example.com"}));
    CHECK(e.find_contact(v2)->stage == lifecycle::stranger);
    e.ingest(event::profile_of(v2, {.name = "Hùng"}));
    CHECK(e.find_contact(v2)->stage == lifecycle::lead);
}

TEST_CASE("the same phone on another channel is the same contact, never two", "[engine]") {
    auto e = memory_engine();
    const identity v3{"web", "v3"};
    const identity zalo{"zalo", "555"};
    e.ingest(event::profile_of(v3, {.name = "Mai", .phone = "0912345678"}));
    CHECK(e.find_contact(v3)->stage == lifecycle::lead);
    auto r = e.ingest(event::message(zalo, "Chào shop").with_key("z-1"));
    // The Zalo identity is new and carries no phone yet: a separate contact for now...
    CHECK(r.contact_created);
    // ...until the phone arrives, in any spelling: then the two merge into the older one.
    auto merged = e.ingest(event::profile_of(zalo, {.phone = "+84 912 345 678"}));
    CHECK(merged.merged.size() == 1);
    REQUIRE(e.contacts().size() == 1);
    const auto c = e.contacts().front();
    CHECK(c.id == e.find_contact(v3)->id);
    CHECK(c.has_identity(zalo));
    CHECK(c.has_identity(v3));
    CHECK(c.has_tag("Khách mới"));
    CHECK(c.profile.name == "Mai");

    // An unknown identity that arrives with a known phone joins directly.
    auto direct = e.ingest(event::profile_of({"messenger", "9"}, {.phone = "84912345678"}));
    CHECK_FALSE(direct.contact_created);
    CHECK(direct.contact == c.id);
    CHECK(e.contacts().size() == 1);
}

TEST_CASE("notes and custom fields are kept with author and time", "[engine]") {
    auto e = memory_engine();
    const identity v1{"web", "v1"};
    e.ingest(event::note_of(v1, "staff:lan", "Thích màu xanh").at_time(local("2026-01-05T10:00")));
    e.ingest(event::profile_of(v1, {.fields = {{"size", "M"}, {"age", "31"}}}));
    const auto c = *e.find_contact(v1);
    REQUIRE(c.notes.size() == 1);
    CHECK(c.notes[0].author == "staff:lan");
    CHECK(c.notes[0].text == "Thích màu xanh");
    CHECK(c.notes[0].at == local("2026-01-05T10:00"));
    CHECK(c.fields.at("size").data == value{std::string("M")});
    CHECK(c.fields.at("age").data == value{31.0});
    const auto json = e.contact_json(c.id);
    CHECK(json.find("\"Thích màu xanh\"") != std::string::npos);
    CHECK(json.find("\"size\":{\"type\":\"text\",\"value\":\"M\"}") != std::string::npos);
}

TEST_CASE("a repeated idempotency key is a no-op that returns the first outcome", "[engine][idempotency]") {
    auto e = memory_engine();
    const auto msg =
        event::message({"zalo", "1"}, "Xin chào").with_key("zalo-msg-1").at_time(local("2026-01-05T10:00"));
    auto first = e.ingest(msg);
    const auto log_size = e.event_log().size();
    auto again = e.ingest(msg);
    CHECK(again.duplicate);
    CHECK_FALSE(first.duplicate);
    again.duplicate = false;
    CHECK(again == first);
    CHECK(e.event_log().size() == log_size);
    CHECK(e.outbox().size() == 1);
}

TEST_CASE("invalid events are refused naming the field, and nothing is written", "[engine][validation]") {
    auto e = memory_engine();
    auto refuses = [&](const event& ev, const std::string& field) {
        try {
            e.ingest(ev);
            FAIL("accepted an invalid event");
        } catch (const event_error& err) {
            CHECK(err.field() == field);
            CHECK(err.code() == errc::invalid_event);
        }
    };
    refuses(event::message({"", "1"}, "x"), "identity.channel");
    refuses(event::message({"Zalo!", "1"}, "x"), "identity.channel");
    refuses(event::message({"zalo", ""}, "x"), "identity.external_id");
    refuses(event::postback_of({"zalo", "1"}, ""), "payload");
    refuses(event::form_open({"zalo", "1"}, ""), "form");
    refuses(event::order_of({"zalo", "1"}, {"o", -5, "VND", {}}), "order.total");
    refuses(event::profile_of({"zalo", "1"}, {.phone = "abc"}), "profile.phone");
    refuses(event::profile_of({"zalo", "1"}, {.email = "not-an-email"}), "profile.email");
    refuses(event::profile_of({"zalo", "1"}, {.time_zone = "Mars/Base"}), "profile.timezone");
    refuses(event::profile_of({"zalo", "1"}, {.fields = {{"age", "many"}}}), "profile.fields.age");
    refuses(event::profile_of({"zalo", "1"}, {.fields = {{"nope", "1"}}}), "profile.fields.nope");
    refuses(event::message({"zalo", "1"}, "x").for_contact(42), "contact");
    event lifecycle_change = event::message({"zalo", "1"}, "x");
    lifecycle_change.kind = event_kind::lifecycle_changed;
    refuses(lifecycle_change, "kind");
    CHECK(e.contacts().empty());
    CHECK(e.event_log().empty());
}

TEST_CASE("a batch commits every event together and refuses all of it for one bad event", "[engine][batch]") {
    auto e = memory_engine();
    std::vector<event> good{
        event::message({"zalo", "1"}, "a").at_time(local("2026-01-05T10:00")),
        event::message({"zalo", "2"}, "b").at_time(local("2026-01-05T10:01")),
        event::message({"zalo", "1"}, "c").with_key("k").at_time(local("2026-01-05T10:02")),
        event::message({"zalo", "1"}, "c").with_key("k").at_time(local("2026-01-05T10:02"))};
    auto results = e.ingest_batch(good);
    REQUIRE(results.size() == 4);
    CHECK(results[0].contact == results[2].contact);
    CHECK(results[3].duplicate);
    CHECK(e.contacts().size() == 2);

    std::vector<event> bad{event::message({"zalo", "3"}, "x"), event::postback_of({"zalo", "3"}, "")};
    try {
        e.ingest_batch(bad);
        FAIL("accepted");
    } catch (const event_error& err) {
        CHECK(err.field() == "[1].payload");
    }
    CHECK(e.contacts().size() == 2);
}

TEST_CASE("rule cascades stop at the depth limit instead of looping", "[engine][rules]") {
    engine_options options;
    options.max_cascade_depth = 3;
    engine e(make_memory_store(), options);
    e.load_definitions(R"json({"schema": 1, "tags": ["a", "b"], "rules": [
      {"name": "a->b", "when": "tag_added", "filter": {"tag": "a"}, "then": [{"remove_tag": "a"}, {"add_tag": "b"}]},
      {"name": "b->a", "when": "tag_added", "filter": {"tag": "b"}, "then": [{"remove_tag": "b"}, {"add_tag": "a"}]}
    ]})json");
    auto r = e.ingest(event::add_tag({"zalo", "1"}, "a"));
    // The input's own trigger, then three levels of derived tag events; the fourth level stops.
    CHECK(r.rules_fired.size() == 4);
    bool limited = false;
    for (const auto& row : e.event_log()) {
        limited = limited || row.kind == "cascade_limit";
    }
    CHECK(limited);
}

TEST_CASE("a rule marked once runs once per contact", "[engine][rules]") {
    engine e(make_memory_store());
    e.load_definitions(R"json({"schema": 1, "rules": [
      {"name": "hello", "when": "message_received", "once": true, "then": [{"send": "Hello {{name}}"}]}]})json");
    e.ingest(event::message({"zalo", "1"}, "a"));
    e.ingest(event::message({"zalo", "1"}, "b"));
    e.ingest(event::message({"zalo", "2"}, "c"));
    CHECK(e.outbox().size() == 2);
}

TEST_CASE("every outbox row has a unique key derived from the event, rule and ordinal", "[engine][outbox]") {
    auto e = memory_engine();
    const identity who{"messenger", "1"};
    e.ingest(event::message(who, "hi").with_key("m1").at_time(local("2026-01-05T10:00")));
    e.ingest(event::message(who, "again").with_key("m2").at_time(local("2026-01-09T10:00")));
    const auto rows = e.outbox();
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].key == "k:m1/welcome/0");
    CHECK(rows[1].key == "k:m2/welcome back/0");
    CHECK(rows[2].key == "k:m2/welcome back/1");
    CHECK(rows[1].cause == "rule:welcome back");
}

TEST_CASE("replaying the input log into an empty store gives a byte-identical export",
          "[engine][determinism]") {
    temp_db db;
    std::string original;
    std::vector<event> inputs;
    {
        auto e = engine::open(db.path.string());
        e.load_definitions(shop_rules);
        const identity who{"messenger", "3001"};
        e.ingest(event::message(who, "Xin chào").at_time(local("2026-01-05T10:00")));
        e.ingest(event::profile_of(who, {.name = "Minh", .phone = "0912 345 678"})
                     .at_time(local("2026-01-05T10:01")));
        e.ingest(event::order_of(who, {"O-1", 350000, "VND", {"Áo A"}}).at_time(local("2026-01-05T11:00")));
        e.ingest(
            event::message({"zalo", "1"}, "giá bao nhiêu").with_key("z1").at_time(local("2026-01-06T10:00")));
        e.ingest(
            event::profile_of({"zalo", "1"}, {.phone = "+84912345678"}).at_time(local("2026-01-06T10:05")));
        e.ingest(event::message(who, "Shop ơi").at_time(local("2026-01-08T10:00")));
        original = e.export_json();
        inputs = e.input_events();
    }
    engine replay(make_memory_store());
    replay.load_definitions(shop_rules);
    for (const auto& ev : inputs) {
        replay.ingest(ev);
    }
    CHECK(replay.export_json() == original);
}

TEST_CASE("an engine reopened on its SQLite file continues where it stopped", "[engine][sqlite]") {
    temp_db db;
    contact_id first = 0;
    {
        auto e = engine::open(db.path.string());
        CHECK(e.load_definitions(shop_rules) == 1);
        first =
            e.ingest(event::message({"zalo", "1"}, "hi").with_key("k1").at_time(local("2026-01-05T10:00")))
                .contact;
    }
    auto e = engine::open(db.path.string());
    CHECK(e.definitions_version() == 1);
    CHECK(e.load_definitions(shop_rules) == 1); // identical document: no new version
    CHECK(e.ingest(event::message({"zalo", "1"}, "hi").with_key("k1")).duplicate);
    auto second = e.ingest(event::message({"zalo", "2"}, "hi").at_time(local("2026-01-05T10:00")));
    CHECK(second.contact == first + 1);
    CHECK(e.outbox().size() == 2);
    CHECK(e.outbox()[1].id == 2);
}

TEST_CASE("ingest from several threads loses nothing", "[engine][threads]") {
    auto e = memory_engine();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&e, t] {
            for (int i = 0; i < 50; ++i) {
                e.ingest(event::message({"zalo", std::to_string(t * 1000 + i)}, "hi")
                             .with_key(std::to_string(t) + "-" + std::to_string(i)));
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    CHECK(e.contacts().size() == 200);
    CHECK(e.outbox().size() == 200);
}

TEST_CASE("when an event's contact merges into an older one, the event's new values win", "[engine][merge]") {
    engine e(make_memory_store());
    e.load_definitions(R"json({"schema": 1, "fields": [{"name": "size", "type": "text"}]})json");
    e.ingest(
        event::profile_of({"web", "old"}, {.name = "Mai", .phone = "0912345678", .fields = {{"size", "M"}}}));
    e.ingest(event::message({"zalo", "new"}, "hi"));
    auto r = e.ingest(event::profile_of(
        {"zalo", "new"}, {.name = "Mai Nguyễn", .phone = "0912345678", .fields = {{"size", "L"}}}));
    REQUIRE(r.merged.size() == 1);
    const auto c = e.contacts().front();
    CHECK(c.id == 1);
    CHECK(c.profile.name == "Mai Nguyễn");
    CHECK(c.fields.at("size").data == value{std::string("L")});
    for (const auto& row : e.event_log()) {
        if (row.id >= r.event_id) {
            CHECK(row.contact == 1); // nothing of this event is logged under the merged-away id
        }
    }
}

TEST_CASE("within one batch, contacts merge on the phone they have at that point of the batch",
          "[engine][merge]") {
    // The batch keeps its contacts in hand; a phone changed early in the batch must count for the
    // events after it, and the phone it had before must no longer match.
    auto e = memory_engine();
    const std::vector<event> batch{
        event::profile_of({"web", "a"}, {.name = "An", .phone = "0912000001"}),
        event::profile_of({"web", "a"}, {.phone = "0912000002"}),  // An moves to a new number
        event::profile_of({"zalo", "b"}, {.phone = "0912000001"}), // An's old number: someone else
        event::profile_of({"zalo", "c"}, {.phone = "0912000002"}), // An's new number: An
    };
    const auto results = e.ingest_batch(batch);
    REQUIRE(results.size() == 4);
    CHECK(results[2].contact_created);
    CHECK(results[2].contact != results[0].contact);
    CHECK_FALSE(results[3].contact_created);
    CHECK(results[3].contact == results[0].contact);
    CHECK(e.contacts().size() == 2);
    CHECK(e.find_contact({"zalo", "c"})->has_identity({"web", "a"}));
}

TEST_CASE("a batch of many contacts with phones finds each one's match without walking the batch",
          "[engine][merge]") {
    auto e = memory_engine();
    std::vector<event> batch;
    for (int i = 0; i < 3000; ++i) {
        batch.push_back(
            event::profile_of({"web", std::to_string(i)}, {.phone = "0912" + std::to_string(100000 + i)}));
    }
    // The same people again on Zalo, in the same batch: each joins its web contact.
    for (int i = 0; i < 3000; ++i) {
        batch.push_back(
            event::profile_of({"zalo", std::to_string(i)}, {.phone = "0912" + std::to_string(100000 + i)}));
    }
    const auto results = e.ingest_batch(batch);
    CHECK(e.contacts().size() == 3000);
    for (int i = 0; i < 3000; ++i) {
        CHECK_FALSE(results[3000 + static_cast<std::size_t>(i)].contact_created);
        CHECK(results[3000 + static_cast<std::size_t>(i)].contact ==
              results[static_cast<std::size_t>(i)].contact);
    }
}

TEST_CASE("a button press before the first message does not swallow the first-message greeting", "[engine]") {
    auto e = memory_engine();
    const identity who{"messenger", "42"};
    e.ingest(event::postback_of(who, "GET_STARTED").at_time(local("2026-01-05T10:00")));
    auto r = e.ingest(event::message(who, "Xin chào").at_time(local("2026-01-05T10:01")));
    CHECK(r.rules_fired == std::vector<std::string>{"welcome"});
    CHECK(e.find_contact(who)->activity.conversations == 1);
}

TEST_CASE("numbers in form data and rule values keep the way people write them", "[engine]") {
    engine e(make_memory_store());
    e.load_definitions(
        R"json({"schema": 1, "fields": [{"name": "note", "type": "text"}, {"name": "score", "type": "number"}],
      "rules": [{"name": "r", "when": "track", "then": [{"set_field": {"field": "score", "value": 2.5}}]}]})json");
    auto ev = event_from_json(
        R"({"kind": "profile_updated", "identity": "web:1", "profile": {"fields": {"note": "x"}}, "data": {"n": 1.5}})");
    CHECK(ev.data.at("n") == "1.5");
    e.ingest(ev);
    e.ingest(event::track_of({"web", "1"}, "rated"));
    CHECK(e.find_contact({"web", "1"})->fields.at("score").data == value{2.5});
}

TEST_CASE("templates see boolean fields as booleans", "[engine]") {
    engine e(make_memory_store());
    e.load_definitions(R"json({"schema": 1, "fields": [{"name": "vip", "type": "bool"}],
      "rules": [{"name": "r", "when": "message_received", "then": [{"send": "Hi{{#vip}} VIP{{/vip}}!"}]}]})json");
    e.ingest(event::profile_of({"web", "1"}, {.fields = {{"vip", "false"}}}));
    e.ingest(event::message({"web", "1"}, "a"));
    e.ingest(event::profile_of({"web", "1"}, {.fields = {{"vip", "có"}}}));
    e.ingest(event::message({"web", "1"}, "b"));
    const auto rows = e.outbox();
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].text == "Hi!");
    CHECK(rows[1].text == "Hi VIP!");
}

TEST_CASE("a batch handed over by move is processed exactly like one that is copied", "[engine]") {
    auto copied = memory_engine();
    auto moved = memory_engine();
    std::vector<event> batch{event::message({"zalo", "1"}, "Chào shop").with_key("m-1"),
                             event::message({"zalo", "2"}, "Hi").with_key("m-2"),
                             event::message({"zalo", "1"}, "Chào shop").with_key("m-1")};
    const auto expected = copied.ingest_batch(batch);
    const auto preview = moved.dry_run(std::vector<event>(batch));
    const auto got = moved.ingest_batch(std::move(batch));
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].contact == expected[i].contact);
        CHECK(got[i].duplicate == expected[i].duplicate);
        CHECK(got[i].rules_fired == expected[i].rules_fired);
        CHECK(got[i].messages == expected[i].messages);
    }
    CHECK(got[2].duplicate);
    CHECK(preview.size() == moved.outbox().size());
}
