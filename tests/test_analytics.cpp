#include <catch2/catch.hpp>

#include <tagflow/analytics.hpp>
#include <tagflow/tagflow.hpp>

#include <boost/json.hpp>

#include <deque>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

time_point at(const char* local) {
    return parse_time(std::string(local) + "+07:00");
}

// Accepts everything and names each message "ext-<outbox id>", so receipts can find it.
class accepting_channel final : public channel {
public:
    explicit accepting_channel(std::string name) : name_(std::move(name)) {}
    std::string_view name() const noexcept override { return name_; }
    const channel_capabilities& capabilities() const noexcept override { return caps_; }
    std::string_view default_policy() const noexcept override { return ""; }
    send_result send(const outbound_message& m, const contact&) override {
        if (!refuse.empty() && refuse.front() == m.id) {
            refuse.pop_front();
            return send_result::fail(send_result::outcome::failed, "-201", "user blocked the account");
        }
        return send_result::ok("ext-" + std::to_string(m.id));
    }
    std::deque<std::int64_t> refuse; ///< Outbox ids to refuse for good, in order.

private:
    std::string name_;
    channel_capabilities caps_;
};

struct shop {
    time_point clock = at("2026-01-05T10:00");
    engine e{make_memory_store(), engine_options{.clock = [this] { return clock; }}};
    std::shared_ptr<accepting_channel> zalo = std::make_shared<accepting_channel>("zalo");
    dispatch_options options;

    explicit shop(std::string_view definitions) {
        e.load_definitions(definitions);
        options.wait = [](duration) {};
    }
    // Delivers everything due now, as a runtime would at `when`.
    void dispatch_at(time_point when) {
        clock = when;
        dispatcher d(e, options);
        d.add_channel(zalo);
        d.dispatch_due(when);
    }
    void receipt(const identity& who, std::int64_t message, delivery_status s, time_point when) {
        e.ingest(event::receipt_of(who, "ext-" + std::to_string(message), s).at_time(when));
    }
    void order(const identity& who, double total, time_point when) {
        order_info o;
        o.order_id = "o-" + format_time(when);
        o.total = total;
        e.ingest(event::order_of(who, o).at_time(when));
    }
};

const message_stats& message(const analytics_report& r, std::int64_t id) {
    for (const auto& m : r.messages) {
        if (m.id == id) {
            return m;
        }
    }
    FAIL("no message " << id);
    throw std::logic_error("unreachable");
}

constexpr const char* greeting_rules = R"j({"schema": 1,
  "rules": [
    {"name": "welcome", "when": "first_message", "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}]},
    {"name": "welcome_back", "when": "returning_message", "then": [{"send": "Chào mừng bạn quay lại!"}]}
  ]})j";

} // namespace

TEST_CASE("messages count delivery stages from the outbox and receipts", "[analytics]") {
    shop s(greeting_rules);
    const identity a{"zalo", "A"}, b{"zalo", "B"}, c{"zalo", "C"};
    const auto t0 = at("2026-01-05T10:00");
    s.e.ingest(event::message(a, "Xin chào").at_time(t0));
    s.e.ingest(event::message(b, "Xin chào").at_time(t0 + 1min));
    s.e.ingest(event::message(c, "Xin chào").at_time(t0 + 2min));
    s.zalo->refuse.push_back(3);
    s.dispatch_at(t0 + 5min);
    s.receipt(a, 1, delivery_status::delivered, t0 + 6min);
    s.receipt(a, 1, delivery_status::read, t0 + 7min);
    // A read receipt without a delivered one still means it was delivered.
    s.receipt(b, 2, delivery_status::read, t0 + 8min);
    s.receipt(b, 2, delivery_status::clicked, t0 + 9min);

    const auto r = analyze(s.e);
    REQUIRE(r.messages.size() == 3);
    const auto& m1 = message(r, 1);
    CHECK(m1.cause == "rule:welcome");
    CHECK(m1.source == "rule");
    CHECK(m1.sent);
    CHECK(m1.delivered);
    CHECK(m1.read);
    CHECK_FALSE(m1.clicked);
    CHECK(m1.sent_at == t0 + 5min);
    const auto& m2 = message(r, 2);
    CHECK((m2.sent && m2.delivered && m2.read && m2.clicked));
    const auto& m3 = message(r, 3);
    CHECK_FALSE(m3.sent);
    CHECK(m3.status == "failed");
    const auto& total = r.summary.messages;
    CHECK(total.messages == 3);
    CHECK(total.recipients == 3);
    CHECK(total.sent == 2);
    CHECK(total.delivered == 2);
    CHECK(total.read == 2);
    CHECK(total.clicked == 1);
    CHECK(total.failed == 1);
    CHECK(total.pending == 0);
    REQUIRE(r.causes.size() == 1);
    CHECK(r.causes[0].cause == "rule:welcome");
    CHECK(r.causes[0].counts.sent == 2);
}

