#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include "platform_emulator.hpp"
#include "support.hpp"

#include <tagflow/channels.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

// A tiny shop API on loopback, answering like a CRM would.
class shop_api {
public:
    shop_api() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
        thread_ = std::thread([this] { serve(); });
    }
    ~shop_api() {
        stopping_ = true;
        // Wake the blocking accept with one last connection.
        try {
            asio::io_context io;
            asio::ip::tcp::socket s(io);
            s.connect(acceptor_.local_endpoint());
        } catch (...) {
        }
        thread_.join();
    }
    std::string base() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    }
    int requests() const { return requests_; }
    std::string last_body() const {
        std::lock_guard lock(mutex_);
        return last_body_;
    }

private:
    void serve() {
        while (!stopping_) {
            asio::ip::tcp::socket socket(io_);
            boost::system::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec || stopping_) {
                return;
            }
            try {
                beast::flat_buffer buffer;
                http::request<http::string_body> req;
                http::read(socket, buffer, req);
                ++requests_;
                {
                    std::lock_guard lock(mutex_);
                    last_body_ = req.body();
                }
                http::response<http::string_body> res{http::status::ok, 11};
                res.set(http::field::content_type, "application/json");
                const std::string target(req.target());
                if (target.rfind("/customers/+84912345678", 0) == 0) {
                    res.body() = R"({"customer": {"tier": "Vàng", "points": 120}})";
                } else if (target == "/fail") {
                    res.result(http::status::internal_server_error);
                    res.body() = R"({"error": "boom"})";
                } else if (target == "/slow") {
                    // A good answer, but too late: only the timeout can make this a failure.
                    std::this_thread::sleep_for(1500ms);
                    res.body() = R"({"customer": {"tier": "Vàng", "points": 1}})";
                } else if (target == "/binary") {
                    res.body() = std::string("\xff\xfe\x00", 3);
                } else if (target == "/echo") {
                    res.body() = req.body();
                } else {
                    res.result(http::status::not_found);
                }
                res.prepare_payload();
                http::write(socket, res);
            } catch (...) {
            }
        }
    }

    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> requests_{0};
    mutable std::mutex mutex_;
    std::string last_body_;
};

std::string defs_for(const std::string& url, const std::string& extra = "") {
    return R"({"schema": 1, "fields": [{"name": "tier", "type": "text"}, {"name": "points", "type": "number"}],
      "flows": [{"name": "lookup", "triggers": [{"postback": "GO"}], "blocks": [
        {"id": "call", "kind": "request", "method": "POST", "url": ")" +
           url + R"(",
         "headers": {"X-Shop": "demo"}, "body": {"phone": "{{phone}}"}, "timeout": "1s",
         "map": {"tier": "/customer/tier", "points": "/customer/points"}, "next": "ok", "on_failure": "sorry")" +
           extra + R"(},
        {"id": "ok", "kind": "send", "text": "Hạng {{tier}}, {{points}} điểm"},
        {"id": "sorry", "kind": "send", "text": "Hệ thống bận"}]}]})";
}

struct runner {
    engine e;
    identity who{"zalo", "1"};
    time_point now = parse_time("2026-01-05T10:00:00+07:00");

    explicit runner(const std::string& defs) : e(make_memory_store(), options()) { e.load_definitions(defs); }
    engine_options options() {
        engine_options o;
        o.clock = [this] { return now; };
        return o;
    }
    std::vector<std::string> texts() const {
        std::vector<std::string> out;
        for (const auto& m : e.outbox()) {
            out.push_back(m.text);
        }
        return out;
    }
    void start() {
        e.ingest(event::profile_of(who, {.phone = "0912 345 678"}).at_time(now));
        e.ingest(event::postback_of(who, "GO").at_time(now));
    }
};

} // namespace

TEST_CASE("a request block calls the API and maps the JSON answer into fields", "[http][flows]") {
    shop_api api;
    runner r(defs_for(api.base() + "/customers/{{phone}}"));
    r.start();
    CHECK(r.texts().empty()); // the flow waits for the answer; nothing was called while deciding
    CHECK(api.requests() == 0);
    auto client = make_http_client();
    CHECK(r.e.perform_requests(*client) == 1);
    CHECK(api.requests() == 1);
    CHECK(api.last_body() == R"({"phone":"+84912345678"})");
    CHECK(r.texts() == std::vector<std::string>{"Hạng Vàng, 120 điểm"});
    const auto c = *r.e.find_contact(r.who);
    CHECK(c.fields.at("points").data == value{120.0});
    CHECK(r.e.perform_requests(*client) == 0); // nothing pending any more
}

