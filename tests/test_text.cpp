#include "tagflow/error.hpp"
#include "tagflow/text.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using Catch::Matchers::Contains;
using tagflow::errc;
using tagflow::match_kind;
using tagflow::text_filter;

namespace {

/// Runs f, requires it to throw tagflow::error with errc::invalid_argument, and returns the message.
template <typename F>
std::string invalid_argument_message(F&& f) {
    try {
        f();
    } catch (const tagflow::error& e) {
        CHECK(e.code() == errc::invalid_argument);
        return e.what();
    }
    FAIL("no tagflow::error was thrown");
    return {};
}

} // namespace

TEST_CASE("Folding removes case and Vietnamese diacritics", "[text]") {
    CHECK(tagflow::fold("Thanh Toán") == "thanh toan");
    CHECK(tagflow::fold("ĐÃ MUA ÁO A") == "da mua ao a");
    CHECK(tagflow::fold("Kiểm tra thông tin giao hàng") == "kiem tra thong tin giao hang");
    CHECK(tagflow::fold("Mình muốn THANH TOAN đơn này") == "minh muon thanh toan don nay");
    CHECK(tagflow::fold("plain ascii 123") == "plain ascii 123");
    CHECK(tagflow::fold("") == "");
}

TEST_CASE("Folding covers every Vietnamese vowel with every tone, and đ", "[text]") {
    CHECK(tagflow::fold("ÀÁẢÃẠ ĂẰẮẲẴẶ ÂẦẤẨẪẬ ÈÉẺẼẸ ÊỀẾỂỄỆ ÌÍỈĨỊ") ==
          "aaaaa aaaaaa aaaaaa eeeee eeeeee iiiii");
    CHECK(tagflow::fold("ÒÓỎÕỌ ÔỒỐỔỖỘ ƠỜỚỞỠỢ ÙÚỦŨỤ ƯỪỨỬỮỰ ỲÝỶỸỴ") ==
          "ooooo oooooo oooooo uuuuu uuuuuu yyyyy");
    CHECK(tagflow::fold("àáảãạ ăằắẳẵặ âầấẩẫậ ơờớởỡợ ưừứửữự") == "aaaaa aaaaaa aaaaaa oooooo uuuuuu");
    CHECK(tagflow::fold("Đ đ ĐĐ") == "d d dd");
    CHECK(tagflow::fold("Đường") == "duong");
}

TEST_CASE("Folding treats decomposed and precomposed input alike", "[text]") {
    // "Toán" with the acute accent as a separate combining character (U+0301).
    CHECK(tagflow::fold("Toa\u0301n") == "toan");
    CHECK(tagflow::fold("Toa\u0301n") == tagflow::fold("Toán"));
}

TEST_CASE("Folding collapses runs of Unicode whitespace and trims", "[text]") {
    CHECK(tagflow::fold("  thanh \t\n  toán  ") == "thanh toan");
    // No-break space, ideographic space, em space, line separator.
    CHECK(tagflow::fold("a\u00A0b\u3000c\u2003\u2028d") == "a b c d");
    CHECK(tagflow::fold(" \t\r\n ") == "");
}

TEST_CASE("Folding refuses invalid UTF-8", "[text]") {
    const std::vector<std::string> bad{"\xFF", "ab\xC3\x28", "\xE1\xBB", "\xED\xA0\x80", "\xC0\xAF"};
    for (const auto& s : bad) {
        const std::string message = invalid_argument_message([&] { static_cast<void>(tagflow::fold(s)); });
        CHECK_THAT(message, Contains("UTF-8"));
    }
    CHECK_THAT(invalid_argument_message([] { static_cast<void>(tagflow::fold("ab\xFF")); }),
               Contains("byte 2"));
}

TEST_CASE("UTF-8 validity is checked without folding", "[text]") {
    for (const std::string s : {"\xFF", "ab\xC3\x28", "\xE1\xBB", "\xED\xA0\x80", "\xC0\xAF"}) {
        CHECK_FALSE(tagflow::is_valid_utf8(s));
    }
    CHECK(tagflow::is_valid_utf8(""));
    CHECK(tagflow::is_valid_utf8("Giảm 30% cho Khách VIP 🎉"));
}

TEST_CASE("A keyword filter matches the whole message ignoring case, accents and punctuation", "[text]") {
    const text_filter f = text_filter::keywords({"Mua", "đặt hàng"});
    CHECK(f.kind() == match_kind::keyword);
    CHECK(f.patterns() == std::vector<std::string>{"Mua", "đặt hàng"});
    CHECK(f.matches("mua"));
    CHECK(f.matches("MUA"));
    CHECK(f.matches("  Mua!!! "));
    CHECK(f.matches("...mua?"));
    CHECK(f.matches("Đặt hàng."));
    CHECK(f.matches("dat   hang"));
    CHECK(f.matches("ĐẶT HÀNG!"));
    CHECK_FALSE(f.matches("mua áo"));
    CHECK_FALSE(f.matches("muaa"));
    CHECK_FALSE(f.matches("đặt"));
    CHECK_FALSE(f.matches(""));
}

TEST_CASE("Keywords are folded and stripped like the message", "[text]") {
    const text_filter f = text_filter::keywords({"  Thanh Toán! "});
    CHECK(f.matches("thanh toan"));
    CHECK(f.matches("THANH TOÁN?"));
    CHECK(f.patterns().front() == "  Thanh Toán! ");
}

