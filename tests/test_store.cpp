#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include <sqlite3.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

const time_point t0 = std::chrono::sys_days{std::chrono::year{2026} / 1 / 5} + 3h;

// A unique SQLite file under the temp directory, removed with its -wal and -shm files.
struct temp_file {
    std::filesystem::path path;
    temp_file() {
        static std::atomic<int> counter{0};
        static const auto salt = std::random_device{}();
        path = std::filesystem::temp_directory_path() /
               ("tagflow_store_" + std::to_string(::getpid()) + "_" + std::to_string(salt) + "_" +
                std::to_string(counter++) + ".db");
        remove_all();
    }
    ~temp_file() { remove_all(); }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    void remove_all() const {
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            std::filesystem::remove(path.string() + suffix, ec);
        }
    }
};

// One store under test, either kind, seen only through tagflow::store.
struct backend {
    std::string kind;
    std::unique_ptr<temp_file> file;
    std::unique_ptr<store> db;

    explicit backend(std::string k) : kind(std::move(k)) {
        if (kind == "sqlite") {
            file = std::make_unique<temp_file>();
            db = open_sqlite_store(file->path.string());
        } else {
            db = make_memory_store();
        }
    }
    store& operator*() const { return *db; }
    store* operator->() const { return db.get(); }
};

contact rich_contact() {
    contact c;
    c.id = 1;
    c.identities = {{"messenger", "3001"}, {"zalo", "1001"}};
    c.profile.name = "Nguyễn Thị Lan";
    c.profile.phone = "+84912345678";
    c.profile.email = "lan.nguyen@example.vn";
    c.profile.time_zone = "Asia/Ho_Chi_Minh";
    c.profile.locale = "vi-VN";
    c.profile.customer_id = "KH-0001";
    c.stage = lifecycle::customer;
    c.fields["size"] = field_value{field_type::text, std::string("M")};
    c.fields["age"] = field_value{field_type::number, 31.0};
    c.fields["ratio"] = field_value{field_type::number, 0.125};
    c.fields["budget"] = field_value{field_type::number, 1250000.5};
    c.fields["debt"] = field_value{field_type::number, -42.0};
    c.fields["subscribed"] = field_value{field_type::boolean, true};
    c.fields["blocked"] = field_value{field_type::boolean, false};
    c.fields["birthday"] = field_value{field_type::date, std::string("1995-03-08")};
    c.fields["work_phone"] = field_value{field_type::phone, std::string("+84281234567")};
    c.fields["work_email"] = field_value{field_type::email, std::string("lan@shop.vn")};
    c.fields["ghi_chu"] = field_value{field_type::text, std::string("Giao hàng giờ hành chính \"gấp\"\n")};
    c.fields["unset"] = field_value{field_type::text, std::monostate{}};
    c.tags["Khách mới"] = t0;
    c.tags["Khách VIP"] = t0 + 2h + 345ms;
    c.tags["Đã mua Áo A"] = t0 + 1h;
    c.notes.push_back(note{"staff:lan", t0 + 5min, "Khách hẹn thứ Bảy ghé shop."});
    c.notes.push_back(note{"rule:vip", t0 + 2h + 1ms, "Đạt VIP 🎉"});
    c.activity.first_seen = t0;
    c.activity.last_inbound = t0 + 90min;
    c.activity.last_order = std::nullopt;
    c.activity.conversations = 3;
    c.activity.orders = 2;
    c.activity.total_spent = 1899000.5;
    c.activity.returning = true;
    c.activity.last_channel = "zalo";
    c.activity.last_product = "Áo A";
    c.fired_rules = {"welcome", "vip"};
    return c;
}

contact plain_contact(contact_id id, identity who) {
    contact c;
    c.id = id;
    c.identities = {std::move(who)};
    return c;
}

event_record input_event(std::int64_t id, contact_id who, std::string key) {
    event_record r;
    r.id = id;
    r.contact = who;
    r.kind = "message_received";
    r.key = std::move(key);
    r.at = t0 + std::chrono::minutes{id};
    r.body = R"({"kind":"message_received","identity":"zalo:1001","text":"Xin chào"})";
    r.origin = "input";
    r.outcome = R"({"event_id":)" + std::to_string(id) + "}";
    r.definitions_version = 1;
    return r;
}

event_record derived_event(std::int64_t id, contact_id who, std::int64_t cause) {
    event_record r;
    r.id = id;
    r.contact = who;
    r.kind = "tag_added";
    r.at = t0 + std::chrono::minutes{id} + 1ms;
    r.body = R"({"tag":"Khách VIP"})";
    r.cause = cause;
    r.origin = "rule:vip";
    r.definitions_version = 1;
    return r;
}

outbound_message outbox_row(std::int64_t id, contact_id who, std::string key) {
    outbound_message m;
    m.id = id;
    m.key = std::move(key);
    m.contact = who;
    m.to = {"zalo", "1001"};
    m.text = "Chào Lan, cảm ơn bạn đã mua Áo A!";
    m.purpose = "transactional";
    m.created_at = t0 + std::chrono::seconds{id};
    m.cause_event = id;
    m.cause = "rule:thanks";
    m.status = message_status::pending;
    return m;
}

