// Contact-local time: send windows, DST gaps and overlaps, yearly dates. Every expected instant is
// worked out by hand from the zone's offsets (stated next to it) rather than computed with the code
// under test, so a wrong rule fails here.
#include "tagflow/error.hpp"
#include "tagflow/local_time.hpp"
#include "tagflow/time.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using Catch::Matchers::Contains;
using tagflow::errc;
using tagflow::local_clock_time;
using tagflow::send_window;
using tagflow::time_point;

namespace {

constexpr const char* new_york = "America/New_York";     // EST -05:00, EDT -04:00
constexpr const char* london = "Europe/London";          // GMT +00:00, BST +01:00
constexpr const char* lord_howe = "Australia/Lord_Howe"; // +10:30 standard, +11:00 summer
constexpr const char* saigon = "Asia/Ho_Chi_Minh";       // +07:00 all year

time_point utc(const char* iso) {
    return tagflow::parse_time(iso);
}

/// Runs f, requires it to throw tagflow::error with the given code, and returns the message.
template <typename F>
std::string error_message(F&& f, errc expected = errc::invalid_argument) {
    try {
        f();
    } catch (const tagflow::error& e) {
        CHECK(e.code() == expected);
        return e.what();
    }
    FAIL("no tagflow::error was thrown");
    return {};
}

/// Number of times the window goes from closed to open while time walks from `from` to `to` in
/// one-minute steps: what a scheduler polling every minute would see.
int openings(const send_window& w, time_point from, time_point to, const char* zone) {
    int count = 0;
    bool was_open = w.allows(from, zone);
    for (time_point t = from + std::chrono::minutes{1}; t <= to; t += std::chrono::minutes{1}) {
        const bool open = w.allows(t, zone);
        if (open && !was_open) {
            ++count;
        }
        was_open = open;
    }
    return count;
}

} // namespace

TEST_CASE("parse_clock_time reads HH:MM and refuses anything else, naming the input", "[local_time]") {
    CHECK(tagflow::parse_clock_time("08:00") == local_clock_time{8, 0});
    CHECK(tagflow::parse_clock_time("00:00") == local_clock_time{0, 0});
    CHECK(tagflow::parse_clock_time("23:59") == local_clock_time{23, 59});
    CHECK(tagflow::parse_clock_time("21:30") == local_clock_time{21, 30});
    for (const char* bad :
         {"24:00", "8:00", "08:60", "08-00", "", "08:00 ", "0800", "+8:00", "ab:cd", "08:0"}) {
        INFO("input: \"" << bad << "\"");
        const std::string message = error_message([&] { static_cast<void>(tagflow::parse_clock_time(bad)); });
        CHECK_THAT(message, Contains(std::string("\"") + bad + "\""));
    }
    CHECK(tagflow::to_string(local_clock_time{8, 5}) == "08:05");
    CHECK(tagflow::to_string(local_clock_time{23, 0}) == "23:00");
    error_message([] { static_cast<void>(tagflow::to_string(local_clock_time{24, 0})); });
}

TEST_CASE("send_window construction validates and formats", "[local_time]") {
    const send_window always;
    CHECK(always.always_open());
    CHECK(always.to_string() == "always");
    CHECK(always.iso_weekdays().empty());

    const send_window day{{8, 0}, {21, 0}};
    CHECK_FALSE(day.always_open());
    CHECK(day.to_string() == "08:00-21:00");
    CHECK(day.open_time() == local_clock_time{8, 0});
    CHECK(day.close_time() == local_clock_time{21, 0});
    CHECK(day.iso_weekdays().empty());

    const send_window some{{8, 0}, {21, 0}, {5, 1, 3, 1}};
    CHECK(some.iso_weekdays() == std::vector<int>{1, 3, 5});
    CHECK(some.to_string() == "08:00-21:00 Mon,Wed,Fri");
    CHECK(send_window({20, 0}, {2, 0}, {7}).to_string() == "20:00-02:00 Sun");
    // Listing all seven days is the same window as listing none.
    CHECK(send_window({8, 0}, {21, 0}, {1, 2, 3, 4, 5, 6, 7}) == day);

    CHECK_THAT(error_message([] { send_window({9, 0}, {9, 0}); }), Contains("09:00-09:00"));
    CHECK_THAT(error_message([] { send_window({8, 0}, {21, 0}, {0}); }), Contains("weekday 0"));
    CHECK_THAT(error_message([] { send_window({8, 0}, {21, 0}, {1, 8}); }), Contains("weekday 8"));
    error_message([] { send_window({24, 0}, {21, 0}); });
    error_message([] { send_window({8, 0}, {21, 60}); });
    error_message([] { send_window({-1, 0}, {21, 0}); });
}