TEST_CASE("A keyword filter needs at least one non-empty keyword", "[text]") {
    invalid_argument_message([] { static_cast<void>(text_filter::keywords({})); });
    CHECK_THAT(invalid_argument_message([] {
                   static_cast<void>(text_filter::keywords({"mua", ""}));
               }),
               Contains("keyword \"\""));
    CHECK_THAT(invalid_argument_message([] { static_cast<void>(text_filter::keywords({"?!"})); }),
               Contains("\"?!\""));
    CHECK_THAT(invalid_argument_message([] { static_cast<void>(text_filter::keywords({"m\xFF"})); }),
               Contains("UTF-8"));
}

TEST_CASE("A contains filter finds the phrase as whole words", "[text]") {
    const text_filter f = text_filter::contains("thanh toán");
    CHECK(f.kind() == match_kind::contains);
    CHECK(f.patterns() == std::vector<std::string>{"thanh toán"});
    CHECK(f.matches("Mình muốn THANH TOAN đơn này"));
    CHECK(f.matches("thanh toán"));
    CHECK(f.matches("Thanh toán!"));
    CHECK(f.matches("(thanh   toán)"));
    CHECK_FALSE(f.matches("xthanh toan"));
    CHECK_FALSE(f.matches("thanh toanh"));
    CHECK_FALSE(f.matches("thanh toan1"));
    CHECK_FALSE(f.matches("thanh"));
}

TEST_CASE("A contains filter checks word boundaries with Unicode letters and digits", "[text]") {
    const text_filter toan = text_filter::contains("toan");
    CHECK_FALSE(toan.matches("toanh"));
    CHECK_FALSE(toan.matches("2toan"));
    CHECK_FALSE(toan.matches("toan中"));
    CHECK_FALSE(toan.matches("øtoan"));
    CHECK(toan.matches("toán."));
    CHECK(toan.matches("#toan#"));
    // The first occurrence is inside a word; the second stands alone and counts.
    CHECK(toan.matches("toanh toan"));

    const text_filter don = text_filter::contains("ĐƠN");
    CHECK(don.matches("đơn hàng"));
    CHECK_FALSE(don.matches("đơnx"));
}

TEST_CASE("A contains filter needs a non-empty phrase", "[text]") {
    CHECK_THAT(invalid_argument_message([] { static_cast<void>(text_filter::contains("")); }),
               Contains("phrase"));
    CHECK_THAT(invalid_argument_message([] { static_cast<void>(text_filter::contains(" \t ")); }),
               Contains("phrase"));
}

TEST_CASE("A regex filter searches the folded message, folding only non-ASCII in the pattern", "[text]") {
    const text_filter accented = text_filter::regex("Thanh Toán");
    CHECK(accented.kind() == match_kind::regex);
    CHECK(accented.patterns() == std::vector<std::string>{"Thanh Toán"});
    CHECK(accented.matches("Mình muốn THANH TOÁN ngay"));
    CHECK(accented.matches("thanh toan"));
    CHECK_FALSE(accented.matches("thanh toa"));

    const text_filter quantity = text_filter::regex(R"(^mua\s+\d+\s+(cái|áo)$)");
    CHECK(quantity.matches("Mua 3 cái"));
    CHECK(quantity.matches("  MUA  12 ÁO "));
    CHECK_FALSE(quantity.matches("mua ba cái"));

    // \D keeps its meaning; a folded pattern would have turned it into \d.
    const text_filter no_digits = text_filter::regex(R"(^\D+$)");
    CHECK(no_digits.matches("xin chào"));
    CHECK_FALSE(no_digits.matches("mua 3"));

    const text_filter upper = text_filter::regex("ĐƠN\\s+HÀNG");
    CHECK(upper.matches("kiểm tra đơn hàng"));
}

TEST_CASE("A regex filter refuses an invalid or empty pattern, naming it", "[text]") {
    CHECK_THAT(invalid_argument_message([] { static_cast<void>(text_filter::regex("(mua[")); }),
               Contains("\"(mua[\""));
    CHECK_THAT(invalid_argument_message([] { static_cast<void>(text_filter::regex("áo{2")); }),
               Contains("\"áo{2\""));
    invalid_argument_message([] { static_cast<void>(text_filter::regex("")); });
    invalid_argument_message([] { static_cast<void>(text_filter::regex("\xFF")); });
}

TEST_CASE("Filters refuse messages that are not UTF-8", "[text]") {
    const text_filter f = text_filter::contains("mua");
    CHECK_THAT(invalid_argument_message([&] { static_cast<void>(f.matches("mua \xFF")); }),
               Contains("UTF-8"));
}

TEST_CASE("Copied and moved filters keep matching", "[text]") {
    text_filter original = text_filter::keywords({"mua"});
    const text_filter copy = original;
    const text_filter moved = std::move(original);
    CHECK(copy.matches("Mua"));
    CHECK(moved.matches("Mua"));
    // Moving copies the shared state, so the source is still a working filter.
    CHECK(original.matches("Mua")); // NOLINT(bugprone-use-after-move)

    text_filter assigned = text_filter::contains("đơn");
    assigned = copy;
    CHECK(assigned.kind() == match_kind::keyword);
    CHECK(assigned.matches("mua!"));
    STATIC_REQUIRE(noexcept(copy.kind()));
    STATIC_REQUIRE(noexcept(copy.patterns()));
}