void check_same(const std::optional<definitions_record>& got, const definitions_record& want) {
    REQUIRE(got);
    CHECK(got->version == want.version);
    CHECK(got->source == want.source);
    CHECK(got->loaded_at == want.loaded_at);
}

// A store holding contact 1 (rich), contact 2 (plain), three events, two messages and
// definitions version 1.
struct seeded {
    contact lan = rich_contact();
    contact minh = plain_contact(2, {"web", "visitor:77"});
    std::vector<event_record> events{input_event(1, 1, "zalo:msg:1"), derived_event(2, 1, 1),
                                     input_event(3, 2, "web:msg:1")};
    std::vector<outbound_message> messages{outbox_row(1, 1, "out:1"), outbox_row(2, 2, "out:2")};
    definitions_record defs{1, R"({"schema":1,"tags":["Khách VIP"]})", t0 - 1h};

    explicit seeded(store& s) {
        messages[1].status = message_status::sent;
        messages[1].purpose = "reply";
        messages[1].to = {"web", "visitor:77"};
        minh.profile.name = "Minh";
        change_set cs;
        cs.contacts = {lan, minh};
        cs.events = events;
        cs.messages = messages;
        cs.definitions = defs;
        REQUIRE_FALSE(cs.empty());
        s.apply(cs);
    }

    // Everything the seed wrote reads back exactly.
    void check(store& s) const {
        CHECK(s.load_contact(1) == lan);
        CHECK(s.load_contact(2) == minh);
        CHECK(s.contact_ids() == std::vector<contact_id>{1, 2});
        CHECK(s.events(0, 100) == events);
        CHECK(s.messages(0, 100) == messages);
        check_same(s.latest_definitions(), defs);
        CHECK(s.find_outcome("zalo:msg:1") == events[0].outcome);
        CHECK(s.find_outcome("web:msg:1") == events[2].outcome);
        const auto c = s.counters();
        CHECK(c.last_contact == 2);
        CHECK(c.last_event == 3);
        CHECK(c.last_message == 2);
        CHECK(s.find_by_identity({"zalo", "1001"}) == 1);
        CHECK(s.find_by_identity({"messenger", "3001"}) == 1);
        CHECK(s.find_by_identity({"web", "visitor:77"}) == 2);
        CHECK(s.find_by_phone("+84912345678") == 1);
        CHECK(s.find_by_email("lan.nguyen@example.vn") == 1);
        CHECK(s.find_by_customer_id("KH-0001") == 1);
    }
};

// Applies a change set that must be refused, checking it throws a store_failure.
void check_refused(store& s, const change_set& cs) {
    try {
        s.apply(cs);
        FAIL("the change set was written");
    } catch (const error& e) {
        CHECK(e.code() == errc::store_failure);
    }
}

} // namespace

TEST_CASE("an empty store has nothing and zero counters", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    const auto c = s->counters();
    CHECK(c.last_contact == 0);
    CHECK(c.last_event == 0);
    CHECK(c.last_message == 0);
    CHECK(s->contact_ids().empty());
    CHECK_FALSE(s->load_contact(1));
    CHECK(s->events(0, 10).empty());
    CHECK(s->messages(0, 10).empty());
    CHECK_FALSE(s->latest_definitions());
    CHECK_FALSE(s->find_definitions(1));
    CHECK_FALSE(s->find_outcome("k"));
    CHECK_FALSE(s->find_by_identity({"zalo", "1001"}));
    CHECK_FALSE(s->find_by_phone("+84912345678"));
    CHECK_FALSE(s->find_by_email("a@b.vn"));
    CHECK_FALSE(s->find_by_customer_id("KH-1"));
    change_set nothing;
    CHECK(nothing.empty());
    s->apply(nothing);
    CHECK(s->counters().last_event == 0);
}

TEST_CASE("a change set is written whole and reads back equal", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    const seeded seed(*s);
    seed.check(*s);

    // Details that equality alone could hide.
    const auto lan = s->load_contact(1);
    REQUIRE(lan);
    CHECK(std::get<double>(lan->fields.at("ratio").data) == 0.125);
    CHECK(std::get<double>(lan->fields.at("budget").data) == 1250000.5);
    CHECK(std::get<bool>(lan->fields.at("blocked").data) == false);
    CHECK(lan->fields.at("birthday").type == field_type::date);
    CHECK(std::holds_alternative<std::monostate>(lan->fields.at("unset").data));
    CHECK(lan->tags.at("Khách VIP") == t0 + 2h + 345ms);
    CHECK_FALSE(lan->activity.last_order);
    CHECK(lan->activity.last_inbound == t0 + 90min);
    CHECK(lan->notes.at(1).text == "Đạt VIP 🎉");

    const auto events = s->events(0, 100);
    REQUIRE(events.size() == 3);
    CHECK(events[1].key.empty());
    CHECK(events[1].cause == 1);
    CHECK(events[1].origin == "rule:vip");
    CHECK(events[0].at == t0 + 1min);
    CHECK_FALSE(s->find_outcome(""));
    CHECK_FALSE(s->find_outcome("zalo:msg:2"));

    const auto messages = s->messages(0, 100);
    REQUIRE(messages.size() == 2);
    CHECK(messages[1].status == message_status::sent);
    CHECK(messages[1].to == identity{"web", "visitor:77"});
}

