// Names of enumerations, value helpers and time formatting: small pieces every layer uses.
#include <tagflow/contact.hpp>
#include <tagflow/error.hpp>
#include <tagflow/outbox.hpp>
#include <tagflow/time.hpp>
#include <tagflow/value.hpp>

#include <date/tz.h>
#include <fmt/format.h>

#include <cmath>
#include <optional>

namespace tagflow {

std::string_view to_string(errc code) noexcept {
    switch (code) {
    case errc::invalid_argument:
        return "invalid_argument";
    case errc::invalid_definition:
        return "invalid_definition";
    case errc::invalid_event:
        return "invalid_event";
    case errc::invalid_phone:
        return "invalid_phone";
    case errc::invalid_email:
        return "invalid_email";
    case errc::syntax_error:
        return "syntax_error";
    case errc::not_found:
        return "not_found";
    case errc::store_failure:
        return "store_failure";
    case errc::schema_mismatch:
        return "schema_mismatch";
    }
    return "unknown";
}

std::string_view to_string(field_type type) noexcept {
    switch (type) {
    case field_type::text:
        return "text";
    case field_type::number:
        return "number";
    case field_type::boolean:
        return "bool";
    case field_type::date:
        return "date";
    case field_type::phone:
        return "phone";
    case field_type::email:
        return "email";
    }
    return "text";
}

std::optional<field_type> parse_field_type(std::string_view name) noexcept {
    for (auto t : {field_type::text, field_type::number, field_type::boolean, field_type::date,
                   field_type::phone, field_type::email}) {
        if (to_string(t) == name) {
            return t;
        }
    }
    return std::nullopt;
}

bool is_blank(const value& v) noexcept {
    if (std::holds_alternative<std::monostate>(v)) {
        return true;
    }
    if (const auto* s = std::get_if<std::string>(&v)) {
        return s->empty();
    }
    return false;
}

std::string to_text(const value& v) {
    struct visitor {
        std::string operator()(std::monostate) const { return {}; }
        std::string operator()(bool b) const { return b ? "true" : "false"; }
        std::string operator()(double d) const {
            // Integral amounts (order totals, counts) read better without a fraction.
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
                return fmt::format("{}", static_cast<long long>(d));
            }
            return fmt::format("{}", d);
        }
        std::string operator()(const std::string& s) const { return s; }
    };
    return std::visit(visitor{}, v);
}

std::string_view to_string(lifecycle stage) noexcept {
    switch (stage) {
    case lifecycle::stranger:
        return "stranger";
    case lifecycle::lead:
        return "lead";
    case lifecycle::customer:
        return "customer";
    }
    return "stranger";
}

std::optional<lifecycle> parse_lifecycle(std::string_view name) noexcept {
    for (auto s : {lifecycle::stranger, lifecycle::lead, lifecycle::customer}) {
        if (to_string(s) == name) {
            return s;
        }
    }
    return std::nullopt;
}

std::string_view to_string(message_status s) noexcept {
    switch (s) {
    case message_status::pending:
        return "pending";
    case message_status::sent:
        return "sent";
    case message_status::failed:
        return "failed";
    case message_status::blocked:
        return "blocked";
    case message_status::deferred:
        return "deferred";
    case message_status::delivered:
        return "delivered";
    case message_status::read:
        return "read";
    case message_status::dead_letter:
        return "dead_letter";
    case message_status::cancelled:
        return "cancelled";
    }
    return "pending";
}

std::optional<message_status> parse_message_status(std::string_view name) noexcept {
    for (auto s : {message_status::pending, message_status::sent, message_status::failed,
                   message_status::blocked, message_status::deferred, message_status::delivered,
                   message_status::read, message_status::dead_letter, message_status::cancelled}) {
        if (to_string(s) == name) {
            return s;
        }
    }
    return std::nullopt;
}

std::string format_time(time_point t) {
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss hms{t - day};
    // Written by hand: every log row and contact document formats times, and fmt's general
    // machinery showed up in profiles. Years outside 0..9999 fall back to fmt.
    const int year = static_cast<int>(ymd.year());
    const auto ms = hms.subseconds().count();
    if (year < 0 || year > 9999) {
        std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", year,
                                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                                      hms.hours().count(), hms.minutes().count(), hms.seconds().count());
        if (ms != 0) {
            out += fmt::format(".{:03}", ms);
        }
        return out + 'Z';
    }
    char buf[24] = "0000-00-00T00:00:00.000";
    auto put = [&buf](int pos, long long v, int digits) {
        for (int i = digits - 1; i >= 0; --i) {
            buf[pos + i] = static_cast<char>('0' + v % 10);
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, static_cast<unsigned>(ymd.month()), 2);
    put(8, static_cast<unsigned>(ymd.day()), 2);
    put(11, hms.hours().count(), 2);
    put(14, hms.minutes().count(), 2);
    put(17, hms.seconds().count(), 2);
    std::size_t len = 19;
    if (ms != 0) {
        put(20, ms, 3);
        len = 23;
    }
    std::string out(buf, len);
    out += 'Z';
    return out;
}

