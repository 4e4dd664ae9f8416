// The main demo: a small Vietnamese clothes shop on an embedded SQLite file. It walks through the
// seed stories of first-time vs returning customers (S5) and contact types (S2) and prints a
// transcript of what the engine decided.
//
//   shop_demo [path/to/file.db]     (default: tagflow_demo.db in the current directory)
#include <tagflow/tagflow.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

using namespace tagflow;

namespace {

const char* definitions_json = R"json({
  "schema": 1,
  "tags": ["Khách mới", "Khách cũ", "Đã mua Áo A", "Đã mua lần 2", "Khách VIP", "Khách hàng", "Hỏi giá",
           "Kiểm tra thông tin giao hàng", "Hoàn tất đơn hàng"],
  "fields": [{"name": "size", "type": "text"}, {"name": "address", "type": "text"}],
  "flows": [{"name": "checkout", "triggers": [{"postback": "CHECKOUT"}], "blocks": [
    {"id": "check", "kind": "condition", "branches": [{"if": "has(\"address\") and has(\"phone\")", "next": "done"}],
     "else": "need_info"},
    {"id": "need_info", "kind": "tag", "add": ["Kiểm tra thông tin giao hàng"], "next": "form"},
    {"id": "form", "kind": "form", "form": "Thông tin giao hàng", "text": "Bạn vui lòng điền thông tin giao hàng nhé.",
     "fields": [{"name": "address", "label": "Địa chỉ"}, {"name": "phone", "label": "Số điện thoại"}],
     "invalid_text": "Vui lòng kiểm tra: {{invalid}}", "next": "callback"},
    {"id": "callback", "kind": "tag", "remove": ["Kiểm tra thông tin giao hàng"], "add": ["Hoàn tất đơn hàng"],
     "next": "thanks"},
    {"id": "thanks", "kind": "send", "text": "Cảm ơn bạn! Đơn hàng sẽ được giao tới {{address}}."},
    {"id": "done", "kind": "send", "text": "Cảm ơn {{name}}! Đơn hàng của bạn đã hoàn tất."}]}],
  "sequences": [{"name": "Nhắc thông tin giao hàng", "follows": {"tag": "Kiểm tra thông tin giao hàng"},
    "window": {"from": "08:00", "to": "21:00"},
    "steps": [{"after": "24h", "send_form": {"flow": "checkout", "block": "form"}},
              {"after": "24h", "from": "previous", "send_form": {"flow": "checkout", "block": "form"}},
              {"after": "24h", "from": "previous", "remove_tags": ["Kiểm tra thông tin giao hàng"],
               "add_tags": ["Hoàn tất đơn hàng"]}]}],
  "rules": [
    {"name": "welcome", "when": "first_message",
     "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}, {"add_tag": "Khách mới"}]},
    {"name": "welcome back", "when": "returning_message",
     "then": [{"send": "Chào {{#name}}{{name}}{{/name}}{{^name}}bạn{{/name}}, rất vui khi bạn quay lại!"},
              {"send": "Bạn đang cần thêm {{last_product}} hay tìm mẫu mới?"},
              {"remove_tag": "Khách mới"}, {"add_tag": "Khách cũ"}]},
    {"name": "price", "when": "message_received", "filter": {"contains": "giá"},
     "then": [{"add_tag": "Hỏi giá"}, {"send": "Dạ, áo A giá 350.000đ ạ."}]},
    {"name": "bought A", "when": "order_placed", "filter": {"item": "Áo A"}, "then": [{"add_tag": "Đã mua Áo A"}]},
    {"name": "second order", "when": "order_placed", "if": "orders == 2", "then": [{"add_tag": "Đã mua lần 2"}]},
    {"name": "vip", "when": "order_placed", "if": "orders >= 3 or total_spent >= 5000000",
     "then": [{"add_tag": "Khách VIP"}, {"add_note": "VIP sau {{orders}} đơn"}]},
    {"name": "customer", "when": "lifecycle_changed", "filter": {"to": "customer"}, "then": [{"add_tag": "Khách hàng"}]}
  ]
})json";

// Scenario times are Asia/Ho_Chi_Minh; D0 is Monday 2026-01-05.
time_point at(int day, const char* hh_mm) {
    char text[40];
    std::snprintf(text, sizeof text, "2026-01-%02dT%s+07:00", 5 + day, hh_mm);
    return parse_time(text);
}

class transcript {
public:
    explicit transcript(engine& e) : engine_(e) {}

    void ingest(const event& ev, const char* when) {
        std::string what = std::string(to_string(ev.kind));
        if (!ev.text.empty()) {
            what += " \"" + ev.text + "\"";
        }
        std::cout << when << "  -> " << ev.identity.to_string() << "  " << what << "\n";
        const auto r = engine_.ingest(ev);
        if (r.duplicate) {
            std::cout << "             (duplicate key: ignored, first outcome returned)\n";
            return;
        }
        for (const auto& t : r.tags_added) {
            std::cout << "             + " << t << "\n";
        }
        for (const auto& t : r.tags_removed) {
            std::cout << "             - " << t << "\n";
        }
        if (r.lifecycle_now) {
            std::cout << "             type: " << to_string(*r.lifecycle_now) << "\n";
        }
        for (const auto& m : engine_.outbox(last_message_)) {
            std::cout << when << "  <- " << m.to.to_string() << "  " << m.text << "\n";
            last_message_ = m.id;
        }
    }

