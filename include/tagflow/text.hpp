#pragma once
/// \file text.hpp
/// Case- and diacritic-insensitive text handling for matching inbound chat messages, where the same
/// Vietnamese word arrives as "Thanh Toán", "thanh toan" or "THANH TOÁN".

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// Folds UTF-8 text for comparison: Unicode case folding, removal of diacritics (combining marks),
/// đ/Đ to "d" (they carry a stroke, not a mark, so they do not decompose), every run of Unicode
/// whitespace to one ASCII space, and trimming. "ĐÃ MUA ÁO A" gives "da mua ao a".
///
/// Throws tagflow::error with errc::invalid_argument, naming the byte offset, when the input is not
/// valid UTF-8. Thread-safe.
[[nodiscard]] std::string fold(std::string_view utf8);

/// True when `s` is valid UTF-8 (what fold() and every event text require). Never throws;
/// thread-safe.
[[nodiscard]] bool is_valid_utf8(std::string_view s) noexcept;

/// How a text_filter compares a message with its patterns.
enum class match_kind {
    keyword,  ///< The whole message, ignoring surrounding punctuation, is one of the keywords.
    contains, ///< The message contains the phrase as whole words.
    regex,    ///< An ECMAScript regular expression finds a match in the message.
};

/// A compiled condition on an inbound message, insensitive to letter case and diacritics: both the
/// patterns and each message are compared in fold()ed form. Patterns are folded and compiled once,
/// when the filter is built.
///
/// An immutable value: copies share the compiled state, and every member is safe to call from any
/// number of threads at once.
class text_filter {
public:
    /// Matches a message that, once folded and stripped of leading and trailing ASCII punctuation
    /// and spaces, equals one of the words, folded and stripped the same way. "Mua!" matches the
    /// keyword "mua"; "mua áo" does not.
    ///
    /// Throws tagflow::error with errc::invalid_argument when the list is empty, when a word is
    /// empty once folded and stripped (e.g. "" or "?!"), or when a word is not valid UTF-8.
    /// Thread-safe.
    [[nodiscard]] static text_filter keywords(std::vector<std::string> words);

    /// Matches a message whose folded form contains the folded phrase at word boundaries: the
    /// characters just before and after the match, if any, are neither letters nor digits. So
    /// "thanh toán" matches "Mình muốn THANH TOAN đơn này", while "toan" does not match "toanh".
    ///
    /// Throws tagflow::error with errc::invalid_argument when the phrase is empty once folded or is
    /// not valid UTF-8. Thread-safe.
    [[nodiscard]] static text_filter contains(std::string phrase);

    /// Matches a message in whose folded form the pattern (std::regex, ECMAScript, case-insensitive)
    /// finds a match anywhere. Non-ASCII characters of the pattern are folded before compiling, so
    /// "Thanh Toán" works as a pattern, while ASCII is kept as written so escapes such as \D and \S
    /// keep their meaning. Folded messages have single spaces, so write " " or \s+ rather than two
    /// spaces.
    ///
    /// Throws tagflow::error with errc::invalid_argument, naming the pattern, when the pattern is
    /// empty, not valid UTF-8, or not a valid regular expression. Thread-safe.
    [[nodiscard]] static text_filter regex(std::string pattern);

    /// Copies share the immutable compiled state. Move is deliberately not declared, so moving
    /// copies and a moved-from filter stays fully usable.
    text_filter(const text_filter&) = default;
    /// Copy assignment; shares the other filter's compiled state.
    text_filter& operator=(const text_filter&) = default;
    /// Destroys the filter; the compiled state is released with its last copy.
    ~text_filter() = default;

    /// True when the message satisfies the filter. Throws tagflow::error with errc::invalid_argument
    /// when the message is not valid UTF-8, or when the regular expression engine gives up on it
    /// (too complex for this message). Thread-safe.
    [[nodiscard]] bool matches(std::string_view message) const;

    /// How the filter compares. Never fails; thread-safe.
    [[nodiscard]] match_kind kind() const noexcept;

    /// The patterns as given at construction, before folding: the keywords, or one phrase or one
    /// regular expression. Never fails; thread-safe.
    [[nodiscard]] const std::vector<std::string>& patterns() const noexcept;

private:
    struct state;
    explicit text_filter(std::shared_ptr<const state> s) noexcept;

    std::shared_ptr<const state> state_;
};

} // namespace tagflow
