#pragma once
// Message templates: mustache over the contact's profile, fields and activity.

#include <tagflow/contact.hpp>

#include <optional>
#include <string>

namespace tagflow::detail {

// The parse error of a template, or nullopt when it is valid.
std::optional<std::string> template_error(const std::string& text);

// Renders `text` for `c`. Variables: name, phone, email, timezone, locale, customer_id, type,
// orders, total_spent, last_product, every custom field by name, and fields.<name>. Values are
// inserted as they are (no HTML escaping: these are chat messages, not web pages).
std::string render_template(const std::string& text, const contact& c);

} // namespace tagflow::detail
