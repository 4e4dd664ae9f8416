#include "detail/sqlite.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace sql = tagflow::detail::sqlite;
using tagflow::errc;

namespace {

/// A fresh directory under the system temp directory, removed with everything in it at scope exit.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        std::random_device random;
        const auto base = std::filesystem::temp_directory_path();
        for (int attempt = 0; attempt < 100; ++attempt) {
            auto candidate = base / ("tagflow-sqlite-test-" + std::to_string(random()) + "-" +
                                     std::to_string(counter.fetch_add(1)));
            if (std::filesystem::create_directory(candidate)) {
                path_ = candidate;
                return;
            }
        }
        throw std::runtime_error("cannot create a temporary directory");
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

std::int64_t count_rows(sql::database& db, const std::string& table) {
    auto stmt = db.prepare("SELECT count(*) FROM " + table);
    REQUIRE(stmt.step());
    return stmt.get_int64(0);
}

bool table_exists(sql::database& db, const std::string& name) {
    auto stmt = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    stmt.bind(1, std::string_view(name));
    return stmt.step();
}

// Overloads that would silently lose data or misread characters are refused at compile time.
static_assert(sql::bindable<int> && sql::bindable<bool> && sql::bindable<std::uint32_t>);
static_assert(sql::bindable<std::string> && sql::bindable<const char*> && sql::bindable<float>);
static_assert(!sql::bindable<std::uint64_t> && !sql::bindable<char> && !sql::bindable<long double>);

} // namespace

TEST_CASE("every value type survives a round trip", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE t (i INTEGER, d REAL, s TEXT, n TEXT)");

    const std::string vietnamese =
        "Chào bạn! Đơn hàng của Nguyễn Thị Hường đã được giao — cảm ơn quý khách 🙏";
    const std::string with_nul("a\0b\0\0c", 6);

    struct row {
        std::int64_t i;
        double d;
        std::string s;
    };
    const std::vector<row> rows = {
        {std::numeric_limits<std::int64_t>::min(), -1.5e-300, vietnamese},
        {std::numeric_limits<std::int64_t>::max(), 3.141592653589793, with_nul},
        {0, 0.0, ""},
    };
    for (const auto& r : rows) {
        auto insert = db.prepare("INSERT INTO t (i, d, s, n) VALUES (?, ?, ?, ?)");
        insert.bind(1, r.i);
        insert.bind(2, r.d);
        insert.bind(3, std::string_view(r.s));
        insert.bind_null(4);
        insert.execute();
        CHECK(db.changes() == 1);
    }

    auto select = db.prepare("SELECT i, d, s, n, typeof(s) FROM t ORDER BY rowid");
    CHECK(select.column_count() == 5);
    for (const auto& r : rows) {
        REQUIRE(select.step());
        CHECK(select.get_int64(0) == r.i);
        CHECK(select.get_double(1) == r.d);
        CHECK(select.get_text(2) == r.s);
        CHECK(select.get_text(2).size() == r.s.size());
        CHECK(select.get_text(4) == "text");
        CHECK(select.is_null(3));
        CHECK_FALSE(select.is_null(2));
        CHECK(select.get_optional_text(3) == std::nullopt);
        CHECK(select.get_optional_int64(3) == std::nullopt);
        CHECK(select.get_optional_text(2) == r.s);
        CHECK(select.get_optional_int64(0) == r.i);
        CHECK(select.get_text(3).empty());
        CHECK(select.get_int64(3) == 0);
    }
    CHECK_FALSE(select.step());

    SECTION("text is stored as UTF-8 text, counted in characters by SQLite") {
        auto length = db.prepare("SELECT length(?)");
        length.bind(1, std::string_view("Hường"));
        REQUIRE(length.step());
        CHECK(length.get_int64(0) == 5);
    }

    SECTION("an empty view binds empty text, not NULL") {
        auto stmt = db.prepare("SELECT ? IS NULL, length(?)");
        stmt.bind(1, std::string_view());
        stmt.bind(2, std::string_view());
        REQUIRE(stmt.step());
        CHECK(stmt.get_int64(0) == 0);
        CHECK(stmt.get_int64(1) == 0);
    }

    SECTION("optionals, nullopt, small integers and bind_all") {
        auto stmt = db.prepare("SELECT ?, ?, ?, ?, ?, ?, ?");
        stmt.bind(1, std::optional<std::int64_t>(42));
        stmt.bind(2, std::optional<std::string>());
        stmt.bind(3, std::nullopt);
        stmt.bind(4, std::optional<std::string>("có"));
        stmt.bind(5, 7);    // int
        stmt.bind(6, true); // bool
        stmt.bind(7, std::optional<double>(2.5));
        REQUIRE(stmt.step());
        CHECK(stmt.get_int64(0) == 42);
        CHECK(stmt.is_null(1));
        CHECK(stmt.is_null(2));
        CHECK(stmt.get_text(3) == "có");
        CHECK(stmt.get_int64(4) == 7);
        CHECK(stmt.get_int64(5) == 1);
        CHECK(stmt.get_double(6) == 2.5);

        auto all = db.prepare("SELECT ?, ?, ?, ?");
        all.bind_all(std::int64_t{-9}, 0.25, "xin chào", std::nullopt);
        REQUIRE(all.step());
        CHECK(all.get_int64(0) == -9);
        CHECK(all.get_double(1) == 0.25);
        CHECK(all.get_text(2) == "xin chào");
        CHECK(all.is_null(3));

        all.reset();
        CHECK_THROWS_AS(all.bind_all(1, 2), tagflow::error);
    }

    SECTION("last_insert_rowid follows inserts") {
        db.execute("CREATE TABLE ids (id INTEGER PRIMARY KEY, v TEXT)");
        db.cached("INSERT INTO ids (id, v) VALUES (?, ?)").bind_all(1234, "x").execute();
        CHECK(db.last_insert_rowid() == 1234);
    }
}

