#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

// Two flows: FAST waits one second of the engine's clock before its follow-up, SLOW an hour.
const char* const runtime_definitions = R"json({
  "schema": 1,
  "flows": [
    {"name": "fast", "triggers": [{"postback": "FAST"}], "blocks": [
      {"id": "hello", "kind": "send", "text": "Chờ một chút nhé", "next": "pause"},
      {"id": "pause", "kind": "wait", "delay": "1s", "next": "later"},
      {"id": "later", "kind": "send", "text": "Một giây sau"}]},
    {"name": "slow", "triggers": [{"postback": "SLOW"}], "blocks": [
      {"id": "pause", "kind": "wait", "delay": "1h", "next": "later"},
      {"id": "later", "kind": "send", "text": "Một giờ sau"}]}
  ]
})json";

// Waits for `condition` without asserting how long it took: the deadline only turns a hang into
// a failure, so it is generous enough for a loaded machine.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

std::size_t sent_count(const engine& e, const std::string& text) {
    const auto all = e.outbox();
    return static_cast<std::size_t>(
        std::count_if(all.begin(), all.end(), [&text](const outbound_message& m) { return m.text == text; }));
}

// A clock the test moves by hand, readable from every thread.
struct manual_clock {
    std::atomic<std::int64_t> ms{parse_time("2026-01-05T10:00:00+07:00").time_since_epoch().count()};
    std::atomic<bool> failing{false};

    [[nodiscard]] time_point now() const {
        if (failing) {
            throw error(errc::store_failure, "clock unavailable");
        }
        return time_point(duration(ms.load()));
    }
    void move(duration by) { ms += by.count(); }
};

engine clocked_engine(manual_clock& clock) {
    engine_options options;
    options.clock = [&clock] { return clock.now(); };
    engine e(make_memory_store(), options);
    e.load_definitions(runtime_definitions);
    return e;
}

} // namespace

