#pragma once
// JSON encodings of the model, shared by the stores, the event log and exports. Objects are
// built in a fixed key order so that serialising the same state always gives the same bytes.

#include <tagflow/contact.hpp>
#include <tagflow/engine.hpp>
#include <tagflow/event.hpp>
#include <tagflow/outbox.hpp>

#include <optional>
#include <string_view>

#include <boost/json.hpp>

namespace tagflow::detail {

// "90s", "30m", "2h", "7d" (a positive whole number and one unit); std::nullopt otherwise.
std::optional<duration> parse_short_duration(std::string_view text);

boost::json::value value_to_json(const value& v);
value value_from_json(const boost::json::value& v);

// How contact_to_json writes a contact. `full` is the public shape (engine::contact_json,
// exports): every key present, empty values included. `stored` is what stores keep: keys whose
// value is the default (empty text, empty list, null time, zero, false) are left out, which
// halves a typical document and the work of reading it back. contact_from_json reads both.
enum class contact_shape { full, stored };

// The contact document as JSON text, appended to `out`; the only description of its layout.
void write_contact_json(std::string& out, const contact& c, contact_shape shape = contact_shape::full);
std::string contact_json_text(const contact& c, contact_shape shape = contact_shape::full);
// The same document as a tree (parsed from contact_json_text), for callers that edit or embed it.
boost::json::object contact_to_json(const contact& c, contact_shape shape = contact_shape::full);
contact contact_from_json(const boost::json::value& v);

// An input event as JSON text (what tagflow::to_json(event) returns and the log keeps).
std::string event_json_text(const event& e);

// message_content_to_json and result_to_json build their objects with `sp` (the default resource
// when empty); a caller that only serialises the result passes a monotonic resource over a stack
// buffer (serialize_scratch), so building allocates nothing.

boost::json::object message_to_json(const outbound_message& m);
// The structured part of a message (quick replies, buttons, form) as stored beside its text.
boost::json::object message_content_to_json(const outbound_message& m, boost::json::storage_ptr sp = {});
void message_content_from_json(const boost::json::value& v, outbound_message& m);

boost::json::object result_to_json(const ingest_result& r, boost::json::storage_ptr sp = {});
// What a JSON value is, for error messages: "a string", "an object", "null", ...
std::string json_kind_name(const boost::json::value& v);
// The same document as text, written directly: every input row of the log carries one.
std::string result_json_text(const ingest_result& r);

// Serialises what `build` makes with the storage it is given: a monotonic resource over a stack
// buffer (spilling to the heap past it), so a document built only to be written out costs no
// allocation per node. `build` takes a boost::json::storage_ptr and returns a value or object.
template <typename Build>
std::string serialize_scratch(Build&& build) {
    unsigned char buffer[4096];
    boost::json::monotonic_resource scratch(buffer, sizeof buffer);
    return boost::json::serialize(build(boost::json::storage_ptr(&scratch)));
}
ingest_result result_from_json(const boost::json::value& v);

// The text of a JSON scalar as a person would write it: 2.5 -> "2.5", 3 -> "3", true -> "true".
// Strings come back as they are; null gives "".
std::string scalar_text(const boost::json::value& v);

std::optional<time_point> optional_time(const boost::json::object& o, std::string_view key);

} // namespace tagflow::detail