TEST_CASE("the transaction guard rolls back when an exception leaves its scope", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE t (x INTEGER)");
    try {
        sql::transaction tx(db);
        db.execute("INSERT INTO t VALUES (1)");
        CHECK(count_rows(db, "t") == 1);
        throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
    }
    CHECK(count_rows(db, "t") == 0);
    CHECK(sqlite3_get_autocommit(db.handle()) != 0);

    SECTION("a guard that is simply dropped also rolls back") {
        {
            sql::transaction tx(db, sql::transaction::mode::deferred);
            db.execute("INSERT INTO t VALUES (2)");
        }
        CHECK(count_rows(db, "t") == 0);
    }
}

TEST_CASE("the transaction guard keeps changes once committed", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE t (x INTEGER)");
    {
        sql::transaction tx(db);
        db.execute("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)");
        tx.commit();
        CHECK_THROWS_AS(tx.commit(), tagflow::error);
    }
    CHECK(count_rows(db, "t") == 2);
    CHECK(sqlite3_get_autocommit(db.handle()) != 0);

    // A nested BEGIN is refused and leaves the outer transaction intact.
    sql::transaction outer(db);
    CHECK_THROWS_AS(sql::transaction(db), tagflow::error);
    db.execute("INSERT INTO t VALUES (3)");
    outer.commit();
    CHECK(count_rows(db, "t") == 3);
}

