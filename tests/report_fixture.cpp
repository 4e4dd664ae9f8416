// Writes an HTML analytics report from a realistic run, for the headless-browser check
// (tests/report_render_check.sh) and for the screenshot in docs/images/report.png.
//
//   report_fixture --out report.html --db run.db SCENARIO.json   a scenario file, run on SQLite
//   report_fixture --out report.html --db run.db --demo          a fortnight of a simulated shop
//
// The database is recreated each time. Exit code 0 on success, 1 on a failed scenario
// expectation or any error (printed).

#include <tagflow/analytics.hpp>
#include <tagflow/broadcast.hpp>
#include <tagflow/channel.hpp>
#include <tagflow/dispatcher.hpp>
#include <tagflow/engine.hpp>
#include <tagflow/simulator.hpp>
#include <tagflow/sqlite_store.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

// A deterministic generator, so the demo (and its screenshot) is the same every time.
class dice {
public:
    explicit dice(std::uint64_t seed) : state_(seed) {}
    double next() {
        state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<double>(state_ >> 11) / 9007199254740992.0;
    }
    bool chance(double p) { return next() < p; }
    int below(int n) { return static_cast<int>(next() * n); }

private:
    std::uint64_t state_;
};

// Accepts every message (a few are refused for good) and names it "ext-<id>".
class demo_channel final : public channel {
public:
    explicit demo_channel(std::string name) : name_(std::move(name)) {}
    std::string_view name() const noexcept override { return name_; }
    const channel_capabilities& capabilities() const noexcept override { return caps_; }
    std::string_view default_policy() const noexcept override { return ""; }
    send_result send(const outbound_message& m, const contact&) override {
        if (m.id % 29 == 7) {
            return send_result::fail(send_result::outcome::failed, "-201", "the user blocked the account");
        }
        return send_result::ok("ext-" + std::to_string(m.id));
    }

private:
    std::string name_;
    channel_capabilities caps_;
};

constexpr const char* demo_definitions = R"j({
  "schema": 1,
  "tags": ["Chưa chốt", "Khách VIP", "Hoàn tất đơn hàng"],
  "fields": [{"name": "address", "type": "text"}, {"name": "phone", "type": "phone"}],
  "segments": [{"name": "Khách VIP", "if": "tag(\"Khách VIP\")"},
               {"name": "Tất cả", "if": "conversations >= 1"}],
  "policies": {"zalo-shop": {"channel": "zalo", "currency": "VND", "rules": [
    {"kind": "followers_only", "id": "zalo.promotion_followers_only", "purposes": ["promotional"],
     "reason": "Zalo promotional messages go only to followers of the OA"},
    {"kind": "hours", "id": "zalo.promotion_hours", "purposes": ["promotional"], "open": "06:00", "close": "22:00",
     "zone": "Asia/Ho_Chi_Minh", "reason": "promotional messages go out only from 06:00 to 21:59"},
    {"kind": "price", "id": "zalo.zbs_promotion_price", "purposes": ["promotional"], "price": 300}]}},
  "channels": {"zalo": {"policy": "zalo-shop"}},
  "rules": [
    {"name": "welcome", "when": "first_message",
     "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}]},
    {"name": "welcome_back", "when": "returning_message",
     "then": [{"send": "Chào mừng bạn quay lại Shop!"}]},
    {"name": "not_closed", "when": "form_opened", "then": [{"add_tag": "Chưa chốt"}]},
    {"name": "closed", "when": "order_placed", "then": [{"remove_tag": "Chưa chốt"}]},
    {"name": "vip", "when": "order_placed", "if": "orders >= 2", "then": [{"add_tag": "Khách VIP"}]}
  ],
  "flows": [{"name": "checkout", "triggers": [{"postback": "CHECKOUT"}], "blocks": [
    {"id": "check", "kind": "condition", "branches": [{"if": "has(\"address\") and has(\"phone\")", "next": "thanks_known"}],
     "else": "shipping_form"},
    {"id": "thanks_known", "kind": "send", "text": "Cảm ơn bạn! Đơn hàng của bạn đã hoàn tất.", "next": "done"},
    {"id": "shipping_form", "kind": "form", "form": "Thông tin giao hàng",
     "text": "Bạn vui lòng điền thông tin giao hàng nhé.",
     "fields": [{"name": "address", "label": "Địa chỉ"}, {"name": "phone", "label": "Số điện thoại"}],
     "timeout": "1d", "on_timeout": "gave_up", "next": "thank_you"},
    {"id": "thank_you", "kind": "send", "text": "Cảm ơn bạn! Đơn hàng sẽ được giao tới {{address}}.", "next": "done"},
    {"id": "done", "kind": "tag", "add": ["Hoàn tất đơn hàng"]},
    {"id": "gave_up", "kind": "end"}]}],
  "sequences": [{"name": "Nhắc giỏ hàng", "follows": {"tag": "Chưa chốt"},
    "window": {"from": "08:00", "to": "21:00"},
    "steps": [
      {"after": "2h", "send": "Bạn còn quan tâm đơn hàng không ạ?"},
      {"after": "1d", "from": "previous", "send": {"text": "Shop tặng bạn mã giảm 10%: CHOT10", "purpose": "promotional"}},
      {"after": "2d", "from": "previous", "send": {"text": "Mã CHOT10 sắp hết hạn!", "purpose": "promotional"}},
      {"after": "1d", "from": "previous", "remove_tags": "Chưa chốt"}]}]
})j";