TEST_CASE("the runtime sends a delayed flow message in real time while threads ingest", "[runtime]") {
    engine e(make_memory_store());
    e.load_definitions(runtime_definitions);
    runtime rt(e);
    rt.start();

    constexpr int threads = 4;
    constexpr int per_thread = 10;
    std::vector<std::vector<ingest_result>> results(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&rt, &results, t] {
            for (int i = 0; i < per_thread; ++i) {
                const auto id = std::to_string(t) + "-" + std::to_string(i);
                results[t].push_back(rt.ingest(event::postback_of({"zalo", id}, "FAST").with_key("k" + id)));
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }

    // Results come back synchronously, one per event, each event durable on return.
    std::set<std::int64_t> ids;
    for (const auto& per : results) {
        for (const auto& r : per) {
            ids.insert(r.event_id);
            CHECK(r.messages.size() == 1); // the greeting, decided at once
        }
    }
    CHECK(ids.size() == threads * per_thread);
    CHECK(e.input_events().size() == threads * per_thread);

    // The follow-ups are sent by the timer thread about a second later, without anyone calling
    // advance_to.
    REQUIRE(eventually([&] { return sent_count(e, "Một giây sau") == threads * per_thread; }));
    CHECK(eventually([&] { return rt.fired() == threads * per_thread; })); // counted once advance_to returns
    CHECK_FALSE(e.next_timer());
    rt.stop();
}

TEST_CASE("an earlier timer scheduled after a later one wakes the runtime", "[runtime]") {
    engine e(make_memory_store());
    e.load_definitions(runtime_definitions);
    runtime rt(e); // max_sleep 60 s: only a wake can make it notice a timer due sooner
    rt.start();

    rt.ingest(event::postback_of({"zalo", "slow"}, "SLOW"));
    // Give the timer thread the chance to go to sleep on the one-hour timer first.
    REQUIRE(eventually([&] { return e.next_timer().has_value(); }));
    std::this_thread::sleep_for(20ms);

    rt.ingest(event::postback_of({"zalo", "fast"}, "FAST"));
    REQUIRE(eventually([&] { return sent_count(e, "Một giây sau") == 1; }));
    CHECK(eventually([&] { return rt.fired() == 1; })); // counted once advance_to returns
    CHECK(sent_count(e, "Một giờ sau") == 0);
    REQUIRE(e.next_timer());
    CHECK(*e.next_timer() > e.now() + 50min); // the hour timer is still pending
}

TEST_CASE("stop commits every ingest in flight and refuses the rest", "[runtime]") {
    engine e(make_memory_store());
    e.load_definitions(runtime_definitions);
    runtime rt(e);
    rt.start();

    constexpr int threads = 4;
    std::atomic<int> accepted{0};
    std::vector<std::vector<ingest_result>> results(threads);
    std::vector<std::string> refusals(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0;; ++i) {
                const auto key = std::to_string(t) + "-" + std::to_string(i);
                try {
                    results[t].push_back(
                        rt.ingest(event::message({"zalo", "u" + key}, "xin chào").with_key(key)));
                    ++accepted;
                } catch (const error& refused) {
                    refusals[t] = refused.code() == errc::invalid_argument ? refused.what() : "wrong code";
                    return;
                }
            }
        });
    }
    REQUIRE(eventually([&] { return accepted >= 20; }));
    rt.stop();
    // Read the log at once: an ingest still running after stop() returned would show up as a
    // success missing from this snapshot.
    const auto logged = e.input_events();
    for (auto& w : workers) {
        w.join();
    }

    std::set<std::string> keys;
    for (const auto& in : logged) {
        keys.insert(in.key);
    }
    std::size_t successes = 0;
    for (int t = 0; t < threads; ++t) {
        CHECK(refusals[t] == "runtime stopped");
        successes += results[t].size();
        for (std::size_t i = 0; i < results[t].size(); ++i) {
            CHECK(keys.count(std::to_string(t) + "-" + std::to_string(i)) == 1);
        }
    }
    CHECK(successes == logged.size());

    SECTION("ingest after stop throws") {
        const auto hello = event::message({"zalo", "late"}, "hello");
        CHECK_THROWS_WITH(rt.ingest(hello), "runtime stopped");
        CHECK_THROWS_AS(rt.ingest_batch(std::span<const event>(&hello, 1)), error);
        CHECK(e.input_events().size() == logged.size());
    }
    SECTION("stop is idempotent and start after stop throws") {
        rt.stop();
        CHECK_THROWS_AS(rt.start(), error);
    }
}

TEST_CASE("stop fires the timers due at that moment one last time, and wake notices a moved clock",
          "[runtime]") {
    manual_clock clock;
    auto e = clocked_engine(clock);
    runtime rt(e); // sleeps up to 60 s real time: nothing fires unless woken or stopped
    rt.start();

    e.ingest(event::postback_of({"zalo", "a"}, "SLOW")); // through the engine: the runtime does not know
    clock.move(2h);
    rt.wake();
    REQUIRE(eventually([&] { return sent_count(e, "Một giờ sau") == 1; }));
    CHECK(eventually([&] { return rt.fired() == 1; })); // counted once advance_to returns

    rt.ingest(event::postback_of({"zalo", "b"}, "SLOW"));
    clock.move(2h); // due now, but the thread sleeps and nobody wakes it
    rt.stop();
    CHECK(sent_count(e, "Một giờ sau") == 2);
    CHECK(rt.fired() == 2);
    CHECK_FALSE(e.next_timer());
}

TEST_CASE("a failure while firing is reported to on_error and the runtime keeps going", "[runtime]") {
    manual_clock clock;
    auto e = clocked_engine(clock);
    std::atomic<int> errors{0};
    runtime_options options;
    options.on_error = [&errors](const std::exception&) {
        ++errors;
        throw std::runtime_error("a faulty handler must not stop the runtime");
    };
    int failures_to_see = 1;
    SECTION("a short max_sleep is also the retry delay: failures repeat") {
        options.max_sleep = 50ms;
        failures_to_see = 3;
    }
    SECTION("a long max_sleep retries after a second, not after max_sleep") {
        // The default 60 s: recovery within the deadline below needs the one-second retry.
    }
    runtime rt(e, options);
    rt.start();

    rt.ingest(event::postback_of({"zalo", "a"}, "SLOW"));
    clock.failing = true;
    clock.move(2h);
    rt.wake();
    REQUIRE(eventually([&] { return errors >= failures_to_see; }));
    CHECK(sent_count(e, "Một giờ sau") == 0);

    clock.failing = false;
    REQUIRE(eventually([&] { return sent_count(e, "Một giờ sau") == 1; }));
    CHECK(eventually([&] { return rt.fired() == 1; })); // counted once advance_to returns
}

