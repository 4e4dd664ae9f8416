#pragma once
/// \file simulator.hpp
/// Scenario files: definitions, a timeline of inputs and expectations, run against an engine
/// with a virtual clock. The same files run from C++ tests, `tagflow simulate` and Python.
///
/// A scenario is a JSON document:
/// \code{.json}
/// {"name": "S2", "timezone": "Asia/Ho_Chi_Minh", "start": "2026-01-05",
///  "definitions": {...} | "definitions_file": "defs.json",
///  "steps": [
///    {"at": "D0 10:00", "event": {"kind": "message_received", "identity": "web:v1", "text": "Xin chào"}},
///    {"at": "D0 10:01", "event": {...}, "refused": "profile.phone"},
///    {"expect": {"contact": "web:v1", "type": "lead", "tags": ["Khách mới"]}},
///    {"expect": {"sent": [{"to": "web:v1", "text": "..."}]}}
///  ]}
/// \endcode
/// "at" is "D<n> HH:MM[:SS]" (days after "start", local to "timezone") or an ISO 8601 time.
/// See docs/scenarios.md for every expectation.

#include <tagflow/store.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// What a scenario run found.
struct simulation_result {
    std::string name;                  ///< The scenario's name.
    bool passed = true;                ///< True when every expectation held.
    std::vector<std::string> failures; ///< One line per failed expectation, naming the step.
    std::string transcript;            ///< Human-readable log: inputs, messages, checks.
    std::size_t steps = 0;             ///< Steps run.
    std::size_t checks = 0;            ///< Expectations checked.
};

/// Runs a scenario document. `base_dir` resolves "definitions_file". `backing` is the store to
/// run on (an in-memory store when null). Throws definition_error naming the JSON path when the
/// scenario itself is malformed (unknown keys, bad times, bad definitions); failed expectations
/// are reported in the result, not thrown. Thread-safe (each run has its own engine).
simulation_result run_scenario(std::string_view json, const std::filesystem::path& base_dir = {},
                               std::unique_ptr<store> backing = nullptr);

/// Reads and runs a scenario file; its directory is the base for relative paths. Throws
/// tagflow::error(errc::not_found) when the file cannot be read.
simulation_result run_scenario_file(const std::filesystem::path& file,
                                    std::unique_ptr<store> backing = nullptr);

} // namespace tagflow
