#include "tagflow/error.hpp"
#include "tagflow/phone.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using tagflow::errc;

namespace {

/// Runs f, requires it to throw tagflow::error with the given code, and returns the message.
template <typename F>
std::string error_message(F&& f, errc expected) {
    try {
        f();
    } catch (const tagflow::error& e) {
        CHECK(e.code() == expected);
        return e.what();
    }
    FAIL("no tagflow::error was thrown");
    return {};
}

std::string phone_error(const std::string& input, std::string_view country = "VN") {
    return error_message([&] { static_cast<void>(tagflow::normalize_phone(input, country)); },
                         errc::invalid_phone);
}

std::string email_error(const std::string& input) {
    return error_message([&] { static_cast<void>(tagflow::normalize_email(input)); }, errc::invalid_email);
}

} // namespace

using Catch::Matchers::Contains;

TEST_CASE("Vietnamese mobile numbers in every common spelling normalise to the same E.164", "[phone]") {
    const std::vector<std::string> spellings{
        "0912 345 678",
        "0912.345.678",
        "0912-345-678",
        "0912345678",
        "84912345678",
        "+84912345678",
        "+84 912 345 678",
        "(+84) 912-345-678",
        "0084912345678",
        "00 84 912 345 678",
        " \t0912 345 678\n",
        "912345678",
        "0912\u00A0345\u00A0678",
        "(0912) 345.678",
    };
    for (const auto& s : spellings) {
        INFO("input: " << s);
        CHECK(tagflow::normalize_phone(s) == "+84912345678");
        CHECK(tagflow::is_valid_phone(s));
    }
}

TEST_CASE("Vietnamese mobile numbers are nine digits starting with 3, 5, 7, 8 or 9", "[phone]") {
    CHECK(tagflow::normalize_phone("0321 234 567") == "+84321234567");
    CHECK(tagflow::normalize_phone("0561 234 567") == "+84561234567");
    CHECK(tagflow::normalize_phone("0701 234 567") == "+84701234567");
    CHECK(tagflow::normalize_phone("0841 234 567") == "+84841234567");
    CHECK(tagflow::normalize_phone("0981 234 567") == "+84981234567");
    // A bare nine-digit national number that happens to start with 84 is a mobile on prefix 084,
    // not the country code.
    CHECK(tagflow::normalize_phone("841234567") == "+84841234567");
}

TEST_CASE("Vietnamese landline numbers are ten digits starting with 2", "[phone]") {
    CHECK(tagflow::normalize_phone("024 3825 1234") == "+842438251234");
    CHECK(tagflow::normalize_phone("(024) 3825-1234") == "+842438251234");
    CHECK(tagflow::normalize_phone("+84 24 3825 1234") == "+842438251234");
    CHECK(tagflow::normalize_phone("84 24 3825 1234") == "+842438251234");
    CHECK(tagflow::normalize_phone("0084 24 3825 1234") == "+842438251234");
    CHECK(tagflow::normalize_phone("028 3829 5555") == "+842838295555");
}

TEST_CASE("Mobile prefixes retired in 2018 are converted to the current ones", "[phone]") {
    const std::vector<std::pair<std::string, std::string>> moves{
        {"162", "32"}, {"163", "33"}, {"164", "34"}, {"165", "35"}, {"166", "36"}, {"167", "37"},
        {"168", "38"}, {"169", "39"}, {"120", "70"}, {"121", "79"}, {"122", "77"}, {"126", "76"},
        {"128", "78"}, {"123", "83"}, {"124", "84"}, {"125", "85"}, {"127", "81"}, {"129", "82"},
        {"186", "56"}, {"188", "58"}, {"199", "59"},
    };
    for (const auto& [old_prefix, new_prefix] : moves) {
        INFO("old prefix 0" << old_prefix);
        const std::string expected = "+84" + new_prefix + "1234567";
        CHECK(tagflow::normalize_phone("0" + old_prefix + "1234567") == expected);
        CHECK(tagflow::normalize_phone("0" + old_prefix + " 123 4567") == expected);
        CHECK(tagflow::normalize_phone("+84" + old_prefix + "1234567") == expected);
        CHECK(tagflow::normalize_phone("84" + old_prefix + "1234567") == expected);
        CHECK(tagflow::normalize_phone("0084" + old_prefix + "1234567") == expected);
    }
}