TEST_CASE("an order converts the last message sent to the contact within 7 days, and only that one",
          "[analytics]") {
    shop s(greeting_rules);
    const identity a{"zalo", "A"}, b{"zalo", "B"}, c{"zalo", "C"}, d{"zalo", "D"};
    const auto t0 = at("2026-01-05T10:00");
    s.e.ingest(event::message(a, "Xin chào").at_time(t0)); // message 1
    s.e.ingest(event::message(b, "Xin chào").at_time(t0)); // message 2
    s.e.ingest(event::message(c, "Xin chào").at_time(t0)); // message 3
    s.e.ingest(event::message(d, "Xin chào").at_time(t0)); // message 4
    s.dispatch_at(t0);
    s.e.ingest(event::message(d, "Alo").at_time(t0 + 1min)); // same conversation: no message
    // A comes back three days later and gets a second message.
    s.e.ingest(event::message(a, "Mình quay lại nè").at_time(t0 + 72h)); // message 5
    s.dispatch_at(t0 + 72h + 1min);

    s.order(a, 250000, t0 + 5 * 24h);       // attributed to message 5, not 1
    s.order(a, 100000, t0 + 5 * 24h + 1h);  // also message 5: one message, two orders
    s.order(b, 90000, t0 + 7 * 24h + 1min); // 7 days and 1 minute after: not attributed
    s.order(c, 120000, t0 + 7 * 24h);       // exactly 7 days: attributed
    s.order(d, 50000, t0 - 1h);             // before anything was sent: not attributed

    const auto r = analyze(s.e);
    CHECK_FALSE(message(r, 1).converted);
    CHECK(message(r, 5).converted);
    CHECK(message(r, 5).orders == 2);
    CHECK(message(r, 5).revenue.at("VND") == 350000);
    CHECK(message(r, 5).cause == "rule:welcome_back");
    CHECK_FALSE(message(r, 2).converted);
    CHECK(message(r, 3).converted);
    CHECK(r.summary.orders == 5);
    CHECK(r.summary.attributed_orders == 3);
    CHECK(r.summary.messages.converted == 2);
    CHECK(r.summary.messages.orders == 3);

    SECTION("a shorter window drops the boundary order") {
        analytics_options o;
        o.conversion_window = 24h;
        const auto short_window = analyze(s.e, o);
        CHECK_FALSE(message(short_window, 3).converted);
        CHECK(short_window.summary.attributed_orders == 0);
    }
}

