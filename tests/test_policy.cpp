#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

time_point at(const char* local) {
    return parse_time(std::string(local) + "+07:00");
}

const policy_profile& builtin(const char* name) {
    const auto* p = builtin_policy(name);
    REQUIRE(p != nullptr);
    return *p;
}

// A contact that wrote on the channel at `inbound` and got `replies` messages since.
struct situation {
    channel_state state;
    send_context ctx;

    situation(time_point now, std::optional<time_point> inbound, int replies = 0,
              const char* purpose = "reply") {
        state.last_inbound = inbound;
        state.replies_since_inbound = replies;
        ctx.now = now;
        ctx.purpose = purpose;
        ctx.state = &state;
    }
    policy_decision under(const char* name) const { return evaluate(builtin(name), ctx); }
};

} // namespace

TEST_CASE("zalo-2024 gives eight free replies per inbound message within 48 hours, then bills 55 VND",
          "[policy]") {
    const auto t0 = at("2026-01-05T10:00");
    for (int replies = 0; replies < 8; ++replies) {
        const auto d = situation(t0 + 1h, t0, replies).under("zalo-2024");
        CHECK(d.outcome == policy_decision::verdict::allow);
        CHECK(d.cost == 0);
    }
    const auto ninth = situation(t0 + 1h, t0, 8).under("zalo-2024");
    CHECK(ninth.outcome == policy_decision::verdict::allow);
    CHECK(ninth.cost == 55);
    CHECK(ninth.currency == "VND");
    CHECK(ninth.rule == "zalo.free_replies_48h");

    CHECK(situation(t0 + 49h, t0, 0).under("zalo-2024").cost == 55);
    CHECK(situation(t0 + 7 * 24h - 1s, t0, 0).under("zalo-2024").outcome == policy_decision::verdict::allow);
    CHECK(situation(t0 + 48h, t0, 0).under("zalo-2024").cost == 55); // the free period has ended at 48 h
    const auto late = situation(t0 + 7 * 24h + 1s, t0, 0).under("zalo-2024");
    CHECK(late.outcome == policy_decision::verdict::block);
    CHECK(late.rule == "zalo.window_7d");
    CHECK_THAT(late.reason, Catch::Contains("7 days"));
}

TEST_CASE("zalo-2026 replies are free without a count inside 48 hours and billed up to 7 days", "[policy]") {
    const auto t0 = at("2026-03-02T10:00");
    CHECK(situation(t0 + 47h, t0, 30).under("zalo-2026").cost == 0);
    CHECK(situation(t0 + 49h, t0, 0).under("zalo-2026").cost == 55);
    CHECK(situation(t0 + 7 * 24h + 1s, t0, 0).under("zalo-2026").outcome == policy_decision::verdict::block);
}

TEST_CASE("zalo-2026 promotions go to followers only, by day, once a day", "[policy]") {
    const auto t0 = at("2026-03-02T10:00");
    situation s(at("2026-03-02T22:30"), t0, 0, "promotional");
    const auto stranger = s.under("zalo-2026");
    CHECK(stranger.outcome == policy_decision::verdict::block);
    CHECK(stranger.rule == "zalo.promotion_followers_only");

    s.state.follower = true;
    const auto night = s.under("zalo-2026");
    REQUIRE(night.outcome == policy_decision::verdict::defer);
    CHECK(*night.until == at("2026-03-03T06:00"));
    CHECK(night.rule == "zalo.promotion_hours");

    // One already went at 09:00 today: the next may go 24 hours later.
    s.ctx.now = at("2026-03-02T12:00");
    s.state.sends["promotional"] = {at("2026-03-02T09:00")};
    const auto second = s.under("zalo-2026");
    REQUIRE(second.outcome == policy_decision::verdict::defer);
    CHECK(*second.until == at("2026-03-03T09:00"));
    CHECK(second.rule == "zalo.promotion_daily");
}

TEST_CASE("the combined zalo profile switches pricing on its effective date", "[policy]") {
    const auto before = at("2025-12-31T09:00");
    CHECK(situation(before + 1h, before, 8).under("zalo").cost == 55); // the 9th reply under the old rule
    const auto after = at("2026-01-02T09:00");
    CHECK(situation(after + 1h, after, 8).under("zalo").cost == 0);
}

