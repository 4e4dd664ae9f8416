// Sequences at scale: N contacts enter a tag-following sequence (each gets a pending step),
// then every step fires. Reports the time to schedule, the time to fire, and peak RSS, next to
// a baseline measured in the same run: N plain INSERTs into a SQLite file with the same
// settings, in transactions of the same size.
//
//   sequence_bench [--contacts N] [--batch B] [--keep] [--json]
//
// --keep leaves the engine's database file in the temporary directory, to inspect its tables.
#include <tagflow/tagflow.hpp>

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace {

double seconds(const std::function<void()>& work) {
    const auto start = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::filesystem::path fresh(const std::string& name) {
    auto path = std::filesystem::temp_directory_path() / ("tagflow_seqbench_" + name + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(path.string() + suffix);
    }
    return path;
}

double raw_inserts(std::size_t n, std::size_t batch) {
    const auto path = fresh("raw");
    sqlite3* db = nullptr;
    sqlite3_open(path.string().c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(id INTEGER PRIMARY KEY, doc TEXT)",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t(doc) VALUES (?)", -1, &st, nullptr);
    const std::string doc(600, 'x');
    const double took = seconds([&] {
        for (std::size_t i = 0; i < n;) {
            sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
            for (std::size_t j = 0; j < batch && i < n; ++j, ++i) {
                sqlite3_bind_text(st, 1, doc.c_str(), static_cast<int>(doc.size()), SQLITE_STATIC);
                sqlite3_step(st);
                sqlite3_reset(st);
            }
            sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
        }
    });
    sqlite3_finalize(st);
    sqlite3_close(db);
    fresh("raw");
    return took;
}

long peak_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t contacts = 100000;
    std::size_t batch = 5000;
    bool json = false;
    bool keep = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--contacts") == 0 && i + 1 < argc) {
            contacts = std::stoul(argv[++i]);
        } else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = std::stoul(argv[++i]);
        } else if (std::strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (std::strcmp(argv[i], "--keep") == 0) {
            keep = true;
        } else {
            fmt::print(stderr, "usage: sequence_bench [--contacts N] [--batch B] [--keep] [--json]\n");
            return 2;
        }
    }
    const double baseline = raw_inserts(contacts, batch);
    const auto path = fresh("engine");
    tagflow::engine engine(tagflow::open_sqlite_store(path.string()));
    engine.load_definitions(R"j({"schema": 1, "tags": ["Follow"],
      "sequences": [{"name": "s", "follows": {"tag": "Follow"}, "window": {"from": "08:00", "to": "21:00"},
                     "steps": [{"after": "24h", "send": "Nhắc bạn nhé"}]}]})j");
    const auto t0 = tagflow::parse_time("2026-01-05T03:00:00Z");
    std::vector<tagflow::event> page;
    page.reserve(batch);
    const double schedule = seconds([&] {
        for (std::size_t i = 0; i < contacts;) {
            page.clear();
            for (std::size_t j = 0; j < batch && i < contacts; ++j, ++i) {
                page.push_back(tagflow::event::add_tag({"zalo", std::to_string(i)}, "Follow").at_time(t0));
            }
            engine.ingest_batch(std::move(page)); // the engine takes the batch over
            page = {};
            page.reserve(batch);
        }
    });
    std::size_t fired = 0;
    const double fire = seconds([&] { fired = engine.advance_to(t0 + std::chrono::hours(48)); });
    const long rss = peak_rss_mb();
    if (keep) {
        fmt::print(stderr, "kept {}\n", path.string());
    } else {
        fresh("engine");
    }
    if (json) {
        fmt::print(R"({{"contacts":{},"fired":{},"baseline_s":{:.3f},"schedule_s":{:.3f},"fire_s":{:.3f},)"
                   R"("schedule_over_baseline":{:.2f},"fire_over_baseline":{:.2f},"peak_rss_mb":{}}})"
                   "\n",
                   contacts, fired, baseline, schedule, fire, schedule / baseline, fire / baseline, rss);
        return 0;
    }
    fmt::print("{} contacts, batches of {}\n", contacts, batch);
    fmt::print("  baseline (raw SQLite inserts): {:.2f} s\n", baseline);
    fmt::print("  schedule (enter sequence):     {:.2f} s  ({:.1f}x baseline)\n", schedule, schedule / baseline);
    fmt::print("  fire {} steps:             {:.2f} s  ({:.1f}x baseline)\n", fired, fire, fire / baseline);
    fmt::print("  peak RSS: {} MB\n", rss);
    return 0;
}
