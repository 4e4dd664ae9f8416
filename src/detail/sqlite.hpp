#pragma once
/// \file sqlite.hpp
/// Internal RAII wrapper over the SQLite C API, used by the store. Every handle is owned by exactly
/// one object and released in its destructor; every failing call throws tagflow::error with
/// errc::store_failure (constraint_error for constraint violations). sqlite3.h stays out of this
/// header so that only the store's translation units see the C API.
///
/// Thread-safety of the whole layer: a database and everything prepared from it belong to one
/// thread at a time; the caller serialises access. Separate database objects (even on the same
/// file) may be used from different threads concurrently.

#include "tagflow/error.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

/// SQLite connection handle (defined by sqlite3.h, which this header deliberately avoids).
struct sqlite3;
/// SQLite prepared statement handle (defined by sqlite3.h).
struct sqlite3_stmt;

namespace tagflow::detail::sqlite {

/// Thrown instead of a plain tagflow::error when SQLite reports a constraint violation (UNIQUE,
/// PRIMARY KEY, NOT NULL, CHECK, FOREIGN KEY), so that callers can tell "already exists" apart
/// from real store failures. code() is errc::store_failure. Thread-safe to read.
class constraint_error : public tagflow::error {
public:
    /// Builds the error from a full message and SQLite's extended result code. Never fails beyond
    /// std::bad_alloc.
    constraint_error(const std::string& message, int extended_code)
        : tagflow::error(errc::store_failure, message), extended_code_(extended_code) {}
    /// SQLite's extended result code, e.g. SQLITE_CONSTRAINT_UNIQUE (2067).
    [[nodiscard]] int extended_code() const noexcept { return extended_code_; }

private:
    /// Extended result code as reported by SQLite.
    int extended_code_;
};

/// How database opens its connection. A plain aggregate; thread-safe to read.
struct open_options {
    /// Open with SQLITE_OPEN_READONLY; writes then fail with store_failure.
    bool read_only = false;
    /// Create the file when it does not exist (ignored when read_only).
    bool create = true;
    /// How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
    int busy_timeout_ms = 5000;
    /// Switch file databases to write-ahead logging, so readers never block the writer. When
    /// false the file keeps whatever journal mode it already has.
    bool wal = true;
    /// Values of PRAGMA synchronous.
    enum class sync { off, normal, full };
    /// Durability level: full survives power loss after commit returns; normal (with WAL) may lose
    /// the last transactions on power loss but never corrupts the file.
    sync synchronous = sync::full;
    /// Enforce FOREIGN KEY clauses (SQLite leaves them off unless asked, per connection).
    bool foreign_keys = true;
    /// PRAGMA mmap_size: bytes of the file read through a memory map; 0 leaves SQLite's default
    /// (no map).
    std::int64_t mmap_size = 0;
};

class database;

/// Integer types other than std::int64_t that convert to it without loss; character types are left
/// out because binding 'a' as 97 is never what was meant (signed and unsigned char stay in: they
/// are std::int8_t and std::uint8_t). Compile-time only.
template <typename T>
concept other_integer =
    std::integral<T> && !std::same_as<T, std::int64_t> && !std::same_as<T, char> &&
    !std::same_as<T, char8_t> && !std::same_as<T, char16_t> && !std::same_as<T, char32_t> &&
    !std::same_as<T, wchar_t> && (std::is_signed_v<T> || sizeof(T) < sizeof(std::int64_t));

/// Types statement::bind accepts as a value, and so may sit inside a bound std::optional.
/// Compile-time only.
template <typename T>
concept bindable = std::same_as<T, std::int64_t> || other_integer<T> || std::same_as<T, double> ||
    std::same_as<T, float> || std::convertible_to<const T&, std::string_view>;

/// A prepared statement; owns its sqlite3_stmt and finalizes it on destruction. Move-only.
/// Parameter indexes are 1-based (SQLite's convention), column indexes 0-based.
/// Not thread-safe: use it only on the thread that currently owns its database. It may outlive its
/// database object (the connection then closes once the last statement is gone).
class statement {
public:
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    /// Takes over other's handle; other becomes empty and may only be destroyed or assigned to.
    statement(statement&& other) noexcept;
    /// Finalizes the current handle, then takes over other's. Never fails.
    statement& operator=(statement&& other) noexcept;
    /// Finalizes the statement. Never fails.
    ~statement();

