// Sequences at scale: N contacts enter a tag-following sequence (each gets a pending step),
// then every step fires. Reports the time to schedule, the time to fire, and peak RSS, next to
// two references measured in the same run on SQLite files with the same settings and
// transactions of the same size:
//   - baseline: N plain INSERTs of a contact-sized row;
//   - floor: hand-written SQL that stores the least this work has to keep: per contact a
//     document carrying its next due time (indexed), an identity, one log row per phase, and
//     on firing an outbox row with a unique key. No JSON, no tags, no rules: a lower bound for
//     any engine that keeps a durable contact, timer, log and outbox.
//
//   sequence_bench [--contacts N] [--batch B] [--keep] [--json]
//
// --keep leaves the engine's database file in the temporary directory, to inspect its tables.
#include <tagflow/tagflow.hpp>

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <variant>

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
    sqlite3_exec(
        db,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(id INTEGER PRIMARY KEY, doc TEXT)",
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

void exec(sqlite3* db, const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        throw std::runtime_error(fmt::format("{}: {}", sql, sqlite3_errmsg(db)));
    }
}

sqlite3_stmt* prepare(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
        throw std::runtime_error(fmt::format("{}: {}", sql, sqlite3_errmsg(db)));
    }
    return st;
}

void run(sqlite3_stmt* st) {
    if (sqlite3_step(st) != SQLITE_DONE) {
        throw std::runtime_error(sqlite3_errmsg(sqlite3_db_handle(st)));
    }
    sqlite3_reset(st);
}

// Rows of one table written 32 to a statement, as the engine's store writes them, so the floor
// pays SQLite's per-statement work as rarely as the engine does. `values` is one row's
// placeholder list, e.g. "(?, ?, 'pending')"; text is copied, since callers build it per row.
class bulk_insert {
public:
    using value = std::variant<std::monostate, std::int64_t, std::string>; // monostate: NULL
    static constexpr std::size_t rows_per_statement = 32;

    bulk_insert(sqlite3* db, const std::string& head, const std::string& values,
                const std::string& tail = "") {
        std::string many = head;
        for (std::size_t i = 0; i < rows_per_statement; ++i) {
            many += (i == 0 ? " " : ", ") + values;
        }
        many_.reset(prepare(db, many + tail));
        one_.reset(prepare(db, head + " " + values + tail));
    }

    void add(std::vector<value> row) {
        rows_.push_back(std::move(row));
        if (rows_.size() == rows_per_statement) {
            bind_rows(many_.get());
            run(many_.get());
            rows_.clear();
        }
    }

