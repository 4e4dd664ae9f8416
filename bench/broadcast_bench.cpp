// Broadcast planning and sending on SQLite, against raw SQLite inserts of the same number of
// outbox-sized rows on the same file settings (WAL, synchronous=FULL), in the same run.
//
//   broadcast_bench [--contacts N] [--batch B] [--plans K] [--plan-only] [--mmap BYTES] [--json]
//
// --plans K plans K times (a plan writes nothing, so each sees the same store) and reports the
// fastest and the median, which a noisy shared machine needs to tell changes apart. --plan-only
// skips the send (reported as 0).
// --mmap sets sqlite_options::mmap_bytes for the engine's store (the default maps nothing).
//
// Setup: N contacts on Zalo, each following the OA and tagged "Khách VIP" (ingest_batch, B per
// transaction; not timed as part of the broadcast). Then, timed:
//   plan: plan_broadcast to the segment (a dry run: policy verdict and cost per recipient)
//   send: send_broadcast (one outbox row per recipient, B recipients per transaction)
//   raw:  N INSERTs of a row like an outbox row, B per transaction
#include <tagflow/tagflow.hpp>

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::filesystem::path fresh(const std::string& name) {
    auto path = std::filesystem::temp_directory_path() / ("tagflow_bench_" + name + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(path.string() + suffix);
    }
    return path;
}