    /// Binds a 64-bit integer to parameter index (1-based). Throws store_failure when index is out
    /// of range or the statement is running.
    void bind(int index, std::int64_t value);
    /// Binds a double (NaN binds as NULL, as SQLite does). Throws like bind(int, std::int64_t).
    void bind(int index, double value);
    /// Binds UTF-8 text; the bytes are copied (so the view may die right after) and kept exactly,
    /// embedded NULs included. An empty view binds '' and never NULL. Throws like the others.
    void bind(int index, std::string_view value);
    /// Binds NULL. Throws like bind(int, std::int64_t).
    void bind_null(int index);
    /// Binds NULL, so an empty optional and std::nullopt read the same. Throws like bind_null.
    void bind(int index, std::nullopt_t);

    /// Binds any other integer type that fits in 64 signed bits without loss (int, bool, ...);
    /// without it, bind(i, 42) would be ambiguous between int64 and double. uint64_t is refused at
    /// compile time: cast it explicitly. Throws like bind(int, std::int64_t).
    template <other_integer T>
    void bind(int index, T value) {
        bind(index, static_cast<std::int64_t>(value));
    }

    /// Binds the contained value, or NULL when empty. T is any type the other bind overloads
    /// accept. Throws like them.
    template <bindable T>
    void bind(int index, const std::optional<T>& value) {
        if (value) {
            bind(index, *value);
        } else {
            bind_null(index);
        }
    }

    /// Binds args to parameters 1..N in order and returns *this, so a cached statement can be
    /// bound and run in one expression. Throws store_failure when N differs from the statement's
    /// parameter count (a mismatch is always a bug) or a bind fails.
    template <typename... Args>
    statement& bind_all(const Args&... args) {
        check_parameter_count(static_cast<int>(sizeof...(Args)));
        int index = 0;
        (bind(++index, args), ...);
        return *this;
    }

    /// Binds args to parameters 1..N like bind_all, but text without copying it, runs the
    /// statement to completion and rewinds it (clearing every binding), so nothing bound outlives
    /// the call: the form for writes, which bind several strings per row and need no rows back.
    /// Throws like bind_all and step(); the statement is rewound on a throw too.
    template <typename... Args>
    void run(const Args&... args) {
        check_parameter_count(static_cast<int>(sizeof...(Args)));
        try {
            int index = 0;
            (bind_borrowed(++index, args), ...);
            execute();
        } catch (...) {
            reset();
            throw;
        }
        reset();
    }

    /// Advances to the next row: true when a row is available, false when the statement is done.
    /// Throws constraint_error on a constraint violation and store_failure on any other error
    /// (message carries SQLite's message, extended code and the SQL).
    bool step();
    /// Runs the statement to completion, discarding any rows. Throws like step().
    void execute();
    /// Rewinds the statement and clears every binding, so it can run again. Never fails: the
    /// code sqlite3_reset returns only repeats the last step's error, which step() already threw.
    void reset() noexcept;

    /// Integer value of column col (0-based) of the current row; NULL reads as 0 and text is
    /// converted by SQLite's rules. Throws store_failure when there is no current row or col is
    /// out of range.
    [[nodiscard]] std::int64_t get_int64(int col) const;
    /// Floating-point value of column col; NULL reads as 0.0. Throws like get_int64.
    [[nodiscard]] double get_double(int col) const;
    /// Text of column col, byte for byte (embedded NULs kept); NULL reads as "". Throws like
    /// get_int64, and store_failure when SQLite runs out of memory converting the value.
    [[nodiscard]] std::string get_text(int col) const;
    /// Like get_text, without the copy: the view is valid until the statement steps, is reset or
    /// is finalized.
    [[nodiscard]] std::string_view get_text_view(int col) const;
    /// True when column col is NULL. Throws like get_int64.
    [[nodiscard]] bool is_null(int col) const;
    /// Text of column col, or std::nullopt when it is NULL. Throws like get_text.
    [[nodiscard]] std::optional<std::string> get_optional_text(int col) const;
    /// Integer of column col, or std::nullopt when it is NULL. Throws like get_int64.
    [[nodiscard]] std::optional<std::int64_t> get_optional_int64(int col) const;
    /// Number of columns the statement returns (0 for statements that return no data). Never fails.
    [[nodiscard]] int column_count() const noexcept;
    /// Number of parameters, i.e. the largest parameter index. Never fails.
    [[nodiscard]] int parameter_count() const noexcept;
    /// The SQL text the statement was prepared from. Never fails.
    [[nodiscard]] std::string_view sql() const noexcept;
    /// The raw handle, for calls this wrapper does not cover; still owned by *this. Never fails.
    [[nodiscard]] sqlite3_stmt* handle() const noexcept { return stmt_; }

private:
    friend class database;
    friend class bulk_rows;
    /// Adopts a freshly prepared, non-null handle.
    explicit statement(sqlite3_stmt* stmt) noexcept : stmt_(stmt) {}
    /// Throws store_failure unless the statement has exactly count parameters.
    void check_parameter_count(int count) const;
    /// Throws store_failure unless col names a column of the current row.
    void check_column(int col) const;
    /// Binds UTF-8 text without copying it: the bytes must stay alive until the statement is
    /// reset, which run() guarantees. Throws like bind(int, std::string_view).
    void bind_text_borrowed(int index, std::string_view value);
    /// bind(), except that text (also inside an optional) is borrowed instead of copied.
    template <typename T>
    void bind_borrowed(int index, const T& value) {
        if constexpr (std::convertible_to<const T&, std::string_view>) {
            bind_text_borrowed(index, std::string_view(value));
        } else if constexpr (requires {
                                 value.has_value();
                                 *value;
                             }) {
            if (value.has_value()) {
                bind_borrowed(index, *value);
            } else {
                bind_null(index);
            }
        } else {
            bind(index, value);
        }
    }
    /// Throws the error for a failed bind of parameter index.
    [[noreturn]] void throw_bind_error(int rc, int index) const;

