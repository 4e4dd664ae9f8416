// A shop bot running in real time: the runtime's background thread fires the flow's timers on
// the wall clock, so nobody calls advance_to. A customer writes once and goes quiet; two seconds
// later the bot follows up on its own.
//
//   live_runtime     (the shop lives in a fresh SQLite file in the temp directory)
#include <tagflow/tagflow.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

const char* definitions_json = R"json({
  "schema": 1,
  "tags": ["Đang tư vấn"],
  "rules": [
    {"name": "greet", "when": "first_message",
     "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}, {"start_flow": "consult"}]}
  ],
  "flows": [
    {"name": "consult", "blocks": [
      {"id": "ask_need", "kind": "send", "text": "Bạn đang tìm áo hay quần ạ?",
       "quick_replies": ["Áo", "Quần"], "next": "mark"},
      {"id": "mark", "kind": "tag", "add": ["Đang tư vấn"], "next": "listen"},
      {"id": "listen", "kind": "wait", "until_reply": true, "timeout": "2s",
       "next": "thanks", "on_timeout": "follow_up"},
      {"id": "thanks", "kind": "send", "text": "Dạ shop tư vấn ngay cho bạn ạ."},
      {"id": "follow_up", "kind": "send", "text": "Bạn còn quan tâm sản phẩm không ạ? Shop đang có ưu đãi 10%."}
    ]}
  ]
})json";

// Each run gets its own file, so parallel test runs do not share a shop.
std::filesystem::path fresh_database() {
    std::random_device entropy;
    return std::filesystem::temp_directory_path() /
           ("tagflow_live_runtime_" + std::to_string(entropy()) + ".db");
}

void remove_database(const std::filesystem::path& db) {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(db.string() + suffix, ignored);
    }
}

} // namespace

int main() {
    const auto db = fresh_database();
    int status = 0;
    try {
        auto shop = engine::open(db.string());
        shop.load_definitions(definitions_json);
        // Declared after the engine, so it stops (and joins its thread) before the engine closes.
        runtime live(shop, {.max_sleep = 1s, .on_error = [](const std::exception& e) {
                                std::cerr << "timer failure: " << e.what() << "\n";
                            }});
        live.start();

        const auto started = std::chrono::steady_clock::now();
        const identity customer{"messenger", "3001"};
        const auto result = live.ingest(event::message(customer, "Shop ơi").with_key("mid.1"));
        std::cout << "ingested event " << result.event_id << ": " << result.messages.size()
                  << " messages decided at once\n";

        // The follow-up is the flow's last block: wait for the runtime to decide it.
        const auto deadline = started + 10s;
        auto followed_up = [&shop] {
            for (const auto& m : shop.outbox()) {
                if (m.cause == "flow:consult/follow_up") {
                    return true;
                }
            }
            return false;
        };
        while (!followed_up() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
        }
        const auto waited =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

        live.stop(); // graceful: nothing in flight is lost, due timers fire one last time

        std::cout << "\n== Transcript ==\n";
        std::cout << "  -> " << customer.to_string() << "  Shop ơi\n";
        for (const auto& m : shop.outbox()) {
            std::cout << "  <- " << format_time(m.created_at) << "  " << m.text << "   (" << m.cause << ")\n";
        }
        std::cout << "\ntimers fired by the runtime: " << live.fired() << "\n";
        if (followed_up()) {
            std::cout << "the follow-up came after about " << waited.count() / 100 / 10.0 << " s\n";
        } else {
            std::cerr << "timed out: no follow-up within 10 s\n";
            status = 1;
        }
    } catch (const std::exception& e) {
        std::cerr << "live_runtime failed: " << e.what() << "\n";
        status = 1;
    }
    remove_database(db);
    return status;
}