TEST_CASE("a duplicate unique key throws constraint_error", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE contacts (phone TEXT UNIQUE NOT NULL)");
    auto& insert = db.cached("INSERT INTO contacts (phone) VALUES (?)");
    insert.bind(1, std::string_view("+84901234567"));
    insert.execute();

    auto& again = db.cached("INSERT INTO contacts (phone) VALUES (?)");
    again.bind(1, std::string_view("+84901234567"));
    try {
        again.execute();
        FAIL("expected a constraint_error");
    } catch (const sql::constraint_error& e) {
        CHECK(e.code() == errc::store_failure);
        CHECK(e.extended_code() == SQLITE_CONSTRAINT_UNIQUE);
        CHECK_THAT(e.what(), Catch::Contains("UNIQUE constraint failed: contacts.phone"));
    }

    // The statement and connection stay usable after the violation.
    db.cached("INSERT INTO contacts (phone) VALUES (?)").bind_all("+84907654321").execute();
    CHECK(count_rows(db, "contacts") == 2);

    SECTION("NOT NULL violations are constraint errors too, catchable as tagflow::error") {
        CHECK_THROWS_AS(db.cached("INSERT INTO contacts (phone) VALUES (?)").bind_all(std::nullopt).execute(),
                        sql::constraint_error);
        CHECK_THROWS_AS(db.execute("INSERT INTO contacts (phone) VALUES (NULL)"), tagflow::error);
    }

    SECTION("foreign keys are enforced by default") {
        db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                   "CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))");
        try {
            db.execute("INSERT INTO child VALUES (99)");
            FAIL("expected a constraint_error");
        } catch (const sql::constraint_error& e) {
            CHECK(e.extended_code() == SQLITE_CONSTRAINT_FOREIGNKEY);
        }
    }
}

TEST_CASE("run binds, executes and leaves no binding behind", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE t (n INTEGER, s TEXT, o TEXT)");
    auto& insert = db.cached("INSERT INTO t (n, s, o) VALUES (?, ?, ?)");
    {
        // The text is read in place: it only has to live for the call.
        std::string text = "xin ch\xc3\xa0o";
        text.push_back('\0');
        text += "tail";
        insert.run(7, text, std::optional<std::string_view>{"set"});
        insert.run(8, std::string(), std::optional<std::string>{});
    }
    // Rewound with every binding cleared: running again unbound inserts NULLs.
    insert.execute();
    insert.reset();

    auto rows = db.prepare("SELECT n, s, o, length(CAST(s AS BLOB)) FROM t ORDER BY rowid");
    REQUIRE(rows.step());
    CHECK(rows.get_int64(0) == 7);
    CHECK(rows.get_text(1) == std::string("xin ch\xc3\xa0o\0tail", 14));
    CHECK(rows.get_text(2) == "set");
    REQUIRE(rows.step());
    CHECK(rows.get_int64(0) == 8);
    CHECK_FALSE(rows.is_null(1)); // an empty string binds '', never NULL
    CHECK(rows.get_int64(3) == 0);
    CHECK(rows.is_null(2));
    REQUIRE(rows.step());
    CHECK(rows.is_null(0));
    CHECK(rows.is_null(1));
    CHECK_FALSE(rows.step());

    SECTION("a failing run rewinds the statement, so it can run again") {
        db.execute("CREATE TABLE u (k TEXT UNIQUE)");
        auto& put = db.cached("INSERT INTO u (k) VALUES (?)");
        put.run("a");
        CHECK_THROWS_AS(put.run("a"), sql::constraint_error);
        put.run("b");
        CHECK(count_rows(db, "u") == 2);
        CHECK_THROWS_WITH(put.run("c", "d"), Catch::Contains("2 values for 1 parameters"));
    }
}

