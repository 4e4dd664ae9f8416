#include <catch2/catch.hpp>

#include "detail/json_writer.hpp"

#include <boost/json.hpp>

#include <string>

namespace json = boost::json;
using tagflow::detail::json_writer;

namespace {

// What Boost.JSON writes for the same document: the writer promises this exact text.
std::string as_boost_writes(const std::string& text) {
    return json::serialize(json::parse(text));
}

} // namespace

TEST_CASE("the json writer separates members and items with commas at every depth", "[json_writer]") {
    std::string out;
    json_writer w(out);
    w.begin_object();
    w.key("a").integer(1);
    w.key("list")
        .begin_array()
        .integer(1)
        .string("two")
        .begin_object()
        .end_object()
        .begin_array()
        .end_array()
        .end_array();
    w.key("empty").begin_object().end_object();
    w.key("b").boolean(false).key("c").null();
    w.end_object();
    CHECK(out == R"({"a":1,"list":[1,"two",{},[]],"empty":{},"b":false,"c":null})");
    CHECK(as_boost_writes(out) == out);
}

TEST_CASE("the json writer escapes text as Boost.JSON does", "[json_writer]") {
    std::string out;
    json_writer w(out);
    const std::string awkward = std::string("quote \" back \\ slash / tab \t line \n bell \x07 nul ") + '\0' +
                                " đã gửi \xF0\x9F\x9B\x8D";
    w.begin_array().string(awkward).string("").end_array();
    CHECK(as_boost_writes(out) == out);
    CHECK(json::parse(out).as_array().at(0).as_string() == awkward);
}

TEST_CASE("the json writer writes whole numbers as integers and others as Boost.JSON does", "[json_writer]") {
    std::string out;
    json_writer w(out);
    w.begin_array().number(950000).number(-3).number(12.5).number(1e20).number(0.1).integer(
        -9223372036854775807 - 1);
    w.end_array();
    CHECK(out.rfind("[950000,-3,", 0) == 0);
    CHECK(as_boost_writes(out) == out);
}
