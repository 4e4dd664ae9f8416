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

boost::json::object contact_to_json(const contact& c, contact_shape shape = contact_shape::full);
contact contact_from_json(const boost::json::value& v);

boost::json::object event_to_json_object(const event& e);

boost::json::object message_to_json(const outbound_message& m);
// The structured part of a message (quick replies, buttons, form) as stored beside its text.
boost::json::object message_content_to_json(const outbound_message& m);
void message_content_from_json(const boost::json::value& v, outbound_message& m);

boost::json::object result_to_json(const ingest_result& r);
ingest_result result_from_json(const boost::json::value& v);

// The text of a JSON scalar as a person would write it: 2.5 -> "2.5", 3 -> "3", true -> "true".
// Strings come back as they are; null gives "".
std::string scalar_text(const boost::json::value& v);

std::optional<time_point> optional_time(const boost::json::object& o, std::string_view key);

} // namespace tagflow::detail
