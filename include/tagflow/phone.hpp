#pragma once
/// \file phone.hpp
/// Normalisation of contact identifiers: phone numbers to E.164 and e-mail addresses to a canonical
/// lower-case form, so that the same person typed two ways is recognised as one contact.

#include <string>
#include <string_view>

namespace tagflow {

/// Normalises a phone number to E.164, e.g. "0912 345 678", "(+84) 912-345-678" and
/// "0084912345678" all give "+84912345678".
///
/// Spaces, tabs, no-break spaces, dots, dashes and parentheses are ignored. A number written with
/// "+" or "00" is international: its country code and subscriber number must total 7 to 15 digits,
/// and +84 numbers are also checked against the Vietnamese numbering plan (mobile: 9 digits after
/// the country code, starting 3, 5, 7, 8 or 9; landline: 10 digits starting 2; the 11-digit mobile
/// prefixes retired in 2018, such as 0162, are converted to their current form). A number without a
/// country code is read in default_country; only "VN" (any letter case) is supported, and it may be
/// written with the leading 0, with a bare 84 prefix, or with neither.
///
/// Throws tagflow::error with errc::invalid_phone, whose message quotes the input and says why,
/// when the input is empty, contains letters or other characters, has the wrong length or a wrong
/// Vietnamese prefix. Throws errc::invalid_argument when the number has no country code and
/// default_country is not "VN". Thread-safe.
[[nodiscard]] std::string normalize_phone(std::string_view input, std::string_view default_country = "VN");

/// True when normalize_phone(input, default_country) would succeed. Never throws; thread-safe.
[[nodiscard]] bool is_valid_phone(std::string_view input, std::string_view default_country = "VN") noexcept;

/// Normalises an e-mail address: trims surrounding ASCII whitespace and lower-cases ASCII letters,
/// e.g. " Lan.Nguyen@Example.COM " gives "lan.nguyen@example.com".
///
/// Only the shape is checked: exactly one "@", a non-empty local part, a domain containing a dot,
/// no whitespace or control characters, none of ()<>[]\,;:" (so quoted local parts are refused), no
/// consecutive dots, and neither part starting or ending with a dot. Throws tagflow::error with
/// errc::invalid_email, whose message quotes the input and says why, otherwise. Thread-safe.
[[nodiscard]] std::string normalize_email(std::string_view input);

/// True when normalize_email(input) would succeed. Never throws; thread-safe.
[[nodiscard]] bool is_valid_email(std::string_view input) noexcept;

} // namespace tagflow
