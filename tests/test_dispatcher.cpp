#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include <deque>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

time_point at(const char* local) {
    return parse_time(std::string(local) + "+07:00");
}

// An adapter whose answers the test scripts; it remembers what it was asked to send.
class scripted_channel final : public channel {
public:
    explicit scripted_channel(std::string name) : name_(std::move(name)) {}
    std::string_view name() const noexcept override { return name_; }
    const channel_capabilities& capabilities() const noexcept override { return caps_; }
    std::string_view default_policy() const noexcept override { return ""; }
    send_result send(const outbound_message& m, const contact& to) override {
        calls.push_back({m.id, m.text, to.id});
        if (!script.empty()) {
            auto r = script.front();
            script.pop_front();
            return r;
        }
        return send_result::ok("ext-" + std::to_string(m.id));
    }

    struct call {
        std::int64_t message;
        std::string text;
        contact_id to;
    };
    std::vector<call> calls;
    std::deque<send_result> script;

private:
    std::string name_;
    channel_capabilities caps_;
};

constexpr const char* definitions_json = R"j({"schema": 1, "tags": ["Đã nhận", "Lỗi gửi", "Bị chặn"],
  "channels": {"messenger": {"policy": "messenger"}},
  "rules": [
    {"name": "welcome", "when": "first_message", "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}]},
    {"name": "delivered", "when": "message_delivered", "then": [{"add_tag": "Đã nhận"}]},
    {"name": "failed", "when": "message_failed", "filter": {"cause": "rule:"}, "then": [{"add_tag": "Lỗi gửi"}]},
    {"name": "blocked", "when": "message_blocked", "then": [{"add_tag": "Bị chặn"}]}
  ]})j";

struct harness {
    time_point clock = at("2026-01-05T10:00");
    engine e{make_memory_store(), engine_options{.clock = [this] { return clock; }}};
    std::vector<duration> waits;
    dispatch_options options;
    std::shared_ptr<scripted_channel> zalo = std::make_shared<scripted_channel>("zalo");
    std::shared_ptr<scripted_channel> messenger = std::make_shared<scripted_channel>("messenger");

    harness() {
        e.load_definitions(definitions_json);
        options.wait = [this](duration d) { waits.push_back(d); };
        options.jitter_seed = 7;
    }
    void attach(dispatcher& d) {
        d.add_channel(zalo);
        d.add_channel(messenger);
    }
    outbound_message only_message() {
        const auto all = e.outbox();
        REQUIRE(all.size() == 1);
        return all.front();
    }
};

} // namespace

TEST_CASE("the dispatcher sends due messages once and records the platform id", "[dispatcher]") {
    harness h;
    h.e.ingest(event::message({"zalo", "1001"}, "Xin chào").at_time(h.clock));
    dispatcher d(h.e, h.options);
    h.attach(d);
    const auto report = d.dispatch_due();
    CHECK(report.sent == 1);
    REQUIRE(h.zalo->calls.size() == 1);
    CHECK(h.zalo->calls[0].text == "Chào bạn, Shop rất vui được hỗ trợ bạn!");
    const auto m = h.only_message();
    CHECK(m.status == message_status::sent);
    CHECK(m.external_id == "ext-1");
    CHECK(m.attempts == 1);
    CHECK(m.sent_at == h.clock);
    // Nothing is due any more: a second pass calls no adapter.
    CHECK(d.dispatch_due().total() == 0);
    CHECK(h.zalo->calls.size() == 1);
    CHECK_FALSE(d.next_due());
}

TEST_CASE("temporary failures back off with seeded jitter and end in the dead letters", "[dispatcher]") {
    harness h;
    h.options.max_attempts = 3;
    h.options.base_backoff = 30s;
    for (int i = 0; i < 3; ++i) {
        h.zalo->script.push_back(send_result::fail(send_result::outcome::retry, "-32", "rate limited"));
    }
    h.e.ingest(event::message({"zalo", "1001"}, "Xin chào").at_time(h.clock));
    dispatcher d(h.e, h.options);
    h.attach(d);
    CHECK(d.dispatch_due().retried == 1);
    auto m = h.only_message();
    CHECK(m.status == message_status::pending);
    CHECK(m.attempts == 1);
    CHECK(m.last_error == "-32: rate limited");
    const auto first_wait = retry_delay(h.options, m.key, 1);
    CHECK(first_wait >= 30s);
    CHECK(first_wait <= 45s);
    REQUIRE(m.next_attempt);
    CHECK(*m.next_attempt == h.clock + first_wait);
    CHECK(d.next_due() == m.next_attempt);

    // Not due yet: nothing happens.
    CHECK(d.dispatch_due(h.clock + 1s).total() == 0);
    h.clock = *m.next_attempt;
    CHECK(d.dispatch_due().retried == 1);
    m = h.only_message();
    CHECK(*m.next_attempt - h.clock >= 60s); // doubled
    h.clock = *m.next_attempt;
    CHECK(d.dispatch_due().dead_lettered == 1);
    m = h.only_message();
    CHECK(m.status == message_status::dead_letter);
    CHECK_THAT(m.last_error, Catch::Contains("gave up after 3 attempts"));
    CHECK(h.zalo->calls.size() == 3);
    CHECK(h.e.find_contact({"zalo", "1001"})->has_tag("Lỗi gửi"));
}