TEST_CASE("errors, refusals and slow answers take the failure exit", "[http][flows]") {
    auto client = make_http_client();
    SECTION("a 500 answer") {
        shop_api api;
        runner r(defs_for(api.base() + "/fail"));
        r.start();
        r.e.perform_requests(*client);
        CHECK(r.texts() == std::vector<std::string>{"Hệ thống bận"});
    }
    SECTION("an answer without the mapped values leaves the fields untouched") {
        shop_api api;
        runner r(defs_for(api.base() + "/echo"));
        r.start();
        r.e.perform_requests(*client);
        CHECK(r.texts() == std::vector<std::string>{"Hệ thống bận"});
        CHECK(r.e.find_contact(r.who)->fields.count("tier") == 0);
    }
    SECTION("nobody listening") {
        std::string base;
        {
            shop_api gone;
            base = gone.base();
        }
        runner r(defs_for(base + "/customers/{{phone}}"));
        r.start();
        r.e.perform_requests(*client);
        CHECK(r.texts() == std::vector<std::string>{"Hệ thống bận"});
    }
    SECTION("slower than the timeout") {
        shop_api api;
        runner r(defs_for(api.base() + "/slow"));
        r.start();
        r.e.perform_requests(*client);
        CHECK(r.texts() == std::vector<std::string>{"Hệ thống bận"});
    }
}

TEST_CASE("the built-in client gives up at the request's timeout", "[http]") {
    shop_api api;
    auto client = make_http_client();
    http_request r;
    r.url = api.base() + "/slow";
    r.timeout = 300ms;
    const auto started = std::chrono::steady_clock::now();
    const auto answer = client->send(r);
    CHECK(answer.status == 0);
    CHECK(answer.error.find("timed out") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < 1200ms);
}

TEST_CASE("an answer that is not UTF-8 is a failure, not a stuck request", "[http][flows]") {
    shop_api api;
    runner r(defs_for(api.base() + "/binary"));
    r.start();
    auto client = make_http_client();
    CHECK(r.e.perform_requests(*client) == 1);
    CHECK(r.texts() == std::vector<std::string>{"Hệ thống bận"});
    CHECK(r.e.perform_requests(*client) == 0);
}

TEST_CASE("a request never performed times out in the flow and is dropped", "[http][flows]") {
    runner r(defs_for("http://127.0.0.1:9/customers/{{phone}}"));
    r.start();
    r.now += 3s;
    r.e.advance_to(r.now); // twice the client timeout has passed
    CHECK(r.texts() == std::vector<std::string>{"Hệ thống bận"});
    struct never : http_client {
        http_response send(const http_request&) override {
            FAIL("a dropped request was performed");
            return {};
        }
    } client;
    CHECK(r.e.perform_requests(client) == 0);
}

TEST_CASE("answers are events: replaying the log needs no API", "[http][determinism]") {
    shop_api api;
    runner r(defs_for(api.base() + "/customers/{{phone}}"));
    r.start();
    auto client = make_http_client();
    r.e.perform_requests(*client);
    engine replay(make_memory_store());
    replay.load_definitions(defs_for(api.base() + "/customers/{{phone}}"));
    for (const auto& ev : r.e.input_events()) {
        replay.ingest(ev);
    }
    CHECK(replay.export_json() == r.e.export_json());
    CHECK(api.requests() == 1);
}

TEST_CASE("request blocks are validated when definitions load", "[http][definitions]") {
    auto path_of = [](const std::string& doc) { return testing::refused_path(doc); };
    CHECK(path_of(defs_for("ftp://x")) == "$.flows[0].blocks[0].url");
    CHECK(path_of(defs_for("http://x", R"(, "method": "BREW")")) == "$.flows[0].blocks[0].method");
    CHECK(path_of(R"({"schema": 1, "flows": [{"name": "f", "blocks": [
        {"id": "a", "kind": "request", "url": "http://x", "map": {"ghost": "/a"}}]}]})") ==
          "$.flows[0].blocks[0].map.ghost");
    CHECK(path_of(
              R"({"schema": 1, "fields": [{"name": "a", "type": "text"}], "flows": [{"name": "f", "blocks": [
        {"id": "a", "kind": "request", "url": "http://x", "map": {"a": "no-slash"}}]}]})") ==
          "$.flows[0].blocks[0].map.a");
}

TEST_CASE("an answer for a run that moved on closes the request for good", "[http][flows]") {
    shop_api api;
    runner r(defs_for(api.base() + "/customers/{{phone}}"));
    r.start();
    // A new postback restarts the flow: the first request is orphaned, a second one is pending.
    r.e.ingest(event::postback_of(r.who, "GO").at_time(r.now));
    auto client = make_http_client();
    CHECK(r.e.perform_requests(*client) == 2);
    CHECK(r.e.perform_requests(*client) == 0); // neither is sent again
    CHECK(api.requests() == 2);
    CHECK(r.texts() == std::vector<std::string>{"Hạng Vàng, 120 điểm"});
}

// ----------------------------------------------------------------------------------------- HTTPS