TEST_CASE("messenger blocks outside 24 hours except human replies up to 7 days", "[policy]") {
    const auto t0 = at("2026-01-05T10:00");
    CHECK(situation(t0 + 23h, t0).under("messenger").outcome == policy_decision::verdict::allow);
    CHECK(situation(t0 + 24h, t0).under("messenger").outcome == policy_decision::verdict::block); // S1's D
    situation late(t0 + 24h + 5min, t0);
    const auto bot = late.under("messenger");
    CHECK(bot.outcome == policy_decision::verdict::block);
    CHECK(bot.rule == "messenger.window_24h");
    CHECK_THAT(bot.reason, Catch::Contains("24 hours"));
    late.ctx.by_human = true;
    CHECK(late.under("messenger").outcome == policy_decision::verdict::allow);
    late.ctx.now = t0 + 7 * 24h + 1s;
    CHECK(late.under("messenger").outcome == policy_decision::verdict::block);
    // Never wrote at all: nothing may be sent.
    CHECK(situation(t0, std::nullopt).under("messenger").outcome == policy_decision::verdict::block);
}

TEST_CASE("messenger refuses retired message tags from 2026-04-27 on", "[policy]") {
    situation before(at("2026-04-26T10:00"), at("2026-04-26T09:00"));
    before.ctx.channel_tag = "POST_PURCHASE_UPDATE";
    CHECK(before.under("messenger").outcome == policy_decision::verdict::allow);
    situation after(at("2026-04-28T10:00"), at("2026-04-28T09:00"));
    after.ctx.channel_tag = "POST_PURCHASE_UPDATE";
    const auto d = after.under("messenger");
    CHECK(d.outcome == policy_decision::verdict::block);
    CHECK(d.rule == "messenger.retired_tags");
    after.ctx.channel_tag = "HUMAN_AGENT";
    CHECK(after.under("messenger").outcome == policy_decision::verdict::allow);
}

TEST_CASE("whatsapp allows only templates outside the 24-hour window", "[policy]") {
    const auto t0 = at("2026-01-05T10:00");
    situation s(t0 + 30h, t0);
    CHECK(s.under("whatsapp").outcome == policy_decision::verdict::block);
    s.ctx.is_template = true;
    CHECK(s.under("whatsapp").outcome == policy_decision::verdict::allow);
}

TEST_CASE("telegram needs the user to have started the bot", "[policy]") {
    CHECK(situation(at("2026-01-05T10:00"), std::nullopt).under("telegram").outcome ==
          policy_decision::verdict::block);
    CHECK(situation(at("2027-01-05T10:00"), at("2026-01-05T10:00")).under("telegram").outcome ==
          policy_decision::verdict::allow);
    CHECK(builtin("telegram").rate_per_second == 30);
}

TEST_CASE("vietnamese advertising sms keeps hours, three a day and the label", "[policy]") {
    situation s(at("2026-01-05T06:30"), std::nullopt, 0, "promotional");
    auto d = s.under("sms-vn-ads");
    REQUIRE(d.outcome == policy_decision::verdict::defer);
    CHECK(*d.until == at("2026-01-05T07:00"));
    CHECK(d.text_prefix == "[QC] ");

    s.ctx.now = at("2026-01-05T12:00");
    s.state.sends["promotional"] = {at("2026-01-05T08:00"), at("2026-01-05T09:00"), at("2026-01-05T10:00")};
    d = s.under("sms-vn-ads");
    REQUIRE(d.outcome == policy_decision::verdict::defer);
    CHECK(*d.until == at("2026-01-06T08:00"));

    // Customer-care SMS are not advertising: no hours, no label.
    situation care(at("2026-01-05T23:30"), std::nullopt, 0, "transactional");
    const auto c = care.under("sms-vn-ads");
    CHECK(c.outcome == policy_decision::verdict::allow);
    CHECK(c.text_prefix.empty());
}

TEST_CASE("email marketing needs the one-click unsubscribe header", "[policy]") {
    CHECK(situation(at("2026-01-05T10:00"), std::nullopt, 0, "promotional").under("email").needs_unsubscribe);
    CHECK_FALSE(
        situation(at("2026-01-05T10:00"), std::nullopt, 0, "transactional").under("email").needs_unsubscribe);
}

TEST_CASE("counting rules are not applied twice at dispatch", "[policy]") {
    situation s(at("2026-01-05T12:00"), std::nullopt, 0, "promotional");
    s.state.sends["promotional"] = {at("2026-01-05T08:00"), at("2026-01-05T09:00"), at("2026-01-05T12:00")};
    s.ctx.at_dispatch = true;
    CHECK(s.under("sms-vn-ads").outcome == policy_decision::verdict::allow);
}