TEST_CASE("the runtime refuses misuse and passes engine errors through synchronously", "[runtime]") {
    engine e(make_memory_store());
    e.load_definitions(runtime_definitions);

    SECTION("max_sleep must be positive") {
        runtime_options options;
        options.max_sleep = 0ms;
        CHECK_THROWS_AS(runtime(e, options), error);
    }
    SECTION("start twice throws") {
        runtime rt(e);
        rt.start();
        try {
            rt.start();
            FAIL("a second start was accepted");
        } catch (const error& twice) {
            CHECK(twice.code() == errc::invalid_argument);
        }
    }
    SECTION("an invalid event throws event_error from ingest and writes nothing") {
        runtime rt(e);
        rt.start();
        CHECK_THROWS_AS(rt.ingest(event::message({"", ""}, "hi")), event_error);
        const std::vector<event> batch{event::message({"zalo", "1"}, "hi"), event::message({"", ""}, "hi")};
        CHECK_THROWS_AS(rt.ingest_batch(batch), event_error);
        CHECK(e.input_events().empty());
    }
    SECTION("ingest before start is allowed and its due timers fire on start") {
        manual_clock clock;
        auto clocked = clocked_engine(clock);
        runtime rt(clocked);
        rt.ingest_batch(std::vector<event>{event::postback_of({"zalo", "1"}, "SLOW")});
        clock.move(2h);
        rt.start();
        REQUIRE(eventually([&] { return rt.fired() == 1; }));
        CHECK(sent_count(clocked, "Một giờ sau") == 1);
    }
    SECTION("stop without start fires nothing and refuses ingest") {
        runtime rt(e);
        rt.stop();
        CHECK_THROWS_WITH(rt.ingest(event::message({"zalo", "1"}, "hi")), "runtime stopped");
        CHECK(rt.fired() == 0);
    }
}

namespace {

// Counts deliveries; fails the first attempt so the runtime must come back for the retry.
class flaky_channel final : public channel {
public:
    std::string_view name() const noexcept override { return "zalo"; }
    const channel_capabilities& capabilities() const noexcept override { return caps_; }
    std::string_view default_policy() const noexcept override { return ""; }
    send_result send(const outbound_message& m, const contact&) override {
        if (calls++ == 0) {
            return send_result::fail(send_result::outcome::retry, "-200", "Send message failed");
        }
        return send_result::ok("zalo-" + std::to_string(m.id));
    }
    std::atomic<int> calls{0};

private:
    channel_capabilities caps_;
};

} // namespace

TEST_CASE("a runtime with a dispatcher delivers messages and their retries live", "[runtime]") {
    engine e(make_memory_store());
    e.load_definitions(runtime_definitions);
    dispatch_options dopts;
    dopts.base_backoff = 50ms;
    dopts.max_backoff = 50ms;
    dispatcher d(e, dopts);
    auto zalo = std::make_shared<flaky_channel>();
    d.add_channel(zalo);
    runtime_options ropts;
    ropts.dispatcher = &d;
    runtime rt(e, ropts);
    rt.start();
    rt.ingest(event::postback_of({"zalo", "1"}, "FAST"));
    // First attempt fails, the retry ~50-75 ms later succeeds; then the 1 s follow-up goes too.
    REQUIRE(eventually([&] {
        const auto all = e.outbox();
        return all.size() == 2 && std::all_of(all.begin(), all.end(), [](const outbound_message& m) {
                   return m.status == message_status::sent;
               });
    }));
    rt.stop();
    CHECK(zalo->calls == 3);
    CHECK(e.outbox().front().attempts == 2);
}