TEST_CASE("broadcast outcomes: recipients, blocked by reason, deferred, receipts, conversions and cost",
          "[analytics]") {
    shop s(R"j({"schema": 1, "tags": ["Khách VIP"],
      "segments": [{"name": "vip", "if": "tag(\"Khách VIP\")"}],
      "policies": {"shop-zalo": {"channel": "zalo", "currency": "VND", "rules": [
        {"kind": "followers_only", "id": "zalo.promotion_followers_only", "purposes": ["promotional"],
         "reason": "promotions go only to followers"},
        {"kind": "hours", "id": "zalo.promotion_hours", "purposes": ["promotional"], "open": "06:00",
         "close": "22:00", "zone": "Asia/Ho_Chi_Minh", "reason": "promotions only by day"},
        {"kind": "price", "id": "zalo.price", "purposes": ["promotional"], "price": 300}]}},
      "channels": {"zalo": {"policy": "shop-zalo"}}})j");
    const auto t0 = at("2026-03-02T09:00");
    for (int i = 1; i <= 5; ++i) {
        const identity who{"zalo", std::to_string(i)};
        if (i <= 4) {
            s.e.ingest(event::follow(who).at_time(t0));
        }
        s.e.ingest(event::add_tag(who, "Khách VIP").at_time(t0));
    }
    broadcast_spec day;
    day.name = "Tết <sale>, \"30%\"";
    day.segment = "vip";
    day.text = "Giảm 30% cho bạn";
    day.at = at("2026-03-02T10:00");
    s.clock = *day.at;
    send_broadcast(s.e, day);
    s.dispatch_at(at("2026-03-02T10:00"));
    // Receipts: 1 and 2 delivered, 1 read and clicked; 3 and 4 never report back.
    const auto r0 = analyze(s.e);
    REQUIRE(r0.broadcasts.size() == 1);

    // Message ids follow contact order; find them rather than assume.
    std::map<contact_id, std::int64_t> row_of;
    for (const auto& m : r0.messages) {
        row_of[m.contact] = m.id;
    }
    const auto c1 = s.e.find_contact({"zalo", "1"})->id;
    const auto c2 = s.e.find_contact({"zalo", "2"})->id;
    s.receipt({"zalo", "2"}, row_of[c2], delivery_status::delivered, at("2026-03-02T10:02"));
    s.receipt({"zalo", "1"}, row_of[c1], delivery_status::read, at("2026-03-02T10:03"));
    s.receipt({"zalo", "1"}, row_of[c1], delivery_status::clicked, at("2026-03-02T10:04"));
    s.order({"zalo", "1"}, 500000, at("2026-03-03T08:00"));

    // A second one at night: followers are held until 06:00, the non-follower is blocked.
    broadcast_spec night = day;
    night.name = "đêm";
    night.at = at("2026-03-02T22:30");
    s.clock = *night.at;
    send_broadcast(s.e, night);

    const auto r = analyze(s.e);
    REQUIRE(r.broadcasts.size() == 2);
    // Sorted by name: "Tết..." < "đêm" (byte order).
    const auto& b = r.broadcasts[0];
    CHECK(b.name == "Tết <sale>, \"30%\"");
    CHECK(b.counts.recipients == 5);
    CHECK(b.counts.messages == 5);
    CHECK(b.counts.sent == 4);
    CHECK(b.counts.delivered == 2);
    CHECK(b.counts.read == 1);
    CHECK(b.counts.clicked == 1);
    CHECK(b.counts.converted == 1);
    CHECK(b.counts.blocked == 1);
    CHECK(b.counts.blocked_by_reason ==
          std::map<std::string, std::int64_t>{{"zalo.promotion_followers_only", 1}});
    CHECK(b.counts.deferred == 0);
    CHECK(b.counts.cost == std::map<std::string, double>{{"VND", 1200}});
    const auto& n = r.broadcasts[1];
    CHECK(n.name == "đêm");
    CHECK(n.counts.recipients == 5);
    CHECK(n.counts.deferred == 4);
    CHECK(n.counts.blocked == 1);
    CHECK(n.counts.sent == 0);
    CHECK(n.counts.cost.empty());
    for (const auto& m : r.messages) {
        if (m.status == "deferred") {
            CHECK(m.reason == "zalo.promotion_hours");
        }
    }
}

