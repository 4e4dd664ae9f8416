#include "channels/common.hpp"

#include <utf8proc.h>

namespace tagflow::detail {

namespace json = boost::json;

void require_setting(const std::string& value, std::string_view setting, std::string_view channel) {
    if (value.empty()) {
        throw error(errc::invalid_argument,
                    std::string(channel) + ": " + std::string(setting) + " is required");
    }
}

const std::string& require_address(const std::string& address, std::string_view what,
                                   std::string_view channel) {
    if (address.empty()) {
        throw error(errc::invalid_argument,
                    "cannot address the message on " + std::string(channel) + ": no " + std::string(what));
    }
    return address;
}

std::string to_json(const json::value& v) {
    return json::serialize(v);
}

std::optional<json::value> parse_json(std::string_view body) noexcept {
    try {
        boost::system::error_code ec;
        auto v = json::parse(body, ec);
        if (ec) {
            return std::nullopt;
        }
        return v;
    } catch (...) {
        return std::nullopt;
    }
}

const json::value* member(const json::value* v, std::string_view key) noexcept {
    if (v == nullptr || !v->is_object()) {
        return nullptr;
    }
    return v->as_object().if_contains(key);
}

std::string scalar_text(const json::value* v) {
    if (v == nullptr) {
        return {};
    }
    if (v->is_string()) {
        return std::string(v->as_string());
    }
    if (v->is_int64()) {
        return std::to_string(v->as_int64());
    }
    if (v->is_uint64()) {
        return std::to_string(v->as_uint64());
    }
    return {};
}

std::optional<std::int64_t> integer_of(const json::value* v) noexcept {
    if (v == nullptr) {
        return std::nullopt;
    }
    if (v->is_int64()) {
        return v->as_int64();
    }
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v->as_uint64());
    }
    if (v->is_double()) {
        const double d = v->as_double();
        if (d >= -9e15 && d <= 9e15 && static_cast<double>(static_cast<std::int64_t>(d)) == d) {
            return static_cast<std::int64_t>(d);
        }
        return std::nullopt;
    }
    if (v->is_string()) {
        const auto& s = v->as_string();
        if (s.empty()) {
            return std::nullopt;
        }
        std::int64_t out = 0;
        std::size_t i = 0;
        const bool negative = s[0] == '-';
        if (negative) {
            i = 1;
        }
        if (i == s.size()) {
            return std::nullopt;
        }
        for (; i < s.size(); ++i) {
            if (s[i] < '0' || s[i] > '9' || out > (INT64_MAX - 9) / 10) {
                return std::nullopt;
            }
            out = out * 10 + (s[i] - '0');
        }
        return negative ? -out : out;
    }
    return std::nullopt;
}

std::string url_encode(std::string_view s) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 0x0f];
        }
    }
    return out;
}

namespace {

std::size_t sequence_length(std::string_view s, std::size_t pos) noexcept {
    utf8proc_int32_t cp = 0;
    const auto len = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos),
                                      static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
    return len > 0 ? static_cast<std::size_t>(len) : 1;
}

} // namespace

std::size_t code_points(std::string_view s) {
    std::size_t n = 0;
    for (std::size_t pos = 0; pos < s.size(); pos += sequence_length(s, pos)) {
        ++n;
    }
    return n;
}

std::string cut_code_points(std::string_view s, std::size_t limit) {
    std::size_t pos = 0;
    for (std::size_t n = 0; n < limit && pos < s.size(); ++n) {
        pos += sequence_length(s, pos);
    }
    return std::string(s.substr(0, pos));
}

std::string cut_bytes(std::string_view s, std::size_t limit) {
    std::size_t pos = 0;
    while (pos < s.size()) {
        const auto len = sequence_length(s, pos);
        if (pos + len > limit) {
            break;
        }
        pos += len;
    }
    return std::string(s.substr(0, pos));
}

std::string part_key(const outbound_message& m, std::size_t index) {
    return index == 0 ? m.key : m.key + "#" + std::to_string(index + 1);
}

http_request json_post(std::string url, const json::value& body, duration timeout) {
    http_request r;
    r.method = "POST";
    r.url = std::move(url);
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = to_json(body);
    r.timeout = timeout;
    return r;
}

const std::string& part_text(const rendered_message& shaped, std::size_t index) {
    static const std::string empty;
    return index < shaped.parts.size() ? shaped.parts[index] : empty;
}

std::vector<choice> merge_choices(const rendered_message& shaped, std::size_t max, std::string& text) {
    std::vector<choice> out;
    for (const auto& b : shaped.buttons) {
        out.push_back({b.title, b.payload});
    }
    if (out.size() + shaped.quick_replies.size() <= max) {
        for (const auto& q : shaped.quick_replies) {
            out.push_back({q, q});
        }
        return out;
    }
    for (std::size_t i = 0; i < shaped.quick_replies.size(); ++i) {
        if (!text.empty()) {
            text += '\n';
        }
        text += std::to_string(i + 1) + ". " + shaped.quick_replies[i];
    }
    return out;
}

send_result by_status(const http_response& response, std::string_view what) {
    const std::string code = std::to_string(response.status);
    const std::string detail = std::string(what) + " answered HTTP " + code +
                               (response.body.empty() ? "" : ": " + cut_code_points(response.body, 200));
    if (is_success(response.status)) {
        const auto body = parse_json(response.body);
        auto r = send_result::ok(body ? scalar_text(member(&*body, "id")) : std::string());
        return r;
    }
    if (response.status == 429 || is_server_error(response.status)) {
        return send_result::fail(send_result::outcome::retry, code, detail);
    }
    return send_result::fail(send_result::outcome::failed, code, detail);
}

} // namespace tagflow::detail