TEST_CASE("retry delays are the same for the same seed and differ between messages", "[dispatcher]") {
    dispatch_options o;
    o.jitter_seed = 42;
    CHECK(retry_delay(o, "k:a/x/0", 2) == retry_delay(o, "k:a/x/0", 2));
    CHECK(retry_delay(o, "k:a/x/0", 2) != retry_delay(o, "k:b/x/0", 2));
    o.max_backoff = 5min;
    CHECK(retry_delay(o, "k", 30) <= 5min + 150s);
}

TEST_CASE("a platform's retry_after is waited out", "[dispatcher]") {
    harness h;
    auto r = send_result::fail(send_result::outcome::retry, "429", "Too Many Requests: retry after 300");
    r.retry_after = 300s;
    h.zalo->script.push_back(r);
    h.e.ingest(event::message({"zalo", "1001"}, "Xin chào").at_time(h.clock));
    dispatcher d(h.e, h.options);
    h.attach(d);
    d.dispatch_due();
    CHECK(*h.only_message().next_attempt == h.clock + 300s);
}

TEST_CASE("permanent failures and platform refusals are recorded without retry", "[dispatcher]") {
    harness h;
    h.zalo->script.push_back(
        send_result::fail(send_result::outcome::blocked, "-230", "User has not interacted"));
    h.e.ingest(event::message({"zalo", "1001"}, "Xin chào").at_time(h.clock));
    dispatcher d(h.e, h.options);
    h.attach(d);
    CHECK(d.dispatch_due().blocked == 1);
    const auto m = h.only_message();
    CHECK(m.status == message_status::blocked);
    CHECK(m.policy_rule == "platform:-230");
    CHECK(h.e.find_contact({"zalo", "1001"})->has_tag("Bị chặn"));
    h.clock += 1h;
    CHECK(d.dispatch_due().total() == 0);
}

TEST_CASE("the policy is checked again at dispatch and blocks without an adapter call", "[dispatcher]") {
    harness h;
    h.e.ingest(event::message({"messenger", "2001"}, "Xin chào").at_time(h.clock));
    REQUIRE(h.only_message().status == message_status::pending); // inside the 24-hour window
    h.clock += 25h;                                              // the dispatcher was down for a day
    dispatcher d(h.e, h.options);
    h.attach(d);
    CHECK(d.dispatch_due().blocked == 1);
    CHECK(h.messenger->calls.empty());
    const auto m = h.only_message();
    CHECK(m.status == message_status::blocked);
    CHECK(m.policy_rule == "messenger.window_24h");
    CHECK_THAT(m.reason, Catch::Contains("24 hours"));
}

TEST_CASE("a channel without an adapter is recorded as failed", "[dispatcher]") {
    harness h;
    h.e.ingest(event::message({"telegram", "55"}, "hi").at_time(h.clock));
    dispatcher d(h.e, h.options);
    CHECK(d.dispatch_due().unroutable == 1);
    CHECK(h.only_message().status == message_status::failed);
    CHECK_THAT(h.only_message().last_error,
               Catch::Contains("no channel adapter configured for \"telegram\""));
}

TEST_CASE("adapter exceptions count as temporary failures", "[dispatcher]") {
    struct throwing final : channel {
        std::string_view name() const noexcept override { return "zalo"; }
        const channel_capabilities& capabilities() const noexcept override { return caps; }
        std::string_view default_policy() const noexcept override { return ""; }
        send_result send(const outbound_message&, const contact&) override {
            throw std::runtime_error("socket gone");
        }
        channel_capabilities caps;
    };
    harness h;
    h.e.ingest(event::message({"zalo", "1001"}, "Xin chào").at_time(h.clock));
    dispatcher d(h.e, h.options);
    d.add_channel(std::make_shared<throwing>());
    CHECK(d.dispatch_due().retried == 1);
    CHECK_THAT(h.only_message().last_error, Catch::Contains("socket gone"));
}