TEST_CASE("sequence steps are counted per step with the step index from the log", "[analytics]") {
    shop s(R"j({"schema": 1, "tags": ["Giỏ hàng"],
      "sequences": [{"name": "Nhắc giỏ hàng", "follows": {"tag": "Giỏ hàng"}, "steps": [
        {"after": "1h", "send": "Bạn còn quên giỏ hàng!"},
        {"after": "1d", "from": "previous", "add_tags": "Giỏ hàng"},
        {"after": "1d", "from": "previous", "send": "Giỏ hàng sắp hết hạn"}]}]})j");
    const auto t0 = at("2026-01-05T10:00");
    for (const char* id : {"1", "2", "3"}) {
        s.e.ingest(event::message({"zalo", id}, "Xin chào").at_time(t0));
        s.e.ingest(event::add_tag({"zalo", id}, "Giỏ hàng").at_time(t0));
    }
    // Contact 3 leaves before the last step.
    s.e.advance_to(t0 + 2h);
    s.dispatch_at(t0 + 2h);
    s.e.ingest(event::remove_tag({"zalo", "3"}, "Giỏ hàng").at_time(t0 + 3h));
    s.e.advance_to(t0 + 3 * 24h);
    s.receipt({"zalo", "1"}, 1, delivery_status::read, t0 + 4h);

    const auto r = analyze(s.e);
    REQUIRE(r.sequence_steps.size() == 2);
    CHECK(r.sequence_steps[0].sequence == "Nhắc giỏ hàng");
    CHECK(r.sequence_steps[0].step == 0);
    CHECK(r.sequence_steps[0].counts.messages == 3);
    CHECK(r.sequence_steps[0].counts.sent == 3);
    CHECK(r.sequence_steps[0].counts.read == 1);
    CHECK(r.sequence_steps[1].step == 2);
    CHECK(r.sequence_steps[1].counts.messages == 2);
    CHECK(r.sequence_steps[1].counts.pending == 2);
    CHECK(r.sequence_steps[1].counts.sent == 0);
    const auto csv = to_csv(r, "sequence_steps");
    CHECK_THAT(csv, Catch::Contains("\r\nNhắc giỏ hàng,1,3,3,3,"));
    CHECK_THAT(csv, Catch::Contains("\r\nNhắc giỏ hàng,3,2,2,0,"));
}

TEST_CASE("flow funnels follow the flow from its start block, with counts from the block counters",
          "[analytics]") {
    shop s(R"j({"schema": 1, "fields": [{"name": "address", "type": "text"}],
      "flows": [{"name": "checkout", "triggers": [{"postback": "CHECKOUT"}], "blocks": [
        {"id": "thanks", "kind": "send", "text": "Cảm ơn bạn!"},
        {"id": "start", "kind": "send", "text": "Bắt đầu thanh toán", "next": "address"},
        {"id": "address", "kind": "ask", "text": "Địa chỉ giao hàng?", "field": "address", "next": "thanks"},
        {"id": "unused", "kind": "end"}],
        "start": "start"}]})j");
    const auto t0 = at("2026-01-05T10:00");
    for (const char* id : {"1", "2", "3"}) {
        s.e.ingest(event::postback_of({"zalo", id}, "CHECKOUT").at_time(t0));
    }
    s.e.ingest(event::message({"zalo", "1"}, "12 Lê Lợi, Quận 1").at_time(t0 + 1min));

    const auto r = analyze(s.e);
    REQUIRE(r.flows.size() == 1);
    const auto& f = r.flows[0];
    CHECK(f.defined);
    REQUIRE(f.blocks.size() == 4);
    CHECK(f.blocks[0].block == "start");
    CHECK(f.blocks[1].block == "address");
    CHECK(f.blocks[2].block == "thanks");
    CHECK(f.blocks[3].block == "unused");
    CHECK(f.blocks[0].position == 1);
    CHECK(f.blocks[1].kind == "ask");
    CHECK(f.blocks[0].entered == 3);
    CHECK(f.blocks[1].entered == 3);
    CHECK(f.blocks[1].waiting == 2);
    CHECK(f.blocks[1].completed == 1);
    CHECK(f.blocks[2].entered == 1);
    CHECK(f.blocks[3].entered == 0);
    const auto text = format_tables(r, {"flow_blocks"});
    CHECK_THAT(text, Catch::Contains(
                         "  checkout         2  address  ask         3        2          1    100.0%\n"));
}