    /// The owned handle; null only after a move.
    sqlite3_stmt* stmt_ = nullptr;
    /// True once something was bound or stepped since the last reset, so reset() can skip the
    /// work on a statement that is already clean (cached() resets on every lookup).
    bool dirty_ = false;
};

/// A connection to one SQLite database. Move-only; closes the connection on destruction.
/// Not thread-safe; one thread at a time. The connection is opened with SQLITE_OPEN_NOMUTEX
/// (SQLite's multi-thread mode) because the caller serialises access anyway: SQLite's own mutex
/// on every call would only add cost (about 4% of a sequence run's instructions).
class database {
public:
    /// Opens (and by default creates) the database at path; ":memory:" opens a private in-memory
    /// database. Then applies opts: busy timeout, WAL (checked to have taken effect; skipped for
    /// memory and temporary databases and for read-only connections, which cannot change the
    /// journal mode), synchronous and foreign_keys. Extended result codes are turned on. Throws
    /// store_failure when the file cannot be opened, is not a database, or WAL cannot be enabled.
    explicit database(const std::string& path, open_options opts = {});
    database(const database&) = delete;
    database& operator=(const database&) = delete;
    /// Takes over other's connection and statement cache; other may only be destroyed or assigned
    /// to. References returned by other.cached() stay valid and now belong to *this.
    database(database&& other) noexcept;
    /// Closes the current connection, then takes over other's. Never fails.
    database& operator=(database&& other) noexcept;
    /// Finalizes the cached statements, then closes the connection. If statements from prepare()
    /// are still alive, SQLite defers the close until the last one is finalized. Never fails.
    ~database();

    /// Runs one or more ';'-separated statements, discarding any rows; for schema scripts, not hot
    /// paths. Throws constraint_error on a constraint violation, store_failure otherwise (message
    /// includes the SQL). Statements before the failing one stay applied unless a transaction
    /// surrounds the call.
    void execute(std::string_view sql);
    /// Prepares exactly one statement (trailing whitespace, ';' and comments are fine). Throws
    /// store_failure on a syntax error, an unknown table or column, empty text, or a second
    /// statement in the text.
    [[nodiscard]] statement prepare(std::string_view sql);
    /// Returns the statement for sql from a per-connection cache, preparing it on first use; the
    /// statement comes back reset with cleared bindings. The reference stays valid (same address)
    /// for the life of the database. Key the cache with fixed SQL text only: every distinct text
    /// is kept forever. A row left unread keeps a read snapshot open, so step to completion or
    /// reset() when done. Fetching the same text again resets it, even if a caller is still
    /// iterating it. Throws like prepare().
    [[nodiscard]] statement& cached(std::string_view sql);

    /// Rowid of the most recent successful INSERT on this connection (0 if none). Never fails.
    [[nodiscard]] std::int64_t last_insert_rowid() const;
    /// Rows changed by the most recent INSERT, UPDATE or DELETE on this connection. Never fails.
    [[nodiscard]] int changes() const;
    /// The schema version stored in the file header (PRAGMA user_version). Throws store_failure.
    [[nodiscard]] int user_version();
    /// Writes PRAGMA user_version; transactional like any other write. Throws store_failure.
    void set_user_version(int version);