time_point local(int day, int hour, int minute) {
    // 2026-01-05 00:00 in Ho Chi Minh City is 2026-01-04T17:00Z.
    return parse_time("2026-01-04T17:00:00Z") + std::chrono::hours(24 * day + hour) +
           std::chrono::minutes(minute);
}

// Fourteen days of a small Zalo shop: arrivals, checkouts, forms, reminders, orders, returns,
// two broadcasts, dispatch and receipts.
void run_demo(const std::string& db) {
    time_point clock = local(0, 0, 0);
    engine e(open_sqlite_store(db), engine_options{.clock = [&clock] { return clock; }});
    e.load_definitions(demo_definitions);
    dispatch_options dopts;
    dopts.wait = [](duration) {};
    dispatcher d(e, dopts);
    d.add_channel(std::make_shared<demo_channel>("zalo"));
    dice roll(2026);

    struct plan {
        time_point at;
        int kind; // 0 message, 1 checkout, 2 form open, 3 form submit, 4 order, 5 follow
        int who;
    };
    std::vector<plan> plans;
    const int people = 70;
    for (int i = 0; i < people; ++i) {
        const int day = roll.below(12);
        const time_point first = local(day, 8 + roll.below(13), roll.below(60));
        plans.push_back({first, 0, i});
        if (roll.chance(0.7)) {
            plans.push_back({first - 1min, 5, i});
        }
        if (roll.chance(0.65)) {
            plans.push_back({first + 5min, 1, i});
            if (roll.chance(0.8)) {
                plans.push_back({first + 7min, 2, i});
                if (roll.chance(0.55)) {
                    plans.push_back({first + 12min, 3, i});
                    plans.push_back({first + 15min, 4, i});
                } else if (roll.chance(0.4)) {
                    plans.push_back({first + std::chrono::hours(26 + roll.below(30)), 4, i});
                }
            }
        }
        if (roll.chance(0.35)) {
            const time_point back = first + std::chrono::hours(30 + roll.below(24 * 6));
            plans.push_back({back, 0, i});
            if (roll.chance(0.5)) {
                plans.push_back({back + std::chrono::hours(2 + roll.below(40)), 4, i});
            }
        }
    }
    std::stable_sort(plans.begin(), plans.end(), [](const plan& a, const plan& b) { return a.at < b.at; });

    std::set<std::int64_t> receipted;
    auto deliver = [&](time_point now) {
        clock = now;
        e.advance_to(now);
        d.dispatch_due(now);
        for (const auto& m : e.outbox()) {
            if (!m.sent_at || !receipted.insert(m.id).second) {
                continue;
            }
            const auto t = *m.sent_at;
            const auto ext = "ext-" + std::to_string(m.id);
            if (roll.chance(0.9)) {
                e.ingest(event::receipt_of(m.to, ext, delivery_status::delivered).at_time(t + 1min));
                if (roll.chance(0.7)) {
                    e.ingest(event::receipt_of(m.to, ext, delivery_status::read).at_time(t + 9min));
                    if (roll.chance(0.25)) {
                        e.ingest(event::receipt_of(m.to, ext, delivery_status::clicked).at_time(t + 12min));
                    }
                }
            }
        }
    };

    const char* greetings[] = {"Xin chào shop", "Shop ơi còn hàng không?", "Cho mình hỏi giá", "Alo shop"};
    bool sale_sent = false, tet_sent = false;
    for (const auto& p : plans) {
        if (!sale_sent && p.at >= local(6, 10, 0)) {
            deliver(local(6, 10, 0));
            broadcast_spec s;
            s.name = "Flash sale 12.12";
            s.segment = "Tất cả";
            s.text = "Flash sale: giảm 30% toàn bộ áo dài hôm nay!";
            s.at = local(6, 10, 0);
            send_broadcast(e, s);
            sale_sent = true;
        }
        if (!tet_sent && p.at >= local(10, 21, 30)) {
            deliver(local(10, 21, 30));
            broadcast_spec s;
            s.name = "Tết 2026 <VIP>";
            s.segment = "Khách VIP";
            s.text = "Quà Tết dành riêng cho khách VIP";
            s.at = local(10, 21, 30);
            send_broadcast(e, s);
            tet_sent = true;
        }
        deliver(p.at);
        const identity who{"zalo", std::to_string(1000 + p.who)};
        switch (p.kind) {
        case 0:
            e.ingest(event::message(who, greetings[roll.below(4)]).at_time(p.at));
            break;
        case 1:
            e.ingest(event::postback_of(who, "CHECKOUT").at_time(p.at));
            break;
        case 2:
            e.ingest(event::form_open(who, "Thông tin giao hàng").at_time(p.at));
            break;
        case 3:
            e.ingest(event::form_submit(who, "Thông tin giao hàng",
                                        {{"address", std::to_string(1 + roll.below(200)) + " Lê Lợi, Quận 1"},
                                         {"phone", "09" + std::to_string(10000000 + roll.below(89999999))}})
                         .at_time(p.at));
            break;
        case 4: {
            order_info o;
            o.order_id =
                "DH" + std::to_string(p.who) + "-" + std::to_string(p.at.time_since_epoch().count() % 100000);
            o.total = 150000.0 * (1 + roll.below(6));
            o.items = {"Áo dài lụa"};
            e.ingest(event::order_of(who, o).at_time(p.at));
            break;
        }
        case 5:
            e.ingest(event::follow(who).at_time(p.at));
            break;
        }
    }
    for (int h = 0; h <= 72; h += 3) {
        deliver(local(14, 0, 0) + std::chrono::hours(h));
    }
}

} // namespace

