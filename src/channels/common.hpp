#pragma once
// Helpers shared by the channel adapters (src/channels/*.cpp and src/channel.cpp).

#include <tagflow/channel.hpp>
#include <tagflow/error.hpp>

#include <boost/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow::detail {

// Thrown by an adapter's build_request when it will not send a message for a reason of its own
// (a promotional e-mail without an unsubscribe link); http_channel::send turns it into a failed
// result carrying code().
class send_refused : public error {
public:
    send_refused(std::string code, const std::string& what)
        : error(errc::invalid_argument, what), code_(std::move(code)) {}
    [[nodiscard]] const std::string& code() const noexcept { return code_; }

private:
    std::string code_;
};

// Throws error(invalid_argument) "<channel>: <setting> is required" when value is empty.
void require_setting(const std::string& value, std::string_view setting, std::string_view channel);

// Throws error(invalid_argument) naming the channel when the message has no address.
const std::string& require_address(const std::string& address, std::string_view what,
                                   std::string_view channel);

// Compact JSON text of v.
std::string to_json(const boost::json::value& v);

// The parsed body, or nullopt when it is not JSON.
std::optional<boost::json::value> parse_json(std::string_view body) noexcept;

// The member `key` of `v` when v is an object holding it; nullptr otherwise.
const boost::json::value* member(const boost::json::value* v, std::string_view key) noexcept;

// A JSON string or number as text ("" for anything else); ids arrive as either.
std::string scalar_text(const boost::json::value* v);

// A JSON integer, or a string holding one; nullopt otherwise.
std::optional<std::int64_t> integer_of(const boost::json::value* v) noexcept;

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string url_encode(std::string_view s);

// Number of code points (invalid bytes count one each).
std::size_t code_points(std::string_view s);

// The first `limit` code points of s.
std::string cut_code_points(std::string_view s, std::size_t limit);

// The longest prefix of s of at most `limit` bytes that does not end inside a UTF-8 sequence.
std::string cut_bytes(std::string_view s, std::size_t limit);

// The idempotency key of part `index`: the outbox key for the first, "key#2", "key#3"... after.
std::string part_key(const outbound_message& m, std::size_t index);

// True for the part that carries the buttons and quick replies.
inline bool is_last_part(const rendered_message& shaped, std::size_t index) noexcept {
    return index + 1 == shaped.parts.size();
}

// A POST of a JSON body with the usual headers.
http_request json_post(std::string url, const boost::json::value& body, duration timeout);

// The message's text part `index`, or "" past the end (a template message has one request
// whatever its parts).
const std::string& part_text(const rendered_message& shaped, std::size_t index);

// One choice a platform shows as a button.
struct choice {
    std::string title;
    std::string payload;
};

// For platforms whose quick replies are buttons too: the kept buttons, then the kept quick
// replies (payload = title) when all fit within `max`. Quick replies that do not fit become
// numbered lines appended to `text`, so none is lost.
std::vector<choice> merge_choices(const rendered_message& shaped, std::size_t max, std::string& text);

// HTTP statuses.
inline bool is_success(int status) noexcept {
    return status >= 200 && status < 300;
}
inline bool is_server_error(int status) noexcept {
    return status >= 500 && status < 600;
}

// A generic answer classification for APIs that only speak through the status.
send_result by_status(const http_response& response, std::string_view what);

} // namespace tagflow::detail
