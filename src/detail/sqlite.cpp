#include "detail/sqlite.hpp"

#include <sqlite3.h>

#include <climits>
#include <utility>

namespace tagflow::detail::sqlite {

namespace {

/// Longest SQL excerpt put into an error message, in bytes.
constexpr std::size_t max_sql_in_message = 200;

/// SQL text shortened for a message, cut on a UTF-8 boundary so the message stays valid UTF-8.
std::string excerpt(std::string_view sql) {
    if (sql.size() <= max_sql_in_message) {
        return std::string(sql);
    }
    std::size_t cut = max_sql_in_message;
    while (cut > 0 && (static_cast<unsigned char>(sql[cut]) & 0xC0U) == 0x80U) {
        --cut;
    }
    return std::string(sql.substr(0, cut)) + "...";
}

/// SQLite's message for rc: the connection's own message when it describes rc (it names the
/// table, column or constraint), else the generic text for the code.
std::string message_for(sqlite3* db, int rc) {
    if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
        return sqlite3_errmsg(db);
    }
    return sqlite3_errstr(rc);
}

/// Throws constraint_error or store_failure for a failed call. what says which call failed, detail
/// is SQLite's message and sql (if not empty) the statement involved.
[[noreturn]] void raise(int rc, std::string_view what, const std::string& detail, std::string_view sql) {
    std::string message = "sqlite ";
    message += what;
    message += ": ";
    message += detail;
    message += " (extended result code ";
    message += std::to_string(rc);
    message += ")";
    if (!sql.empty()) {
        message += " in SQL: ";
        message += excerpt(sql);
    }
    if ((rc & 0xFF) == SQLITE_CONSTRAINT) {
        throw constraint_error(message, rc);
    }
    throw tagflow::error(errc::store_failure, message);
}

/// raise() with the message taken from the connection.
[[noreturn]] void raise(sqlite3* db, int rc, std::string_view what, std::string_view sql = {}) {
    raise(rc, what, message_for(db, rc), sql);
}

/// Throws store_failure for misuse detected by the wrapper itself, not by SQLite.
[[noreturn]] void raise_misuse(const std::string& detail, std::string_view sql) {
    std::string message = "sqlite misuse: " + detail;
    if (!sql.empty()) {
        message += " in SQL: ";
        message += excerpt(sql);
    }
    throw tagflow::error(errc::store_failure, message);
}

/// True when text holds nothing SQLite would execute: whitespace, ';' or comments only.
bool is_blank_sql(sqlite3* db, std::string_view text) {
    if (text.find_first_not_of(" \t\r\n\f\v;") == std::string_view::npos) {
        return true;
    }
    // Comments are the only other thing that compiles to no statement; preparing is the one
    // reliable way to recognise them.
    sqlite3_stmt* extra = nullptr;
    const char* ignored = nullptr;
    const int rc = sqlite3_prepare_v2(db, text.data(), static_cast<int>(text.size()), &extra, &ignored);
    const bool blank = rc == SQLITE_OK && extra == nullptr;
    sqlite3_finalize(extra);
    return blank;
}

} // namespace

// ---- statement ----------------------------------------------------------------------------------

statement::statement(statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), dirty_(std::exchange(other.dirty_, false)) {}

statement& statement::operator=(statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        stmt_ = std::exchange(other.stmt_, nullptr);
        dirty_ = std::exchange(other.dirty_, false);
    }
    return *this;
}

statement::~statement() {
    // The return code only repeats the last step's error; there is nothing left to report it to.
    sqlite3_finalize(stmt_);
}

void statement::throw_bind_error(int rc, int index) const {
    raise(sqlite3_db_handle(stmt_), rc, "bind of parameter " + std::to_string(index) + " failed", sql());
}

void statement::bind(int index, std::int64_t value) {
    dirty_ = true;
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) {
        throw_bind_error(rc, index);
    }
}

void statement::bind(int index, double value) {
    dirty_ = true;
    const int rc = sqlite3_bind_double(stmt_, index, value);
    if (rc != SQLITE_OK) {
        throw_bind_error(rc, index);
    }
}

void statement::bind(int index, std::string_view value) {
    // A null data pointer would bind NULL instead of ''; a default-constructed view has one.
    const char* data = value.data() != nullptr ? value.data() : "";
    dirty_ = true;
    const int rc = sqlite3_bind_text64(stmt_, index, data, static_cast<sqlite3_uint64>(value.size()),
                                       SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        throw_bind_error(rc, index);
    }
}