int main(int argc, char** argv) {
    std::string out, db;
    std::vector<std::string> scenarios;
    bool demo = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--out" || a == "--db") && i + 1 < argc) {
            (a == "--out" ? out : db) = argv[++i];
        } else if (a == "--demo") {
            demo = true;
        } else {
            scenarios.push_back(a);
        }
    }
    if (out.empty() || db.empty() || (demo == !scenarios.empty()) || scenarios.size() > 1) {
        std::cerr << "usage: report_fixture --out report.html --db run.db (SCENARIO.json | --demo)\n";
        return 2;
    }
    try {
        for (const auto* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(db + suffix);
        }
        std::string subtitle;
        if (demo) {
            run_demo(db);
            subtitle = "Demo shop, two weeks";
        } else {
            const auto result = run_scenario_file(scenarios.front(), open_sqlite_store(db));
            if (!result.passed) {
                for (const auto& f : result.failures) {
                    std::cerr << "scenario failure: " << f << "\n";
                }
                return 1;
            }
            subtitle = result.name;
        }
        const engine e = engine::open(db);
        const auto report = analyze(e);
        report_options options;
        options.title = "Báo cáo tagflow";
        options.subtitle = subtitle;
        std::ofstream file(out, std::ios::binary);
        file << render_html_report(report, options);
        file.close();
        if (!file) {
            std::cerr << "cannot write " << out << "\n";
            return 1;
        }
        std::cout << format_tables(report);
        return 0;
    } catch (const std::exception& ex) {
        std::cerr << "report_fixture: " << ex.what() << "\n";
        return 1;
    }
}