TEST_CASE("a change set handed over reads back the same as one lent", "[store]") {
    backend lent(GENERATE(as<std::string>{}, "memory", "sqlite"));
    backend given(lent.kind);
    INFO(lent.kind);
    const seeded seed(*lent);
    change_set cs;
    cs.contacts = {seed.lan, seed.minh};
    cs.events = seed.events;
    cs.messages = seed.messages;
    cs.definitions = seed.defs;
    given->apply(std::move(cs));
    seed.check(*given);

    // A refused change set handed over writes nothing either.
    change_set clash;
    clash.contacts = {plain_contact(3, {"zalo", "3003"})};
    clash.events = {input_event(4, 3, "zalo:msg:9")};
    clash.messages = {outbox_row(3, 3, "out:1")}; // out:1 is stored already
    CHECK_THROWS_AS(given->apply(std::move(clash)), error);
    seed.check(*given);
    CHECK_FALSE(given->load_contact(3));
}

TEST_CASE("a contact written again replaces the stored one whole", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    const seeded seed(*s);

    auto lan = seed.lan;
    lan.identities.push_back({"web", "lan-browser"});
    lan.profile.phone = "+84987654321";
    lan.profile.email = "lan@new.vn";
    lan.profile.customer_id = "KH-0002";
    lan.fields.erase("size");
    lan.fields["age"] = field_value{field_type::number, 32.0};
    lan.tags.erase("Khách mới");
    lan.tags["Khách cũ"] = t0 + 24h;
    lan.notes.push_back(note{"staff:minh", t0 + 25h, "Đổi số điện thoại"});
    lan.activity.last_order = t0 + 24h;
    lan.activity.orders = 3;
    lan.activity.returning = false;
    lan.fired_rules.insert("second order");
    change_set cs;
    cs.contacts = {lan};
    s->apply(cs);

    CHECK(s->load_contact(1) == lan);
    CHECK(s->load_contact(2) == seed.minh);
    CHECK(s->find_by_identity({"web", "lan-browser"}) == 1);
    CHECK(s->find_by_identity({"zalo", "1001"}) == 1);
    CHECK(s->find_by_phone("+84987654321") == 1);
    CHECK_FALSE(s->find_by_phone("+84912345678"));
    CHECK(s->find_by_email("lan@new.vn") == 1);
    CHECK_FALSE(s->find_by_email("lan.nguyen@example.vn"));
    CHECK(s->find_by_customer_id("KH-0002") == 1);
    CHECK_FALSE(s->find_by_customer_id("KH-0001"));

    // With the hints that identities and tags are as stored, the rest is still written.
    auto again = lan;
    again.profile.name = "Lan Nguyễn";
    again.fields["size"] = field_value{field_type::text, std::string("L")};
    change_set hinted;
    hinted.contacts = {again};
    hinted.same_identities = {1};
    hinted.same_tags = {1};
    s->apply(hinted);
    CHECK(s->load_contact(1) == again);
    CHECK(s->find_by_identity({"web", "lan-browser"}) == 1);
    CHECK(s->counters().last_contact == 2);
}

TEST_CASE("contacts are found by identity, phone, e-mail and customer id", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    // Contacts 3 and 5 share a phone and an e-mail; the lowest id wins.
    auto a = plain_contact(5, {"zalo", "5"});
    a.profile.phone = "+84900000001";
    a.profile.email = "shared@example.vn";
    a.profile.customer_id = "KH-5";
    auto b = plain_contact(3, {"messenger", "3"});
    b.identities.push_back({"zalo", "3"});
    b.profile.phone = "+84900000001";
    b.profile.email = "shared@example.vn";
    auto c = plain_contact(4, {"web", "4"});
    c.profile.phone = "+84900000004";
    change_set cs;
    cs.contacts = {a, b, c};
    s->apply(cs);

    CHECK(s->find_by_identity({"zalo", "5"}) == 5);
    CHECK(s->find_by_identity({"messenger", "3"}) == 3);
    CHECK(s->find_by_identity({"zalo", "3"}) == 3);
    CHECK(s->find_by_identity({"web", "4"}) == 4);
    CHECK_FALSE(s->find_by_identity({"zalo", "4"}));
    CHECK_FALSE(s->find_by_identity({"messenger", "5"}));
    CHECK_FALSE(s->find_by_identity({"Zalo", "5"}));
    CHECK(s->find_by_phone("+84900000001") == 3);
    CHECK(s->find_by_phone("+84900000004") == 4);
    CHECK_FALSE(s->find_by_phone("+84900000009"));
    CHECK(s->find_by_email("shared@example.vn") == 3);
    CHECK_FALSE(s->find_by_email("other@example.vn"));
    CHECK(s->find_by_customer_id("KH-5") == 5);
    CHECK_FALSE(s->find_by_customer_id("KH-3"));
    // Unknown attributes are stored as "" but never match.
    CHECK_FALSE(s->find_by_email(""));
    CHECK_FALSE(s->find_by_phone(""));
    CHECK_FALSE(s->find_by_customer_id(""));
    CHECK(s->contact_ids() == std::vector<contact_id>{3, 4, 5});
    CHECK(s->counters().last_contact == 5);

    // When contact 3 changes its phone, contact 5 is the one with the shared number.
    b.profile.phone = "+84900000003";
    change_set moved;
    moved.contacts = {b};
    s->apply(moved);
    CHECK(s->find_by_phone("+84900000001") == 5);
    CHECK(s->find_by_phone("+84900000003") == 3);
    CHECK(s->find_by_email("shared@example.vn") == 3);
}

