#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include <filesystem>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

time_point at(const char* local) {
    return parse_time(std::string(local) + "+07:00");
}

struct shop {
    time_point clock = at("2026-03-02T20:00");
    engine e;

    explicit shop(std::unique_ptr<store> backing = make_memory_store())
        : e(std::move(backing), engine_options{.clock = [this] { return clock; }}) {
        e.load_definitions(R"j({"schema": 1, "tags": ["Khách VIP"],
          "segments": [{"name": "vip", "if": "tag(\"Khách VIP\")"}],
          "channels": {"zalo": {"policy": "zalo-2026"}}})j");
        for (const char* id : {"1", "2", "3"}) {
            const identity who{"zalo", id};
            if (std::string(id) != "3") {
                e.ingest(event::follow(who).at_time(at("2026-03-02T09:00")));
            }
            e.ingest(event::add_tag(who, "Khách VIP").at_time(at("2026-03-02T09:00")));
        }
    }
    broadcast_spec spec() const {
        broadcast_spec s;
        s.name = "sale";
        s.segment = "vip";
        s.text = "Giảm 30% cho {{name}}";
        s.at = at("2026-03-02T22:30");
        return s;
    }
};

} // namespace

TEST_CASE("a broadcast plan shows every recipient's outcome and writes nothing", "[broadcast]") {
    shop s;
    const auto before = s.e.export_json();
    const auto plan = plan_broadcast(s.e, s.spec());
    CHECK(s.e.export_json() == before);
    REQUIRE(plan.recipients.size() == 3);
    CHECK(plan.by_status == std::map<std::string, std::size_t>{{"blocked", 1}, {"deferred", 2}});
    CHECK(plan.recipients[0].not_before == at("2026-03-03T06:00"));
    CHECK(plan.recipients[2].rule == "zalo.promotion_followers_only");
    CHECK(plan.blocked_by_reason.at("zalo.promotion_followers_only") == 1);
    CHECK(plan.already_decided == 0);
}

TEST_CASE("sending a broadcast is resumable without duplicates", "[broadcast]") {
    shop s;
    // An earlier run decided recipient 1 and then the process died.
    auto first = event{};
    first.kind = event_kind::broadcast;
    first.contact = 1;
    first.key = "broadcast:sale/1";
    first.name = "sale";
    first.text = "Giảm 30% cho {{name}}";
    first.until = at("2026-03-02T22:30");
    s.e.ingest(first);
    CHECK(plan_broadcast(s.e, s.spec()).already_decided == 1);

    const auto done = send_broadcast(s.e, s.spec(), 1);
    CHECK(done.recipients.size() == 3);
    CHECK(s.e.outbox().size() == 3);
    send_broadcast(s.e, s.spec());
    CHECK(s.e.outbox().size() == 3);
    CHECK(broadcast_status(s.e, "sale").by_status.at("deferred") == 2);
}

TEST_CASE("cancelling withdraws only what has not gone out", "[broadcast]") {
    shop s;
    send_broadcast(s.e, s.spec());
    CHECK(cancel_broadcast(s.e, "sale") == 2); // the blocked one was never going out
    const auto st = broadcast_status(s.e, "sale");
    CHECK(st.by_status == std::map<std::string, std::size_t>{{"blocked", 1}, {"cancelled", 2}});
    CHECK(s.e.due_messages(at("2026-03-04T00:00")).empty());
    CHECK(cancel_broadcast(s.e, "sale") == 0);
}

TEST_CASE("broadcast specs are checked", "[broadcast]") {
    shop s;
    auto bad = s.spec();
    bad.segment = "nope";
    CHECK_THROWS_WITH(plan_broadcast(s.e, bad), Catch::Contains("segment \"nope\" is not declared"));
    bad = s.spec();
    bad.audience = "tag(\"Khách VIP\")";
    CHECK_THROWS_WITH(plan_broadcast(s.e, bad), Catch::Contains("exactly one of a segment or an audience"));
    bad = s.spec();
    bad.text.clear();
    CHECK_THROWS_AS(send_broadcast(s.e, bad), error);
    bad = s.spec();
    bad.segment.clear();
    bad.audience = "tag(";
    CHECK_THROWS_AS(plan_broadcast(s.e, bad), syntax_error);
}

TEST_CASE("an audience condition picks recipients without a declared segment", "[broadcast]") {
    shop s;
    auto sp = s.spec();
    sp.segment.clear();
    sp.audience = "tag(\"Khách VIP\") and channel == \"zalo\"";
    sp.purpose = "transactional";
    sp.at.reset();
    const auto plan = plan_broadcast(s.e, sp);
    // Contact 3 never wrote or followed, so it has no last channel: only 1 and 2 match.
    REQUIRE(plan.recipients.size() == 2);
    CHECK(plan.recipients[1].contact == 2);
}

TEST_CASE("a broadcast on SQLite reads its recipients from the segment rows, page by page", "[broadcast]") {
    const auto path = std::filesystem::temp_directory_path() / "tagflow_test_broadcast_pages.db";
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(path.string() + suffix);
    }
    {
        shop s(open_sqlite_store(path.string()));
        CHECK(s.e.segment_members("vip", 0, 2) == std::vector<contact_id>{1, 2});
        CHECK(s.e.segment_members("vip", 2, 2) == std::vector<contact_id>{3});
        CHECK(s.e.segment_members("nope", 0, 2).empty());
        const auto plan = plan_broadcast(s.e, s.spec());
        CHECK(plan.by_status == std::map<std::string, std::size_t>{{"blocked", 1}, {"deferred", 2}});
        const auto sent = send_broadcast(s.e, s.spec(), 2); // two pages: {1, 2} and {3}
        CHECK(sent.by_status == plan.by_status);
        CHECK(sent.recipients.size() == 3);
        CHECK(plan_broadcast(s.e, s.spec()).already_decided == 3);
        // Paged contacts walk every contact once.
        CHECK(s.e.contacts(0, 2).size() == 2);
        CHECK(s.e.contacts(2, 2).front().id == 3);
        CHECK(s.e.contacts(3, 2).empty());
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(path.string() + suffix);
    }
}
