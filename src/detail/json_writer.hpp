#pragma once
// A JSON text writer for documents the engine writes on every event (contact documents). Building
// a Boost.JSON tree first and serialising it costs an allocation per node and a key lookup per
// member; this appends straight to a string. Its output is what boost::json::serialize gives for
// the same tree (same escapes, same number forms), so either may write a document the other
// reads back. Not thread-safe; one writer per string.

#include <cstdint>
#include <string>
#include <string_view>

namespace tagflow::detail {

class json_writer {
public:
    explicit json_writer(std::string& out) : out_(out) {}

    json_writer& begin_object() { return open('{'); }
    json_writer& end_object() { return close('}'); }
    json_writer& begin_array() { return open('['); }
    json_writer& end_array() { return close(']'); }

    // The next member's name; the value written next belongs to it.
    json_writer& key(std::string_view name);

    json_writer& string(std::string_view text);
    json_writer& integer(std::int64_t n);
    // Whole numbers below 9e15 are written as integers ("950000", not "9.5E5"), as the tree
    // codec does; others as Boost.JSON writes a double.
    json_writer& number(double d);
    json_writer& boolean(bool b);
    json_writer& null();

private:
    json_writer& open(char bracket);
    json_writer& close(char bracket);
    // A comma before every value of an array and every key of an object but the first.
    void separate();

    std::string& out_;
    std::uint64_t has_items_ = 0; // bit d: the container at depth d already holds an item
    int depth_ = 0;
    bool after_key_ = false;
};

} // namespace tagflow::detail