TEST_CASE("a removed contact is gone and its identities can move to the survivor", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    auto survivor = plain_contact(1, {"zalo", "1001"});
    survivor.tags["Khách mới"] = t0;
    auto loser = plain_contact(2, {"messenger", "3001"});
    loser.identities.push_back({"web", "visitor:9"});
    loser.profile.phone = "+84912345678";
    loser.profile.email = "lan@example.vn";
    loser.profile.customer_id = "KH-9";
    loser.tags["Khách VIP"] = t0;
    auto other = plain_contact(3, {"zalo", "3003"});
    {
        change_set cs;
        cs.contacts = {survivor, loser, other};
        s->apply(cs);
    }
    REQUIRE(s->find_by_identity({"messenger", "3001"}) == 2);

    // The merge: contact 2 goes, the survivor takes its messenger identity (not the web one),
    // its phone and its tag, in one change set.
    survivor.identities = {{"messenger", "3001"}, {"zalo", "1001"}};
    survivor.profile.phone = loser.profile.phone;
    survivor.tags["Khách VIP"] = t0;
    change_set merge;
    merge.removed_contacts = {2};
    merge.contacts = {survivor};
    merge.events = {derived_event(1, 1, 0)};
    s->apply(merge);

    CHECK_FALSE(s->load_contact(2));
    CHECK(s->load_contact(1) == survivor);
    CHECK(s->load_contact(3) == other);
    CHECK(s->contact_ids() == std::vector<contact_id>{1, 3});
    CHECK(s->find_by_identity({"messenger", "3001"}) == 1);
    CHECK(s->find_by_identity({"zalo", "1001"}) == 1);
    CHECK_FALSE(s->find_by_identity({"web", "visitor:9"}));
    CHECK(s->find_by_phone("+84912345678") == 1);
    CHECK_FALSE(s->find_by_email("lan@example.vn"));
    CHECK_FALSE(s->find_by_customer_id("KH-9"));
    // Ids are never reused: the removed contact still counts.
    CHECK(s->counters().last_contact == 3);
    CHECK(s->events(0, 10).size() == 1);

    // Removing an unknown contact is harmless.
    change_set again;
    again.removed_contacts = {2, 99};
    s->apply(again);
    CHECK(s->contact_ids() == std::vector<contact_id>{1, 3});

    // The freed identity can go to a new contact later.
    change_set later;
    later.contacts = {plain_contact(4, {"web", "visitor:9"})};
    s->apply(later);
    CHECK(s->find_by_identity({"web", "visitor:9"}) == 4);
}