void statement::bind_text_borrowed(int index, std::string_view value) {
    const char* data = value.data() != nullptr ? value.data() : "";
    // SQLITE_STATIC: SQLite reads the bytes in place, which saves a copy and an allocation per
    // value (with their free when the bindings are cleared).
    dirty_ = true;
    const int rc = sqlite3_bind_text64(stmt_, index, data, static_cast<sqlite3_uint64>(value.size()),
                                       SQLITE_STATIC, SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        throw_bind_error(rc, index);
    }
}

void statement::bind_null(int index) {
    dirty_ = true;
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) {
        throw_bind_error(rc, index);
    }
}

void statement::bind(int index, std::nullopt_t) {
    bind_null(index);
}

void statement::check_parameter_count(int count) const {
    const int expected = parameter_count();
    if (count != expected) {
        raise_misuse("bind_all got " + std::to_string(count) + " values for " + std::to_string(expected) +
                         " parameters",
                     sql());
    }
}

bool statement::step() {
    dirty_ = true;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    raise(sqlite3_db_handle(stmt_), rc, "step failed", sql());
}

void statement::execute() {
    while (step()) {
    }
}

void statement::reset() noexcept {
    if (!dirty_) {
        return;
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    dirty_ = false;
}

void statement::check_column(int col) const {
    // sqlite3_data_count is 0 without a current row, so this also catches reads before step()
    // or after the last row, where SQLite would silently return NULL.
    const int available = sqlite3_data_count(stmt_);
    if (col < 0 || col >= available) {
        raise_misuse("column " + std::to_string(col) + " is not readable (current row has " +
                         std::to_string(available) + " columns)",
                     sql());
    }
}

std::int64_t statement::get_int64(int col) const {
    check_column(col);
    return sqlite3_column_int64(stmt_, col);
}

double statement::get_double(int col) const {
    check_column(col);
    return sqlite3_column_double(stmt_, col);
}

std::string statement::get_text(int col) const {
    return std::string(get_text_view(col));
}

std::string_view statement::get_text_view(int col) const {
    check_column(col);
    // The type must be read before sqlite3_column_text, which may convert the value in place.
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) {
        return {};
    }
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    // Bytes must be asked for after the text pointer: the conversion can change the length.
    const int bytes = sqlite3_column_bytes(stmt_, col);
    if (text == nullptr) {
        sqlite3* db = sqlite3_db_handle(stmt_);
        if (sqlite3_errcode(db) == SQLITE_NOMEM) {
            raise(db, SQLITE_NOMEM, "reading column " + std::to_string(col) + " failed", sql());
        }
        return {}; // a zero-length blob
    }
    return std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(bytes));
}

bool statement::is_null(int col) const {
    check_column(col);
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::optional<std::string> statement::get_optional_text(int col) const {
    if (is_null(col)) {
        return std::nullopt;
    }
    return get_text(col);
}

std::optional<std::int64_t> statement::get_optional_int64(int col) const {
    if (is_null(col)) {
        return std::nullopt;
    }
    return sqlite3_column_int64(stmt_, col);
}

int statement::column_count() const noexcept {
    return sqlite3_column_count(stmt_);
}

int statement::parameter_count() const noexcept {
    return sqlite3_bind_parameter_count(stmt_);
}

std::string_view statement::sql() const noexcept {
    const char* text = sqlite3_sql(stmt_);
    return text != nullptr ? std::string_view(text) : std::string_view();
}

// ---- database -----------------------------------------------------------------------------------

database::database(const std::string& path, open_options opts) : path_(path) {
    int flags = (opts.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
    if (!opts.read_only && opts.create) {
        flags |= SQLITE_OPEN_CREATE;
    }
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        // On failure SQLite usually still allocates a handle, which carries the message and must
        // be closed.
        const std::string detail = message_for(db_, rc);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        raise(rc, "cannot open '" + path + "'", detail, {});
    }
    try {
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, opts.busy_timeout_ms);

        // Opening is lazy: a file that is not a database only fails at the first read, so force
        // one here to report it at open time.
        execute("SELECT count(*) FROM sqlite_master");

        const char* file = sqlite3_db_filename(db_, "main");
        const bool in_memory = file == nullptr || *file == '\0';
        if (opts.wal && !in_memory && !opts.read_only) {
            // The pragma does not fail when WAL is impossible (e.g. no shared memory support on
            // the file system); it reports the mode actually in force, so check it.
            const std::string mode = pragma_text("PRAGMA journal_mode=WAL");
            if (mode != "wal") {
                throw tagflow::error(errc::store_failure, "sqlite cannot enable write-ahead logging on '" +
                                                              path + "': journal mode stays '" + mode + "'");
            }
        }

        switch (opts.synchronous) {
        case open_options::sync::off:
            execute("PRAGMA synchronous=OFF");
            break;
        case open_options::sync::normal:
            execute("PRAGMA synchronous=NORMAL");
            break;
        case open_options::sync::full:
            execute("PRAGMA synchronous=FULL");
            break;
        }
        execute(opts.foreign_keys ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF");
        if (opts.mmap_size > 0) {
            execute("PRAGMA mmap_size=" + std::to_string(opts.mmap_size));
        }
    } catch (...) {
        close();
        throw;
    }
}

database::database(database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)), cache_(std::move(other.cache_)) {
}