TEST_CASE("Ho Chi Minh City (+07:00, no DST): an 08:00-21:00 window", "[local_time]") {
    const send_window w{{8, 0}, {21, 0}};
    // Monday 2026-01-05 21:30 local = 14:30Z: closed; opens Tuesday 08:00 local = 01:00Z.
    CHECK_FALSE(w.allows(utc("2026-01-05T14:30:00Z"), saigon));
    CHECK(w.next_open(utc("2026-01-05T14:30:00Z"), saigon) == utc("2026-01-06T01:00:00Z"));
    // The opening minute is inside, the closing minute outside.
    CHECK(w.allows(utc("2026-01-06T01:00:00Z"), saigon));
    CHECK_FALSE(w.allows(utc("2026-01-06T00:59:59.999Z"), saigon));
    CHECK(w.allows(utc("2026-01-06T13:59:59.999Z"), saigon));
    CHECK_FALSE(w.allows(utc("2026-01-06T14:00:00Z"), saigon));
    CHECK(w.next_open(utc("2026-01-06T14:00:00Z"), saigon) == utc("2026-01-07T01:00:00Z"));
    // 07:59 local on the same day: opens a minute later.
    CHECK(w.next_open(utc("2026-01-06T00:59:00Z"), saigon) == utc("2026-01-06T01:00:00Z"));
    // Inside the window next_open is the instant itself, milliseconds included.
    CHECK(w.next_open(utc("2026-01-06T05:00:00.123Z"), saigon) == utc("2026-01-06T05:00:00.123Z"));
    // The local day decides, not the UTC one: 23:30Z on Monday is already 06:30 Tuesday local,
    // before opening.
    CHECK_FALSE(w.allows(utc("2026-01-05T23:30:00Z"), saigon));
    CHECK(w.next_open(utc("2026-01-05T23:30:00Z"), saigon) == utc("2026-01-06T01:00:00Z"));

    const send_window always;
    CHECK(always.allows(utc("2026-01-05T14:30:00Z"), saigon));
    CHECK(always.next_open(utc("2026-01-05T14:30:00Z"), saigon) == utc("2026-01-05T14:30:00Z"));
}

TEST_CASE("Weekday windows skip the weekend", "[local_time]") {
    const send_window weekdays{{8, 0}, {21, 0}, {1, 2, 3, 4, 5}};
    // Friday 2026-01-09 21:30 local (14:30Z) -> Monday 2026-01-12 08:00 local (01:00Z).
    CHECK_FALSE(weekdays.allows(utc("2026-01-09T14:30:00Z"), saigon));
    CHECK(weekdays.next_open(utc("2026-01-09T14:30:00Z"), saigon) == utc("2026-01-12T01:00:00Z"));
    // Saturday 10:00 local is inside the hours but not on an allowed day.
    CHECK_FALSE(weekdays.allows(utc("2026-01-10T03:00:00Z"), saigon));
    CHECK(weekdays.next_open(utc("2026-01-10T03:00:00Z"), saigon) == utc("2026-01-12T01:00:00Z"));
    // Friday 10:00 local is fine.
    CHECK(weekdays.allows(utc("2026-01-09T03:00:00Z"), saigon));

    // Sundays only, in New York (EST in January): Monday 2026-01-05 12:00 EST (17:00Z) -> Sunday
    // 2026-01-11 08:00 EST = 13:00Z.
    const send_window sundays{{8, 0}, {21, 0}, {7}};
    CHECK(sundays.next_open(utc("2026-01-05T17:00:00Z"), new_york) == utc("2026-01-11T13:00:00Z"));
}

TEST_CASE("A window spanning midnight belongs to the day it opens", "[local_time]") {
    const send_window night{{20, 0}, {2, 0}};
    // Ho Chi Minh City, Monday 2026-01-05: 23:00 local = 16:00Z, open.
    CHECK(night.allows(utc("2026-01-05T16:00:00Z"), saigon));
    // Tuesday 01:59 local = Monday 18:59Z: still Monday's opening.
    CHECK(night.allows(utc("2026-01-05T18:59:00Z"), saigon));
    // Tuesday 02:00 local = Monday 19:00Z: closed until Tuesday 20:00 local = 13:00Z.
    CHECK_FALSE(night.allows(utc("2026-01-05T19:00:00Z"), saigon));
    CHECK(night.next_open(utc("2026-01-05T19:00:00Z"), saigon) == utc("2026-01-06T13:00:00Z"));
    CHECK_FALSE(night.allows(utc("2026-01-06T05:00:00Z"), saigon));
    CHECK(night.next_open(utc("2026-01-06T05:00:00Z"), saigon) == utc("2026-01-06T13:00:00Z"));

    // Friday only: open Friday 20:00 until Saturday 02:00.
    const send_window friday_night{{20, 0}, {2, 0}, {5}};
    // Saturday 2026-01-10 01:00 local = Friday 18:00Z: inside Friday's opening.
    CHECK(friday_night.allows(utc("2026-01-09T18:00:00Z"), saigon));
    // Friday 2026-01-09 01:00 local = Thursday 18:00Z: that was Thursday's opening, not allowed.
    CHECK_FALSE(friday_night.allows(utc("2026-01-08T18:00:00Z"), saigon));
    CHECK(friday_night.next_open(utc("2026-01-08T18:00:00Z"), saigon) == utc("2026-01-09T13:00:00Z"));
    // Saturday 21:00 local = 14:00Z: next is Friday 2026-01-16 20:00 local = 13:00Z.
    CHECK_FALSE(friday_night.allows(utc("2026-01-10T14:00:00Z"), saigon));
    CHECK(friday_night.next_open(utc("2026-01-10T14:00:00Z"), saigon) == utc("2026-01-16T13:00:00Z"));
}

