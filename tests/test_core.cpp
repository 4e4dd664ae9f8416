#include <catch2/catch.hpp>

#include "detail/core.hpp"

#include <boost/json.hpp>

TEST_CASE("hand-built JSON strings in the log match Boost.JSON's serialiser byte for byte", "[core]") {
    const std::string samples[] = {"",
                                   "checkout",
                                   "Hoàn tất đơn hàng",
                                   "say \"hi\"",
                                   "back\\slash",
                                   "tab\tnew\nline\r",
                                   std::string("nul\0x", 5),
                                   "\x01\x1f\x7f",
                                   "emoji 🙂"};
    for (const auto& s : samples) {
        std::string mine;
        tagflow::detail::append_json_string(mine, s);
        CHECK(mine == boost::json::serialize(boost::json::string(s)));
    }
}

TEST_CASE("times format as ISO 8601 UTC with milliseconds only when needed", "[core]") {
    using tagflow::format_time;
    using tagflow::parse_time;
    CHECK(format_time(parse_time("2026-01-05T10:00:00+07:00")) == "2026-01-05T03:00:00Z");
    CHECK(format_time(parse_time("2026-12-31T23:59:59.007Z")) == "2026-12-31T23:59:59.007Z");
    CHECK(format_time(parse_time("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00Z");
    CHECK(format_time(tagflow::time_point{}) == "1970-01-01T00:00:00Z");
}