TEST_CASE("bulk rows insert any number of rows in order, as single inserts would", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT, o TEXT, r REAL)");
    sql::bulk_rows rows(db, "INSERT INTO t (n, s, o, r)", 4);
    // Counts around the statement sizes: none, one, a full statement, a full one plus each
    // smaller size, and several full ones with a remainder.
    const int count = GENERATE(0, 1, 2, 31, 32, 33, 63, 100);
    std::vector<std::string> texts;
    for (int i = 0; i < count; ++i) {
        texts.push_back("row " + std::to_string(i));
    }
    for (int i = 0; i < count; ++i) {
        // Borrowed views, handed-over strings and NULLs from optionals, mixed row by row.
        std::optional<std::string_view> maybe;
        if (i % 3 != 0) {
            maybe = texts[static_cast<std::size_t>(i)];
        }
        rows.add(i, maybe, std::string("own ") + std::to_string(i),
                 i % 2 == 0 ? std::optional<double>{i / 2.0} : std::nullopt);
        CHECK(rows.pending() == (i + 1) % sql::bulk_rows::max_rows);
    }
    rows.flush();
    CHECK(rows.pending() == 0);
    texts.assign(texts.size(), std::string(16, 'x')); // nothing may still point at the old text

    CHECK(count_rows(db, "t") == count);
    auto read = db.prepare("SELECT n, s, o, r FROM t ORDER BY n");
    for (int i = 0; i < count; ++i) {
        REQUIRE(read.step());
        CHECK(read.get_int64(0) == i);
        if (i % 3 == 0) {
            CHECK(read.is_null(1));
        } else {
            CHECK(read.get_text(1) == "row " + std::to_string(i));
        }
        CHECK(read.get_text(2) == "own " + std::to_string(i));
        if (i % 2 == 0) {
            CHECK(read.get_double(3) == i / 2.0);
        } else {
            CHECK(read.is_null(3));
        }
    }
    CHECK_FALSE(read.step());
}

TEST_CASE("bulk rows take a tail, so upserts and deletes by a list of ids work", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID");
    sql::bulk_rows upsert(db, "INSERT INTO kv (k, v)", 2, "ON CONFLICT(k) DO UPDATE SET v = excluded.v");
    for (int i = 0; i < 40; ++i) {
        upsert.add(std::string("k") + std::to_string(i % 10), i); // each key written four times
    }
    upsert.flush();
    CHECK(count_rows(db, "kv") == 10);
    // Rows run in order, so the last write of each key wins.
    auto value = db.prepare("SELECT v FROM kv WHERE k = 'k3'");
    REQUIRE(value.step());
    CHECK(value.get_int64(0) == 33);

    db.execute("CREATE TABLE ids (id INTEGER PRIMARY KEY)");
    db.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
               "INSERT INTO ids SELECT i FROM n");
    sql::bulk_rows remove(db, "DELETE FROM ids WHERE id IN (", 1, ")");
    for (int id = 2; id <= 50; id += 2) {
        remove.add(id);
    }
    remove.flush();
    CHECK(count_rows(db, "ids") == 25);
    auto even = db.prepare("SELECT count(*) FROM ids WHERE id % 2 = 0");
    REQUIRE(even.step());
    CHECK(even.get_int64(0) == 0);
}

TEST_CASE("a failing bulk statement throws and drops the rows that did not run", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE u (k TEXT UNIQUE NOT NULL)");
    sql::bulk_rows rows(db, "INSERT INTO u (k)", 1);

    SECTION("a clash inside a full statement fails while adding") {
        db.execute("INSERT INTO u VALUES ('k5')");
        for (int i = 0; i < sql::bulk_rows::max_rows - 1; ++i) {
            rows.add(std::string("k") + std::to_string(i));
        }
        CHECK_THROWS_AS(rows.add(std::string("last")), sql::constraint_error);
        CHECK(rows.pending() == 0);
        CHECK(count_rows(db, "u") == 1); // the failed statement left nothing of its rows
    }
    SECTION("a clash in the rest fails in flush, and the next rows are unaffected") {
        rows.add("a");
        rows.add("b");
        rows.add("a");
        CHECK_THROWS_AS(rows.flush(), sql::constraint_error);
        CHECK(rows.pending() == 0);
        rows.add("c");
        rows.flush();
        auto read = db.prepare("SELECT group_concat(k, ',') FROM (SELECT k FROM u ORDER BY k)");
        REQUIRE(read.step());
        // "a", "b" ran as a statement of two and the third row alone, which failed.
        CHECK(read.get_text(0) == "a,b,c");
    }
    SECTION("wrong row shapes are refused") {
        CHECK_THROWS_WITH(rows.add("x", "y"), Catch::Contains("2 values for rows of 1"));
        CHECK(rows.pending() == 0);
        CHECK_THROWS_AS(sql::bulk_rows(db, "INSERT INTO u (k)", 0), tagflow::error);
    }
    SECTION("clear drops waiting rows without running them") {
        rows.add("never");
        rows.clear();
        rows.flush();
        CHECK(count_rows(db, "u") == 0);
    }
}