TEST_CASE("New York spring forward (2026-03-08, 02:00 EST -> 03:00 EDT at 07:00Z)", "[local_time]") {
    // Quiet hours 22:00-07:00 as the window 07:00-22:00. Saturday 22:30 EST = Sunday 03:30Z; the
    // night is an hour short, so it opens at 07:00 EDT = 11:00Z (not 12:00Z as in winter).
    const send_window quiet{{7, 0}, {22, 0}};
    CHECK_FALSE(quiet.allows(utc("2026-03-08T03:30:00Z"), new_york));
    CHECK(quiet.next_open(utc("2026-03-08T03:30:00Z"), new_york) == utc("2026-03-08T11:00:00Z"));
    CHECK(quiet.allows(utc("2026-03-08T11:00:00Z"), new_york));
    CHECK_FALSE(quiet.allows(utc("2026-03-08T10:59:00Z"), new_york));
    // And it closes at 22:00 EDT = 02:00Z on Monday.
    CHECK(quiet.allows(utc("2026-03-09T01:59:00Z"), new_york));
    CHECK_FALSE(quiet.allows(utc("2026-03-09T02:00:00Z"), new_york));

    // 02:30 does not exist on 2026-03-08: the window opens when the clocks jump, 03:00 EDT.
    const send_window early{{2, 30}, {5, 0}};
    CHECK(early.next_open(utc("2026-03-08T05:00:00Z"), new_york) == utc("2026-03-08T07:00:00Z"));
    CHECK_FALSE(early.allows(utc("2026-03-08T06:59:59Z"), new_york)); // 01:59:59 EST
    CHECK(early.allows(utc("2026-03-08T07:00:00Z"), new_york));
    CHECK(early.allows(utc("2026-03-08T08:59:00Z"), new_york));       // 04:59 EDT
    CHECK_FALSE(early.allows(utc("2026-03-08T09:00:00Z"), new_york)); // 05:00 EDT
    // The day before (EST) and the day after (EDT) it opens at a real 02:30.
    CHECK(early.next_open(utc("2026-03-07T05:00:00Z"), new_york) == utc("2026-03-07T07:30:00Z"));
    CHECK(early.next_open(utc("2026-03-08T09:00:00Z"), new_york) == utc("2026-03-09T06:30:00Z"));

    // A step due at 02:30 local fires at the first valid instant, 03:00 EDT.
    CHECK(tagflow::local_to_utc(2026, 3, 8, {2, 30}, new_york) == utc("2026-03-08T07:00:00Z"));
    CHECK(tagflow::local_to_utc(2026, 3, 8, {2, 0}, new_york) == utc("2026-03-08T07:00:00Z"));
    CHECK(tagflow::local_to_utc(2026, 3, 8, {2, 59}, new_york) == utc("2026-03-08T07:00:00Z"));
    CHECK(tagflow::local_to_utc(2026, 3, 8, {1, 59}, new_york) == utc("2026-03-08T06:59:00Z"));
    CHECK(tagflow::local_to_utc(2026, 3, 8, {3, 0}, new_york) == utc("2026-03-08T07:00:00Z"));
    CHECK(tagflow::local_to_utc(2026, 3, 8, {3, 30}, new_york) == utc("2026-03-08T07:30:00Z"));
}