    /// The path the database was opened with. Never fails.
    [[nodiscard]] const std::string& path() const { return path_; }
    /// The raw connection, for calls this wrapper does not cover; still owned by *this.
    [[nodiscard]] sqlite3* handle() const noexcept { return db_; }

private:
    /// Hash accepting std::string and std::string_view alike, so cached() looks up without
    /// building a std::string on the hot path.
    struct sql_hash {
        /// Marks the hash as transparent for heterogeneous lookup.
        using is_transparent = void;
        /// Hashes the SQL text. Never fails.
        std::size_t operator()(std::string_view text) const noexcept {
            return std::hash<std::string_view>{}(text);
        }
    };

    /// Prepares one statement with SQLite prepare flags. Throws like prepare().
    statement prepare_with_flags(std::string_view sql, unsigned flags);
    /// Runs a PRAGMA that returns one text value and returns it. Throws store_failure.
    std::string pragma_text(const std::string& sql);
    /// Finalizes the cache and closes the connection; leaves *this empty. Never fails.
    void close() noexcept;

    /// The owned connection; null only after a move.
    sqlite3* db_ = nullptr;
    /// The path given to the constructor.
    std::string path_;
    /// Statements kept by cached(); unordered_map nodes never move, so references stay valid.
    std::unordered_map<std::string, statement, sql_hash, std::equal_to<>> cache_;
};

/// One statement over many rows given as a VALUES list: `<head> VALUES (?, ...), (?, ...), ...
/// <tail>`, mostly an INSERT or upsert (`INSERT INTO t(a, b)` + rows + `ON CONFLICT ...`), but
/// any statement that takes its rows that way works, e.g. `DELETE FROM t WHERE id IN (` + rows +
/// `)`. A statement per row pays SQLite's start and halt work for every row, about a third of a
/// small insert's instructions; one statement over max_rows rows pays it once. Rows are kept as
/// they are added and run max_rows at a time; flush() runs the rest in statements of 16, 8, 4, 2
/// and 1 rows (each prepared once, on first use, through the database's cache).
///
/// Rows run in the order they were added, so an insert ends as if each row had been inserted by
/// its own statement. Text values are borrowed until their row runs (at the latest in flush()):
/// pass a std::string by rvalue to hand it over instead. When a statement fails, add() or flush()
/// throws like statement::run and every row not yet run is dropped; rows already run stay, so
/// the caller's transaction or savepoint must roll back. Not thread-safe (it uses its database).
/// The database must outlive the object.
class bulk_rows {
public:
    /// Rows one full statement inserts.
    static constexpr int max_rows = 32;

    /// Prepares nothing yet: `head` is the statement up to VALUES, `columns` the number of
    /// values in each row and `tail` what follows the rows (an ON CONFLICT clause, a closing
    /// parenthesis, or empty). Throws invalid_argument when columns is not positive; bad SQL
    /// throws store_failure at the first run.
    bulk_rows(database& db, std::string_view head, int columns, std::string_view tail = {});
    bulk_rows(const bulk_rows&) = delete;
    bulk_rows& operator=(const bulk_rows&) = delete;
    /// Drops rows not run yet (nothing is written for them). Never fails.
    ~bulk_rows() = default;

    /// Adds one row: exactly `columns` values, of the types statement::bind accepts (std::nullopt
    /// and empty optionals are NULL). Runs a full statement when max_rows rows are waiting.
    /// Throws store_failure for a wrong number of values and like statement::run when the
    /// statement fails.
    template <typename... Args>
    void add(Args&&... values) {
        if (static_cast<int>(sizeof...(Args)) != columns_) {
            throw_column_count(static_cast<int>(sizeof...(Args)));
        }
        try {
            (push(std::forward<Args>(values)), ...);
            if (++rows_ == max_rows) {
                run_rows(max_rows);
                clear();
            }
        } catch (...) {
            clear();
            throw;
        }
    }

    /// Runs every waiting row. Does nothing when none waits. Throws like add().
    void flush();
    /// Drops every waiting row without running it. Never fails.
    void clear() noexcept;
    /// Rows added and not run yet. Never fails.
    [[nodiscard]] int pending() const noexcept { return rows_; }

private:
    /// One value waiting to be bound.
    struct value {
        /// Which member holds it.
        enum class kind { null, integer, real, text } type = kind::null;
        std::int64_t integer = 0; ///< For kind::integer.
        double real = 0;          ///< For kind::real.
        std::string_view text;    ///< For kind::text: borrowed, or a view of owned_.
    };

