// Webhook throughput with durable acknowledgement, against raw SQLite on the same file settings
// (WAL, synchronous=FULL).
//
//   webhook_bench [--requests N] [--connections C] [--threads T] [--contacts K]
//                 [--platform messenger|generic] [--json]
//
// C keep-alive connections over loopback post N signed webhooks (one message each) to a
// webhook_server ingesting into an engine on a fresh SQLite file; every 200 means the event was
// committed. The server's transactions are counted, which gives the average group size G. In the
// same run, the baselines on a fresh file with the same settings:
//   raw_grouped: N single-row INSERTs of a contact-sized row, one transaction per G rows
//   raw_single:  INSERTs with one transaction each (what acknowledging every request on its own
//                fsync would cost at best), on min(N, 2000) rows
//   engine_grouped: the same N events straight into engine::ingest_batch, G per call, without
//                HTTP (so server / engine_grouped is what the network side costs)
#include <tagflow/tagflow.hpp>
#include <tagflow/webhook.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

const char* definitions_json = R"json({"schema": 1,
  "tags": ["Khách mới", "Hỏi giá"],
  "rules": [
    {"name": "welcome", "when": "first_message", "then": [{"send": "Chào bạn!"}, {"add_tag": "Khách mới"}]},
    {"name": "price", "when": "message_received", "filter": {"contains": "giá"}, "then": [{"add_tag": "Hỏi giá"}]}
  ]})json";

constexpr const char* app_secret = "bench-app-secret";
constexpr const char* generic_secret = "bench-generic-secret";

std::filesystem::path fresh_file(const std::string& name) {
    auto path = std::filesystem::temp_directory_path() / ("tagflow_webhook_bench_" + name + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(path.string() + suffix);
    }
    return path;
}

double seconds(const std::function<void()>& work) {
    const auto start = clock_type::now();
    work();
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

void exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message ? message : "?";
        sqlite3_free(message);
        throw std::runtime_error(text);
    }
}

double raw_sqlite(std::size_t rows, std::size_t batch) {
    const auto path = fresh_file("raw");
    sqlite3* db = nullptr;
    sqlite3_open(path.string().c_str(), &db);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
             "CREATE TABLE rows(id INTEGER PRIMARY KEY, key TEXT UNIQUE, doc TEXT NOT NULL)");
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO rows(key, doc) VALUES (?, ?)", -1, &insert, nullptr);
    const std::string doc(600, 'x'); // about a stored contact plus its event row
    const double took = seconds([&] {
        for (std::size_t i = 0; i < rows;) {
            exec(db, "BEGIN IMMEDIATE");
            for (std::size_t j = 0; j < batch && i < rows; ++j, ++i) {
                const auto key = std::to_string(i);
                sqlite3_bind_text(insert, 1, key.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(insert, 2, doc.c_str(), static_cast<int>(doc.size()), SQLITE_STATIC);
                sqlite3_step(insert);
                sqlite3_reset(insert);
            }
            exec(db, "COMMIT");
        }
    });
    sqlite3_finalize(insert);
    sqlite3_close(db);
    fresh_file("raw");
    return took;
}

// Whole requests, serialised before the clock starts so the client spends its time on I/O only.
std::vector<std::string> make_requests(std::size_t n, std::size_t contacts, bool generic) {
    std::vector<std::string> out;
    out.reserve(n);
    const auto stamp = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    for (std::size_t i = 0; i < n; ++i) {
        const auto who = std::to_string(i % contacts);
        const char* text = i % 3 ? "Shop ơi, áo này còn size M không ạ?" : "Cho mình hỏi giá váy hoa nhí";
        http::request<http::string_body> req{http::verb::post,
                                             generic ? "/webhooks/generic" : "/webhooks/messenger", 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::content_type, "application/json");
        if (generic) {
            req.body() = fmt::format(
                R"({{"kind":"message_received","identity":"web:{}","text":"{}","key":"bench-{}"}})", who,
                text, i);
            req.set("X-Tagflow-Timestamp", stamp);
            req.set("X-Tagflow-Signature", tagflow::generic_signature(generic_secret, stamp, req.body()));
        } else {
            req.body() =
                fmt::format(R"({{"object":"page","entry":[{{"id":"104857600123456","time":{0},"messaging":[)"
                            R"({{"sender":{{"id":"{1}"}},"recipient":{{"id":"104857600123456"}},)"
                            R"("timestamp":{0},"message":{{"mid":"m_bench_{2}","text":"{3}"}}}}]}}]}})",
                            1767582000000 + i, who, i, text);
            req.set("X-Hub-Signature-256", tagflow::meta_signature(app_secret, req.body()));
        }
        req.prepare_payload();
        std::ostringstream bytes;
        bytes << req;
        out.push_back(bytes.str());
    }
    return out;
}