TEST_CASE("New York fall back (2026-11-01, 02:00 EDT -> 01:00 EST at 06:00Z)", "[local_time]") {
    // 01:00-01:59 happens twice: 05:00Z-05:59Z (EDT) and 06:00Z-06:59Z (EST). The first counts.
    CHECK(tagflow::local_to_utc(2026, 11, 1, {1, 30}, new_york) == utc("2026-11-01T05:30:00Z"));
    CHECK(tagflow::local_to_utc(2026, 11, 1, {1, 0}, new_york) == utc("2026-11-01T05:00:00Z"));
    CHECK(tagflow::local_to_utc(2026, 11, 1, {0, 59}, new_york) == utc("2026-11-01T04:59:00Z"));
    CHECK(tagflow::local_to_utc(2026, 11, 1, {2, 0}, new_york) == utc("2026-11-01T07:00:00Z"));

    // A window inside the repeated hour opens once, on the first pass.
    const send_window w{{1, 0}, {1, 45}};
    CHECK(w.next_open(utc("2026-11-01T04:00:00Z"), new_york) == utc("2026-11-01T05:00:00Z"));
    CHECK(w.allows(utc("2026-11-01T05:30:00Z"), new_york));       // 01:30 EDT
    CHECK_FALSE(w.allows(utc("2026-11-01T05:45:00Z"), new_york)); // 01:45 EDT
    CHECK_FALSE(w.allows(utc("2026-11-01T06:00:00Z"), new_york)); // 01:00 EST, second pass
    CHECK_FALSE(w.allows(utc("2026-11-01T06:10:00Z"), new_york)); // 01:10 EST, second pass
    // After the first pass the next opening is Monday 01:00 EST = 06:00Z.
    CHECK(w.next_open(utc("2026-11-01T05:45:00Z"), new_york) == utc("2026-11-02T06:00:00Z"));
    CHECK(w.next_open(utc("2026-11-01T06:10:00Z"), new_york) == utc("2026-11-02T06:00:00Z"));
    CHECK(openings(w, utc("2026-11-01T03:00:00Z"), utc("2026-11-01T12:00:00Z"), new_york) == 1);

    // A window that contains the whole repeated hour stays open through both passes, once.
    const send_window night{{22, 0}, {7, 0}};
    CHECK(night.allows(utc("2026-11-01T05:30:00Z"), new_york));
    CHECK(night.allows(utc("2026-11-01T06:30:00Z"), new_york));
    // Saturday 22:00 EDT = 02:00Z to Sunday 07:00 EST = 12:00Z: ten hours.
    CHECK_FALSE(night.allows(utc("2026-11-01T01:59:00Z"), new_york));
    CHECK(night.allows(utc("2026-11-01T11:59:00Z"), new_york));
    CHECK_FALSE(night.allows(utc("2026-11-01T12:00:00Z"), new_york));
    CHECK(openings(night, utc("2026-10-31T20:00:00Z"), utc("2026-11-01T20:00:00Z"), new_york) == 1);

    // A window closing in the repeated hour closes on the first pass and does not reopen on the
    // second: 22:00-01:30 closes at 01:30 EDT = 05:30Z.
    const send_window late{{22, 0}, {1, 30}};
    CHECK(late.allows(utc("2026-11-01T05:29:00Z"), new_york));
    CHECK_FALSE(late.allows(utc("2026-11-01T05:30:00Z"), new_york));
    CHECK_FALSE(late.allows(utc("2026-11-01T06:15:00Z"), new_york)); // 01:15 EST
    // Sunday 22:00 EST = Monday 03:00Z.
    CHECK(late.next_open(utc("2026-11-01T05:30:00Z"), new_york) == utc("2026-11-02T03:00:00Z"));

    // Saturday 21:30 EDT (01:30Z) outside 08:00-21:00: Sunday 08:00 EST = 13:00Z.
    const send_window day{{8, 0}, {21, 0}};
    CHECK(day.next_open(utc("2026-11-01T01:30:00Z"), new_york) == utc("2026-11-01T13:00:00Z"));
}