database& database::operator=(database&& other) noexcept {
    if (this != &other) {
        close();
        db_ = std::exchange(other.db_, nullptr);
        path_ = std::move(other.path_);
        cache_ = std::move(other.cache_);
    }
    return *this;
}

database::~database() {
    close();
}

void database::close() noexcept {
    // Cached statements first: a connection with live statements would only become a zombie.
    cache_.clear();
    sqlite3_close_v2(db_);
    db_ = nullptr;
}

void database::execute(std::string_view sql) {
    // sqlite3_exec needs a NUL-terminated string; a view need not be one.
    const std::string text(sql);
    char* error_message = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error_message);
    if (rc != SQLITE_OK) {
        const std::string detail = error_message != nullptr ? error_message : sqlite3_errstr(rc);
        sqlite3_free(error_message);
        raise(rc, "execute failed", detail, sql);
    }
}

statement database::prepare(std::string_view sql) {
    return prepare_with_flags(sql, 0);
}

statement database::prepare_with_flags(std::string_view sql, unsigned flags) {
    if (sql.size() > static_cast<std::size_t>(INT_MAX)) {
        raise_misuse("SQL text of " + std::to_string(sql.size()) + " bytes is too long", {});
    }
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &raw, &tail);
    if (rc != SQLITE_OK) {
        raise(db_, rc, "prepare failed", sql);
    }
    if (raw == nullptr) {
        raise_misuse("no statement to prepare (empty SQL or comments only)", sql);
    }
    statement result(raw);
    const std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
    if (!is_blank_sql(db_, rest)) {
        raise_misuse("prepare takes one statement but the text holds more; use execute() for scripts", sql);
    }
    return result;
}

statement& database::cached(std::string_view sql) {
    auto found = cache_.find(sql);
    if (found != cache_.end()) {
        found->second.reset();
        return found->second;
    }
    // Prepared before the insert, so a failure leaves no empty entry; PERSISTENT tells SQLite the
    // statement lives long, so it avoids its short-lived lookaside memory.
    statement fresh = prepare_with_flags(sql, SQLITE_PREPARE_PERSISTENT);
    return cache_.emplace(std::string(sql), std::move(fresh)).first->second;
}

std::int64_t database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_);
}

int database::changes() const {
    return sqlite3_changes(db_);
}

std::string database::pragma_text(const std::string& sql) {
    statement stmt = prepare(sql);
    if (!stmt.step()) {
        raise_misuse("pragma returned no row", sql);
    }
    return stmt.get_text(0);
}

int database::user_version() {
    statement& stmt = cached("PRAGMA user_version");
    if (!stmt.step()) {
        raise_misuse("pragma returned no row", stmt.sql());
    }
    const std::int64_t version = stmt.get_int64(0);
    // Left mid-row, the statement would keep a read snapshot open until its next use.
    stmt.reset();
    return static_cast<int>(version);
}

void database::set_user_version(int version) {
    execute("PRAGMA user_version=" + std::to_string(version));
}

// ---- bulk_rows --------------------------------------------------------------------------------

bulk_rows::bulk_rows(database& db, std::string_view head, int columns, std::string_view tail)
    : db_(db), head_(head), tail_(tail), columns_(columns) {
    if (columns <= 0) {
        throw tagflow::error(errc::invalid_argument,
                             "bulk_rows needs at least one column per row, not " + std::to_string(columns));
    }
    values_.reserve(static_cast<std::size_t>(max_rows) * static_cast<std::size_t>(columns));
}

void bulk_rows::flush() {
    // Powers of two keep the set of statements small (six per table) whatever the row count.
    int first = 0;
    for (int size = max_rows / 2; size > 0 && first < rows_; size /= 2) {
        if (rows_ - first >= size) {
            try {
                run_rows(size, first);
            } catch (...) {
                clear();
                throw;
            }
            first += size;
        }
    }
    clear();
}