TEST_CASE("cached statements are reused and come back reset", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)");

    const std::string text = "SELECT x FROM t WHERE x >= coalesce(?, 0) ORDER BY x";
    auto& first = db.cached(text);
    first.bind(1, 2);
    REQUIRE(first.step());
    CHECK(first.get_int64(0) == 2);

    // Looked up through a different string object holding the same text.
    const std::string same_text = text;
    auto& second = db.cached(std::string_view(same_text));
    CHECK(&second == &first);
    // Reset: stepping starts over, and the binding of 2 is gone (NULL makes the bound 0).
    REQUIRE(second.step());
    CHECK(second.get_int64(0) == 1);

    auto& other = db.cached("SELECT 1");
    CHECK(&other != &first);
    CHECK(&db.cached(text) == &first);

    // References survive moving the database.
    sql::database moved(std::move(db));
    CHECK(db.handle() == nullptr);
    CHECK(&moved.cached(text) == &first);
    REQUIRE(first.step());
    CHECK(first.get_int64(0) == 1);
}

TEST_CASE("errors carry the SQL text and SQLite's message", "[sqlite]") {
    sql::database db(":memory:");
    db.execute("CREATE TABLE t (x INTEGER)");

    SECTION("a syntax error in prepare") {
        try {
            (void)db.prepare("SELEC x FROM t");
            FAIL("expected an error");
        } catch (const tagflow::error& e) {
            CHECK(e.code() == errc::store_failure);
            CHECK_THAT(e.what(), Catch::Contains("SELEC x FROM t"));
            CHECK_THAT(e.what(), Catch::Contains("syntax error"));
            CHECK_THAT(e.what(), Catch::Contains("extended result code 1"));
        }
    }

    SECTION("an unknown table in execute") {
        try {
            db.execute("INSERT INTO missing VALUES (1)");
            FAIL("expected an error");
        } catch (const tagflow::error& e) {
            CHECK(e.code() == errc::store_failure);
            CHECK_THAT(e.what(), Catch::Contains("no such table: missing"));
            CHECK_THAT(e.what(), Catch::Contains("INSERT INTO missing VALUES (1)"));
        }
    }

    SECTION("a failing step") {
        auto stmt = db.prepare("SELECT abs(?)");
        stmt.bind(1, std::numeric_limits<std::int64_t>::min());
        try {
            (void)stmt.step();
            FAIL("expected an error");
        } catch (const tagflow::error& e) {
            CHECK_THAT(e.what(), Catch::Contains("integer overflow"));
            CHECK_THAT(e.what(), Catch::Contains("SELECT abs(?)"));
        }
    }

    SECTION("long SQL is shortened in the message") {
        std::string long_sql = "SELECT nonsense_column";
        while (long_sql.size() < 1000) {
            long_sql += " + nonsense_column";
        }
        long_sql += " FROM t";
        try {
            (void)db.prepare(long_sql);
            FAIL("expected an error");
        } catch (const tagflow::error& e) {
            const std::string message = e.what();
            CHECK_THAT(message, Catch::Contains("no such column: nonsense_column"));
            CHECK_THAT(message, Catch::Contains("SELECT nonsense_column + "));
            CHECK_THAT(message, Catch::Contains("..."));
            CHECK(message.size() < 400);
        }
    }

    SECTION("misuse is reported, not ignored") {
        CHECK_THROWS_AS(db.prepare(""), tagflow::error);
        CHECK_THROWS_AS(db.prepare("-- only a comment"), tagflow::error);
        CHECK_THROWS_WITH(db.prepare("SELECT 1; SELECT 2"), Catch::Contains("one statement"));
        CHECK_NOTHROW(db.prepare("SELECT 1; -- trailing comment\n"));

        auto stmt = db.prepare("SELECT ?");
        CHECK_THROWS_WITH(stmt.bind(2, 1), Catch::Contains("parameter 2") && Catch::Contains("SELECT ?"));
        CHECK_THROWS_WITH(stmt.get_int64(0), Catch::Contains("column 0"));
        stmt.bind(1, 5);
        REQUIRE(stmt.step());
        CHECK_THROWS_AS(stmt.get_text(1), tagflow::error);
        CHECK(stmt.get_int64(0) == 5);
    }
}