TEST_CASE("a change set with a duplicate key writes nothing", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    const seeded seed(*s);

    // Everything a change set can carry, plus exactly one clash.
    auto lan = seed.lan;
    lan.tags["Khách cũ"] = t0 + 48h;
    lan.identities.push_back({"web", "lan-2"});
    lan.profile.phone = "+84999999999";
    auto newcomer = plain_contact(3, {"zalo", "3003"});
    newcomer.profile.email = "new@example.vn";
    auto full = [&] {
        change_set cs;
        cs.removed_contacts = {2};
        cs.contacts = {lan, newcomer};
        cs.events = {input_event(4, 3, "zalo:msg:9"), derived_event(5, 3, 4)};
        cs.messages = {outbox_row(3, 3, "out:3")};
        cs.definitions = definitions_record{2, R"({"schema":1})", t0 + 48h};
        return cs;
    };

    SECTION("an outbox key already stored") {
        auto cs = full();
        cs.messages.push_back(outbox_row(4, 3, "out:1"));
        check_refused(*s, cs);
    }
    SECTION("an outbox key twice in the change set") {
        auto cs = full();
        cs.messages.push_back(outbox_row(4, 3, "out:3"));
        check_refused(*s, cs);
    }
    SECTION("an input event key already stored") {
        auto cs = full();
        cs.events.push_back(input_event(6, 3, "zalo:msg:1"));
        check_refused(*s, cs);
    }
    SECTION("an input event key twice in the change set") {
        auto cs = full();
        cs.events.push_back(input_event(6, 3, "zalo:msg:9"));
        check_refused(*s, cs);
    }
    SECTION("a definitions version already stored") {
        auto cs = full();
        cs.definitions = definitions_record{1, R"({"schema":1,"tags":["other"]})", t0 + 48h};
        check_refused(*s, cs);
    }

    // Nothing of the refused change set was written.
    seed.check(*s);
    CHECK_FALSE(s->load_contact(3));
    CHECK_FALSE(s->find_by_identity({"zalo", "3003"}));
    CHECK_FALSE(s->find_by_identity({"web", "lan-2"}));
    CHECK_FALSE(s->find_by_phone("+84999999999"));
    CHECK_FALSE(s->find_by_email("new@example.vn"));
    CHECK_FALSE(s->find_outcome("zalo:msg:9"));
    CHECK_FALSE(s->find_definitions(2));
    CHECK(s->events(3, 100).empty());
    CHECK(s->messages(2, 100).empty());

    // The store is still usable: the change set without the clash goes through.
    s->apply(full());
    CHECK(s->load_contact(1) == lan);
    CHECK_FALSE(s->load_contact(2));
    CHECK(s->load_contact(3) == newcomer);
    CHECK(s->find_outcome("zalo:msg:9") == input_event(4, 3, "zalo:msg:9").outcome);
    CHECK(s->latest_definitions()->version == 2);
    const auto c = s->counters();
    CHECK(c.last_contact == 3);
    CHECK(c.last_event == 5);
    CHECK(c.last_message == 3);
}

TEST_CASE("derived events without a key never clash", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    change_set cs;
    cs.events = {derived_event(1, 1, 0), derived_event(2, 1, 0)};
    s->apply(cs);
    change_set more;
    more.events = {derived_event(3, 1, 0)};
    s->apply(more);
    CHECK(s->events(0, 10).size() == 3);
    CHECK(s->counters().last_event == 3);
}

TEST_CASE("events and messages are read in pages after an id", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    // Ids 2, 4, ..., 20 over several change sets.
    for (int batch = 0; batch < 5; ++batch) {
        change_set cs;
        for (int i = 0; i < 2; ++i) {
            const std::int64_t id = (batch * 2 + i + 1) * 2;
            cs.events.push_back(id % 4 == 0 ? input_event(id, 1, "k" + std::to_string(id))
                                            : derived_event(id, 1, 0));
            cs.messages.push_back(outbox_row(id, 1, "out:" + std::to_string(id)));
        }
        s->apply(cs);
    }
    auto ids = [](const auto& rows) {
        std::vector<std::int64_t> out;
        for (const auto& r : rows) {
            out.push_back(r.id);
        }
        return out;
    };
    using v = std::vector<std::int64_t>;
    CHECK(ids(s->events(0, 3)) == v{2, 4, 6});
    CHECK(ids(s->events(6, 3)) == v{8, 10, 12});
    CHECK(ids(s->events(7, 2)) == v{8, 10});
    CHECK(ids(s->events(18, 3)) == v{20});
    CHECK(s->events(20, 3).empty());
    CHECK(s->events(1000, 3).empty());
    CHECK(s->events(0, 0).empty());
    CHECK(ids(s->events(-5, 1)) == v{2});
    CHECK(ids(s->events(0, 100)) == v{2, 4, 6, 8, 10, 12, 14, 16, 18, 20});
    CHECK(ids(s->messages(0, 4)) == v{2, 4, 6, 8});
    CHECK(ids(s->messages(8, 4)) == v{10, 12, 14, 16});
    CHECK(ids(s->messages(16, 4)) == v{18, 20});
    CHECK(ids(s->messages(19, 100)) == v{20});
    CHECK(s->messages(20, 4).empty());
    CHECK(s->messages(0, 0).empty());

    // Walking page by page visits every row once.
    std::vector<event_record> all;
    std::int64_t after = 0;
    for (;;) {
        auto page = s->events(after, 3);
        if (page.empty()) {
            break;
        }
        after = page.back().id;
        all.insert(all.end(), page.begin(), page.end());
    }
    CHECK(all == s->events(0, 100));
    CHECK(s->counters().last_event == 20);
    CHECK(s->counters().last_message == 20);
}

TEST_CASE("definitions versions are kept and found", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    const definitions_record v1{1, R"({"schema":1,"tags":["Khách mới"]})", t0};
    const definitions_record v2{2, R"({"schema":1,"tags":["Khách mới","Khách VIP"]})", t0 + 1h + 5ms};
    const definitions_record v3{3, R"({"schema":1})", t0 + 2h};
    change_set first;
    first.definitions = v1;
    CHECK_FALSE(first.empty());
    s->apply(first);
    check_same(s->latest_definitions(), v1);
    change_set second;
    second.definitions = v2;
    s->apply(second);
    change_set third;
    third.definitions = v3;
    s->apply(third);

    check_same(s->latest_definitions(), v3);
    check_same(s->find_definitions(1), v1);
    check_same(s->find_definitions(2), v2);
    check_same(s->find_definitions(3), v3);
    CHECK_FALSE(s->find_definitions(0));
    CHECK_FALSE(s->find_definitions(4));
    // Definitions are not contacts, events or messages.
    CHECK(s->counters().last_event == 0);
    CHECK(s->contact_ids().empty());
}

