#include "tagflow/phone.hpp"

#include "tagflow/error.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace tagflow {

namespace {

[[noreturn]] void fail_phone(std::string_view input, const std::string& why) {
    throw error(errc::invalid_phone, "invalid phone number \"" + std::string(input) + "\": " + why);
}

[[noreturn]] void fail_email(std::string_view input, const std::string& why) {
    throw error(errc::invalid_email, "invalid email address \"" + std::string(input) + "\": " + why);
}

bool is_ascii_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

bool is_ascii_letter(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_ascii_space(char c) noexcept {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Removes the separators people type inside phone numbers, keeping digits and a leading '+'.
std::string strip_phone_separators(std::string_view input) {
    // Letters are checked for first so that "abc" is reported as letters, the likeliest mistake
    // (a name or an e-mail typed into the phone field), whatever else the input contains.
    if (std::any_of(input.begin(), input.end(), is_ascii_letter)) {
        fail_phone(input, "contains letters");
    }
    std::string out;
    out.reserve(input.size());
    for (std::size_t i = 0; i < input.size(); ++i) {
        const char c = input[i];
        if (is_ascii_digit(c)) {
            out.push_back(c);
        } else if (c == '+') {
            if (!out.empty()) {
                fail_phone(input, "'+' may only appear at the start");
            }
            out.push_back(c);
        } else if (is_ascii_space(c) || c == '.' || c == '-' || c == '(' || c == ')') {
            continue;
        } else if (c == '\xC2' && i + 1 < input.size() && input[i + 1] == '\xA0') {
            // U+00A0 no-break space: numbers copied from web pages and spreadsheets carry it.
            ++i;
        } else if (static_cast<unsigned char>(c) >= 0x80) {
            fail_phone(input, "contains a character that is not a digit");
        } else {
            fail_phone(input, std::string("contains the unexpected character '") + c + "'");
        }
    }
    return out;
}

struct retired_prefix {
    std::string_view old_prefix; ///< First three digits of the old 10-digit national number.
    std::string_view new_prefix; ///< First two digits of the current 9-digit national number.
};

// In 2018 Vietnam moved every 11-digit mobile number (0 + 10 digits, prefixes 012x, 016x, 018x,
// 0199) to 10 digits. Contacts imported from old address books and spreadsheets still carry the old
// form, so the old prefix is rewritten rather than refused; both forms reach the same subscriber.
constexpr std::array<retired_prefix, 21> retired_prefixes{{
    {"162", "32"}, {"163", "33"}, {"164", "34"}, {"165", "35"}, {"166", "36"}, {"167", "37"}, {"168", "38"},
    {"169", "39"}, {"120", "70"}, {"121", "79"}, {"122", "77"}, {"126", "76"}, {"128", "78"}, {"123", "83"},
    {"124", "84"}, {"125", "85"}, {"127", "81"}, {"129", "82"}, {"186", "56"}, {"188", "58"}, {"199", "59"},
}};

const retired_prefix* find_retired_prefix(std::string_view nsn) noexcept {
    for (const auto& p : retired_prefixes) {
        if (nsn.starts_with(p.old_prefix)) {
            return &p;
        }
    }
    return nullptr;
}

std::string length_problem(std::size_t expected, std::size_t got, const std::string& what) {
    return std::string(got < expected ? "too short" : "too long") + " for " + what + ": expected " +
           std::to_string(expected) + " digits after the leading 0 or +84, got " + std::to_string(got);
}

/// Validates a Vietnamese national significant number (the digits after 0 or +84) and returns it
/// in its current form.
std::string vietnamese_nsn(std::string_view input, std::string nsn) {
    if (nsn.empty()) {
        fail_phone(input, "too short: no digits after the leading 0 or +84");
    }
    if (nsn[0] == '1') {
        const retired_prefix* p = find_retired_prefix(nsn);
        if (p == nullptr) {
            fail_phone(input, "wrong Vietnamese prefix 0" + nsn.substr(0, 3) +
                                  ": not one of the 11-digit mobile prefixes retired in 2018");
        }
        if (nsn.size() != 10) {
            fail_phone(input, length_problem(10, nsn.size(),
                                             "a Vietnamese mobile number with the retired prefix 0" +
                                                 std::string(p->old_prefix)));
        }
        nsn = std::string(p->new_prefix) + nsn.substr(3);
    }
    switch (nsn[0]) {
    case '3':
    case '5':
    case '7':
    case '8':
    case '9':
        if (nsn.size() != 9) {
            fail_phone(input, length_problem(9, nsn.size(), "a Vietnamese mobile number"));
        }
        return nsn;
    case '2':
        if (nsn.size() != 10) {
            fail_phone(input, length_problem(10, nsn.size(), "a Vietnamese landline number"));
        }
        return nsn;
    default:
        fail_phone(input, std::string("wrong Vietnamese prefix 0") + nsn[0] +
                              ": mobile numbers start with 03, 05, 07, 08 or 09 and landlines with 02");
    }
}

bool is_vietnam(std::string_view country) noexcept {
    return country.size() == 2 && ascii_lower(country[0]) == 'v' && ascii_lower(country[1]) == 'n';
}

} // namespace

std::string normalize_phone(std::string_view input, std::string_view default_country) {
    if (input.empty()) {
        fail_phone(input, "is empty");
    }
    const std::string digits = strip_phone_separators(input);
    if (digits.empty()) {
        fail_phone(input, "contains no digits");
    }

    std::string international;
    if (digits[0] == '+') {
        international = digits.substr(1);
    } else if (digits.starts_with("00")) {
        international = digits.substr(2);
    } else {
        if (!is_vietnam(default_country)) {
            throw error(errc::invalid_argument,
                        "cannot read phone number \"" + std::string(input) + "\" in default country \"" +
                            std::string(default_country) + "\": only \"VN\" is supported");
        }
        if (digits[0] == '0') {
            return "+84" + vietnamese_nsn(input, digits.substr(1));
        }
        // Without a leading 0, 11 or more digits can only be 84 + a national number: a bare
        // national number has at most 10 digits (landlines, and mobiles in the retired 01xx form).
        if (digits.starts_with("84") && digits.size() >= 11) {
            return "+84" + vietnamese_nsn(input, digits.substr(2));
        }
        return "+84" + vietnamese_nsn(input, digits);
    }

    if (international.empty()) {
        fail_phone(input, "has no digits after the international prefix");
    }
    if (international[0] == '0') {
        fail_phone(input, "country codes cannot start with 0");
    }
    if (international.size() < 7 || international.size() > 15) {
        fail_phone(input, std::string(international.size() < 7 ? "too short" : "too long") +
                              ": international numbers have 7 to 15 digits including the country code, got " +
                              std::to_string(international.size()));
    }
    if (international.starts_with("84")) {
        std::string nsn = international.substr(2);
        // "+84 (0) 912 345 678" is a common way of writing the number; the 0 is the national trunk
        // prefix that belongs to the other spelling, not part of the subscriber number.
        if (!nsn.empty() && nsn[0] == '0') {
            nsn.erase(0, 1);
        }
        return "+84" + vietnamese_nsn(input, std::move(nsn));
    }
    return "+" + international;
}

bool is_valid_phone(std::string_view input, std::string_view default_country) noexcept {
    try {
        static_cast<void>(normalize_phone(input, default_country));
        return true;
    } catch (...) {
        return false;
    }
}

std::string normalize_email(std::string_view input) {
    std::string_view trimmed = input;
    while (!trimmed.empty() && is_ascii_space(trimmed.front())) {
        trimmed.remove_prefix(1);
    }
    while (!trimmed.empty() && is_ascii_space(trimmed.back())) {
        trimmed.remove_suffix(1);
    }
    if (trimmed.empty()) {
        fail_email(input, "is empty");
    }

    std::string address;
    address.reserve(trimmed.size());
    for (const char c : trimmed) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7F) {
            fail_email(input, "contains whitespace or a control character");
        }
        if (std::string_view("()<>[]\\,;:\"").find(c) != std::string_view::npos) {
            fail_email(input, std::string("contains the character '") + c + "', which is not allowed");
        }
        address.push_back(ascii_lower(c));
    }

    const auto at = address.find('@');
    if (at == std::string::npos) {
        fail_email(input, "has no @");
    }
    if (address.find('@', at + 1) != std::string::npos) {
        fail_email(input, "has more than one @");
    }
    const std::string_view local = std::string_view(address).substr(0, at);
    const std::string_view domain = std::string_view(address).substr(at + 1);
    if (local.empty()) {
        fail_email(input, "has nothing before the @");
    }
    if (domain.empty()) {
        fail_email(input, "has no domain after the @");
    }
    if (address.find("..") != std::string::npos) {
        fail_email(input, "contains consecutive dots");
    }
    if (local.front() == '.' || local.back() == '.') {
        fail_email(input, "the part before the @ starts or ends with a dot");
    }
    if (domain.find('.') == std::string_view::npos) {
        fail_email(input, "the domain has no dot");
    }
    if (domain.front() == '.' || domain.back() == '.') {
        fail_email(input, "the domain starts or ends with a dot");
    }
    return address;
}

bool is_valid_email(std::string_view input) noexcept {
    try {
        static_cast<void>(normalize_email(input));
        return true;
    } catch (...) {
        return false;
    }
}

} // namespace tagflow
