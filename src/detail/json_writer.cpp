#include "detail/json_writer.hpp"

#include "detail/core.hpp"

#include <tagflow/error.hpp>

#include <boost/json.hpp>

#include <charconv>
#include <cmath>

namespace tagflow::detail {

void json_writer::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (depth_ > 0) {
        const std::uint64_t bit = std::uint64_t{1} << depth_;
        if (has_items_ & bit) {
            out_ += ',';
        }
        has_items_ |= bit;
    }
}

json_writer& json_writer::open(char bracket) {
    separate();
    if (depth_ >= 63) {
        throw error(errc::invalid_argument, "JSON document nested deeper than 63 levels");
    }
    ++depth_;
    has_items_ &= ~(std::uint64_t{1} << depth_);
    out_ += bracket;
    return *this;
}

json_writer& json_writer::close(char bracket) {
    --depth_;
    out_ += bracket;
    return *this;
}

json_writer& json_writer::key(std::string_view name) {
    separate();
    append_json_string(out_, name);
    out_ += ':';
    after_key_ = true;
    return *this;
}

json_writer& json_writer::string(std::string_view text) {
    separate();
    append_json_string(out_, text);
    return *this;
}

json_writer& json_writer::integer(std::int64_t n) {
    separate();
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    (void)ec; // 24 characters hold every int64
    out_.append(buf, end);
    return *this;
}

json_writer& json_writer::number(double d) {
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
        return integer(static_cast<std::int64_t>(d));
    }
    separate();
    out_ += boost::json::serialize(boost::json::value(d));
    return *this;
}

json_writer& json_writer::boolean(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
}

json_writer& json_writer::null() {
    separate();
    out_ += "null";
    return *this;
}

} // namespace tagflow::detail