namespace {

[[noreturn]] void bad_time(std::string_view text, std::string_view why) {
    throw error(errc::invalid_argument, fmt::format("invalid time \"{}\": {}", text, why));
}

int read_digits(std::string_view text, std::size_t& pos, std::size_t count, std::string_view whole) {
    if (pos + count > text.size()) {
        bad_time(whole, "too short; expected YYYY-MM-DDTHH:MM[:SS[.fff]] and Z or an offset");
    }
    int out = 0;
    // Digits only: from_chars alone would also take a sign ("T-1:00").
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (text[i] < '0' || text[i] > '9') {
            bad_time(whole, fmt::format("expected {} digits at position {}", count, pos + 1));
        }
        out = out * 10 + (text[i] - '0');
    }
    pos += count;
    return out;
}

void expect_char(std::string_view text, std::size_t& pos, char c, std::string_view whole) {
    if (pos >= text.size() || text[pos] != c) {
        bad_time(whole, fmt::format("expected '{}' at position {}", c, pos + 1));
    }
    ++pos;
}

} // namespace

namespace {

// The form format_time writes ("2026-03-02T12:00:00Z" or "...:00.250Z"), which is nearly every
// time the engine reads back (contact documents, log rows): checked position by position and
// converted without the general parser. Anything else returns nullopt and takes the long way.
std::optional<time_point> parse_canonical_time(std::string_view t) {
    if ((t.size() != 20 && t.size() != 24) || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':' || t.back() != 'Z' || (t.size() == 24 && t[19] != '.')) {
        return std::nullopt;
    }
    int digits[17];
    int n = 0;
    for (const std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22}) {
        if (i >= t.size() - 1) {
            break;
        }
        const char ch = t[i];
        if (ch < '0' || ch > '9') {
            return std::nullopt;
        }
        digits[n++] = ch - '0';
    }
    const int y = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3];
    const unsigned mo = static_cast<unsigned>(digits[4] * 10 + digits[5]);
    const unsigned d = static_cast<unsigned>(digits[6] * 10 + digits[7]);
    const int h = digits[8] * 10 + digits[9];
    const int mi = digits[10] * 10 + digits[11];
    const int s = digits[12] * 10 + digits[13];
    const int ms = n == 17 ? digits[14] * 100 + digits[15] * 10 + digits[16] : 0;
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{mo}, std::chrono::day{d}};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 59) {
        return std::nullopt; // the general parser names the fault
    }
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
        std::chrono::seconds{s} + std::chrono::milliseconds{ms});
}

} // namespace

time_point parse_time(std::string_view text) {
    if (auto fast = parse_canonical_time(text)) {
        return *fast;
    }
    std::size_t pos = 0;
    const int y = read_digits(text, pos, 4, text);
    expect_char(text, pos, '-', text);
    const int mo = read_digits(text, pos, 2, text);
    expect_char(text, pos, '-', text);
    const int d = read_digits(text, pos, 2, text);
    if (pos >= text.size() || (text[pos] != 'T' && text[pos] != ' ')) {
        bad_time(text, "expected 'T' between date and time");
    }
    ++pos;
    const int h = read_digits(text, pos, 2, text);
    expect_char(text, pos, ':', text);
    const int mi = read_digits(text, pos, 2, text);
    int s = 0;
    int ms = 0;
    if (pos < text.size() && text[pos] == ':') {
        ++pos;
        s = read_digits(text, pos, 2, text);
        if (pos < text.size() && text[pos] == '.') {
            ++pos;
            const std::size_t start = pos;
            while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
                if (pos - start < 3) {
                    ms = ms * 10 + (text[pos] - '0');
                }
                ++pos;
            }
            if (pos == start) {
                bad_time(text, "expected digits after '.'");
            }
            for (std::size_t n = pos - start; n < 3; ++n) {
                ms *= 10;
            }
        }
    }
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                          std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 59) {
        bad_time(text, "no such date or time of day");
    }
    std::chrono::minutes offset{0};
    if (pos >= text.size()) {
        bad_time(text, "missing zone; end with Z or an offset such as +07:00");
    }
    if (text[pos] == 'Z' || text[pos] == 'z') {
        ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
        const int sign = text[pos] == '-' ? -1 : 1;
        ++pos;
        const int oh = read_digits(text, pos, 2, text);
        if (pos < text.size() && text[pos] == ':') {
            ++pos;
        }
        const int om = read_digits(text, pos, 2, text);
        if (oh > 23 || om > 59) {
            bad_time(text, "offset out of range");
        }
        offset = std::chrono::minutes{sign * (oh * 60 + om)};
    } else {
        bad_time(text, "expected Z or an offset such as +07:00");
    }
    if (pos != text.size()) {
        bad_time(text, "unexpected characters after the zone");
    }
    const auto local = std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
                       std::chrono::seconds{s} + std::chrono::milliseconds{ms};
    return std::chrono::time_point_cast<std::chrono::milliseconds>(local - offset);
}

bool is_valid_time_zone(std::string_view zone) noexcept {
    if (zone.empty()) {
        return false;
    }
    try {
        return date::locate_zone(zone) != nullptr;
    } catch (...) {
        return false;
    }
}

} // namespace tagflow