TEST_CASE("a SQLite store keeps everything across closing and reopening", "[store]") {
    temp_file file;
    std::optional<seeded> seed;
    {
        auto s = open_sqlite_store(file.path.string());
        seed.emplace(*s);
        change_set more;
        more.removed_contacts = {2};
        more.definitions = definitions_record{2, R"({"schema":1,"tags":[]})", t0 + 3h};
        s->apply(more);
    }
    CHECK(std::filesystem::exists(file.path));
    {
        auto s =
            open_sqlite_store(file.path.string(), sqlite_options{sqlite_options::durability::normal, 1000});
        CHECK(s->load_contact(1) == seed->lan);
        CHECK_FALSE(s->load_contact(2));
        CHECK(s->contact_ids() == std::vector<contact_id>{1});
        CHECK(s->events(0, 100) == seed->events);
        CHECK(s->messages(0, 100) == seed->messages);
        check_same(s->find_definitions(1), seed->defs);
        REQUIRE(s->latest_definitions());
        CHECK(s->latest_definitions()->version == 2);
        CHECK(s->find_outcome("zalo:msg:1") == seed->events[0].outcome);
        CHECK(s->find_by_identity({"messenger", "3001"}) == 1);
        CHECK_FALSE(s->find_by_identity({"web", "visitor:77"}));
        CHECK(s->find_by_phone("+84912345678") == 1);
        const auto c = s->counters();
        CHECK(c.last_contact == 2);
        CHECK(c.last_event == 3);
        CHECK(c.last_message == 2);

        // Keys stay unique across sessions.
        change_set clash;
        clash.contacts = {plain_contact(5, {"zalo", "5"})};
        clash.messages = {outbox_row(3, 5, "out:1")};
        check_refused(*s, clash);
        CHECK_FALSE(s->load_contact(5));

        change_set next;
        next.contacts = {plain_contact(5, {"zalo", "5"})};
        next.events = {input_event(4, 5, "zalo:msg:5")};
        s->apply(next);
    }
    {
        auto s = open_sqlite_store(file.path.string());
        CHECK(s->contact_ids() == std::vector<contact_id>{1, 5});
        CHECK(s->counters().last_event == 4);
        CHECK(s->counters().last_contact == 5);
    }
}