TEST_CASE("London (2026-03-29 01:00 GMT -> 02:00 BST, 2026-10-25 02:00 BST -> 01:00 GMT)", "[local_time]") {
    // Skipped 01:00-01:59 on 29 March: the clocks jump at 01:00Z to 02:00 BST.
    CHECK(tagflow::local_to_utc(2026, 3, 29, {1, 30}, london) == utc("2026-03-29T01:00:00Z"));
    CHECK(tagflow::local_to_utc(2026, 3, 29, {0, 59}, london) == utc("2026-03-29T00:59:00Z"));
    CHECK(tagflow::local_to_utc(2026, 3, 29, {2, 0}, london) == utc("2026-03-29T01:00:00Z"));
    // Repeated 01:00-01:59 on 25 October: first pass is BST, 00:00Z-00:59Z.
    CHECK(tagflow::local_to_utc(2026, 10, 25, {1, 30}, london) == utc("2026-10-25T00:30:00Z"));
    CHECK(tagflow::local_to_utc(2026, 10, 25, {2, 0}, london) == utc("2026-10-25T02:00:00Z"));

    const send_window office{{9, 0}, {17, 0}, {1, 2, 3, 4, 5}};
    // Friday 2026-03-27 17:30 GMT -> Monday 2026-03-30 09:00 BST = 08:00Z.
    CHECK(office.next_open(utc("2026-03-27T17:30:00Z"), london) == utc("2026-03-30T08:00:00Z"));
    CHECK(office.allows(utc("2026-03-30T08:00:00Z"), london));
    CHECK_FALSE(office.allows(utc("2026-03-30T07:59:00Z"), london));
    // Friday 2026-10-23 17:30 BST (16:30Z) -> Monday 2026-10-26 09:00 GMT = 09:00Z.
    CHECK(office.next_open(utc("2026-10-23T16:30:00Z"), london) == utc("2026-10-26T09:00:00Z"));
    CHECK_FALSE(office.allows(utc("2026-10-26T08:30:00Z"), london));

    // An every-day window opening in the skipped hour: 01:30-03:00 on 29 March opens at 01:00Z.
    const send_window w{{1, 30}, {3, 0}};
    CHECK(w.next_open(utc("2026-03-28T23:00:00Z"), london) == utc("2026-03-29T01:00:00Z"));
    CHECK_FALSE(w.allows(utc("2026-03-29T00:59:00Z"), london));
    CHECK(w.allows(utc("2026-03-29T01:00:00Z"), london));
    CHECK_FALSE(w.allows(utc("2026-03-29T02:00:00Z"), london)); // 03:00 BST
}

TEST_CASE("Lord Howe Island's 30-minute DST (2026-04-05 and 2026-10-04)", "[local_time]") {
    // tzdata: 2026-04-05 02:00 +11 -> 01:30 +10:30 at 2026-04-04T15:00Z (01:30-01:59 repeated);
    //         2026-10-04 02:00 +10:30 -> 02:30 +11 at 2026-10-03T15:30Z (02:00-02:29 skipped).
    CHECK(tagflow::local_to_utc(2026, 4, 5, {1, 45}, lord_howe) == utc("2026-04-04T14:45:00Z"));
    CHECK(tagflow::local_to_utc(2026, 4, 5, {1, 30}, lord_howe) == utc("2026-04-04T14:30:00Z"));
    CHECK(tagflow::local_to_utc(2026, 4, 5, {1, 29}, lord_howe) == utc("2026-04-04T14:29:00Z"));
    CHECK(tagflow::local_to_utc(2026, 4, 5, {2, 0}, lord_howe) == utc("2026-04-04T15:30:00Z"));
    CHECK(tagflow::local_to_utc(2026, 10, 4, {2, 15}, lord_howe) == utc("2026-10-03T15:30:00Z"));
    CHECK(tagflow::local_to_utc(2026, 10, 4, {2, 0}, lord_howe) == utc("2026-10-03T15:30:00Z"));
    CHECK(tagflow::local_to_utc(2026, 10, 4, {1, 59}, lord_howe) == utc("2026-10-03T15:29:00Z"));
    CHECK(tagflow::local_to_utc(2026, 10, 4, {2, 30}, lord_howe) == utc("2026-10-03T15:30:00Z"));
    CHECK(tagflow::local_to_utc(2026, 10, 4, {3, 0}, lord_howe) == utc("2026-10-03T16:00:00Z"));

    // Window opening in the skipped half hour.
    const send_window w{{2, 15}, {6, 0}};
    CHECK(w.next_open(utc("2026-10-03T13:30:00Z"), lord_howe) == utc("2026-10-03T15:30:00Z"));
    CHECK_FALSE(w.allows(utc("2026-10-03T15:29:00Z"), lord_howe));
    CHECK(w.allows(utc("2026-10-03T15:30:00Z"), lord_howe));

    // Window inside the repeated half hour: once, on the +11 pass (14:35Z-14:50Z).
    const send_window half{{1, 35}, {1, 50}};
    CHECK(half.next_open(utc("2026-04-04T13:00:00Z"), lord_howe) == utc("2026-04-04T14:35:00Z"));
    CHECK(half.allows(utc("2026-04-04T14:40:00Z"), lord_howe));
    CHECK_FALSE(half.allows(utc("2026-04-04T15:10:00Z"), lord_howe)); // 01:40 +10:30
    CHECK(openings(half, utc("2026-04-04T13:00:00Z"), utc("2026-04-04T17:00:00Z"), lord_howe) == 1);

    // Saturday 2026-04-04 21:30 +11 (10:30Z) -> Sunday 08:00 +10:30 = 21:30Z: 11 hours, not 10.5.
    const send_window day{{8, 0}, {21, 0}};
    CHECK(day.next_open(utc("2026-04-04T10:30:00Z"), lord_howe) == utc("2026-04-04T21:30:00Z"));
}