    // Lets the clock run to `until`: timers (reminders, delays) fire and their messages print.
    void advance(time_point until, const char* when) {
        engine_.advance_to(until);
        for (const auto& m : engine_.outbox(last_message_)) {
            std::cout << when << "  <- " << m.to.to_string() << "  " << m.text << "   (" << m.cause << ")\n";
            last_message_ = m.id;
        }
    }

private:
    engine& engine_;
    std::int64_t last_message_ = 0;
};

} // namespace

int main(int argc, char** argv) {
    const std::filesystem::path db = argc > 1 ? argv[1] : "tagflow_demo.db";
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(db.string() + suffix); // a fresh shop every run
    }
    try {
        auto shop = engine::open(db.string());
        shop.load_definitions(definitions_json);
        transcript log(shop);
        const identity minh{"messenger", "3001"};
        const identity lan{"web", "v1"};

        std::cout << "== S5: first-time vs returning ==\n";
        log.ingest(
            event::message(minh, "Shop ơi, áo A giá bao nhiêu?").with_key("mid.1").at_time(at(0, "10:00")),
            "D0 10:00");
        log.ingest(
            event::message(minh, "Shop ơi, áo A giá bao nhiêu?").with_key("mid.1").at_time(at(0, "10:00")),
            "D0 10:00");
        log.ingest(event::profile_of(minh, {.name = "Minh", .phone = "0912 345 678"}).at_time(at(0, "10:02")),
                   "D0 10:02");
        log.ingest(event::order_of(minh, {"SO-1", 350000, "VND", {"Áo A"}}).at_time(at(0, "11:00")),
                   "D0 11:00");
        log.ingest(event::message(minh, "Chào shop").with_key("mid.2").at_time(at(3, "10:00")), "D3 10:00");
        log.ingest(event::order_of(minh, {"SO-2", 400000, "VND", {"Quần B"}}).at_time(at(3, "11:00")),
                   "D3 11:00");
        log.ingest(event::order_of(minh, {"SO-3", 250000, "VND", {"Nón"}}).at_time(at(4, "09:00")),
                   "D4 09:00");

        std::cout << "\n== S2: contact types ==\n";
        log.ingest(event::message(lan, "Xin chào").at_time(at(5, "09:00")), "D5 09:00");
        log.ingest(
            event::profile_of(lan, {.name = "Lan", .email = "lan@example.com"}).at_time(at(5, "09:01")),
            "D5 09:01");
        log.ingest(event::link_customer(lan, "C-889").at_time(at(5, "10:00")), "D5 10:00");
        log.ingest(event::note_of(lan, "staff:thu", "Thích màu xanh").at_time(at(5, "10:05")), "D5 10:05");
        log.ingest(event::profile_of(lan, {.fields = {{"size", "M"}}}).at_time(at(5, "10:06")), "D5 10:06");
        std::cout << "\nMinh writes on Zalo with the same phone: one contact, two identities\n";
        auto on_zalo = event::message({"zalo", "8801"}, "Alo shop").at_time(at(6, "08:00"));
        on_zalo.profile.phone = "+84 912 345 678";
        log.ingest(on_zalo, "D6 08:00");

        std::cout << "\n== S1: checkout with a form and a reminder sequence ==\n";
        const identity binh{"zalo", "1002"};
        log.ingest(event::postback_of(binh, "CHECKOUT").at_time(at(7, "10:05")), "D7 10:05");
        log.ingest(event::form_open(binh, "Thông tin giao hàng").at_time(at(7, "10:06")), "D7 10:06");
        std::cout << "             (opened and closed without data: the callback does not run)\n";
        log.advance(at(8, "10:05"), "D8 10:05");
        log.ingest(event::form_submit(binh, "Thông tin giao hàng",
                                      {{"address", "12 Lý Thường Kiệt, Hà Nội"}, {"phone", "0912 999 888"}})
                       .at_time(at(8, "15:00")),
                   "D8 15:00");
        log.advance(at(20, "00:00"), "later");
        std::cout << "             (no reminder after the form was completed)\n";

        std::cout << "\n== Contacts ==\n";
        for (const auto& c : shop.contacts()) {
            std::cout << "#" << c.id << " " << (c.profile.name.empty() ? "(no name)" : c.profile.name) << "  "
                      << to_string(c.stage) << "  tags:";
            for (const auto& [tag, when] : c.tags) {
                std::cout << " [" << tag << "]";
            }
            std::cout << "\n";
        }
        std::cout << "\nLan as JSON:\n" << shop.contact_json(shop.find_contact(lan)->id) << "\n";
        std::cout << "\nStored in " << db.string() << " (" << shop.event_log().size() << " events, "
                  << shop.outbox().size() << " outbox rows)\n";
    } catch (const error& e) {
        std::cerr << "demo failed: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