// One keep-alive connection sending its share of the requests one after another.
class connection : public std::enable_shared_from_this<connection> {
public:
    connection(asio::io_context& io, const std::vector<std::string>& requests, std::atomic<std::size_t>& next,
               std::atomic<std::size_t>& ok)
        : socket_(io), requests_(requests), next_(next), ok_(ok) {}

    void start(const tcp::endpoint& server) {
        socket_.connect(server);
        socket_.set_option(tcp::no_delay(true));
        send();
    }

private:
    void send() {
        const auto i = next_++;
        if (i >= requests_.size()) {
            beast::error_code ignored;
            socket_.shutdown(tcp::socket::shutdown_both, ignored);
            return;
        }
        asio::async_write(socket_, asio::buffer(requests_[i]),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) {
                                  fmt::print(stderr, "write: {}\n", ec.message());
                                  return;
                              }
                              self->response_ = {};
                              http::async_read(self->socket_, self->buffer_, self->response_,
                                               [self](beast::error_code rec, std::size_t) {
                                                   if (rec) {
                                                       fmt::print(stderr, "read: {}\n", rec.message());
                                                       return;
                                                   }
                                                   if (self->response_.result() == http::status::ok) {
                                                       ++self->ok_;
                                                   } else {
                                                       fmt::print(stderr, "status {}: {}\n",
                                                                  self->response_.result_int(),
                                                                  self->response_.body());
                                                   }
                                                   self->send();
                                               });
                          });
    }

    tcp::socket socket_;
    beast::flat_buffer buffer_;
    http::response<http::string_body> response_;
    const std::vector<std::string>& requests_;
    std::atomic<std::size_t>& next_;
    std::atomic<std::size_t>& ok_;
};

struct server_run {
    double seconds = 0;
    std::size_t ok = 0;
    std::size_t transactions = 0;
    std::size_t largest = 0;
};

server_run run_server(const std::vector<std::string>& requests, std::size_t connections,
                      std::size_t threads) {
    const auto path = fresh_file("server");
    tagflow::engine engine = tagflow::engine::open(path.string());
    engine.load_definitions(definitions_json);
    server_run out;
    tagflow::webhook_settings settings;
    settings.threads = threads;
    settings.messenger.app_secret = app_secret;
    settings.generic.secret = generic_secret;
    tagflow::webhook_server server(
        [&](std::span<const tagflow::event> events) {
            ++out.transactions; // only the writer thread calls this
            out.largest = std::max(out.largest, events.size());
            return engine.ingest_batch(events);
        },
        settings);
    server.start();
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), server.port());
    asio::io_context io;
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> ok{0};
    out.seconds = seconds([&] {
        for (std::size_t c = 0; c < connections; ++c) {
            std::make_shared<connection>(io, requests, next, ok)->start(endpoint);
        }
        io.run();
    });
    server.stop();
    out.ok = ok;
    if (engine.input_events().size() != out.ok) {
        fmt::print(stderr, "stored {} events for {} acknowledged requests\n", engine.input_events().size(),
                   out.ok);
    }
    fresh_file("server");
    return out;
}

// The events the requests carry, through the server's own parsers.
std::vector<tagflow::event> events_of(const std::vector<std::string>& requests, bool generic) {
    std::vector<tagflow::event> out;
    out.reserve(requests.size());
    for (const auto& r : requests) {
        const auto body = std::string_view(r).substr(r.find("\r\n\r\n") + 4);
        for (auto& e :
             generic ? tagflow::parse_generic_webhook(body) : tagflow::parse_messenger_webhook(body)) {
            out.push_back(std::move(e));
        }
    }
    return out;
}