TEST_CASE("local_date_of gives the calendar date in the zone", "[local_time]") {
    using tagflow::local_date;
    CHECK(tagflow::local_date_of(utc("2026-01-05T17:30:00Z"), saigon) == local_date{2026, 1, 6});
    CHECK(tagflow::local_date_of(utc("2026-01-05T16:59:59Z"), saigon) == local_date{2026, 1, 5});
    CHECK(tagflow::local_date_of(utc("2026-01-01T04:59:00Z"), new_york) == local_date{2025, 12, 31});
    CHECK(tagflow::local_date_of(utc("2026-10-03T15:30:00Z"), lord_howe) == local_date{2026, 10, 4});
    CHECK(tagflow::local_date_of(utc("2026-10-03T13:29:00Z"), lord_howe) == local_date{2026, 10, 3});
}

TEST_CASE("next_yearly: birthdays, 29 February and the local year", "[local_time]") {
    const local_clock_time nine{9, 0};
    // Leap-day birthday at 09:00 in Ho Chi Minh City (02:00Z).
    CHECK(tagflow::next_yearly(utc("2026-01-01T00:00:00Z"), 2, 29, nine, saigon) ==
          utc("2026-02-28T02:00:00Z"));
    CHECK(tagflow::next_yearly(utc("2027-03-01T00:00:00Z"), 2, 29, nine, saigon) ==
          utc("2028-02-29T02:00:00Z"));
    // 2028 is a leap year: 28 February is not the day.
    CHECK(tagflow::next_yearly(utc("2028-02-28T03:00:00Z"), 2, 29, nine, saigon) ==
          utc("2028-02-29T02:00:00Z"));
    // Strictly after: the greeting instant itself moves to the next year (2029: 28 February).
    CHECK(tagflow::next_yearly(utc("2028-02-29T02:00:00Z"), 2, 29, nine, saigon) ==
          utc("2029-02-28T02:00:00Z"));
    CHECK(tagflow::next_yearly(utc("2026-02-28T02:00:00Z"), 2, 29, nine, saigon) ==
          utc("2027-02-28T02:00:00Z"));
    // An ordinary date, 25 December 09:00 EST = 14:00Z.
    CHECK(tagflow::next_yearly(utc("2026-12-25T13:59:00Z"), 12, 25, nine, new_york) ==
          utc("2026-12-25T14:00:00Z"));
    CHECK(tagflow::next_yearly(utc("2026-12-25T14:00:00Z"), 12, 25, nine, new_york) ==
          utc("2027-12-25T14:00:00Z"));
    // The year is the local one: 2026-12-31T17:00Z is already 2027-01-01 00:00 in Ho Chi Minh City,
    // so 1 January 00:30 local is 30 minutes away, not a year.
    CHECK(tagflow::next_yearly(utc("2026-12-31T17:00:00Z"), 1, 1, {0, 30}, saigon) ==
          utc("2026-12-31T17:30:00Z"));
    // Summer dates use summer offsets: 4 July 09:00 EDT = 13:00Z.
    CHECK(tagflow::next_yearly(utc("2026-01-01T00:00:00Z"), 7, 4, nine, new_york) ==
          utc("2026-07-04T13:00:00Z"));
    // A yearly time in a skipped hour fires when the clocks jump (02:30 on 2026-03-08 -> 07:00Z);
    // on 8 March 2027 (a Monday, EST) 02:30 exists: 07:30Z.
    CHECK(tagflow::next_yearly(utc("2026-01-01T00:00:00Z"), 3, 8, {2, 30}, new_york) ==
          utc("2026-03-08T07:00:00Z"));
    CHECK(tagflow::next_yearly(utc("2026-03-08T07:00:00Z"), 3, 8, {2, 30}, new_york) ==
          utc("2027-03-08T07:30:00Z"));

    const std::vector<std::pair<unsigned, unsigned>> bad_dates{{0, 1},  {13, 1}, {257, 1}, {1, 0},  {1, 32},
                                                               {2, 30}, {4, 31}, {6, 31},  {1, 257}};
    for (const auto& md : bad_dates) {
        INFO("month " << md.first << " day " << md.second);
        error_message([&] {
            static_cast<void>(
                tagflow::next_yearly(utc("2026-01-01T00:00:00Z"), md.first, md.second, nine, saigon));
        });
    }
    error_message([] {
        static_cast<void>(tagflow::next_yearly(utc("2026-01-01T00:00:00Z"), 1, 1, {9, 60}, saigon));
    });
}

