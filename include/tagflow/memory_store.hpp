#pragma once
/// \file memory_store.hpp
/// A store kept in process memory: for tests, simulations and benchmarks. Same contract as
/// every store (atomic apply, unique keys); nothing survives the process.

#include <tagflow/store.hpp>

#include <memory>

namespace tagflow {

/// Creates an empty in-memory store. Never fails except on allocation; not thread-safe (the
/// engine serialises access).
std::unique_ptr<store> make_memory_store();

} // namespace tagflow