TEST_CASE("A trunk zero written after +84 is dropped", "[phone]") {
    CHECK(tagflow::normalize_phone("+84 (0) 912 345 678") == "+84912345678");
    CHECK(tagflow::normalize_phone("+84 0912 345 678") == "+84912345678");
    CHECK(tagflow::normalize_phone("+84 (0)24 3825 1234") == "+842438251234");
}

TEST_CASE("International numbers of other countries keep their country code", "[phone]") {
    CHECK(tagflow::normalize_phone("+1 (415) 555-2671") == "+14155552671");
    CHECK(tagflow::normalize_phone("0044 20 7946 0958") == "+442079460958");
    CHECK(tagflow::normalize_phone("+65 6123 4567") == "+6561234567");
    CHECK(tagflow::normalize_phone("+49 30 1234567") == "+49301234567");
    // The shortest and longest lengths E.164 allows.
    CHECK(tagflow::normalize_phone("+1234567") == "+1234567");
    CHECK(tagflow::normalize_phone("+123456789012345") == "+123456789012345");
}

TEST_CASE("International numbers outside 7 to 15 digits or with a zero country code are refused", "[phone]") {
    CHECK_THAT(phone_error("+123456"), Contains("\"+123456\"") && Contains("too short"));
    CHECK_THAT(phone_error("+1234567890123456"), Contains("\"+1234567890123456\"") && Contains("too long"));
    CHECK_THAT(phone_error("+0123456789"), Contains("\"+0123456789\"") && Contains("country code"));
    CHECK_THAT(phone_error("+"), Contains("\"+\"") && Contains("no digits"));
    CHECK_THAT(phone_error("00"), Contains("\"00\"") && Contains("no digits"));
}

TEST_CASE("Input with letters is refused with a message quoting it", "[phone]") {
    CHECK(phone_error("abc") == "invalid phone number \"abc\": contains letters");
    CHECK_THAT(phone_error("0912 345 67x"), Contains("\"0912 345 67x\"") && Contains("contains letters"));
    CHECK_THAT(phone_error("lan@example.com"), Contains("contains letters"));
    CHECK_FALSE(tagflow::is_valid_phone("abc"));
}

TEST_CASE("Empty input and input without digits are refused", "[phone]") {
    CHECK(phone_error("") == "invalid phone number \"\": is empty");
    CHECK_THAT(phone_error(" - . ( ) "), Contains("\" - . ( ) \"") && Contains("no digits"));
    CHECK_FALSE(tagflow::is_valid_phone(""));
}

TEST_CASE("Stray characters and a misplaced plus sign are refused", "[phone]") {
    CHECK_THAT(phone_error("0912#345678"), Contains("\"0912#345678\"") && Contains("'#'"));
    CHECK_THAT(phone_error("0912/345/678"), Contains("'/'"));
    CHECK_THAT(phone_error("0912+345678"), Contains("\"0912+345678\"") && Contains("'+'"));
    CHECK_THAT(phone_error("++84912345678"), Contains("'+'"));
    CHECK_THAT(phone_error("0912\u2013345678"), Contains("not a digit"));
}

TEST_CASE("Vietnamese numbers of the wrong length are refused", "[phone]") {
    CHECK_THAT(phone_error("0912 345 67"),
               Contains("\"0912 345 67\"") && Contains("too short") && Contains("mobile"));
    CHECK_THAT(phone_error("0912 345 6789"), Contains("\"0912 345 6789\"") && Contains("too long"));
    CHECK_THAT(phone_error("+84 912 345"), Contains("too short"));
    CHECK_THAT(phone_error("024 3825 123"), Contains("too short") && Contains("landline"));
    CHECK_THAT(phone_error("024 3825 12345"), Contains("too long") && Contains("landline"));
    CHECK_THAT(phone_error("0162 123 456"), Contains("too short") && Contains("0162"));
    CHECK_THAT(phone_error("0"), Contains("\"0\""));
}

