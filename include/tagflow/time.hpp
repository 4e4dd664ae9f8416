#pragma once
/// \file time.hpp
/// Time as tagflow sees it: UTC instants with millisecond precision. Time is an input to the
/// engine (events carry it, clocks provide it); nothing inside the core reads the wall clock.

#include <chrono>
#include <string>
#include <string_view>

namespace tagflow {

/// A UTC instant, millisecond precision.
using time_point = std::chrono::sys_time<std::chrono::milliseconds>;

/// Durations used across the API.
using duration = std::chrono::milliseconds;

/// Formats an instant as ISO 8601 UTC: "2026-01-05T03:00:00Z", with ".mmm" only when the
/// milliseconds are not zero. Never fails; thread-safe.
std::string format_time(time_point t);

/// Parses ISO 8601 "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z" or an offset "+07:00"/"-0500".
/// A space may replace the "T". Throws tagflow::error(errc::invalid_argument) naming the input
/// when it does not match. Thread-safe.
time_point parse_time(std::string_view text);

/// True when `zone` names a time zone in the IANA database on this machine (e.g.
/// "Asia/Ho_Chi_Minh"). Thread-safe.
bool is_valid_time_zone(std::string_view zone) noexcept;

} // namespace tagflow