TEST_CASE("add_local_days keeps the local wall time across DST changes", "[local_time]") {
    // New York: Saturday 2026-03-07 09:00 EST (14:00Z) + 1 day = Sunday 09:00 EDT (13:00Z): 23 hours.
    CHECK(tagflow::add_local_days(utc("2026-03-07T14:00:00Z"), 1, new_york) == utc("2026-03-08T13:00:00Z"));
    CHECK(tagflow::add_local_days(utc("2026-03-08T13:00:00Z"), -1, new_york) == utc("2026-03-07T14:00:00Z"));
    // Saturday 2026-10-31 09:00 EDT (13:00Z) + 1 day = Sunday 09:00 EST (14:00Z): 25 hours.
    CHECK(tagflow::add_local_days(utc("2026-10-31T13:00:00Z"), 1, new_york) == utc("2026-11-01T14:00:00Z"));
    // "3 days after delivered at the same local time": delivered Thursday 2026-03-05 02:30 EST
    // (07:30Z); Sunday 02:30 does not exist, so 03:00 EDT = 07:00Z.
    CHECK(tagflow::add_local_days(utc("2026-03-05T07:30:00Z"), 3, new_york) == utc("2026-03-08T07:00:00Z"));
    // Delivered Thursday 2026-10-29 01:30 EDT (05:30Z); Sunday 01:30 happens twice: the first, EDT.
    CHECK(tagflow::add_local_days(utc("2026-10-29T05:30:00Z"), 3, new_york) == utc("2026-11-01T05:30:00Z"));
    // Delivered in the second pass (01:30 EST = 06:30Z); three days later 01:30 EST = 06:30Z.
    CHECK(tagflow::add_local_days(utc("2026-11-01T06:30:00Z"), 3, new_york) == utc("2026-11-04T06:30:00Z"));
    // Zero days is the same instant, even in the second pass.
    CHECK(tagflow::add_local_days(utc("2026-11-01T06:30:00Z"), 0, new_york) == utc("2026-11-01T06:30:00Z"));

    // London: Saturday 2026-03-28 09:00 GMT + 1 = Sunday 09:00 BST = 08:00Z; 01:30 GMT the day
    // before the gap lands on the jump, 01:00Z.
    CHECK(tagflow::add_local_days(utc("2026-03-28T09:00:00Z"), 1, london) == utc("2026-03-29T08:00:00Z"));
    CHECK(tagflow::add_local_days(utc("2026-03-28T01:30:00Z"), 1, london) == utc("2026-03-29T01:00:00Z"));
    // 2026-10-24 09:00 BST (08:00Z) + 1 = 2026-10-25 09:00 GMT = 09:00Z.
    CHECK(tagflow::add_local_days(utc("2026-10-24T08:00:00Z"), 1, london) == utc("2026-10-25T09:00:00Z"));

    // Lord Howe: 2026-10-03 09:00 +10:30 (2026-10-02T22:30Z) + 1 = 09:00 +11 = 2026-10-03T22:00Z,
    // 23.5 hours later.
    CHECK(tagflow::add_local_days(utc("2026-10-02T22:30:00Z"), 1, lord_howe) == utc("2026-10-03T22:00:00Z"));

    // No DST: exactly 24 hours a day, milliseconds kept.
    CHECK(tagflow::add_local_days(utc("2026-01-05T01:02:03.456Z"), 2, saigon) ==
          utc("2026-01-07T01:02:03.456Z"));
    CHECK(tagflow::add_local_days(utc("2026-03-01T00:00:00Z"), -1, saigon) == utc("2026-02-28T00:00:00Z"));
}

TEST_CASE("local_to_utc refuses dates that do not exist", "[local_time]") {
    CHECK(tagflow::local_to_utc(2028, 2, 29, {9, 0}, saigon) == utc("2028-02-29T02:00:00Z"));
    CHECK(tagflow::local_to_utc(2026, 12, 31, {23, 59}, saigon) == utc("2026-12-31T16:59:00Z"));
    CHECK_THAT(error_message([] {
                   static_cast<void>(tagflow::local_to_utc(2026, 2, 29, {9, 0}, saigon));
               }),
               Contains("2026-02-29"));
    error_message([] { static_cast<void>(tagflow::local_to_utc(2026, 13, 1, {9, 0}, saigon)); });
    // A month of 257 must not wrap into January.
    error_message([] { static_cast<void>(tagflow::local_to_utc(2026, 257, 1, {9, 0}, saigon)); });
    error_message([] { static_cast<void>(tagflow::local_to_utc(2026, 1, 0, {9, 0}, saigon)); });
    error_message([] { static_cast<void>(tagflow::local_to_utc(0, 1, 1, {9, 0}, saigon)); });
    error_message([] { static_cast<void>(tagflow::local_to_utc(65537, 1, 1, {9, 0}, saigon)); });
    error_message([] { static_cast<void>(tagflow::local_to_utc(2026, 1, 1, {24, 0}, saigon)); });
    error_message([] { static_cast<void>(tagflow::local_to_utc(2026, 1, 1, {9, -1}, saigon)); });
}

