#include "tagflow/text.hpp"

#include "tagflow/error.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <regex>
#include <utility>

namespace tagflow {

namespace {

struct malloc_deleter {
    void operator()(utf8proc_uint8_t* p) const noexcept { std::free(p); }
};

const utf8proc_uint8_t* bytes_of(std::string_view s) noexcept {
    return reinterpret_cast<const utf8proc_uint8_t*>(s.data());
}

/// Throws unless s is valid UTF-8; what names the text in the message. The offending bytes are not
/// quoted, since they would make the message itself invalid UTF-8.
void require_utf8(std::string_view s, std::string_view what) {
    std::size_t pos = 0;
    while (pos < s.size()) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t len =
            utf8proc_iterate(bytes_of(s.substr(pos)), static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
        if (len < 0) {
            throw error(errc::invalid_argument,
                        std::string(what) + " is not valid UTF-8 (at byte " + std::to_string(pos) + ")");
        }
        pos += static_cast<std::size_t>(len);
    }
}

bool is_unicode_space(utf8proc_int32_t cp) noexcept {
    // Tab..carriage return and NEL are control characters (category Cc) to Unicode, yet whitespace
    // in every practical sense; the Z* categories cover the no-break, ideographic and other spaces.
    if (cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85) {
        return true;
    }
    const utf8proc_category_t cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

bool is_letter_or_digit(utf8proc_int32_t cp) noexcept {
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
        return true;
    default:
        return false;
    }
}

constexpr utf8proc_int32_t small_d_with_stroke = 0x0111; // đ; Đ (U+0110) case-folds to it.

/// Folds valid UTF-8. With collapse_space, runs of whitespace become one space and the ends are
/// trimmed; without it each whitespace character becomes one space, which keeps a regex pattern's
/// structure intact.
std::string fold_valid(std::string_view utf8, bool collapse_space) {
    if (utf8.empty()) {
        return {};
    }
    utf8proc_uint8_t* raw = nullptr;
    const utf8proc_ssize_t mapped_len = utf8proc_map(
        bytes_of(utf8), static_cast<utf8proc_ssize_t>(utf8.size()), &raw,
        static_cast<utf8proc_option_t>(UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_COMPOSE));
    const std::unique_ptr<utf8proc_uint8_t, malloc_deleter> mapped(raw);
    if (mapped_len == UTF8PROC_ERROR_NOMEM) {
        throw std::bad_alloc();
    }
    if (mapped_len < 0) {
        throw error(errc::invalid_argument, std::string("cannot fold text: ") + utf8proc_errmsg(mapped_len));
    }

    const auto total = static_cast<std::size_t>(mapped_len);
    std::string out;
    out.reserve(total);
    bool pending_space = false;
    std::size_t pos = 0;
    while (pos < total) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t len =
            utf8proc_iterate(mapped.get() + pos, static_cast<utf8proc_ssize_t>(total - pos), &cp);
        if (len <= 0) {
            throw error(errc::invalid_argument, "cannot fold text: utf8proc produced invalid UTF-8");
        }
        const auto n = static_cast<std::size_t>(len);
        if (is_unicode_space(cp)) {
            if (!collapse_space) {
                out.push_back(' ');
            } else if (!out.empty()) {
                pending_space = true;
            }
        } else {
            if (pending_space) {
                out.push_back(' ');
                pending_space = false;
            }
            if (cp == small_d_with_stroke) {
                out.push_back('d');
            } else {
                out.append(reinterpret_cast<const char*>(mapped.get() + pos), n);
            }
        }
        pos += n;
    }
    return out;
}

bool is_ascii_punct_or_space(char c) noexcept {
    return c == ' ' || (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

std::string_view strip_ascii_punct(std::string_view s) noexcept {
    while (!s.empty() && is_ascii_punct_or_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ascii_punct_or_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

/// Folds only the non-ASCII runs of a regex pattern: ASCII carries the regex syntax (\D, \S, [A-Z]),
/// and icase already covers ASCII letter case.
std::string fold_pattern(std::string_view pattern) {
    std::string out;
    out.reserve(pattern.size());
    std::size_t i = 0;
    while (i < pattern.size()) {
        if (static_cast<unsigned char>(pattern[i]) < 0x80) {
            out.push_back(pattern[i]);
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < pattern.size() && static_cast<unsigned char>(pattern[end]) >= 0x80) {
            ++end;
        }
        out += fold_valid(pattern.substr(i, end - i), false);
        i = end;
    }
    return out;
}

/// Decodes the code point that starts at byte pos of valid UTF-8 text.
utf8proc_int32_t code_point_at(std::string_view s, std::size_t pos) noexcept {
    utf8proc_int32_t cp = -1;
    utf8proc_iterate(bytes_of(s.substr(pos)), static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
    return cp;
}

bool letter_or_digit_before(std::string_view s, std::size_t pos) noexcept {
    if (pos == 0) {
        return false;
    }
    std::size_t start = pos - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0U) == 0x80U) {
        --start;
    }
    return is_letter_or_digit(code_point_at(s, start));
}

bool letter_or_digit_at(std::string_view s, std::size_t pos) noexcept {
    return pos < s.size() && is_letter_or_digit(code_point_at(s, pos));
}

} // namespace

bool is_valid_utf8(std::string_view s) noexcept {
    for (std::size_t pos = 0; pos < s.size();) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t len =
            utf8proc_iterate(bytes_of(s.substr(pos)), static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
        if (len < 0) {
            return false;
        }
        pos += static_cast<std::size_t>(len);
    }
    return true;
}

std::string fold(std::string_view utf8) {
    require_utf8(utf8, "text");
    return fold_valid(utf8, true);
}

struct text_filter::state {
    match_kind kind = match_kind::keyword;
    std::vector<std::string> patterns; ///< As given, for display and round trips.
    std::vector<std::string> folded;   ///< Folded keywords, or the folded phrase; unused for regex.
    std::regex compiled;               ///< Only for match_kind::regex.
};

text_filter::text_filter(std::shared_ptr<const state> s) noexcept : state_(std::move(s)) {}

text_filter text_filter::keywords(std::vector<std::string> words) {
    if (words.empty()) {
        throw error(errc::invalid_argument, "keyword filter needs at least one keyword");
    }
    state s;
    s.kind = match_kind::keyword;
    for (const auto& word : words) {
        require_utf8(word, "keyword");
        const std::string folded = fold_valid(word, true);
        const std::string_view stripped = strip_ascii_punct(folded);
        if (stripped.empty()) {
            throw error(errc::invalid_argument,
                        "keyword \"" + word + "\" is empty once punctuation and spaces are removed");
        }
        s.folded.emplace_back(stripped);
    }
    s.patterns = std::move(words);
    return text_filter(std::make_shared<const state>(std::move(s)));
}

text_filter text_filter::contains(std::string phrase) {
    require_utf8(phrase, "phrase");
    std::string folded = fold_valid(phrase, true);
    if (folded.empty()) {
        throw error(errc::invalid_argument, "phrase \"" + phrase + "\" is empty once spaces are removed");
    }
    state s;
    s.kind = match_kind::contains;
    s.folded.push_back(std::move(folded));
    s.patterns.push_back(std::move(phrase));
    return text_filter(std::make_shared<const state>(std::move(s)));
}

text_filter text_filter::regex(std::string pattern) {
    if (pattern.empty()) {
        throw error(errc::invalid_argument, "regex pattern is empty");
    }
    require_utf8(pattern, "regex pattern");
    state s;
    s.kind = match_kind::regex;
    try {
        s.compiled = std::regex(fold_pattern(pattern), std::regex::ECMAScript | std::regex::icase);
    } catch (const std::regex_error& e) {
        throw error(errc::invalid_argument, "invalid regex \"" + pattern + "\": " + e.what());
    }
    s.patterns.push_back(std::move(pattern));
    return text_filter(std::make_shared<const state>(std::move(s)));
}

bool text_filter::matches(std::string_view message) const {
    require_utf8(message, "message");
    const std::string folded = fold_valid(message, true);
    switch (state_->kind) {
    case match_kind::keyword: {
        const std::string_view stripped = strip_ascii_punct(folded);
        return std::find(state_->folded.begin(), state_->folded.end(), stripped) != state_->folded.end();
    }
    case match_kind::contains: {
        const std::string& phrase = state_->folded.front();
        for (auto pos = folded.find(phrase); pos != std::string::npos; pos = folded.find(phrase, pos + 1)) {
            if (!letter_or_digit_before(folded, pos) && !letter_or_digit_at(folded, pos + phrase.size())) {
                return true;
            }
        }
        return false;
    }
    case match_kind::regex:
        try {
            return std::regex_search(folded, state_->compiled);
        } catch (const std::regex_error& e) {
            // libstdc++ reports runaway backtracking as error_complexity / error_stack.
            throw error(errc::invalid_argument, "regex \"" + state_->patterns.front() +
                                                    "\" could not be evaluated on this message: " + e.what());
        }
    }
    return false;
}

match_kind text_filter::kind() const noexcept {
    return state_->kind;
}

const std::vector<std::string>& text_filter::patterns() const noexcept {
    return state_->patterns;
}

} // namespace tagflow
