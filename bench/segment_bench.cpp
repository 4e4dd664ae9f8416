// Tag conditions over many contacts: the bitmap index (segment_index) against the equivalent
// SQLite query on the same data in the same run.
//
//   segment_bench [--contacts N] [--tags T] [--per-contact K] [--repeat R] [--json]
//
// Data: N contacts, each with K distinct tags drawn from T by a fixed-seed generator, written to
// a SQLite table laid out like the store's contact_tags (PRIMARY KEY(contact_id, tag), index on
// (tag, contact_id)), and loaded into a segment_index. The condition is three terms,
// tag("t0") and tag("t1") and not tag("t2"); both sides must return the same count.
// Reported: median query time of each over R runs, and the ratio.
#include <tagflow/segment_index.hpp>
#include <tagflow/tagflow.hpp>

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

void exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message ? message : "?";
        sqlite3_free(message);
        throw std::runtime_error(text);
    }
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    std::size_t contacts = 1'000'000, tags = 50, per_contact = 5, repeat = 15;
    bool as_json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return static_cast<std::size_t>(std::stoull(argv[++i])); };
        if (a == "--contacts" && i + 1 < argc) {
            contacts = next();
        } else if (a == "--tags" && i + 1 < argc) {
            tags = next();
        } else if (a == "--per-contact" && i + 1 < argc) {
            per_contact = next();
        } else if (a == "--repeat" && i + 1 < argc) {
            repeat = next();
        } else if (a == "--json") {
            as_json = true;
        } else {
            fmt::print(
                stderr,
                "usage: segment_bench [--contacts N] [--tags T] [--per-contact K] [--repeat R] [--json]\n");
            return 2;
        }
    }
    per_contact = std::min(per_contact, tags);

    const auto path = std::filesystem::temp_directory_path() / "tagflow_bench_segments.db";
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(path.string() + suffix);
    }
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    exec(db, "CREATE TABLE contact_tags(contact_id INTEGER NOT NULL, tag TEXT NOT NULL, added_at INTEGER NOT "
             "NULL, "
             "PRIMARY KEY(contact_id, tag)) WITHOUT ROWID;");

    tagflow::segment_index index;
    std::mt19937_64 rng(20261123);
    std::vector<std::string> names;
    for (std::size_t t = 0; t < tags; ++t) {
        names.push_back("t" + std::to_string(t));
    }
    const auto load_start = clock_type::now();
    exec(db, "BEGIN");
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO contact_tags(contact_id, tag, added_at) VALUES (?, ?, 0)", -1,
                       &insert, nullptr);
    std::vector<std::string> mine;
    std::vector<std::size_t> pool(tags);
    for (std::size_t c = 1; c <= contacts; ++c) {
        for (std::size_t t = 0; t < tags; ++t) {
            pool[t] = t;
        }
        mine.clear();
        for (std::size_t k = 0; k < per_contact; ++k) {
            const auto pick = k + static_cast<std::size_t>(rng() % (tags - k));
            std::swap(pool[k], pool[pick]);
            mine.push_back(names[pool[k]]);
            sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(c));
            sqlite3_bind_text(insert, 2, mine.back().c_str(), -1, SQLITE_STATIC);
            sqlite3_step(insert);
            sqlite3_reset(insert);
        }
        index.update(static_cast<tagflow::contact_id>(c), mine);
    }
    sqlite3_finalize(insert);
    exec(db, "COMMIT");
    exec(db, "CREATE INDEX contact_tags_tag ON contact_tags(tag, contact_id); ANALYZE;");
    const double load_seconds = std::chrono::duration<double>(clock_type::now() - load_start).count();

    const auto condition = tagflow::expression::parse(R"(tag("t0") and tag("t1") and not tag("t2"))");
    const char* sql = "SELECT count(*) FROM (SELECT contact_id FROM contact_tags WHERE tag = 't0' "
                      "INTERSECT SELECT contact_id FROM contact_tags WHERE tag = 't1' "
                      "EXCEPT SELECT contact_id FROM contact_tags WHERE tag = 't2')";
    sqlite3_stmt* query = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &query, nullptr);

    std::vector<double> index_ms, sql_ms;
    std::uint64_t index_count = 0, sql_count = 0;
    for (std::size_t r = 0; r < repeat; ++r) {
        auto t0 = clock_type::now();
        index_count = index.count(condition);
        index_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
        t0 = clock_type::now();
        sqlite3_step(query);
        sql_count = static_cast<std::uint64_t>(sqlite3_column_int64(query, 0));
        sqlite3_reset(query);
        sql_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    }
    // The members themselves (what a broadcast needs), not only the count.
    auto t0 = clock_type::now();
    const auto members = index.members(condition);
    const double members_ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
    sqlite3_finalize(query);
    sqlite3_close(db);

    if (index_count != sql_count || members.size() != index_count) {
        fmt::print(stderr, "MISMATCH: index {} members {} sql {}\n", index_count, members.size(), sql_count);
        return 1;
    }
    const double ratio = median(sql_ms) / median(index_ms);
    if (as_json) {
        fmt::print(
            R"({{"contacts":{},"tags":{},"per_contact":{},"matches":{},"index_ms":{:.3f},"index_members_ms":{:.3f},)"
            R"("sql_ms":{:.3f},"speedup":{:.1f},"load_s":{:.2f}}})"
            "\n",
            contacts, tags, per_contact, index_count, median(index_ms), members_ms, median(sql_ms), ratio,
            load_seconds);
    } else {
        fmt::print("{} contacts x {} of {} tags; condition matches {}\n", contacts, per_contact, tags,
                   index_count);
        fmt::print("  segment_index count:   {:8.3f} ms (median of {})\n", median(index_ms), repeat);
        fmt::print("  segment_index members: {:8.3f} ms\n", members_ms);
        fmt::print("  SQLite query:          {:8.3f} ms (median of {})\n", median(sql_ms), repeat);
        fmt::print("  index is {:.1f}x faster than SQL\n", ratio);
    }
    return 0;
}