TEST_CASE("a SQLite store file is in write-ahead logging mode", "[store]") {
    temp_file file;
    auto s = open_sqlite_store(file.path.string());
    seeded seed(*s);

    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(file.path.string().c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::string mode = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    // Readers on another connection see committed data while the store stays open.
    REQUIRE(sqlite3_prepare_v2(raw, "SELECT count(*) FROM events", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const auto events = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);

    CHECK(mode == "wal");
    CHECK(events == 3);
    CHECK(std::filesystem::exists(file.path.string() + "-wal"));
}

TEST_CASE("a SQLite store can live in memory", "[store]") {
    auto s = open_sqlite_store(":memory:");
    const seeded seed(*s);
    seed.check(*s);
}

TEST_CASE("a SQLite store may read its file through a memory map", "[store]") {
    temp_file file;
    {
        auto s = open_sqlite_store(file.path.string(), sqlite_options{.mmap_bytes = 64 << 20});
        const seeded seed(*s);
        seed.check(*s);
    }
    auto again = open_sqlite_store(file.path.string(), sqlite_options{.mmap_bytes = 64 << 20});
    CHECK(again->load_contact(1));
    try {
        (void)open_sqlite_store(file.path.string(), sqlite_options{.mmap_bytes = -1});
        FAIL("a negative map size was accepted");
    } catch (const error& e) {
        CHECK(e.code() == errc::invalid_argument);
        CHECK_THAT(e.what(), Catch::Contains("mmap_bytes"));
    }
}

TEST_CASE("contacts and segment members are read in pages after an id", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    change_set cs;
    for (contact_id id = 1; id <= 6; ++id) {
        auto c = plain_contact(id, {"zalo", std::to_string(id)});
        if (id % 2 == 0) {
            c.segments["vip"] = t0 + std::chrono::minutes(id);
        }
        if (id == 5) {
            c.segments["churn"] = t0;
        }
        cs.contacts.push_back(c);
    }
    s->apply(cs);
    auto ids = [](const std::vector<contact>& rows) {
        std::vector<contact_id> out;
        for (const auto& c : rows) {
            out.push_back(c.id);
        }
        return out;
    };
    using v = std::vector<contact_id>;
    CHECK(ids(s->load_contacts(0, 4)) == v{1, 2, 3, 4});
    CHECK(ids(s->load_contacts(4, 4)) == v{5, 6});
    CHECK(s->load_contacts(6, 4).empty());
    CHECK(s->load_contacts(0, 100).at(1) == s->load_contact(2).value());
    CHECK(s->segment_members("vip", 0, 2) == v{2, 4});
    CHECK(s->segment_members("vip", 4, 2) == v{6});
    CHECK(s->segment_members("vip", 6, 2).empty());
    CHECK(s->segment_members("churn", 0, 10) == v{5});
    CHECK(s->segment_members("nobody", 0, 10).empty());

    // Leaving a segment and being merged away both end membership.
    change_set later;
    auto four = s->load_contact(4).value();
    four.segments.clear();
    later.contacts.push_back(four);
    later.removed_contacts.push_back(6);
    later.same_identities.insert(4);
    later.same_tags.insert(4);
    s->apply(later);
    CHECK(s->segment_members("vip", 0, 10) == v{2});
    CHECK(ids(s->load_contacts(3, 10)) == v{4, 5});

    // The hint says membership is as stored: a store may skip rewriting it.
    change_set same;
    auto two = s->load_contact(2).value();
    two.profile.name = "Lan";
    same.contacts.push_back(two);
    same.same_segments.insert(2);
    s->apply(same);
    CHECK(s->segment_members("vip", 0, 10) == v{2});
}

TEST_CASE("a store unit commits its reads and writes together or not at all", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    change_set one;
    one.contacts.push_back(plain_contact(1, {"zalo", "1"}));
    one.events.push_back(input_event(1, 1, "k1"));
    change_set two;
    two.contacts.push_back(plain_contact(2, {"zalo", "2"}));
    two.events.push_back(input_event(2, 2, "k2"));

    s->begin_unit(true);
    s->apply(one);
    CHECK(s->load_contact(1)); // a unit reads its own writes
    s->commit_unit();
    CHECK(s->find_outcome("k1"));

    if (s.kind == "sqlite") {
        s->begin_unit(true);
        s->apply(two);
        CHECK(s->load_contact(2));
        s->abandon_unit();
        CHECK_FALSE(s->load_contact(2));
        CHECK_FALSE(s->find_outcome("k2"));

        // A refused change set inside a unit writes nothing, and the unit goes on.
        s->begin_unit(true);
        change_set clash;
        clash.contacts.push_back(plain_contact(3, {"zalo", "3"}));
        clash.events.push_back(input_event(3, 3, "k1"));
        check_refused(*s, clash);
        CHECK_FALSE(s->load_contact(3));
        s->apply(two);
        s->commit_unit();
        CHECK(s->load_contact(2));
        CHECK_FALSE(s->load_contact(3));

        s->begin_unit(false);
        CHECK_THROWS_AS(s->begin_unit(false), error); // units do not nest
        s->abandon_unit();
        CHECK_THROWS_AS(s->commit_unit(), error);
    }
    s->abandon_unit(); // none open: nothing happens
    CHECK(s->contact_ids() ==
          (s.kind == "sqlite" ? std::vector<contact_id>{1, 2} : std::vector<contact_id>{1}));
}

TEST_CASE("a file from schema version 4 gets segment membership rows from its contact documents", "[store]") {
    temp_file file;
    {
        auto s = open_sqlite_store(file.path.string());
        change_set cs;
        auto c = plain_contact(1, {"zalo", "1"});
        c.segments["vip"] = t0 + 1500ms;
        cs.contacts.push_back(c);
        cs.contacts.push_back(plain_contact(2, {"zalo", "2"}));
        s->apply(cs);
    }
    // Turn the file back into schema version 4, as an older tagflow left it.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DROP TABLE contact_segments; PRAGMA user_version=4", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    sqlite3_close(db);

    auto s = open_sqlite_store(file.path.string());
    CHECK(s->segment_members("vip", 0, 10) == std::vector<contact_id>{1});
    CHECK(s->load_contact(1)->segments.at("vip") == t0 + 1500ms);
    s.reset();
    REQUIRE(sqlite3_open(file.path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT entered_at FROM contact_segments", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int64(st, 0) == (t0 + 1500ms).time_since_epoch().count());
    sqlite3_finalize(st);
    // Migration 6 dropped the indexes no query used.
    REQUIRE(sqlite3_prepare_v2(
                db, "SELECT count(*) FROM sqlite_master WHERE name IN ('events_contact', 'outbox_status')",
                -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int64(st, 0) == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST_CASE("outbox rows are read by key prefix, in key order, a page at a time", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    change_set cs;
    const std::vector<std::string> keys{"k:broadcast:sale/2/broadcast/0",
                                        "e:5/thanks/0",
                                        "k:broadcast:sale/10/broadcast/0",
                                        "k:broadcast:sale2/1/broadcast/0",
                                        "k:broadcast:sale/",
                                        "k:broadcast:sal",
                                        "a\xff\xff",
                                        "a\xff\xffz",
                                        "b"};
    std::int64_t id = 0;
    for (const auto& k : keys) {
        cs.messages.push_back(outbox_row(++id, 1, k));
    }
    s->apply(cs);
    auto keys_of = [](const std::vector<outbound_message>& rows) {
        std::vector<std::string> out;
        for (const auto& m : rows) {
            out.push_back(m.key);
        }
        return out;
    };
    using v = std::vector<std::string>;
    const std::string sale = "k:broadcast:sale/";
    CHECK(keys_of(s->messages_with_key_prefix(sale, "", 10)) ==
          v{"k:broadcast:sale/", "k:broadcast:sale/10/broadcast/0", "k:broadcast:sale/2/broadcast/0"});
    // Paging after the last key seen.
    const auto first = s->messages_with_key_prefix(sale, "", 2);
    REQUIRE(first.size() == 2);
    CHECK(keys_of(s->messages_with_key_prefix(sale, first.back().key, 2)) ==
          v{"k:broadcast:sale/2/broadcast/0"});
    CHECK(s->messages_with_key_prefix(sale, "k:broadcast:sale/2/broadcast/0", 2).empty());
    CHECK(s->messages_with_key_prefix("nothing", "", 10).empty());
    // A prefix ending in 0xFF bytes has no "next" prefix: the range runs to the end.
    CHECK(keys_of(s->messages_with_key_prefix("a\xff\xff", "", 10)) == v{"a\xff\xff", "a\xff\xffz"});
    // The empty prefix is every row, in key order.
    CHECK(s->messages_with_key_prefix("", "", 100).size() == keys.size());
    CHECK(s->messages_with_key_prefix("", "", 100).front().key == "a\xff\xff");
    CHECK(s->messages_with_key_prefix(sale, "", 10).front().cause == "rule:thanks"); // whole rows
}

TEST_CASE("timers come back by due time, and removals, re-adds and merges apply in order", "[store]") {
    backend s(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(s.kind);
    {
        change_set cs;
        cs.contacts.push_back(plain_contact(1, {"zalo", "1"}));
        cs.contacts.push_back(plain_contact(2, {"zalo", "2"}));
        cs.contacts.push_back(plain_contact(3, {"zalo", "3"}));
        // More timers than one multi-row statement holds, added out of due order; ties on the
        // due time go by id.
        for (std::int64_t id = 1; id <= 70; ++id) {
            cs.timers.push_back(
                timer_record{id, t0 + std::chrono::minutes{(id * 37) % 50}, 1 + id % 3, "sequence:x"});
        }
        s->apply(cs);
    }
    auto all = s->due_timers(time_point::max(), 1000);
    REQUIRE(all.size() == 70);
    CHECK(std::is_sorted(all.begin(), all.end(), [](const timer_record& a, const timer_record& b) {
        return std::pair(a.due, a.id) < std::pair(b.due, b.id);
    }));
    CHECK(s->due_timers(t0 + 10min, 5).size() == 5);
    CHECK(s->counters().last_timer == 70);

    {
        // A fired timer put off again keeps its id: it is removed and added in one change set.
        change_set cs;
        for (std::int64_t id = 1; id <= 40; ++id) {
            cs.removed_timers.push_back(id);
        }
        cs.timers.push_back(timer_record{7, t0 + 24h, 2, "sequence:x"});
        // Contact 3 merges into contact 2: its timers wake contact 2 from now on.
        cs.removed_contacts.push_back(3);
        cs.moved_timers.emplace_back(3, 2);
        s->apply(cs);
    }
    all = s->due_timers(time_point::max(), 1000);
    REQUIRE(all.size() == 31);
    CHECK(all.back() == timer_record{7, t0 + 24h, 2, "sequence:x"});
    CHECK(std::none_of(all.begin(), all.end(), [](const timer_record& t) { return t.contact == 3; }));
    // Left: timers 41 to 70 and 7. Those of contact 1 (ids divisible by 3) stay; contact 2's and
    // contact 3's now all belong to contact 2.
    const auto of = [&all](contact_id who) {
        return std::count_if(all.begin(), all.end(),
                             [who](const timer_record& t) { return t.contact == who; });
    };
    CHECK(of(1) == 10);
    CHECK(of(2) == 21);
    CHECK(s->counters().last_timer == 70); // ids of fired timers are never handed out again
}

TEST_CASE("a merge finds the timers it moves through an index, not a scan of every timer", "[store]") {
    temp_file file;
    open_sqlite_store(file.path.string()).reset(); // creates the file at the current schema
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    // The statement the store runs for change_set::moved_timers.
    REQUIRE(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN UPDATE timers SET contact_id = ? WHERE contact_id = ?",
                               -1, &st, nullptr) == SQLITE_OK);
    std::string plan;
    while (sqlite3_step(st) == SQLITE_ROW) {
        plan += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
        plan += '\n';
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK_THAT(plan, Catch::Contains("USING INDEX timers_contact"));
}