TEST_CASE("new and returning contacts per local day", "[analytics]") {
    shop s(greeting_rules);
    const identity a{"zalo", "A"}, b{"zalo", "B"}, c{"zalo", "C"};
    // A: first conversation late on the 5th (local), continued after midnight (same conversation).
    s.e.ingest(event::message(a, "Xin chào").at_time(at("2026-01-05T23:30")));
    s.e.ingest(event::message(a, "Còn đó không?").at_time(at("2026-01-06T00:30")));
    // 18:00Z is 01:00 on the 6th in Ho Chi Minh City: B is new on the 6th, not the 5th.
    s.e.ingest(event::message(b, "Chào shop").at_time(parse_time("2026-01-05T18:00:00Z")));
    // A comes back twice on the 8th (two conversations, one contact).
    s.e.ingest(event::message(a, "Mình quay lại").at_time(at("2026-01-08T08:00")));
    s.e.ingest(event::message(a, "Lại là mình").at_time(at("2026-01-09T07:59")));
    s.e.ingest(event::message(a, "Lần nữa").at_time(at("2026-01-08T09:00"))); // logged later, earlier time
    // C ordered before writing: the first conversation is already a return.
    order_info o;
    o.total = 100000;
    s.e.ingest(event::order_of(c, o).at_time(at("2026-01-07T09:00")));
    s.e.ingest(event::message(c, "Đơn của mình đâu?").at_time(at("2026-01-08T10:00")));

    const auto r = analyze(s.e);
    REQUIRE(r.daily.size() == 3);
    CHECK(r.daily[0].date == local_date{2026, 1, 5});
    CHECK(r.daily[0].new_contacts == 1);
    CHECK(r.daily[0].returning == 0);
    CHECK(r.daily[1].date == local_date{2026, 1, 6});
    CHECK(r.daily[1].new_contacts == 1);
    CHECK(r.daily[2].date == local_date{2026, 1, 8});
    CHECK(r.daily[2].new_contacts == 0);
    CHECK(r.daily[2].returning == 2);
    // A's message at 07:59 on the 9th is 23h59 after 08:00 on the 8th, so it continues that
    // conversation; the one logged after it with an earlier time is replayed in log order, as the
    // engine processed it, and continues it too.
    CHECK(r.daily[2].conversations == 2);
    // The replay agrees with the engine's own counters.
    CHECK(s.e.find_contact(a)->activity.conversations == 2);
    CHECK(s.e.find_contact(c)->activity.returning);

    analytics_options utc;
    utc.time_zone = "UTC";
    const auto in_utc = analyze(s.e, utc);
    REQUIRE(in_utc.daily.size() == 2);
    CHECK(in_utc.daily[0].date == local_date{2026, 1, 5});
    CHECK(in_utc.daily[0].new_contacts == 2);
    CHECK(to_csv(in_utc, "daily") ==
          "date,new,returning,conversations\r\n2026-01-05,2,0,2\r\n2026-01-08,0,2,2\r\n");
}

TEST_CASE("CSV follows RFC 4180 and keeps UTF-8", "[analytics]") {
    analytics_report r;
    r.time_zone = "Asia/Ho_Chi_Minh";
    broadcast_stats b;
    b.name = "Khuyến mãi \"Tết\", 2026\nđợt 1";
    b.counts.messages = 2;
    b.counts.blocked = 1;
    b.counts.blocked_by_reason["zalo.promotion_followers_only"] = 1;
    b.counts.cost["VND"] = 300;
    r.broadcasts.push_back(b);
    const auto csv = to_csv(r, "broadcasts");
    CHECK(csv.rfind(
              "broadcast,messages,recipients,sent,delivered,read,clicked,converted,orders,pending,deferred,"
              "blocked,failed,cancelled,blocked_by_reason,cost,revenue\r\n",
              0) == 0);
    CHECK_THAT(csv, Catch::Contains("\r\n\"Khuyến mãi \"\"Tết\"\", 2026\nđợt 1\",2,0,0,0,0,0,0,0,0,0,1,0,0,"
                                    "zalo.promotion_followers_only=1,300 VND,\r\n"));
    CHECK_THROWS_AS(to_csv(r, "nope"), tagflow::error);
    for (const auto& name : analytics_table_names()) {
        CHECK_NOTHROW(to_csv(r, name));
    }
}

