#pragma once
/// \file value.hpp
/// Scalar values and field types shared by contacts, definitions and expressions.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tagflow {

/// A scalar: absent (std::monostate), boolean, number or UTF-8 text. Dates are ISO "YYYY-MM-DD"
/// text, phones E.164 text, e-mails normalised text.
using value = std::variant<std::monostate, bool, double, std::string>;

/// Type of a custom field, as declared in the definitions document.
enum class field_type { text, number, boolean, date, phone, email };

/// Name of a field type as written in definitions ("text", "number", "bool", "date", "phone",
/// "email"). Never fails; thread-safe.
std::string_view to_string(field_type type) noexcept;

/// Parses a field type name; std::nullopt when unknown. Thread-safe.
std::optional<field_type> parse_field_type(std::string_view name) noexcept;

/// True when the value is std::monostate or an empty string. Thread-safe.
bool is_blank(const value& v) noexcept;

/// Renders a value as text: "" for absent, "true"/"false", numbers without a trailing ".0"
/// when integral. Thread-safe.
std::string to_text(const value& v);

} // namespace tagflow
