// Ingest throughput against raw SQLite on the same file settings (WAL, synchronous=FULL).
//
//   ingest_bench [--events N] [--batch B] [--json]
//
// Four measurements, each on a fresh file in the temp directory:
//   raw_single:   N plain INSERTs of a contact-sized JSON row, one transaction each
//   engine_single: N message events through engine::ingest (one transaction each)
//   raw_batch:    N INSERTs, B per transaction
//   engine_batch: N message events through engine::ingest_batch, B per call
// plus engine_memory: N events on the in-memory store (the engine's own cost, no I/O).
#include <tagflow/tagflow.hpp>

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

const char* definitions_json = R"json({"schema": 1,
  "tags": ["Khách mới", "Khách cũ", "Hỏi giá"],
  "rules": [
    {"name": "welcome", "when": "first_message", "then": [{"send": "Chào bạn!"}, {"add_tag": "Khách mới"}]},
    {"name": "back", "when": "returning_message", "then": [{"add_tag": "Khách cũ"}]},
    {"name": "price", "when": "message_received", "filter": {"contains": "giá"}, "then": [{"add_tag": "Hỏi giá"}]}
  ]})json";

std::filesystem::path fresh_file(const std::string& name) {
    auto path = std::filesystem::temp_directory_path() / ("tagflow_bench_" + name + ".db");
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

double raw_sqlite(std::size_t events, std::size_t batch) {
    const auto path = fresh_file("raw");
    sqlite3* db = nullptr;
    sqlite3_open(path.string().c_str(), &db);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
             "CREATE TABLE rows(id INTEGER PRIMARY KEY, key TEXT UNIQUE, doc TEXT NOT NULL)");
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO rows(key, doc) VALUES (?, ?)", -1, &insert, nullptr);
    // About the size of a stored contact plus its event row.
    const std::string doc(600, 'x');
    const double took = seconds([&] {
        for (std::size_t i = 0; i < events;) {
            exec(db, "BEGIN IMMEDIATE");
            for (std::size_t j = 0; j < batch && i < events; ++j, ++i) {
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
    return took;
}

std::vector<tagflow::event> make_events(std::size_t n) {
    std::vector<tagflow::event> out;
    out.reserve(n);
    const auto start = tagflow::parse_time("2026-01-05T03:00:00Z");
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(
            tagflow::event::message({"zalo", std::to_string(i % 500)}, i % 3 ? "Xin chào" : "giá bao nhiêu")
                .with_key("m" + std::to_string(i))
                .at_time(start + std::chrono::minutes(i)));
    }
    return out;
}

double engine_run(std::unique_ptr<tagflow::store> store, const std::vector<tagflow::event>& events,
                  std::size_t batch) {
    tagflow::engine engine(std::move(store));
    engine.load_definitions(definitions_json);
    return seconds([&] {
        if (batch <= 1) {
            for (const auto& e : events) {
                engine.ingest(e);
            }
            return;
        }
        for (std::size_t i = 0; i < events.size(); i += batch) {
            const auto n = std::min(batch, events.size() - i);
            engine.ingest_batch(std::span<const tagflow::event>(events.data() + i, n));
        }
    });
}

} // namespace

int main(int argc, char** argv) {
    std::size_t events = 2000;
    std::size_t batch = 500;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            events = std::stoul(argv[++i]);
        } else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = std::stoul(argv[++i]);
        } else if (std::strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            fmt::print(stderr, "usage: ingest_bench [--events N] [--batch B] [--json]\n");
            return 2;
        }
    }
    const auto input = make_events(events);
    const double raw_single = raw_sqlite(events, 1);
    const double engine_single =
        engine_run(tagflow::open_sqlite_store(fresh_file("single").string()), input, 1);
    const double raw_batch = raw_sqlite(events, batch);
    const double engine_batch =
        engine_run(tagflow::open_sqlite_store(fresh_file("batch").string()), input, batch);
    const double engine_memory = engine_run(tagflow::make_memory_store(), input, 1);
    for (const char* name : {"raw", "single", "batch"}) {
        fresh_file(name); // removes the files the runs left behind
    }
    auto rate = [events](double s) { return static_cast<double>(events) / s; };
    if (json) {
        fmt::print(R"({{"events":{},"batch":{},"raw_single_per_s":{:.0f},"engine_single_per_s":{:.0f},)"
                   R"("single_ratio":{:.3f},"raw_batch_per_s":{:.0f},"engine_batch_per_s":{:.0f},)"
                   R"("batch_ratio":{:.3f},"engine_memory_per_s":{:.0f}}})"
                   "\n",
                   events, batch, rate(raw_single), rate(engine_single), raw_single / engine_single,
                   rate(raw_batch), rate(engine_batch), raw_batch / engine_batch, rate(engine_memory));
        return 0;
    }
    fmt::print("{} events, batch {}\n", events, batch);
    fmt::print("  one transaction per event: raw SQLite {:>9.0f}/s, engine {:>9.0f}/s, engine/raw = {:.2f}\n",
               rate(raw_single), rate(engine_single), raw_single / engine_single);
    fmt::print("  group commit:              raw SQLite {:>9.0f}/s, engine {:>9.0f}/s, engine/raw = {:.2f}\n",
               rate(raw_batch), rate(engine_batch), raw_batch / engine_batch);
    fmt::print("  in-memory store:           engine {:>9.0f}/s\n", rate(engine_memory));
    return 0;
}