TEST_CASE("text tables align Vietnamese by code points", "[analytics]") {
    CHECK(display_width("Khách mới") == 9);
    // The same words decomposed (NFD): combining marks take no column.
    CHECK(display_width("Kha\xCC\x81"
                        "ch mo\xCC\x9B\xCC\x81i") == 9);
    CHECK(display_width("abc") == 3);
    CHECK(display_width("\xFF"
                        "a") == 2);

    analytics_report r;
    for (const char* name : {"Khách mới", "vip"}) {
        cause_stats c;
        c.cause = std::string("rule:") + name;
        c.source = "rule";
        c.counts.messages = 12;
        r.causes.push_back(c);
    }
    const auto text = format_tables(r, {"causes"});
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
        lines.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    REQUIRE(lines.size() == 5); // title, header, rule, two rows
    // The "messages" column starts at the same display column in every row.
    auto column_of = [](const std::string& line, std::string_view what) {
        return display_width(std::string_view(line).substr(0, line.find(what)));
    };
    CHECK(column_of(lines[3], " 12 ") == column_of(lines[4], " 12 "));
    CHECK_THAT(format_tables(r, {"broadcasts"}), Catch::Contains("(none)"));
    CHECK_THROWS_AS(format_tables(r, {"bogus"}), tagflow::error);
}

TEST_CASE("the JSON export has one key per table with the documented shape", "[analytics]") {
    shop s(greeting_rules);
    s.e.ingest(event::message({"zalo", "A"}, "Xin chào").at_time(at("2026-01-05T10:00")));
    s.dispatch_at(at("2026-01-05T10:01"));
    const auto doc = boost::json::parse(to_json(analyze(s.e))).as_object();
    for (const char* key : {"schema", "time_zone", "conversion_window_hours", "summary", "messages", "causes",
                            "broadcasts", "sequence_steps", "flows", "daily"}) {
        CHECK(doc.contains(key));
    }
    CHECK(doc.at("schema").as_int64() == 1);
    CHECK(doc.at("conversion_window_hours").as_int64() == 168);
    const auto& m = doc.at("messages").as_array().at(0).as_object();
    CHECK(m.at("id").as_int64() == 1);
    CHECK(m.at("cause").as_string() == "rule:welcome");
    CHECK(m.at("sent").as_bool());
    CHECK(m.at("sent_at").as_string() == "2026-01-05T03:01:00Z");
    CHECK(m.at("converted").as_bool() == false);
    const auto& summary = doc.at("summary").as_object();
    CHECK(summary.at("messages").as_object().at("sent").as_int64() == 1);
    CHECK(summary.at("contacts").as_int64() == 1);
    const auto& day = doc.at("daily").as_array().at(0).as_object();
    CHECK(day.at("date").as_string() == "2026-01-05");
    CHECK(day.at("new").as_int64() == 1);
}

TEST_CASE("analyze refuses an unknown time zone and a negative window", "[analytics]") {
    shop s(greeting_rules);
    analytics_options o;
    o.time_zone = "Mars/Olympus";
    CHECK_THROWS_AS(analyze(s.e, o), tagflow::error);
    o.time_zone = "UTC";
    o.conversion_window = -1h;
    CHECK_THROWS_AS(analyze(s.e, o), tagflow::error);
}