TEST_CASE("a file database uses write-ahead logging", "[sqlite]") {
    temp_dir dir;
    const std::string path = dir.file("store.db");
    {
        sql::database db(path);
        CHECK(db.path() == path);
        auto mode = db.prepare("PRAGMA journal_mode");
        REQUIRE(mode.step());
        CHECK(mode.get_text(0) == "wal");
        auto sync = db.prepare("PRAGMA synchronous");
        REQUIRE(sync.step());
        CHECK(sync.get_int64(0) == 2); // FULL
        auto keys = db.prepare("PRAGMA foreign_keys");
        REQUIRE(keys.step());
        CHECK(keys.get_int64(0) == 1);
        db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
    }
    CHECK(std::filesystem::exists(path));

    SECTION("options are applied") {
        sql::open_options opts;
        opts.synchronous = sql::open_options::sync::normal;
        opts.foreign_keys = false;
        sql::database db(path, opts);
        auto sync = db.prepare("PRAGMA synchronous");
        REQUIRE(sync.step());
        CHECK(sync.get_int64(0) == 1); // NORMAL
        auto keys = db.prepare("PRAGMA foreign_keys");
        REQUIRE(keys.step());
        CHECK(keys.get_int64(0) == 0);
    }

    SECTION("read-only connections read but refuse writes") {
        sql::open_options opts;
        opts.read_only = true;
        sql::database db(path, opts);
        CHECK(count_rows(db, "t") == 1);
        CHECK_THROWS_AS(db.execute("INSERT INTO t VALUES (2)"), tagflow::error);
    }

    SECTION("a missing file is not created when create is off") {
        sql::open_options opts;
        opts.create = false;
        CHECK_THROWS_WITH(sql::database(dir.file("missing.db"), opts), Catch::Contains("missing.db"));
        CHECK_FALSE(std::filesystem::exists(dir.file("missing.db")));
    }

    SECTION("a file that is not a database is refused at open") {
        const std::string junk = dir.file("junk.db");
        std::FILE* f = std::fopen(junk.c_str(), "wb");
        REQUIRE(f != nullptr);
        std::fputs("this is certainly not an SQLite database file, just some text padding it out....", f);
        std::fclose(f);
        CHECK_THROWS_AS(sql::database(junk), tagflow::error);
    }

    SECTION("memory databases skip WAL") {
        sql::database db(":memory:");
        auto mode = db.prepare("PRAGMA journal_mode");
        REQUIRE(mode.step());
        CHECK(mode.get_text(0) == "memory");
    }
}