TEST_CASE("receipts move a message forward and raise rules once", "[dispatcher]") {
    harness h;
    h.e.ingest(event::message({"zalo", "1001"}, "Xin chào").at_time(h.clock));
    dispatcher d(h.e, h.options);
    h.attach(d);
    d.dispatch_due();
    const identity who{"zalo", "1001"};
    h.e.ingest(event::receipt_of(who, "ext-1", delivery_status::read)
                   .with_key("zalo:seen:1")
                   .at_time(h.clock + 2min));
    auto m = h.only_message();
    CHECK(m.status == message_status::read);
    CHECK(m.read_at == h.clock + 2min);
    // A late "delivered" does not move it back, but still records when it was delivered.
    h.e.ingest(event::receipt_of(who, "ext-1", delivery_status::delivered)
                   .with_key("zalo:recv:1")
                   .at_time(h.clock + 3min));
    m = h.only_message();
    CHECK(m.status == message_status::read);
    CHECK(m.delivered_at == h.clock + 3min);
    CHECK(h.e.find_contact(who)->has_tag("Đã nhận"));
    // A receipt for a message another tool sent is accepted and changes nothing.
    const auto before = h.e.export_json();
    const auto r =
        h.e.ingest(event::receipt_of(who, "not-ours", delivery_status::read).at_time(h.clock + 4min));
    CHECK(r.event_id == 0);
    CHECK(h.e.export_json() == before);
}

TEST_CASE("delivery updates for unknown messages are refused with the field named", "[dispatcher]") {
    harness h;
    try {
        h.e.ingest(event::delivery_of(99, delivery_status::sent));
        FAIL("accepted");
    } catch (const event_error& e) {
        CHECK(e.field() == "message_id");
    }
    try {
        event bad;
        bad.kind = event_kind::delivery_update;
        bad.message_id = 1;
        h.e.ingest(bad);
        FAIL("accepted");
    } catch (const event_error& e) {
        CHECK(e.field() == "delivery");
    }
}

TEST_CASE("recording an attempt's result twice is harmless", "[dispatcher]") {
    harness h;
    h.e.ingest(event::message({"zalo", "1001"}, "Xin chào").at_time(h.clock));
    auto e = event::delivery_of(1, delivery_status::sent).with_key("dispatch:1/a1").at_time(h.clock);
    e.external_id = "mid.1";
    h.e.ingest(e);
    const auto once = h.e.export_json();
    CHECK(h.e.ingest(e).duplicate);
    CHECK(h.e.export_json() == once);
}

TEST_CASE("channel rate limits space out sends", "[dispatcher]") {
    harness h;
    h.e.load_definitions(R"j({"schema": 1,
        "policies": {"slow": {"rate_per_second": 2, "rules": []}},
        "channels": {"zalo": {"policy": "slow"}},
        "rules": [{"name": "hi", "when": "message_received", "then": [{"send": "ok"}]}]})j");
    for (int i = 0; i < 3; ++i) {
        h.e.ingest(event::message({"zalo", std::to_string(i)}, "x").at_time(h.clock));
    }
    dispatcher d(h.e, h.options);
    h.attach(d);
    CHECK(d.dispatch_due().sent == 3);
    // The first goes at once; each later one is due half a second after the one before. The
    // test's wait does not sleep, so the second waits ~0.5 s and the third ~1 s from now.
    REQUIRE(h.waits.size() == 2);
    CHECK(h.waits[0] > 0ms);
    CHECK(h.waits[0] <= 500ms);
    CHECK(h.waits[1] > 500ms);
    CHECK(h.waits[1] <= 1000ms);
}

TEST_CASE("replaying the log with delivery updates gives the same export", "[dispatcher]") {
    harness h;
    h.zalo->script.push_back(send_result::fail(send_result::outcome::retry, "-32", "busy"));
    h.e.ingest(event::message({"zalo", "1001"}, "Xin chào").at_time(h.clock));
    dispatcher d(h.e, h.options);
    h.attach(d);
    d.dispatch_due();
    h.clock += 2h;
    d.dispatch_due();
    h.e.ingest(event::receipt_of({"zalo", "1001"}, "ext-1", delivery_status::delivered).at_time(h.clock));

    engine replay(make_memory_store(), engine_options{.clock = [&] { return h.clock; }});
    replay.load_definitions(definitions_json);
    for (const auto& ev : h.e.input_events()) {
        replay.ingest(ev);
    }
    CHECK(replay.export_json() == h.e.export_json());
}

TEST_CASE("sends to one recipient keep the profile's per-recipient interval", "[dispatcher]") {
    harness h;
    h.e.load_definitions(R"j({"schema": 1,
        "policies": {"paired": {"per_recipient_interval": "2s", "rules": []}},
        "channels": {"zalo": {"policy": "paired"}},
        "rules": [{"name": "hi", "when": "message_received", "then": [{"send": "một"}, {"send": "hai"}]}]})j");
    h.e.ingest(event::message({"zalo", "1"}, "x").at_time(h.clock));
    h.e.ingest(event::message({"zalo", "2"}, "x").at_time(h.clock));
    dispatcher d(h.e, h.options);
    h.attach(d);
    CHECK(d.dispatch_due().sent == 4);
    // zalo:1 gets two (the second waits ~2 s), then zalo:2's first goes at once, its second waits.
    REQUIRE(h.waits.size() == 2);
    for (auto w : h.waits) {
        CHECK(w > 1s);
        CHECK(w <= 2s);
    }
}
