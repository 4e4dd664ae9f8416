// Dispatch throughput to a local platform emulator (Zalo OA consultation API over loopback HTTP),
// against the same number of plain HTTP requests made with the same client to the same server in
// the same run.
//
//   dispatch_bench [--messages N] [--json]
//
// Setup (not timed): N contacts each write once on Zalo; a rule answers each (N pending rows,
// in-memory store). Timed:
//   dispatch: dispatcher::dispatch_due through zalo_oa_channel (policy check, adapter request,
//             answer parsing, and one delivery_update event ingested per message)
//   raw:      N POSTs of a Zalo-shaped body with the same http_client
#include <tagflow/tagflow.hpp>

#include "platform_emulator.hpp"

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

template <typename F>
double timed(F&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv) {
    std::size_t messages = 5000;
    bool as_json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--messages" && i + 1 < argc) {
            messages = std::stoull(argv[++i]);
        } else if (a == "--json") {
            as_json = true;
        } else {
            fmt::print(stderr, "usage: dispatch_bench [--messages N] [--json]\n");
            return 2;
        }
    }
    tagflow::testing::platform_emulator emulator;
    std::shared_ptr<tagflow::http_client> client = tagflow::make_http_client();

    tagflow::engine e(tagflow::make_memory_store());
    e.load_definitions(R"({"schema": 1, "rules": [{"name": "hi", "when": "first_message",
      "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}]}]})");
    std::vector<tagflow::event> inbound;
    for (std::size_t i = 1; i <= messages; ++i) {
        inbound.push_back(tagflow::event::message({"zalo", std::to_string(i)}, "Xin chào"));
    }
    e.ingest_batch(inbound);

    tagflow::zalo_oa_settings zs;
    zs.access_token = "token";
    zs.base_url = emulator.base_url();
    tagflow::dispatcher d(e);
    d.add_channel(std::make_shared<tagflow::zalo_oa_channel>(zs, client));
    tagflow::dispatch_report report;
    const double dispatch_s = timed([&] { report = d.dispatch_due(); });

    tagflow::http_request r;
    r.method = "POST";
    r.url = emulator.base_url() + "/v3.0/oa/message/cs";
    r.headers = {{"access_token", "token"}, {"Content-Type", "application/json"}};
    std::size_t ok = 0;
    const double raw_s = timed([&] {
        for (std::size_t i = 1; i <= messages; ++i) {
            r.body = R"({"recipient":{"user_id":")" + std::to_string(i) +
                     R"("},"message":{"text":"Chào bạn, Shop rất vui được hỗ trợ bạn!"}})";
            ok += client->send(r).status == 200 ? 1 : 0;
        }
    });
    if (report.sent != messages || ok != messages) {
        fmt::print(stderr, "unexpected: dispatched {} sent, raw {} ok, of {}\n", report.sent, ok, messages);
        return 1;
    }
    const double rate = static_cast<double>(messages) / dispatch_s;
    const double raw_rate = static_cast<double>(messages) / raw_s;
    if (as_json) {
        fmt::print(R"({{"messages":{},"dispatch_per_s":{:.0f},"raw_http_per_s":{:.0f},"ratio":{:.2f}}})"
                   "\n",
                   messages, rate, raw_rate, rate / raw_rate);
    } else {
        fmt::print("{} messages to the Zalo emulator over loopback\n", messages);
        fmt::print("  dispatcher:     {:8.0f} messages/s\n", rate);
        fmt::print("  raw HTTP POSTs: {:8.0f} requests/s (same client, same server)\n", raw_rate);
        fmt::print("  dispatcher reaches {:.2f} of raw HTTP\n", rate / raw_rate);
    }
    return 0;
}
