#pragma once
/// \file sqlite_store.hpp
/// The default store: one SQLite file in WAL mode. sqlite3.h stays out of this header.

#include <tagflow/store.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace tagflow {

/// How a SQLite store opens its file.
struct sqlite_options {
    /// fsync policy. `full` (the default) makes every committed event survive power loss;
    /// `normal` keeps it across process crashes only but commits faster.
    enum class durability { full, normal } sync = durability::full;
    int busy_timeout_ms = 5000; ///< How long to wait for another connection's lock.
    /// Bytes of the file SQLite may read through a memory map instead of read() calls (PRAGMA
    /// mmap_size); 0, the default, maps nothing. A store larger than SQLite's page cache reads
    /// faster mapped (a broadcast plan over 200,000 recipients took 5-24% less time), but an
    /// I/O error on a mapped page arrives as a signal (SIGBUS), not an error. SQLite caps
    /// the value at its compile-time maximum. Negative values are refused.
    std::int64_t mmap_bytes = 0;
};

/// Opens (creating if needed) a SQLite store at `path`; ":memory:" gives a private in-memory
/// database. Applies schema migrations (by user_version) in their own transactions. Throws
/// tagflow::error(errc::store_failure) when the file cannot be opened,
/// errc::schema_mismatch when a newer tagflow wrote it, or errc::invalid_argument for a negative
/// mmap_bytes. The returned store is not
/// thread-safe; the engine serialises access to it.
std::unique_ptr<store> open_sqlite_store(const std::string& path, sqlite_options options = {});

} // namespace tagflow