    /// Keeps one value of a row; text is borrowed unless it is a std::string handed over.
    template <typename T>
    void push(T&& v) {
        using plain = std::remove_cvref_t<T>;
        if constexpr (std::is_same_v<plain, std::nullopt_t>) {
            values_.push_back(value{});
        } else if constexpr (requires {
                                 v.has_value();
                                 *v;
                             }) {
            if (v.has_value()) {
                push(*std::forward<T>(v));
            } else {
                values_.push_back(value{});
            }
        } else if constexpr (std::is_same_v<plain, std::string> && !std::is_lvalue_reference_v<T>) {
            // Held in a deque so the views of earlier values stay valid as more arrive.
            owned_.push_back(std::move(v));
            values_.push_back(value{value::kind::text, 0, 0, owned_.back()});
        } else if constexpr (std::is_convertible_v<const plain&, std::string_view>) {
            values_.push_back(value{value::kind::text, 0, 0, std::string_view(v)});
        } else if constexpr (std::is_floating_point_v<plain>) {
            values_.push_back(value{value::kind::real, 0, static_cast<double>(v), {}});
        } else {
            static_assert(std::is_same_v<plain, std::int64_t> || other_integer<plain>,
                          "bulk_rows binds integers, floating point, text and optionals of them");
            values_.push_back(value{value::kind::integer, static_cast<std::int64_t>(v), 0, {}});
        }
    }

    /// Runs the statement of `rows` rows over the first waiting rows from `first_row`.
    void run_rows(int rows, int first_row = 0);
    /// The statement of `rows` rows (a power of two up to max_rows), prepared on first use.
    statement& statement_for(int rows);
    /// Throws store_failure for a row of `given` values.
    [[noreturn]] void throw_column_count(int given) const;

    database& db_;
    std::string head_;
    std::string tail_;
    int columns_;
    /// Statements by log2 of their row count; null until first used.
    std::array<statement*, 6> statements_{};
    std::vector<value> values_;     ///< Waiting values, row after row.
    std::deque<std::string> owned_; ///< Text handed over with add().
    int rows_ = 0;                  ///< Rows in values_.
};

/// Scope guard for a transaction: begins in the constructor, rolls back in the destructor unless
/// commit() succeeded. Not copyable or movable; not thread-safe (it uses its database).
class transaction {
public:
    /// How BEGIN takes locks: deferred waits for the first write, immediate takes the write lock
    /// at once (so a read-then-write transaction cannot fail half way with SQLITE_BUSY).
    enum class mode { deferred, immediate };

    /// Issues BEGIN DEFERRED or BEGIN IMMEDIATE on db, which must outlive the guard. Throws
    /// store_failure when a transaction is already open or the lock cannot be had within the busy
    /// timeout.
    explicit transaction(database& db, mode m = mode::immediate);
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    transaction(transaction&&) = delete;
    transaction& operator=(transaction&&) = delete;
    /// Rolls back unless committed. Never throws: a failed rollback is ignored, since SQLite then
    /// has already ended the transaction itself.
    ~transaction();

    /// Commits. Throws store_failure (constraint_error for deferred foreign keys) if COMMIT fails,
    /// in which case the guard still rolls back on destruction; throws store_failure if called
    /// twice.
    void commit();

private:
    /// The database the transaction runs on.
    database& db_;
    /// Set once COMMIT succeeded; the destructor then leaves the database alone.
    bool committed_ = false;
};

/// Brings the schema up to date. steps[i] is the SQL script that moves the schema from version i to
/// i + 1, and user_version N means steps[0..N) are already applied. Each remaining step runs in its
/// own immediate transaction together with the user_version bump, so a crash or failure leaves the
/// file at the last complete version; the version is re-read under the write lock, so two
/// processes migrating at once apply each step once. Steps must not contain statements that
/// cannot run in a transaction (VACUUM, PRAGMA journal_mode, PRAGMA foreign_keys). Throws
/// schema_mismatch when the file's version is beyond steps.size() (written by a newer tagflow);
/// store_failure when a step fails, naming the version it was migrating to. Not thread-safe.
void migrate(database& db, const std::vector<std::string>& steps);

} // namespace tagflow::detail::sqlite