TEST_CASE("Unknown zones are refused by name everywhere", "[local_time]") {
    const time_point t = utc("2026-01-05T03:00:00Z");
    const send_window w{{8, 0}, {21, 0}};
    for (const char* zone : {"Mars/Olympus", "", "asia/ho_chi_minh", "+07:00", "zone.tab"}) {
        INFO("zone: \"" << zone << "\"");
        const std::string quoted = std::string("\"") + zone + "\"";
        CHECK_THAT(error_message([&] { static_cast<void>(w.allows(t, zone)); }), Contains(quoted));
        CHECK_THAT(error_message([&] { static_cast<void>(w.next_open(t, zone)); }), Contains(quoted));
        // Also for a window that would allow anything: a bad zone must not pass unnoticed.
        CHECK_THAT(error_message([&] { static_cast<void>(send_window{}.allows(t, zone)); }),
                   Contains(quoted));
        CHECK_THAT(error_message([&] {
                       static_cast<void>(tagflow::local_to_utc(2026, 1, 5, {9, 0}, zone));
                   }),
                   Contains(quoted));
        CHECK_THAT(error_message([&] { static_cast<void>(tagflow::local_date_of(t, zone)); }),
                   Contains(quoted));
        CHECK_THAT(error_message([&] {
                       static_cast<void>(tagflow::next_yearly(t, 1, 1, {9, 0}, zone));
                   }),
                   Contains(quoted));
        CHECK_THAT(error_message([&] { static_cast<void>(tagflow::add_local_days(t, 1, zone)); }),
                   Contains(quoted));
    }
    // Old names that tzdata keeps as links still work: Asia/Saigon is Asia/Ho_Chi_Minh.
    CHECK(w.allows(t, "Asia/Saigon"));
    CHECK(tagflow::local_to_utc(2026, 1, 5, {9, 0}, "UTC") == utc("2026-01-05T09:00:00Z"));
}

TEST_CASE("Answers do not depend on which zone or instant was asked before", "[local_time]") {
    // The conversions remember the last zone and offset period asked; interleaving zones and
    // walking back and forth across DST changes must give the answers each would get alone.
    const std::vector<const char*> zones{new_york, lord_howe, saigon, london};
    struct ask {
        const char* zone;
        int month;
        unsigned day;
        local_clock_time at;
    };
    std::vector<ask> asks;
    for (const char* zone : zones) {
        for (const auto& [month, day] : std::vector<std::pair<int, unsigned>>{
                 {3, 8}, {3, 29}, {4, 5}, {10, 4}, {10, 25}, {11, 1}, {3, 9}, {10, 26}}) {
            for (int minutes = 0; minutes < 24 * 60; minutes += 15) {
                asks.push_back({zone, month, day, {minutes / 60, minutes % 60}});
            }
        }
    }
    auto answer = [](const ask& a) {
        const auto t = tagflow::local_to_utc(2026, static_cast<unsigned>(a.month), a.day, a.at, a.zone);
        const auto d = tagflow::local_date_of(t, a.zone);
        return std::pair{t, d.year * 10000 + static_cast<int>(d.month) * 100 + static_cast<int>(d.day)};
    };
    // Each zone on its own, in order...
    std::vector<std::pair<time_point, int>> alone;
    for (const auto& a : asks) {
        alone.push_back(answer(a));
    }
    // ...then every ask in an order that switches zone and jumps in time at each step.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < asks.size(); ++i) {
        order.push_back((i * 7919) % asks.size()); // 7919 is prime and does not divide the count
    }
    REQUIRE(asks.size() % 7919 != 0);
    for (const auto i : order) {
        INFO(asks[i].zone << " 2026-" << asks[i].month << "-" << asks[i].day << " " << asks[i].at.hour << ":"
                          << asks[i].at.minute);
        CHECK(answer(asks[i]) == alone[i]);
    }
    // Spot checks against offsets worked out by hand.
    CHECK(tagflow::local_to_utc(2026, 3, 8, {2, 30}, new_york) == utc("2026-03-08T07:00:00Z")); // skipped
    CHECK(tagflow::local_to_utc(2026, 11, 1, {1, 30}, new_york) ==
          utc("2026-11-01T05:30:00Z")); // first 01:30 EDT
    CHECK(tagflow::local_to_utc(2026, 4, 5, {1, 45}, lord_howe) ==
          utc("2026-04-04T14:45:00Z")); // first, +11:00
    CHECK(tagflow::local_to_utc(2026, 3, 9, {12, 0}, saigon) == utc("2026-03-09T05:00:00Z"));
}
