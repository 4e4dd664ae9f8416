#pragma once
/// \file version.hpp
/// The library version: the single place it is defined (CMake reads it from here).

#define TAGFLOW_VERSION_MAJOR 0
#define TAGFLOW_VERSION_MINOR 1
#define TAGFLOW_VERSION_PATCH 0

/// Version as one integer: major * 10000 + minor * 100 + patch.
#define TAGFLOW_VERSION (TAGFLOW_VERSION_MAJOR * 10000 + TAGFLOW_VERSION_MINOR * 100 + TAGFLOW_VERSION_PATCH)

namespace tagflow {

/// The library version as "major.minor.patch". Never fails; thread-safe.
constexpr const char* version_string() noexcept {
    return "0.1.0";
}

} // namespace tagflow