TEST_CASE("policy profiles are data with readable errors", "[policy]") {
    const auto p = parse_policy_profile(R"({"channel": "zalo", "currency": "VND", "rules": [
        {"kind": "window", "id": "w", "within": "3d", "effective_from": "2027-01-01T00:00:00Z"}]})",
                                        "custom");
    CHECK(p.name == "custom");
    REQUIRE(p.rules.size() == 1);
    CHECK(p.rules[0].within == 72h);
    CHECK(situation(at("2026-06-01T10:00"), std::nullopt).ctx.now < *p.rules[0].effective_from);

    auto refused = [](const char* text) {
        try {
            (void)parse_policy_profile(text, "x");
        } catch (const definition_error& e) {
            return e.path();
        }
        return std::string("accepted");
    };
    CHECK(refused(R"({"rules": [{"kind": "teleport"}]})") == "$.rules[0].kind");
    CHECK(refused(R"({"rules": [{"kind": "window"}]})") == "$.rules[0].within");
    CHECK(refused(R"({"rules": [{"kind": "limit", "max": 2}]})") == "$.rules[0].per");
    CHECK(refused(R"({"rules": [{"kind": "hours", "open": "25:00", "close": "06:00"}]})") ==
          "$.rules[0].open");
    CHECK(refused(R"({"rules": [{"kind": "window", "within": "2h", "purposes": ["spam"]}]})") ==
          "$.rules[0].purposes[0]");
    CHECK(refused(R"({"rules": [], "colour": 1})") == "$.colour");
    CHECK(refused(R"({"rules": [{"kind": "window", "within": "2h", "effective_from": "soon"}]})") ==
          "$.rules[0].effective_from");
}

TEST_CASE("every built-in profile loads", "[policy]") {
    const auto names = builtin_policy_names();
    CHECK(names == std::vector<std::string>{"email", "messenger", "sms-vn-ads", "telegram", "whatsapp",
                                            "zalo", "zalo-2024", "zalo-2026"});
    CHECK(builtin_policy("nope") == nullptr);
}

TEST_CASE("definitions choose a policy per channel and refuse unknown ones", "[policy]") {
    const auto defs = definitions::parse(R"({"schema": 1,
        "policies": {"strict-zalo": {"channel": "zalo", "rules": [{"kind": "window", "within": "1h"}]}},
        "channels": {"zalo": {"policy": "strict-zalo"}, "messenger": {"policy": "messenger"},
                     "web": {"policy": "none"}}})");
    REQUIRE(defs.channel_policy("zalo") != nullptr);
    CHECK(defs.channel_policy("zalo")->name == "strict-zalo");
    CHECK(defs.channel_policy("messenger")->name == "messenger");
    CHECK(defs.channel_policy("web") == nullptr);
    CHECK(defs.channel_policy("telegram") == nullptr);
    try {
        (void)definitions::parse(R"({"schema": 1, "channels": {"zalo": {"policy": "zalo-1999"}}})");
        FAIL("accepted an unknown policy");
    } catch (const definition_error& e) {
        CHECK(e.path() == "$.channels.zalo.policy");
        CHECK_THAT(e.what(), Catch::Contains("zalo-2026"));
    }
}

TEST_CASE("a channel's quiet hours hold sequence steps on that channel only", "[policy]") {
    engine e(make_memory_store());
    e.load_definitions(R"j({"schema": 1, "tags": ["Theo dõi"],
      "policies": {"sms-quiet": {"channel": "sms", "rules": [
        {"kind": "hours", "id": "sms.quiet_hours", "open": "08:00", "close": "21:00", "reason": "no SMS at night"}]}},
      "channels": {"sms": {"policy": "sms-quiet"}},
      "sequences": [{"name": "nhắc", "follows": {"tag": "Theo dõi"},
                     "steps": [{"after": "2h", "send": "Nhắc bạn nhé"}]}]})j");
    const auto when = parse_time("2026-01-05T21:00:00+07:00");
    e.ingest(event::add_tag({"sms", "+84912345678"}, "Theo dõi").at_time(when));
    e.ingest(event::add_tag({"zalo", "1"}, "Theo dõi").at_time(when));
    e.advance_to(when + 3h);
    const auto out = e.outbox();
    REQUIRE(out.size() == 2);
    CHECK(out[0].to.channel == "sms");
    CHECK(out[0].status == message_status::deferred);
    CHECK(*out[0].not_before == parse_time("2026-01-06T08:00:00+07:00"));
    CHECK(out[0].policy_rule == "sms.quiet_hours");
    CHECK(out[1].to.channel == "zalo");
    CHECK(out[1].status == message_status::pending); // no policy for zalo here: goes at 23:00
}
