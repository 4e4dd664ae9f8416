#pragma once
/// \file local_time.hpp
/// Contact-local time: wall-clock times of day, send windows, and the conversions between a
/// contact's local calendar and UTC instants that sequences need ("at 09:00 on their birthday",
/// "3 days later at the same local time", "not before 08:00 their time").
///
/// Zones are IANA names ("Asia/Ho_Chi_Minh", "America/New_York") looked up in the system's time
/// zone database. Two rules settle the local times that daylight saving time makes odd, everywhere
/// in this header:
///  - a local time that does not exist that day (the clocks jumped over it) means the first valid
///    instant after the gap, which is the instant the clocks jumped to: in America/New_York,
///    2026-03-08 02:30 means 03:00 EDT (07:00Z);
///  - a local time that occurs twice (the clocks went back) means its first occurrence: in
///    America/New_York, 2026-11-01 01:30 means 01:30 EDT (05:30Z), never 01:30 EST as well.
///
/// Limitation of the database as read here: past the last transition the system's zone files list
/// (2037 for Debian's tzdata), a zone keeps the offset it had last, so DST is not applied from
/// 2038 on.

#include <tagflow/time.hpp>

#include <compare>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// A time of day on a wall clock, 24-hour: hour 0-23, minute 0-59. Functions taking one throw
/// tagflow::error(errc::invalid_argument) when a field is out of range.
struct local_clock_time {
    int hour = 0;   ///< 0-23.
    int minute = 0; ///< 0-59.
    friend bool operator==(const local_clock_time&, const local_clock_time&) = default;
    friend auto operator<=>(const local_clock_time&, const local_clock_time&) = default;
};

/// Parses "HH:MM", 24-hour, exactly two digits each (e.g. "08:00", "21:30", "00:00"; "24:00" and
/// "8:00" are refused). Throws tagflow::error(errc::invalid_argument) naming the input otherwise.
/// Thread-safe.
[[nodiscard]] local_clock_time parse_clock_time(std::string_view text);

/// Formats a time of day as "HH:MM", e.g. "08:05". Throws tagflow::error(errc::invalid_argument)
/// when a field is out of range. Thread-safe.
[[nodiscard]] std::string to_string(local_clock_time t);

/// A calendar date in some zone.
struct local_date {
    int year = 1970;    ///< Gregorian year.
    unsigned month = 1; ///< 1-12.
    unsigned day = 1;   ///< 1-31.
    friend bool operator==(const local_date&, const local_date&) = default;
};

/// A daily window of contact-local time during which messages may go out, optionally only on
/// some weekdays. Quiet hours 22:00-07:00 are the window 07:00-22:00.
///
/// A window with open < close is [open, close) on the same day; open > close spans midnight:
/// 20:00-02:00 is open from 20:00 until 02:00 the next morning. The weekday filter applies to the
/// day the window opens, so 20:00-02:00 on Friday only is open Friday 20:00 to Saturday 02:00.
/// Both ends follow the DST rules of this header, which makes the window open at most once per
/// day: when the clocks go back, the repeated hour is inside the window only on its first pass
/// (if the window was open then). A window lying entirely inside a skipped hour does not open that
/// day. An immutable value: all members are thread-safe.
class send_window {
public:
    /// A window that is always open.
    send_window() = default;

    /// A window open daily from `open` until `close` in the contact's zone; `iso_weekdays` limits
    /// it to the days it opens on (1 = Monday ... 7 = Sunday; empty = every day; duplicates are
    /// ignored). Throws tagflow::error(errc::invalid_argument) when open == close, a clock time is
    /// out of range, or a weekday is outside 1-7.
    send_window(local_clock_time open, local_clock_time close, std::vector<int> iso_weekdays = {});

    /// True for the default-constructed window, which allows every instant.
    [[nodiscard]] bool always_open() const noexcept { return always_open_; }

    /// Local time the window opens ("00:00" for an always-open window).
    [[nodiscard]] local_clock_time open_time() const noexcept { return open_; }

    /// Local time the window closes ("00:00" for an always-open window).
    [[nodiscard]] local_clock_time close_time() const noexcept { return close_; }

    /// Days the window opens on, ISO numbers ascending; empty means every day.
    [[nodiscard]] std::vector<int> iso_weekdays() const;

    /// True when a message may go out at `t` for a contact in `zone`. Throws
    /// tagflow::error(errc::invalid_argument) naming the zone when it is unknown, also for an
    /// always-open window, so a bad zone surfaces before a window is ever configured.
    [[nodiscard]] bool allows(time_point t, std::string_view zone) const;

    /// `t` when allows(t, zone), otherwise the first instant after `t` at which the window opens.
    /// An opening time that falls in a skipped hour opens the window when the clocks jump (New
    /// York, window 02:30-05:00 on 2026-03-08: 03:00 EDT = 07:00Z); one in a repeated hour opens
    /// it on the first occurrence only. Throws tagflow::error(errc::invalid_argument) naming the
    /// zone when it is unknown.
    [[nodiscard]] time_point next_open(time_point t, std::string_view zone) const;

    /// "08:00-21:00", followed by the weekdays when limited ("08:00-21:00 Mon,Tue,Wed"), or
    /// "always" for an always-open window. Thread-safe.
    [[nodiscard]] std::string to_string() const;

    friend bool operator==(const send_window&, const send_window&) = default;

private:
    bool always_open_ = true;
    local_clock_time open_{};
    local_clock_time close_{};
    unsigned weekday_mask_ = 0x7f; // bit d-1 set when ISO weekday d is allowed
};

/// The UTC instant of `at` on year-month-day in `zone`, with this header's DST rules: a skipped
/// local time gives the instant the clocks jumped to (America/New_York 2026-03-08 02:30 gives
/// 2026-03-08T07:00:00Z), a repeated one its first occurrence. Throws
/// tagflow::error(errc::invalid_argument) for an unknown zone, a date that does not exist (such as
/// 2026-02-29), a year outside 1-9999 or a clock time out of range. Thread-safe.
[[nodiscard]] time_point local_to_utc(int year, unsigned month, unsigned day, local_clock_time at,
                                      std::string_view zone);

/// The calendar date in `zone` at instant `t`. Throws tagflow::error(errc::invalid_argument) for
/// an unknown zone. Thread-safe.
[[nodiscard]] local_date local_date_of(time_point t, std::string_view zone);

/// The first instant strictly after `after` that is `at` on month/day in `zone`, looking at this
/// year and the following ones: a yearly date such as a birthday. 29 February falls on 28 February
/// in non-leap years, so a customer born on a leap day still gets a greeting every year (and it
/// comes on the last day of February rather than skipping three years or slipping into March).
/// Throws tagflow::error(errc::invalid_argument) when month is not 1-12, day does not exist in
/// that month of a leap year (31 April, 30 February), `at` is out of range or the zone is unknown.
/// Thread-safe.
[[nodiscard]] time_point next_yearly(time_point after, unsigned month, unsigned day, local_clock_time at,
                                     std::string_view zone);

/// The instant that shows the same local wall time (to the millisecond) `days` calendar days
/// after `t` in `zone` (negative `days` go back): "3 days after delivery at the same local time".
/// Across a DST change this is 23 or 25 hours per day crossed rather than 24; a target time that
/// is skipped or repeated follows this header's DST rules. days == 0 returns `t` unchanged, even
/// during the second pass of a repeated hour. Throws tagflow::error(errc::invalid_argument) for an
/// unknown zone. Thread-safe.
[[nodiscard]] time_point add_local_days(time_point t, int days, std::string_view zone);

} // namespace tagflow