TEST_CASE("migrations apply in order and only once", "[sqlite]") {
    temp_dir dir;
    const std::string path = dir.file("migrate.db");
    std::vector<std::string> steps = {
        "CREATE TABLE log (step INTEGER); INSERT INTO log VALUES (1)",
        "INSERT INTO log VALUES (2)",
        "ALTER TABLE log ADD COLUMN note TEXT; INSERT INTO log VALUES (3, 'ba')",
    };
    {
        sql::database db(path);
        CHECK(db.user_version() == 0);
        sql::migrate(db, steps);
        CHECK(db.user_version() == 3);
        auto rows = db.prepare("SELECT step FROM log ORDER BY rowid");
        for (std::int64_t expected = 1; expected <= 3; ++expected) {
            REQUIRE(rows.step());
            CHECK(rows.get_int64(0) == expected);
        }
        CHECK_FALSE(rows.step());
    }
    {
        sql::database db(path);
        sql::migrate(db, steps);
        CHECK(db.user_version() == 3);
        CHECK(count_rows(db, "log") == 3);
    }
    {
        steps.push_back("INSERT INTO log VALUES (4, 'bốn')");
        sql::database db(path);
        sql::migrate(db, steps);
        CHECK(db.user_version() == 4);
        CHECK(count_rows(db, "log") == 4);
    }
    {
        // Up to date: even a read-only connection may call migrate.
        sql::open_options opts;
        opts.read_only = true;
        sql::database db(path, opts);
        CHECK_NOTHROW(sql::migrate(db, steps));
    }
}

TEST_CASE("a failing migration step leaves the schema at the last good version", "[sqlite]") {
    sql::database db(":memory:");
    const std::vector<std::string> steps = {
        "CREATE TABLE a (x INTEGER)",
        "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1)",
    };
    try {
        sql::migrate(db, steps);
        FAIL("expected an error");
    } catch (const tagflow::error& e) {
        CHECK(e.code() == errc::store_failure);
        CHECK_THAT(e.what(), Catch::Contains("schema version 2"));
        CHECK_THAT(e.what(), Catch::Contains("no such table: nowhere"));
    }
    CHECK(db.user_version() == 1);
    CHECK(table_exists(db, "a"));
    CHECK_FALSE(table_exists(db, "b"));
    CHECK(sqlite3_get_autocommit(db.handle()) != 0);
}

TEST_CASE("a file written by a newer tagflow is refused with schema_mismatch", "[sqlite]") {
    temp_dir dir;
    const std::string path = dir.file("newer.db");
    {
        sql::database db(path);
        db.set_user_version(5);
    }
    sql::database db(path);
    try {
        sql::migrate(db, {"CREATE TABLE a (x)", "CREATE TABLE b (x)"});
        FAIL("expected schema_mismatch");
    } catch (const tagflow::error& e) {
        CHECK(e.code() == errc::schema_mismatch);
        CHECK_THAT(e.what(), Catch::Contains("version 5"));
        CHECK_THAT(e.what(), Catch::Contains("version 2"));
        CHECK_THAT(e.what(), Catch::Contains("newer tagflow"));
    }
    CHECK(db.user_version() == 5);
    CHECK_FALSE(table_exists(db, "a"));
}

TEST_CASE("statements and databases move their handles", "[sqlite]") {
    sql::database db(":memory:");
    auto stmt = db.prepare("SELECT 7");
    sqlite3_stmt* raw = stmt.handle();
    sql::statement moved(std::move(stmt));
    CHECK(stmt.handle() == nullptr);
    CHECK(moved.handle() == raw);
    REQUIRE(moved.step());
    CHECK(moved.get_int64(0) == 7);

    sql::statement assigned = db.prepare("SELECT 8");
    assigned = std::move(moved);
    CHECK(assigned.handle() == raw);

    sql::database other(":memory:");
    sqlite3* raw_db = db.handle();
    other = std::move(db);
    CHECK(other.handle() == raw_db);
    CHECK(db.handle() == nullptr);
    // A statement may outlive the move of its database; the connection stays open for it.
    assigned.reset();
    REQUIRE(assigned.step());
    CHECK(assigned.get_int64(0) == 7);
}