    void flush() {
        auto rest = std::move(rows_);
        for (auto& row : rest) {
            rows_ = {std::move(row)};
            bind_rows(one_.get());
            run(one_.get());
        }
        rows_.clear();
    }

private:
    void bind_rows(sqlite3_stmt* st) {
        int index = 1;
        for (const auto& row : rows_) {
            for (const auto& v : row) {
                if (std::holds_alternative<std::monostate>(v)) {
                    sqlite3_bind_null(st, index++);
                } else if (const auto* number = std::get_if<std::int64_t>(&v)) {
                    sqlite3_bind_int64(st, index++, *number);
                } else {
                    const auto& text = std::get<std::string>(v);
                    sqlite3_bind_text(st, index++, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
                }
            }
        }
    }

    struct finalize {
        void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
    };
    std::unique_ptr<sqlite3_stmt, finalize> many_;
    std::unique_ptr<sqlite3_stmt, finalize> one_;
    std::vector<std::vector<value>> rows_;
};

struct floor_times {
    double schedule = 0;
    double fire = 0;
};

// The floor described at the top: the same number of contacts and the same batch size as the
// engine, the same file settings, the same multi-row statements.
floor_times floor_layout(std::size_t n, std::size_t batch) {
    const auto path = fresh("floor");
    sqlite3* db = nullptr;
    sqlite3_open(path.string().c_str(), &db);
    const std::unique_ptr<sqlite3, int (*)(sqlite3*)> owner(db, sqlite3_close);
    exec(db,
         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
         "CREATE TABLE contacts(id INTEGER PRIMARY KEY, due INTEGER, doc TEXT NOT NULL);"
         "CREATE INDEX contacts_due ON contacts(due) WHERE due IS NOT NULL;"
         "CREATE TABLE identities(channel TEXT, external_id TEXT, contact_id INTEGER,"
         "  PRIMARY KEY(channel, external_id)) WITHOUT ROWID;"
         "CREATE TABLE events(id INTEGER PRIMARY KEY, contact_id INTEGER, kind TEXT, at INTEGER, body TEXT);"
         "CREATE TABLE outbox(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, contact_id INTEGER,"
         "  text TEXT, status TEXT)");
    floor_times times;
    bulk_insert contacts(db, "INSERT INTO contacts(id, due, doc) VALUES", "(?, ?, ?)",
                         " ON CONFLICT(id) DO UPDATE SET due = excluded.due, doc = excluded.doc");
    bulk_insert identities(db, "INSERT INTO identities VALUES", "('zalo', ?, ?)");
    bulk_insert events(db, "INSERT INTO events(contact_id, kind, at, body) VALUES", "(?, ?, ?, ?)");
    bulk_insert outbox(db, "INSERT INTO outbox(key, contact_id, text, status) VALUES",
                       "(?, ?, ?, 'pending')");
    const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> due(
        prepare(db, "SELECT id, doc FROM contacts WHERE due <= ? ORDER BY due LIMIT ?"), sqlite3_finalize);
    // Sizes of what the engine stores for this work: a ~350-byte contact, ~90-byte log bodies.
    const std::string doc(350, 'c');
    const std::string body(90, 'b');
    times.schedule = seconds([&] {
        for (std::size_t i = 0; i < n;) {
            exec(db, "BEGIN IMMEDIATE");
            for (std::size_t j = 0; j < batch && i < n; ++j, ++i) {
                const auto id = static_cast<std::int64_t>(i + 1);
                contacts.add({id, std::int64_t{1000}, doc});
                identities.add({std::to_string(i), id});
                events.add({id, std::string("tag_added"), std::int64_t{1}, body});
            }
            contacts.flush();
            identities.flush();
            events.flush();
            exec(db, "COMMIT");
        }
    });
    std::size_t fired = 0;
    times.fire = seconds([&] {
        std::vector<std::pair<std::int64_t, std::string>> page;
        do {
            exec(db, "BEGIN IMMEDIATE");
            page.clear();
            sqlite3_bind_int64(due.get(), 1, 2000);
            sqlite3_bind_int64(due.get(), 2, static_cast<std::int64_t>(batch));
            while (sqlite3_step(due.get()) == SQLITE_ROW) {
                page.emplace_back(sqlite3_column_int64(due.get(), 0),
                                  reinterpret_cast<const char*>(sqlite3_column_text(due.get(), 1)));
            }
            sqlite3_reset(due.get());
            fired += page.size();
            for (auto& [id, text] : page) {
                text[0] = 'd'; // the contact changes: its sequence state moves on, nothing is due
                contacts.add({id, std::monostate{}, std::move(text)});
                outbox.add({"t:" + std::to_string(id), id, std::string("Nhắc bạn nhé")});
                events.add({id, std::string("sequence_step"), std::int64_t{2}, body});
            }
            contacts.flush();
            outbox.flush();
            events.flush();
            exec(db, "COMMIT");
        } while (!page.empty());
    });
    if (fired != n) {
        throw std::runtime_error(fmt::format("floor fired {} of {} contacts", fired, n));
    }
    fresh("floor");
    return times;
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
    const floor_times floor = floor_layout(contacts, batch);
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
        fmt::print(
            R"({{"contacts":{},"fired":{},"baseline_s":{:.3f},"floor_schedule_s":{:.3f},"floor_fire_s":{:.3f},)"
            R"("schedule_s":{:.3f},"fire_s":{:.3f},"schedule_over_baseline":{:.2f},"fire_over_baseline":{:.2f},)"
            R"("engine_over_floor":{:.2f},"peak_rss_mb":{}}})"
            "\n",
            contacts, fired, baseline, floor.schedule, floor.fire, schedule, fire, schedule / baseline,
            fire / baseline, (schedule + fire) / (floor.schedule + floor.fire), rss);
        return 0;
    }
    fmt::print("{} contacts, batches of {}\n", contacts, batch);
    fmt::print("  baseline (raw SQLite inserts): {:.2f} s\n", baseline);
    fmt::print("  floor (least rows, plain SQL): schedule {:.2f} s, fire {:.2f} s, {:.2f} s in all\n",
               floor.schedule, floor.fire, floor.schedule + floor.fire);
    fmt::print("  schedule (enter sequence):     {:.2f} s  ({:.1f}x baseline)\n", schedule,
               schedule / baseline);
    fmt::print("  fire {} steps:             {:.2f} s  ({:.1f}x baseline)\n", fired, fire, fire / baseline);
    fmt::print("  engine over floor: {:.1f}x (schedule + fire)\n",
               (schedule + fire) / (floor.schedule + floor.fire));
    fmt::print("  peak RSS: {} MB\n", rss);
    return 0;
}