template <typename F>
double timed(F&& f) {
    const auto start = clock_type::now();
    f();
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

double raw_inserts(std::size_t n, std::size_t batch) {
    sqlite3* db = nullptr;
    sqlite3_open(fresh("broadcast_raw").c_str(), &db);
    sqlite3_exec(
        db,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE outbox(id INTEGER PRIMARY KEY, "
        "key TEXT UNIQUE, contact_id INTEGER, text TEXT, status TEXT, content TEXT)",
        nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(
        db, "INSERT INTO outbox(key, contact_id, text, status, content) VALUES (?, ?, ?, 'deferred', ?)", -1,
        &st, nullptr);
    const std::string text = "Khách VIP ơi, giảm 30% toàn bộ áo khoác đêm nay!";
    const std::string content = R"({"not_before":"2026-03-03T06:00:00Z","cost":300,"currency":"VND"})";
    const double s = timed([&] {
        for (std::size_t i = 0; i < n; ++i) {
            if (i % batch == 0) {
                sqlite3_exec(db, i == 0 ? "BEGIN" : "COMMIT; BEGIN", nullptr, nullptr, nullptr);
            }
            const auto key = "broadcast:sale/" + std::to_string(i + 1);
            sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(i + 1));
            sqlite3_bind_text(st, 3, text.c_str(), -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, content.c_str(), -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    });
    sqlite3_finalize(st);
    sqlite3_close(db);
    return s;
}

long peak_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t contacts = 20'000, batch = 1000, plans = 1;
    std::int64_t mmap_bytes = 0; // sqlite_options::mmap_bytes; the raw baseline keeps SQLite's default
    bool as_json = false, plan_only = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--contacts" && i + 1 < argc) {
            contacts = std::stoull(argv[++i]);
        } else if (a == "--batch" && i + 1 < argc) {
            batch = std::stoull(argv[++i]);
        } else if (a == "--plans" && i + 1 < argc) {
            plans = std::max<std::size_t>(1, std::stoull(argv[++i]));
        } else if (a == "--mmap" && i + 1 < argc) {
            mmap_bytes = std::stoll(argv[++i]);
        } else if (a == "--plan-only") {
            plan_only = true;
        } else if (a == "--json") {
            as_json = true;
        } else {
            fmt::print(stderr, "usage: broadcast_bench [--contacts N] [--batch B] [--plans K] [--plan-only] "
                               "[--mmap BYTES] [--json]\n");
            return 2;
        }
    }
    const auto start = tagflow::parse_time("2026-03-02T20:00:00+07:00");
    tagflow::engine_options options;
    options.clock = [start] { return start; };
    auto e = tagflow::engine(tagflow::open_sqlite_store(fresh("broadcast").string(),
                                                        tagflow::sqlite_options{.mmap_bytes = mmap_bytes}),
                             options);
    e.load_definitions(R"j({"schema": 1, "tags": ["Khách VIP"],
      "segments": [{"name": "vip", "if": "tag(\"Khách VIP\")"}],
      "policies": {"zalo-priced": {"channel": "zalo", "currency": "VND", "rules": [
        {"kind": "followers_only", "purposes": ["promotional"]},
        {"kind": "hours", "open": "06:00", "close": "22:00", "zone": "Asia/Ho_Chi_Minh", "purposes": ["promotional"]},
        {"kind": "price", "price": 300, "purposes": ["promotional"]}]}},
      "channels": {"zalo": {"policy": "zalo-priced"}}})j");
    const double setup = timed([&] {
        std::vector<tagflow::event> events;
        for (std::size_t i = 1; i <= contacts; ++i) {
            const tagflow::identity who{"zalo", std::to_string(i)};
            events.push_back(tagflow::event::follow(who).at_time(start - std::chrono::hours(1)));
            events.push_back(
                tagflow::event::add_tag(who, "Khách VIP").at_time(start - std::chrono::hours(1)));
            if (events.size() >= batch) {
                e.ingest_batch(events);
                events.clear();
            }
        }
        e.ingest_batch(events);
    });
    tagflow::broadcast_spec spec;
    spec.name = "sale";
    spec.segment = "vip";
    spec.text = "Khách VIP ơi, giảm 30% toàn bộ áo khoác đêm nay!";
    spec.at = tagflow::parse_time("2026-03-02T22:30:00+07:00");
    tagflow::broadcast_summary plan, sent;
    std::vector<double> plan_times;
    for (std::size_t k = 0; k < plans; ++k) {
        plan_times.push_back(timed([&] { plan = tagflow::plan_broadcast(e, spec); }));
    }
    std::sort(plan_times.begin(), plan_times.end());
    const double plan_s = plan_times.front();
    const double plan_median_s = plan_times[plan_times.size() / 2];
    const double send_s = plan_only ? 0.0 : timed([&] { sent = tagflow::send_broadcast(e, spec, batch); });
    const long rss = peak_rss_mb(); // the plan holds one summary row per recipient, by design
    const double raw_s = raw_inserts(contacts, batch);
    if (plan.recipients.size() != contacts || (!plan_only && sent.recipients.size() != contacts)) {
        fmt::print(stderr, "unexpected recipients: plan {} sent {}\n", plan.recipients.size(),
                   sent.recipients.size());
        return 1;
    }
    const double per_million = 1'000'000.0 / static_cast<double>(contacts);
    if (as_json) {
        fmt::print(
            R"({{"contacts":{},"batch":{},"setup_s":{:.2f},"plans":{},"plan_s":{:.3f},"plan_median_s":{:.3f},"send_s":{:.3f},"raw_s":{:.3f},)"
            R"("plan_vs_raw":{:.1f},"send_vs_raw":{:.1f},"plan_1m_s_extrapolated":{:.1f},"send_1m_s_extrapolated":{:.1f},)"
            R"("peak_rss_mb":{},"mmap_bytes":{}}})"
            "\n",
            contacts, batch, setup, plans, plan_s, plan_median_s, send_s, raw_s, plan_s / raw_s,
            send_s / raw_s, plan_s * per_million, send_s * per_million, rss, mmap_bytes);
    } else {
        fmt::print("{} recipients (setup {:.1f} s)\n", contacts, setup);
        fmt::print("  plan:  {:.3f} s  ({:.1f}x raw inserts; ~{:.0f} s per million; fastest of {}, median "
                   "{:.3f} s)\n",
                   plan_s, plan_s / raw_s, plan_s * per_million, plans, plan_median_s);
        fmt::print("  send:  {:.3f} s  ({:.1f}x raw inserts; ~{:.0f} s per million)\n", send_s,
                   send_s / raw_s, send_s * per_million);
        fmt::print("  raw SQLite inserts of the same rows: {:.3f} s\n", raw_s);
        fmt::print("  estimated cost: {} VND\n", plan.cost.count("VND") ? plan.cost.at("VND") : 0.0);
        fmt::print("  peak RSS: {} MB\n", rss);
    }
    return 0;
}
