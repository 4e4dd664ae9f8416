#pragma once
/// \file sqlite_store.hpp
/// The default store: one SQLite file in WAL mode. sqlite3.h stays out of this header.

#include <tagflow/store.hpp>

#include <memory>
#include <string>

namespace tagflow {

/// How a SQLite store opens its file.
struct sqlite_options {
    /// fsync policy. `full` (the default) makes every committed event survive power loss;
    /// `normal` keeps it across process crashes only but commits faster.
    enum class durability { full, normal } sync = durability::full;
    int busy_timeout_ms = 5000; ///< How long to wait for another connection's lock.
};

/// Opens (creating if needed) a SQLite store at `path`; ":memory:" gives a private in-memory
/// database. Applies schema migrations (by user_version) in their own transactions. Throws
/// tagflow::error(errc::store_failure) when the file cannot be opened, or
/// errc::schema_mismatch when a newer tagflow wrote it. The returned store is not
/// thread-safe; the engine serialises access to it.
std::unique_ptr<store> open_sqlite_store(const std::string& path, sqlite_options options = {});

} // namespace tagflow