double engine_grouped(const std::vector<tagflow::event>& events, std::size_t group) {
    const auto path = fresh_file("engine");
    double took = 0;
    {
        tagflow::engine engine = tagflow::engine::open(path.string());
        engine.load_definitions(definitions_json);
        took = seconds([&] {
            for (std::size_t i = 0; i < events.size(); i += group) {
                const auto n = std::min(group, events.size() - i);
                engine.ingest_batch(std::span<const tagflow::event>(events.data() + i, n));
            }
        });
    }
    fresh_file("engine");
    return took;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t requests = 20000;
    std::size_t connections = 128;
    std::size_t threads = 1;
    std::size_t contacts = 1000;
    bool generic = false;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const auto arg = std::string_view(argv[i]);
        if (arg == "--requests" && i + 1 < argc) {
            requests = std::stoul(argv[++i]);
        } else if (arg == "--connections" && i + 1 < argc) {
            connections = std::stoul(argv[++i]);
        } else if (arg == "--threads" && i + 1 < argc) {
            threads = std::stoul(argv[++i]);
        } else if (arg == "--contacts" && i + 1 < argc) {
            contacts = std::stoul(argv[++i]);
        } else if (arg == "--platform" && i + 1 < argc) {
            generic = std::string_view(argv[++i]) == "generic";
        } else if (arg == "--json") {
            json = true;
        } else {
            fmt::print(stderr,
                       "usage: webhook_bench [--requests N] [--connections C] [--threads T] [--contacts K] "
                       "[--platform messenger|generic] [--json]\n");
            return 2;
        }
    }
    if (requests == 0 || connections == 0 || threads == 0 || contacts == 0) {
        fmt::print(stderr, "webhook_bench: sizes must be positive\n");
        return 2;
    }
    const auto input = make_requests(requests, contacts, generic);
    const auto served = run_server(input, connections, threads);
    const auto group = std::max<std::size_t>(1, (requests + served.transactions / 2) /
                                                    std::max<std::size_t>(1, served.transactions));
    const double raw_grouped = raw_sqlite(requests, group);
    const double engine_only = engine_grouped(events_of(input, generic), group);
    const std::size_t single_rows = std::min<std::size_t>(requests, 2000);
    const double raw_single = raw_sqlite(single_rows, 1);

    const double server_rate = static_cast<double>(served.ok) / served.seconds;
    const double grouped_rate = static_cast<double>(requests) / raw_grouped;
    const double single_rate = static_cast<double>(single_rows) / raw_single;
    const double engine_rate = static_cast<double>(requests) / engine_only;
    const char* platform = generic ? "generic" : "messenger";
    if (json) {
        fmt::print(
            R"({{"platform":"{}","requests":{},"connections":{},"threads":{},"acknowledged":{},)"
            R"("transactions":{},"average_group":{},"largest_group":{},"server_per_s":{:.0f},)"
            R"("raw_grouped_per_s":{:.0f},"raw_single_per_s":{:.0f},"server_vs_raw_grouped":{:.3f},)"
            R"("server_vs_raw_single":{:.2f},"engine_grouped_per_s":{:.0f},"server_vs_engine_grouped":{:.3f}}})"
            "\n",
            platform, requests, connections, threads, served.ok, served.transactions, group, served.largest,
            server_rate, grouped_rate, single_rate, server_rate / grouped_rate, server_rate / single_rate,
            engine_rate, server_rate / engine_rate);
        return served.ok == requests ? 0 : 1;
    }
    fmt::print("{} {} webhooks over {} keep-alive connections, {} server I/O thread(s), {} contacts\n",
               requests, platform, connections, threads, contacts);
    fmt::print("  webhook server, durable 200s:        {:>9.0f}/s ({} of {} acknowledged)\n", server_rate,
               served.ok, requests);
    fmt::print("  transactions: {}, average group {}, largest {}\n", served.transactions, group,
               served.largest);
    fmt::print("  raw SQLite, {} rows per transaction:  {:>9.0f}/s   server / raw = {:.3f}\n", group,
               grouped_rate, server_rate / grouped_rate);
    fmt::print("  raw SQLite, 1 row per transaction:   {:>9.0f}/s   server / raw = {:.2f}\n", single_rate,
               server_rate / single_rate);
    fmt::print("  engine::ingest_batch, {} per call:     {:>9.0f}/s   server / engine = {:.3f}\n", group,
               engine_rate, server_rate / engine_rate);
    return served.ok == requests ? 0 : 1;
}