TEST_CASE("the built-in client speaks https to a server whose certificate it trusts", "[http]") {
    const auto cert = tagflow::testing::make_self_signed_certificate();
    tagflow::testing::platform_emulator emu({.tls_cert_pem = cert.cert_pem, .tls_key_pem = cert.key_pem});
    REQUIRE(emu.base_url().rfind("https://127.0.0.1:", 0) == 0);
    http_client_options options;
    options.ca_pem = cert.cert_pem;
    auto client = make_http_client(options);
    http_request r;
    r.url = emu.base_url() + "/health";
    const auto answer = client->send(r);
    CHECK(answer.error.empty());
    CHECK(answer.status == 200);
    CHECK(answer.body == R"({"ok":true})");
    // By name too: the certificate lists DNS:localhost, and SNI is sent for names.
    r.url = "https://localhost:" + std::to_string(emu.port()) + "/health";
    const auto by_name = client->send(r);
    CHECK(by_name.error.empty());
    CHECK(by_name.status == 200);
}

TEST_CASE("an untrusted certificate is a transport error unless verification is off", "[http]") {
    const auto cert = tagflow::testing::make_self_signed_certificate();
    tagflow::testing::platform_emulator emu({.tls_cert_pem = cert.cert_pem, .tls_key_pem = cert.key_pem});
    http_request r;
    r.url = emu.base_url() + "/health";
    r.timeout = 2s;
    const auto refused = make_http_client()->send(r);
    CHECK(refused.status == 0);
    CHECK(refused.error.find("TLS") != std::string::npos);
    CHECK(refused.error.find("certificate verify failed") != std::string::npos);

    http_client_options lax;
    lax.verify_peer = false;
    CHECK(make_http_client(lax)->send(r).status == 200);
}

TEST_CASE("a certificate for another host name is refused", "[http]") {
    const auto cert = tagflow::testing::make_self_signed_certificate();
    // 127.0.0.2 is loopback too on Linux, but not among the certificate's names.
    std::unique_ptr<tagflow::testing::platform_emulator> emu;
    try {
        emu = std::make_unique<tagflow::testing::platform_emulator>(tagflow::testing::emulator_options{
            .host = "127.0.0.2", .port = 0, .tls_cert_pem = cert.cert_pem, .tls_key_pem = cert.key_pem});
    } catch (const std::exception&) {
        WARN("cannot bind 127.0.0.2 here; skipping");
        return;
    }
    http_client_options options;
    options.ca_pem = cert.cert_pem;
    http_request r;
    r.url = emu->base_url() + "/health";
    r.timeout = 2s;
    const auto answer = make_http_client(options)->send(r);
    CHECK(answer.status == 0);
    CHECK(answer.error.find("TLS") != std::string::npos);
}

TEST_CASE("trusted certificates load from a file, and bad ones are refused up front", "[http]") {
    const auto cert = tagflow::testing::make_self_signed_certificate();
    tagflow::testing::platform_emulator emu({.tls_cert_pem = cert.cert_pem, .tls_key_pem = cert.key_pem});
    const std::string path = "tagflow_test_ca.pem";
    std::ofstream(path) << cert.cert_pem;
    http_client_options options;
    options.ca_file = path;
    http_request r;
    r.url = emu.base_url() + "/health";
    CHECK(make_http_client(options)->send(r).status == 200);
    std::remove(path.c_str());

    http_client_options bad;
    bad.ca_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    CHECK_THROWS_AS(make_http_client(bad), error);
    http_client_options missing;
    missing.ca_file = "/nonexistent/ca.pem";
    CHECK_THROWS_AS(make_http_client(missing), error);
}

TEST_CASE("a channel adapter sends over https", "[http][channels]") {
    const auto cert = tagflow::testing::make_self_signed_certificate();
    tagflow::testing::platform_emulator emu({.tls_cert_pem = cert.cert_pem, .tls_key_pem = cert.key_pem});
    http_client_options options;
    options.ca_pem = cert.cert_pem;
    telegram_settings s;
    s.bot_token = "123:ABC";
    s.base_url = emu.base_url();
    telegram_channel tg(s, make_http_client(options));
    outbound_message m;
    m.key = "k";
    m.to = {"telegram", "555"};
    m.text = "Chào qua TLS";
    const auto r = tg.send(m, contact{});
    CHECK(r.result == send_result::outcome::sent);
    REQUIRE(emu.messages().size() == 1);
    CHECK(emu.messages()[0].text == "Chào qua TLS");
}

TEST_CASE("URLs with ports, IPv6 literals and queries are split correctly", "[http]") {
    tagflow::testing::platform_emulator emu;
    auto client = make_http_client();
    http_request r;
    r.url = "http://127.0.0.1:" + std::to_string(emu.port()) + "?x=1";
    CHECK(client->send(r).status == 405); // the emulator only takes POST there, but the request arrived
    CHECK(emu.requests().at(0).target == "/?x=1");
    CHECK(emu.requests().at(0).header("Host") == "127.0.0.1:" + std::to_string(emu.port()));
    r.url = "http://127.0.0.1:99999/";
    CHECK(client->send(r).error == "invalid URL: http://127.0.0.1:99999/");
    r.url = "http://[::1/";
    CHECK(client->send(r).error == "invalid URL: http://[::1/");
    r.url = "ftp://example.com/";
    CHECK(client->send(r).error == "invalid URL: ftp://example.com/");
}