void bulk_rows::clear() noexcept {
    values_.clear();
    owned_.clear();
    rows_ = 0;
}

void bulk_rows::run_rows(int rows, int first_row) {
    statement& st = statement_for(rows);
    try {
        const auto first = static_cast<std::size_t>(first_row) * static_cast<std::size_t>(columns_);
        const int count = rows * columns_;
        for (int i = 0; i < count; ++i) {
            const value& v = values_[first + static_cast<std::size_t>(i)];
            switch (v.type) {
            case value::kind::null:
                st.bind_null(i + 1);
                break;
            case value::kind::integer:
                st.bind(i + 1, v.integer);
                break;
            case value::kind::real:
                st.bind(i + 1, v.real);
                break;
            case value::kind::text:
                st.bind_text_borrowed(i + 1, v.text);
                break;
            }
        }
        st.execute();
    } catch (...) {
        st.reset();
        throw;
    }
    st.reset();
}

statement& bulk_rows::statement_for(int rows) {
    std::size_t slot = 0;
    while ((max_rows >> slot) > rows) {
        ++slot;
    }
    if (statements_[slot] == nullptr) {
        std::string row = "(";
        for (int c = 0; c < columns_; ++c) {
            row += c == 0 ? "?" : ", ?";
        }
        row += ")";
        std::string sql = head_ + " VALUES ";
        for (int r = 0; r < rows; ++r) {
            if (r > 0) {
                sql += ", ";
            }
            sql += row;
        }
        if (!tail_.empty()) {
            sql += ' ';
            sql += tail_;
        }
        statements_[slot] = &db_.cached(sql);
    }
    return *statements_[slot];
}

void bulk_rows::throw_column_count(int given) const {
    raise_misuse("bulk_rows got " + std::to_string(given) + " values for rows of " + std::to_string(columns_),
                 head_);
}

// ---- transaction --------------------------------------------------------------------------------

transaction::transaction(database& db, mode m) : db_(db) {
    db_.cached(m == mode::immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED").execute();
}

transaction::~transaction() {
    // SQLite rolls back by itself after some errors (SQLITE_FULL, SQLITE_IOERR, ...); a second
    // ROLLBACK would only fail, so check that a transaction is still open.
    if (!committed_ && db_.handle() != nullptr && sqlite3_get_autocommit(db_.handle()) == 0) {
        // sqlite3_exec rather than cached(): no allocation and no exception on this path.
        sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void transaction::commit() {
    if (committed_) {
        raise_misuse("transaction committed twice", {});
    }
    db_.cached("COMMIT").execute();
    committed_ = true;
}

// ---- migrations ---------------------------------------------------------------------------------

namespace {

/// Throws schema_mismatch for a file whose schema version is beyond what this build knows.
[[noreturn]] void raise_newer_schema(const database& db, int found, std::size_t known) {
    throw tagflow::error(errc::schema_mismatch,
                         "database '" + db.path() + "' has schema version " + std::to_string(found) +
                             " but this tagflow knows only up to version " + std::to_string(known) +
                             "; the file was written by a newer tagflow");
}

} // namespace

void migrate(database& db, const std::vector<std::string>& steps) {
    const std::size_t target = steps.size();
    int version = db.user_version();
    if (version < 0) {
        throw tagflow::error(errc::schema_mismatch, "database '" + db.path() +
                                                        "' has negative schema version " +
                                                        std::to_string(version));
    }
    if (static_cast<std::size_t>(version) > target) {
        raise_newer_schema(db, version, target);
    }
    // Up to date: return without a write lock, so read-only connections can call this too.
    while (static_cast<std::size_t>(version) < target) {
        transaction tx(db, transaction::mode::immediate);
        // Another process may have migrated between our read and the lock; trust only the value
        // read under the lock.
        version = db.user_version();
        if (static_cast<std::size_t>(version) > target) {
            raise_newer_schema(db, version, target);
        }
        if (static_cast<std::size_t>(version) == target) {
            break;
        }
        const int next = version + 1;
        try {
            db.execute(steps[static_cast<std::size_t>(version)]);
            db.set_user_version(next);
            tx.commit();
        } catch (const tagflow::error& e) {
            throw tagflow::error(e.code(), "migration of '" + db.path() + "' to schema version " +
                                               std::to_string(next) + " failed: " + e.what());
        }
        version = next;
    }
}

} // namespace tagflow::detail::sqlite
