// Contact-local time on top of Howard Hinnant's date/tz (GCC 12 has no std::chrono::tzdb). The
// date headers stay in this file so that the public API needs nothing beyond <chrono>.
#include <tagflow/error.hpp>
#include <tagflow/local_time.hpp>

#include <date/tz.h>
#include <fmt/format.h>

#include <array>
#include <exception>
#include <string>
#include <utility>

namespace tagflow {

namespace {

using local_ms = date::local_time<std::chrono::milliseconds>;

const date::time_zone& find_zone(std::string_view zone) {
    // The database is loaded once, on first use, by date itself (thread-safe); a missing
    // /usr/share/zoneinfo therefore shows up here too, as an unknown zone.
    // Most calls name the zone of the previous one (the engine default): skip the lookup then.
    struct last_zone {
        std::string name;
        const date::time_zone* zone = nullptr;
    };
    thread_local last_zone last;
    if (last.zone != nullptr && zone == last.name) {
        return *last.zone;
    }
    try {
        if (!zone.empty()) {
            if (const auto* tz = date::locate_zone(zone)) {
                last.name = zone;
                last.zone = tz;
                return *tz;
            }
        }
    } catch (const std::exception&) {
        // Reported below, with tagflow's error type and wording.
    }
    throw error(
        errc::invalid_argument,
        fmt::format("unknown time zone \"{}\"; expected an IANA name such as \"Asia/Ho_Chi_Minh\"", zone));
}

void check_clock_time(local_clock_time at) {
    if (at.hour < 0 || at.hour > 23 || at.minute < 0 || at.minute > 59) {
        throw error(
            errc::invalid_argument,
            fmt::format("invalid clock time {}:{}: hour must be 0-23 and minute 0-59", at.hour, at.minute));
    }
}

std::chrono::minutes since_midnight(local_clock_time at) {
    return std::chrono::hours{at.hour} + std::chrono::minutes{at.minute};
}

// The offset period in force at `t`. Policies and windows ask about the same zone and nearly the
// same instant over and over (a broadcast asks a million times), and a period lasts months or, in
// zones without DST, forever: the last answer is kept per thread and reused while it covers `t`.
// date's database is never reloaded here, so the zone pointer stays valid.
const date::sys_info& period_at(const date::time_zone& tz, date::sys_seconds t) {
    struct last_period {
        const date::time_zone* zone = nullptr;
        date::sys_info info;
    };
    thread_local last_period last;
    if (last.zone != &tz || t < last.info.begin || t >= last.info.end) {
        last.info = tz.get_info(t);
        last.zone = &tz;
    }
    return last.info;
}

// Applies the DST rules of local_time.hpp: a skipped local time becomes the instant the clocks
// jumped to, a repeated one its first occurrence. The result never decreases as `lt` increases,
// which the window and yearly searches below rely on.
time_point resolve(const date::time_zone& tz, local_ms lt) {
    // Fast path: guessed with the period of the last answer, the instant lies more than a day from
    // both ends of its period. Offsets change by less than a day, so no transition can make this
    // wall clock time skipped or repeated: it is unique.
    {
        // Copied: the next call may overwrite the period the reference points at.
        const std::chrono::seconds offset =
            period_at(tz, date::floor<std::chrono::seconds>(time_point{lt.time_since_epoch()})).offset;
        const time_point guess{lt.time_since_epoch() - offset};
        const auto whole = date::floor<std::chrono::seconds>(guess);
        const date::sys_info& at = period_at(tz, whole);
        // Written as sums, not differences: the periods at either end of time run to min and max.
        if (at.offset == offset && whole > at.begin + date::days{1} && whole + date::days{1} < at.end) {
            return guess;
        }
    }
    const date::local_info info = tz.get_info(lt);
    if (info.result == date::local_info::nonexistent) {
        return std::chrono::time_point_cast<std::chrono::milliseconds>(info.second.begin);
    }
    // Unique or ambiguous: `first` is the period in force before the clocks went back, whose larger
    // offset gives the earlier of the two instants.
    return time_point{lt.time_since_epoch() - info.first.offset};
}

date::local_days local_day_of(const date::time_zone& tz, time_point t) {
    const std::chrono::seconds offset = period_at(tz, date::floor<std::chrono::seconds>(t)).offset;
    return date::floor<date::days>(local_ms{t.time_since_epoch() + offset});
}

constexpr std::array<std::string_view, 7> weekday_names{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

// Past this many days without an opening, next_open gives up. Only a window whose every allowed
// day is swallowed by skipped hours could get there; real zones skip at most a day or so a year.
constexpr int max_search_days = 400;

} // namespace

local_clock_time parse_clock_time(std::string_view text) {
    const auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
    if (text.size() != 5 || !digit(0) || !digit(1) || text[2] != ':' || !digit(3) || !digit(4)) {
        throw error(
            errc::invalid_argument,
            fmt::format("invalid clock time \"{}\": expected HH:MM, 24-hour, such as \"08:00\"", text));
    }
    const local_clock_time out{(text[0] - '0') * 10 + (text[1] - '0'),
                               (text[3] - '0') * 10 + (text[4] - '0')};
    if (out.hour > 23 || out.minute > 59) {
        throw error(errc::invalid_argument,
                    fmt::format("invalid clock time \"{}\": expected 00:00 to 23:59", text));
    }
    return out;
}

std::string to_string(local_clock_time t) {
    check_clock_time(t);
    return fmt::format("{:02}:{:02}", t.hour, t.minute);
}

send_window::send_window(local_clock_time open, local_clock_time close, std::vector<int> iso_weekdays)
    : always_open_(false), open_(open), close_(close) {
    check_clock_time(open);
    check_clock_time(close);
    if (open == close) {
        throw error(errc::invalid_argument,
                    fmt::format("send window {}-{} is empty: open and close must differ",
                                tagflow::to_string(open), tagflow::to_string(close)));
    }
    if (!iso_weekdays.empty()) {
        weekday_mask_ = 0;
        for (const int d : iso_weekdays) {
            if (d < 1 || d > 7) {
                throw error(errc::invalid_argument,
                            fmt::format("invalid weekday {}: expected 1 (Monday) to 7 (Sunday)", d));
            }
            weekday_mask_ |= 1U << (d - 1);
        }
    }
}

std::vector<int> send_window::iso_weekdays() const {
    std::vector<int> out;
    if (weekday_mask_ == 0x7f) {
        return out;
    }
    for (int d = 1; d <= 7; ++d) {
        if ((weekday_mask_ & (1U << (d - 1))) != 0) {
            out.push_back(d);
        }
    }
    return out;
}

namespace {

struct occurrence {
    time_point begin;
    time_point end;
};

// The window's opening on local day `day`: both ends resolved with the DST rules, the close on the
// next day when the window spans midnight. May be empty when the clocks skip over all of it.
occurrence occurrence_on(const date::time_zone& tz, date::local_days day, local_clock_time open,
                         local_clock_time close) {
    const date::local_days close_day = close < open ? day + date::days{1} : day;
    return {resolve(tz, local_ms{day} + since_midnight(open)),
            resolve(tz, local_ms{close_day} + since_midnight(close))};
}

bool opens_on(unsigned mask, date::local_days day) {
    return (mask & (1U << (date::weekday{day}.iso_encoding() - 1))) != 0;
}

bool window_contains(const date::time_zone& tz, time_point t, local_clock_time open, local_clock_time close,
                     unsigned mask) {
    // The opening that contains t began on t's local day or the day before (spanning midnight);
    // the day after is checked too because a repeated hour around midnight can put t's wall clock
    // on the earlier day while that next day's opening has already begun.
    const date::local_days today = local_day_of(tz, t);
    for (int offset = -1; offset <= 1; ++offset) {
        const date::local_days day = today + date::days{offset};
        if (!opens_on(mask, day)) {
            continue;
        }
        const occurrence o = occurrence_on(tz, day, open, close);
        if (o.begin <= t && t < o.end) {
            return true;
        }
    }
    return false;
}

} // namespace

bool send_window::allows(time_point t, std::string_view zone) const {
    const date::time_zone& tz = find_zone(zone);
    return always_open_ || window_contains(tz, t, open_, close_, weekday_mask_);
}

time_point send_window::next_open(time_point t, std::string_view zone) const {
    const date::time_zone& tz = find_zone(zone);
    if (always_open_ || window_contains(tz, t, open_, close_, weekday_mask_)) {
        return t;
    }
    // Openings never move backwards from one day to the next (resolve is monotonic), so the first
    // non-empty one that begins at or after t is the answer.
    const date::local_days today = local_day_of(tz, t);
    for (int offset = -1; offset <= max_search_days; ++offset) {
        const date::local_days day = today + date::days{offset};
        if (!opens_on(weekday_mask_, day)) {
            continue;
        }
        const occurrence o = occurrence_on(tz, day, open_, close_);
        if (o.begin >= t && o.begin < o.end) {
            return o.begin;
        }
    }
    throw error(errc::invalid_argument, fmt::format("send window {} never opens in time zone \"{}\" after {}",
                                                    to_string(), zone, format_time(t)));
}

std::string send_window::to_string() const {
    if (always_open_) {
        return "always";
    }
    std::string out = tagflow::to_string(open_) + "-" + tagflow::to_string(close_);
    const std::vector<int> days = iso_weekdays();
    for (std::size_t i = 0; i < days.size(); ++i) {
        out += i == 0 ? ' ' : ',';
        out += weekday_names[static_cast<std::size_t>(days[i] - 1)];
    }
    return out;
}

time_point local_to_utc(int year, unsigned month, unsigned day, local_clock_time at, std::string_view zone) {
    const date::time_zone& tz = find_zone(zone);
    check_clock_time(at);
    // date's year, month and day keep only a short or a char: range checks come first so that a
    // huge value cannot wrap into a valid one (month 257 into January).
    const bool in_range = year >= 1 && year <= 9999 && month <= 12 && day <= 31;
    const date::year_month_day ymd{date::year{in_range ? year : 1}, date::month{in_range ? month : 1},
                                   date::day{in_range ? day : 1}};
    if (!in_range || !ymd.ok()) {
        throw error(errc::invalid_argument,
                    fmt::format("no such date {:04}-{:02}-{:02} (year 1-9999)", year, month, day));
    }
    return resolve(tz, local_ms{date::local_days{ymd}} + since_midnight(at));
}

local_date local_date_of(time_point t, std::string_view zone) {
    const date::year_month_day ymd{local_day_of(find_zone(zone), t)};
    return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
            static_cast<unsigned>(ymd.day())};
}

time_point next_yearly(time_point after, unsigned month, unsigned day, local_clock_time at,
                       std::string_view zone) {
    const date::time_zone& tz = find_zone(zone);
    check_clock_time(at);
    // month_day accepts 29 February (it exists in leap years) and refuses 30 February or 31 April.
    // Range first: date::month and date::day keep a char, so 257 would wrap into January.
    if (month < 1 || month > 12 || day < 1 || day > 31 ||
        !date::month_day{date::month{month}, date::day{day}}.ok()) {
        throw error(errc::invalid_argument, fmt::format("no such yearly date {:02}-{:02}", month, day));
    }
    const int first_year = static_cast<int>(date::year_month_day{local_day_of(tz, after)}.year());
    // This year's occurrence may already be past; next year's always lies ahead. A third year is
    // only a guard against a zone whose skipped hours push both into doubt.
    for (int y = first_year; y <= first_year + 2; ++y) {
        const date::year year{y};
        // Leap-day birthdays are greeted on 28 February in other years: see the header.
        const unsigned d = month == 2 && day == 29 && !year.is_leap() ? 28 : day;
        const date::local_days date_days{year / date::month{month} / date::day{d}};
        const time_point candidate = resolve(tz, local_ms{date_days} + since_midnight(at));
        if (candidate > after) {
            return candidate;
        }
    }
    throw error(errc::invalid_argument, fmt::format("no yearly date {:02}-{:02} after {} in \"{}\"", month,
                                                    day, format_time(after), zone));
}

time_point add_local_days(time_point t, int days, std::string_view zone) {
    const date::time_zone& tz = find_zone(zone);
    if (days == 0) {
        // Resolving t's own wall time would map the second pass of a repeated hour to the first.
        return t;
    }
    return resolve(tz, tz.to_local(t) + date::days{days});
}

} // namespace tagflow