TEST_CASE("the HTML report is self-contained, escaped, and readable with no data", "[analytics]") {
    SECTION("empty") {
        shop s(R"({"schema": 1})");
        const auto html = render_html_report(analyze(s.e));
        CHECK_THAT(html, Catch::StartsWith("<!DOCTYPE html>"));
        CHECK_THAT(html, Catch::Contains("<meta charset=\"utf-8\">"));
        CHECK_THAT(html, Catch::Contains("No sequence has sent a message yet."));
        CHECK_THAT(html, Catch::Contains("No broadcast has been sent yet."));
        CHECK_THAT(html, Catch::Contains("No contact has written yet."));
        CHECK_THAT(html, Catch::Contains("No flows are defined"));
        CHECK_THAT(html, !Catch::Contains("http://") && !Catch::Contains("https://"));
        CHECK_THAT(html, !Catch::Contains("<script"));
    }
    SECTION("with data and hostile names") {
        shop s(R"j({"schema": 1, "tags": ["<b>VIP</b>"],
          "segments": [{"name": "vip", "if": "tag(\"<b>VIP</b>\")"}],
          "flows": [{"name": "<script>alert(1)</script>", "triggers": [{"postback": "GO"}], "blocks": [
            {"id": "a&b", "kind": "send", "text": "https://example.com/x"}]}]})j");
        const auto t0 = at("2026-01-05T10:00");
        s.e.ingest(event::add_tag({"zalo", "1"}, "<b>VIP</b>").at_time(t0));
        s.e.ingest(event::postback_of({"zalo", "1"}, "GO").at_time(t0));
        s.e.ingest(event::message({"zalo", "1"}, "Xin chào").at_time(t0));
        broadcast_spec b;
        b.name = "<img src=x onerror=alert(1)>";
        b.segment = "vip";
        b.text = "Khuyến mãi";
        b.purpose = "transactional";
        s.clock = t0;
        send_broadcast(s.e, b);
        s.dispatch_at(t0 + 1min);
        report_options o;
        o.title = "Báo cáo <Shop>";
        const auto html = render_html_report(analyze(s.e), o);
        CHECK_THAT(html, Catch::Contains("<title>Báo cáo &lt;Shop&gt;</title>"));
        CHECK_THAT(html, Catch::Contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        CHECK_THAT(html, Catch::Contains("&lt;img src=x onerror=alert(1)&gt;"));
        CHECK_THAT(html, Catch::Contains("a&amp;b"));
        CHECK_THAT(html, !Catch::Contains("<script"));
        CHECK_THAT(html, !Catch::Contains("<img"));
        CHECK_THAT(html, !Catch::Contains("http://") && !Catch::Contains("https://"));
        CHECK_THAT(html,
                   !Catch::Contains(" src=\"") && !Catch::Contains("@import") && !Catch::Contains("url("));
        CHECK_THAT(html, Catch::Contains("<svg"));
        CHECK_THAT(html, Catch::Contains("Funnel of flow &lt;script&gt;"));
        CHECK_THAT(html, !Catch::Contains("No broadcast has been sent yet."));
        // Deterministic: the same data renders the same bytes.
        CHECK(render_html_report(analyze(s.e), o) == html);
    }
}

TEST_CASE("flow order puts joined paths after both branches and ignores loops", "[analytics]") {
    shop s(R"j({"schema": 1, "fields": [{"name": "size", "type": "text"}],
      "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "done", "kind": "end"},
        {"id": "check", "kind": "condition", "branches": [{"if": "has(\"size\")", "next": "long"}], "else": "ask"},
        {"id": "ask", "kind": "ask", "text": "Size?", "field": "size", "next": "done", "on_invalid": "check"},
        {"id": "long", "kind": "send", "text": "Cảm ơn", "next": "long2"},
        {"id": "long2", "kind": "send", "text": "Tạm biệt", "next": "done"},
        {"id": "orphan", "kind": "end"}],
        "start": "check"}]})j");
    const auto r = analyze(s.e);
    REQUIRE(r.flows.size() == 1);
    std::vector<std::string> order;
    for (const auto& b : r.flows[0].blocks) {
        order.push_back(b.block);
    }
    CHECK(order == std::vector<std::string>{"check", "ask", "long", "long2", "done", "orphan"});
}