TEST_CASE("Vietnamese numbers with a prefix that does not exist are refused", "[phone]") {
    CHECK_THAT(phone_error("0412 345 678"),
               Contains("\"0412 345 678\"") && Contains("wrong Vietnamese prefix 04"));
    CHECK_THAT(phone_error("0612 345 678"), Contains("wrong Vietnamese prefix 06"));
    CHECK_THAT(phone_error("+84 412 345 678"), Contains("wrong Vietnamese prefix 04"));
    CHECK_THAT(phone_error("0161 234 5678"), Contains("wrong Vietnamese prefix 0161"));
    CHECK_THAT(phone_error("0112 345 678"), Contains("wrong Vietnamese prefix 0112"));
    CHECK_THAT(phone_error("+84 00 912 345 678"), Contains("wrong Vietnamese prefix 00"));
    CHECK_FALSE(tagflow::is_valid_phone("0412 345 678"));
}

TEST_CASE("Only Vietnam is supported as the default country", "[phone]") {
    const std::string message = error_message(
        [] { static_cast<void>(tagflow::normalize_phone("0912345678", "US")); }, errc::invalid_argument);
    CHECK_THAT(message, Contains("\"0912345678\"") && Contains("\"US\""));
    CHECK_FALSE(tagflow::is_valid_phone("0912345678", "US"));
    CHECK_FALSE(tagflow::is_valid_phone("0912345678", ""));
    // A number with a country code does not depend on the default country.
    CHECK(tagflow::normalize_phone("+1 415 555 2671", "US") == "+14155552671");
    CHECK(tagflow::normalize_phone("+84 912 345 678", "TH") == "+84912345678");
    CHECK(tagflow::normalize_phone("0912345678", "vn") == "+84912345678");
}

TEST_CASE("is_valid_phone never throws", "[phone]") {
    STATIC_REQUIRE(noexcept(tagflow::is_valid_phone("x")));
    CHECK(tagflow::is_valid_phone("+84 912 345 678"));
    CHECK(tagflow::is_valid_phone("+1 415 555 2671", "US"));
    CHECK_FALSE(tagflow::is_valid_phone("+84 912"));
}

TEST_CASE("E-mail addresses are trimmed and lower-cased", "[email]") {
    CHECK(tagflow::normalize_email("  Lan.Nguyen@Example.COM \t") == "lan.nguyen@example.com");
    CHECK(tagflow::normalize_email("an+shop@mail.co.vn") == "an+shop@mail.co.vn");
    CHECK(tagflow::normalize_email("X@Y.VN") == "x@y.vn");
    CHECK(tagflow::is_valid_email("lan@example.com"));
    STATIC_REQUIRE(noexcept(tagflow::is_valid_email("x")));
}

TEST_CASE("Malformed e-mail addresses are refused with a message quoting them", "[email]") {
    CHECK(email_error("") == "invalid email address \"\": is empty");
    CHECK_THAT(email_error("   "), Contains("is empty"));
    CHECK_THAT(email_error("lan.example.com"), Contains("\"lan.example.com\"") && Contains("no @"));
    CHECK_THAT(email_error("lan@@example.com"), Contains("more than one @"));
    CHECK_THAT(email_error("lan@shop@example.com"), Contains("more than one @"));
    CHECK_THAT(email_error("@example.com"), Contains("\"@example.com\"") && Contains("before the @"));
    CHECK_THAT(email_error("lan@"), Contains("no domain"));
    CHECK_THAT(email_error("lan@localhost"), Contains("\"lan@localhost\"") && Contains("no dot"));
    CHECK_THAT(email_error("lan nguyen@example.com"),
               Contains("\"lan nguyen@example.com\"") && Contains("whitespace"));
    CHECK_THAT(email_error("lan\t@example.com"), Contains("whitespace"));
    CHECK_THAT(email_error("lan..nguyen@example.com"), Contains("consecutive dots"));
    CHECK_THAT(email_error("lan@example..com"), Contains("consecutive dots"));
    CHECK_THAT(email_error(".lan@example.com"), Contains("starts or ends with a dot"));
    CHECK_THAT(email_error("lan.@example.com"), Contains("starts or ends with a dot"));
    CHECK_THAT(email_error("lan@.example.com"), Contains("domain starts or ends with a dot"));
    CHECK_THAT(email_error("lan@example.com."), Contains("domain starts or ends with a dot"));
    CHECK_THAT(email_error("Lan <lan@example.com>"), Contains("whitespace"));
    CHECK_THAT(email_error("<lan@example.com>"), Contains("'<'"));
    CHECK_THAT(email_error("lan,an@example.com"), Contains("','"));
    CHECK_FALSE(tagflow::is_valid_email("lan@localhost"));
    CHECK_FALSE(tagflow::is_valid_email(""));
}
