// The condition language: a hand-written lexer and recursive-descent parser that compile the source
// into a flat, immutable node array, and an evaluator that walks it without allocating.
#include <tagflow/error.hpp>
#include <tagflow/expression.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

namespace tagflow {

namespace detail {

enum class expression_op : std::uint8_t {
    constant,  // a: index into constants
    attribute, // a: index into attribute_names
    field,     // a: index into names
    has,       // a: index into names
    tag,       // a: index into names
    not_,      // a: operand
    and_,      // a: first index into lists, b: count
    or_,       // a: first index into lists, b: count
    eq,        // a, b: operands (and the five below)
    ne,
    lt,
    le,
    gt,
    ge,
    contains, // a, b: operands
    lower,    // a: operand
};

// Children are referred to by index rather than pointer: the whole tree is three vectors, which keeps
// it small, cache-friendly and trivially immutable once built.
struct expression_node {
    expression_op code = expression_op::constant;
    std::uint32_t a = 0;
    std::uint32_t b = 0;
};

struct expression_program {
    std::string source;
    std::vector<expression_node> nodes;
    std::vector<std::uint32_t> lists;
    // Text constants are evaluated as views into this vector, so it must not change after parsing.
    std::vector<value> constants;
    std::vector<std::string> names;
    std::vector<std::string> tags;
    std::vector<std::string> fields;
    std::uint32_t root = 0;
};

} // namespace detail

namespace {

using detail::expression_node;
using detail::expression_program;
using op = detail::expression_op;

constexpr std::array<std::string_view, 15> attribute_names{
    "lifecycle",
    "orders",
    "total_spent",
    "conversations",
    "returning",
    "first_time",
    "name",
    "email",
    "phone",
    "timezone",
    "locale",
    "channel",
    "days_since_last_inbound",
    "days_since_first_seen",
    "days_since_last_order",
};

enum class function { tag, field, has, contains, lower };

struct function_info {
    std::string_view name;
    function fn;
    std::size_t arity;
};

constexpr std::array<function_info, 5> functions{{
    {"tag", function::tag, 1},
    {"field", function::field, 1},
    {"has", function::has, 1},
    {"contains", function::contains, 2},
    {"lower", function::lower, 1},
}};

// Deep nesting would otherwise let a hostile segment definition overflow the stack, both in the
// recursive parser and later in the recursive evaluator.
constexpr int max_nesting = 256;

std::string joined_attribute_names() {
    std::string out;
    for (const auto name : attribute_names) {
        if (!out.empty()) {
            out += ", ";
        }
        out += name;
    }
    return out;
}

std::string joined_function_names() {
    std::string out;
    for (const auto& f : functions) {
        if (!out.empty()) {
            out += ", ";
        }
        out += f.name;
    }
    return out;
}

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

bool is_ident_start(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_ident_char(char c) noexcept {
    return is_ident_start(c) || is_digit(c);
}

bool is_continuation(unsigned char c) noexcept {
    return (c & 0xC0U) == 0x80U;
}

// Length of the well-formed UTF-8 sequence starting at pos, or 0 when it is malformed (overlong,
// surrogate, beyond U+10FFFF or truncated).
std::size_t utf8_length(std::string_view s, std::size_t pos) noexcept {
    const auto b0 = static_cast<unsigned char>(s[pos]);
    if (b0 < 0x80U) {
        return 1;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80U;
    unsigned char hi = 0xBFU;
    if (b0 >= 0xC2U && b0 <= 0xDFU) {
        len = 2;
    } else if (b0 >= 0xE0U && b0 <= 0xEFU) {
        len = 3;
        if (b0 == 0xE0U) {
            lo = 0xA0U;
        } else if (b0 == 0xEDU) {
            hi = 0x9FU;
        }
    } else if (b0 >= 0xF0U && b0 <= 0xF4U) {
        len = 4;
        if (b0 == 0xF0U) {
            lo = 0x90U;
        } else if (b0 == 0xF4U) {
            hi = 0x8FU;
        }
    } else {
        return 0;
    }
    if (pos + len > s.size()) {
        return 0;
    }
    const auto b1 = static_cast<unsigned char>(s[pos + 1]);
    if (b1 < lo || b1 > hi) {
        return 0;
    }
    for (std::size_t i = 2; i < len; ++i) {
        if (!is_continuation(static_cast<unsigned char>(s[pos + i]))) {
            return 0;
        }
    }
    return len;
}

// Columns are only needed when reporting an error, so they are computed from the byte offset then
// rather than tracked for every token.
std::size_t column_at(std::string_view source, std::size_t offset) noexcept {
    std::size_t column = 1;
    for (std::size_t i = 0; i < offset && i < source.size(); ++i) {
        if (!is_continuation(static_cast<unsigned char>(source[i]))) {
            ++column;
        }
    }
    return column;
}

// The one textual form of a number the language knows, used both for literals and for deciding
// whether text compares numerically. Anything else (exponents, "+", spaces, "1.") is not a number.
std::size_t scan_number(std::string_view s, std::size_t pos) noexcept {
    std::size_t i = pos;
    if (i < s.size() && s[i] == '-') {
        ++i;
    }
    const std::size_t digits = i;
    while (i < s.size() && is_digit(s[i])) {
        ++i;
    }
    if (i == digits) {
        return pos;
    }
    if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
        i += 2;
        while (i < s.size() && is_digit(s[i])) {
            ++i;
        }
    }
    return i;
}

std::optional<double> to_number(std::string_view s) noexcept {
    if (s.empty() || scan_number(s, 0) != s.size()) {
        return std::nullopt;
    }
    double out = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc{} || ptr != s.data() + s.size()) {
        return std::nullopt;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Lexer

enum class tok : std::uint8_t {
    end,
    number,
    string,
    identifier,
    lparen,
    rparen,
    comma,
    eq,
    ne,
    lt,
    le,
    gt,
    ge,
    and_,
    or_,
    not_,
    true_,
    false_,
    null_,
};

struct token {
    tok kind = tok::end;
    std::size_t offset = 0;
    std::string_view lexeme;
    double number = 0;
    std::string text; // unescaped contents of a string literal
};

bool is_comparison(tok t) noexcept {
    return t >= tok::eq && t <= tok::ge;
}

std::string describe(const token& t) {
    if (t.kind == tok::end) {
        return "end of expression";
    }
    if (t.kind == tok::string) {
        return "string " + std::string(t.lexeme);
    }
    return "\"" + std::string(t.lexeme) + "\"";
}

class lexer {
public:
    explicit lexer(std::string_view source) noexcept : src_(source) {}

    [[noreturn]] void fail(std::size_t offset, const std::string& what) const {
        throw syntax_error(column_at(src_, offset), what);
    }

    token next() {
        while (pos_ < src_.size() &&
               (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n' || src_[pos_] == '\r')) {
            ++pos_;
        }
        token t;
        t.offset = pos_;
        if (pos_ >= src_.size()) {
            return t;
        }
        const char c = src_[pos_];
        if (c == '"') {
            lex_string(t);
        } else if (is_digit(c) || c == '-') {
            lex_number(t);
        } else if (is_ident_start(c)) {
            lex_word(t);
        } else {
            lex_punctuation(t);
        }
        t.lexeme = src_.substr(t.offset, pos_ - t.offset);
        return t;
    }

private:
    char peek(std::size_t ahead = 0) const noexcept {
        return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
    }

    void lex_string(token& t) {
        t.kind = tok::string;
        ++pos_;
        while (true) {
            if (pos_ >= src_.size()) {
                fail(t.offset, "unterminated string");
            }
            const char c = src_[pos_];
            if (c == '"') {
                ++pos_;
                return;
            }
            if (c == '\\') {
                if (pos_ + 1 >= src_.size()) {
                    fail(t.offset, "unterminated string");
                }
                const char e = src_[pos_ + 1];
                if (e == '"' || e == '\\') {
                    t.text += e;
                    pos_ += 2;
                    continue;
                }
                const std::size_t shown = std::max<std::size_t>(1, utf8_length(src_, pos_ + 1));
                fail(pos_, "unknown escape \"\\" + std::string(src_.substr(pos_ + 1, shown)) +
                               "\" in string; only \\\" and \\\\ are allowed");
            }
            const std::size_t len = utf8_length(src_, pos_);
            if (len == 0) {
                fail(pos_, "invalid UTF-8 in string");
            }
            t.text.append(src_.substr(pos_, len));
            pos_ += len;
        }
    }

    void lex_number(token& t) {
        t.kind = tok::number;
        if (peek() == '-' && !is_digit(peek(1))) {
            fail(t.offset, "expected a digit after \"-\"");
        }
        pos_ = scan_number(src_, pos_);
        const bool has_fraction = src_.substr(t.offset, pos_ - t.offset).find('.') != std::string_view::npos;
        if (!has_fraction && peek() == '.' && !is_digit(peek(1))) {
            fail(t.offset, "expected a digit after \".\" in number");
        }
        if (is_ident_char(peek()) || peek() == '.') {
            std::size_t stop = pos_;
            while (stop < src_.size() && (is_ident_char(src_[stop]) || src_[stop] == '.')) {
                ++stop;
            }
            const auto bad = src_.substr(t.offset, stop - t.offset);
            if (bad.find('_') != std::string_view::npos) {
                fail(t.offset, "underscores are not allowed in numbers");
            }
            fail(t.offset, "invalid number \"" + std::string(bad) + "\"");
        }
        const auto text = src_.substr(t.offset, pos_ - t.offset);
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), t.number);
        if (ec != std::errc{} || ptr != text.data() + text.size()) {
            fail(t.offset, "number \"" + std::string(text) + "\" is out of range");
        }
    }

    void lex_word(token& t) {
        while (pos_ < src_.size() && is_ident_char(src_[pos_])) {
            ++pos_;
        }
        const auto word = src_.substr(t.offset, pos_ - t.offset);
        if (word == "and") {
            t.kind = tok::and_;
        } else if (word == "or") {
            t.kind = tok::or_;
        } else if (word == "not") {
            t.kind = tok::not_;
        } else if (word == "true") {
            t.kind = tok::true_;
        } else if (word == "false") {
            t.kind = tok::false_;
        } else if (word == "null") {
            t.kind = tok::null_;
        } else {
            t.kind = tok::identifier;
        }
    }

    void lex_punctuation(token& t) {
        const char c = src_[pos_];
        const char n = peek(1);
        switch (c) {
        case '(':
            t.kind = tok::lparen;
            break;
        case ')':
            t.kind = tok::rparen;
            break;
        case ',':
            t.kind = tok::comma;
            break;
        case '=':
            if (n != '=') {
                fail(pos_, "unexpected \"=\"; use \"==\" to compare");
            }
            t.kind = tok::eq;
            break;
        case '!':
            t.kind = n == '=' ? tok::ne : tok::not_;
            break;
        case '<':
            t.kind = n == '=' ? tok::le : tok::lt;
            break;
        case '>':
            t.kind = n == '=' ? tok::ge : tok::gt;
            break;
        case '&':
            if (n != '&') {
                fail(pos_, "unexpected \"&\"; use \"&&\" or \"and\"");
            }
            t.kind = tok::and_;
            break;
        case '|':
            if (n != '|') {
                fail(pos_, "unexpected \"|\"; use \"||\" or \"or\"");
            }
            t.kind = tok::or_;
            break;
        default:
            unexpected_character();
        }
        const bool two_chars = t.kind == tok::eq || t.kind == tok::ne || t.kind == tok::le ||
                               t.kind == tok::ge || t.kind == tok::and_ || t.kind == tok::or_;
        pos_ += two_chars ? 2 : 1;
    }

    [[noreturn]] void unexpected_character() const {
        const auto c = static_cast<unsigned char>(src_[pos_]);
        if (c < 0x20U || c == 0x7FU) {
            fail(pos_, "unexpected control character");
        }
        const std::size_t len = utf8_length(src_, pos_);
        if (len == 0) {
            fail(pos_, "invalid UTF-8");
        }
        fail(pos_, "unexpected character \"" + std::string(src_.substr(pos_, len)) + "\"");
    }

    std::string_view src_;
    std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// Parser

// What a node is known to produce before any data is seen; lets obviously wrong arguments such as
// contains(1, "x") be refused at parse time while leaving data-dependent ones to evaluation.
enum class static_kind : std::uint8_t { any, null, boolean, number, text };

class parser {
public:
    parser(std::string_view source, expression_program& out) : lex_(source), out_(out) {}

    void run() {
        advance();
        if (cur_.kind == tok::end) {
            fail_at(0, "empty expression");
        }
        out_.root = parse_or();
        if (cur_.kind != tok::end) {
            if (cur_.kind == tok::rparen) {
                fail_at(cur_.offset, "unmatched \")\"");
            }
            fail_at(cur_.offset, "unexpected " + describe(cur_) + "; expected \"and\", \"or\" or the end");
        }
        finish_list(out_.tags);
        finish_list(out_.fields);
    }

private:
    [[noreturn]] void fail_at(std::size_t offset, const std::string& what) const { lex_.fail(offset, what); }

    void advance() { cur_ = lex_.next(); }

    static void finish_list(std::vector<std::string>& v) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
    }

    std::uint32_t checked_index(std::size_t n) const {
        if (n >= std::numeric_limits<std::uint32_t>::max()) {
            fail_at(cur_.offset, "expression too large");
        }
        return static_cast<std::uint32_t>(n);
    }

    std::uint32_t emit(op code, std::uint32_t a, std::uint32_t b, static_kind kind) {
        const auto index = checked_index(out_.nodes.size());
        out_.nodes.push_back({code, a, b});
        kinds_.push_back(kind);
        return index;
    }

    std::uint32_t emit_constant(value v) {
        static_kind kind = static_kind::null;
        if (std::holds_alternative<bool>(v)) {
            kind = static_kind::boolean;
        } else if (std::holds_alternative<double>(v)) {
            kind = static_kind::number;
        } else if (std::holds_alternative<std::string>(v)) {
            kind = static_kind::text;
        }
        const auto index = checked_index(out_.constants.size());
        out_.constants.push_back(std::move(v));
        return emit(op::constant, index, 0, kind);
    }

    std::uint32_t emit_list(op code, const std::vector<std::uint32_t>& children) {
        const auto start = checked_index(out_.lists.size());
        out_.lists.insert(out_.lists.end(), children.begin(), children.end());
        return emit(code, start, checked_index(children.size()), static_kind::boolean);
    }

    std::uint32_t parse_or() {
        const auto first = parse_and();
        if (cur_.kind != tok::or_) {
            return first;
        }
        std::vector<std::uint32_t> children{first};
        while (cur_.kind == tok::or_) {
            advance();
            children.push_back(parse_and());
        }
        return emit_list(op::or_, children);
    }

    std::uint32_t parse_and() {
        const auto first = parse_not();
        if (cur_.kind != tok::and_) {
            return first;
        }
        std::vector<std::uint32_t> children{first};
        while (cur_.kind == tok::and_) {
            advance();
            children.push_back(parse_not());
        }
        return emit_list(op::and_, children);
    }

    std::uint32_t parse_not() {
        // Every level of nesting (not, parentheses, call arguments) passes through here.
        if (++depth_ > max_nesting) {
            fail_at(cur_.offset,
                    "expression nested too deeply (more than " + std::to_string(max_nesting) + " levels)");
        }
        std::uint32_t result = 0;
        if (cur_.kind == tok::not_) {
            advance();
            const auto operand = parse_not();
            result = emit(op::not_, operand, 0, static_kind::boolean);
        } else {
            result = parse_comparison();
        }
        --depth_;
        return result;
    }

    std::uint32_t parse_comparison() {
        const auto lhs = parse_primary();
        if (!is_comparison(cur_.kind)) {
            return lhs;
        }
        const op code = comparison_op(cur_.kind);
        advance();
        const auto rhs = parse_primary();
        if (is_comparison(cur_.kind)) {
            fail_at(cur_.offset, "comparisons cannot be chained; use parentheses and \"and\"");
        }
        return emit(code, lhs, rhs, static_kind::boolean);
    }

    static op comparison_op(tok t) noexcept {
        switch (t) {
        case tok::eq:
            return op::eq;
        case tok::ne:
            return op::ne;
        case tok::lt:
            return op::lt;
        case tok::le:
            return op::le;
        case tok::gt:
            return op::gt;
        default:
            return op::ge;
        }
    }

    std::uint32_t parse_primary() {
        switch (cur_.kind) {
        case tok::number: {
            const double n = cur_.number;
            advance();
            return emit_constant(n);
        }
        case tok::string: {
            std::string text = std::move(cur_.text);
            advance();
            return emit_constant(std::move(text));
        }
        case tok::true_:
            advance();
            return emit_constant(true);
        case tok::false_:
            advance();
            return emit_constant(false);
        case tok::null_:
            advance();
            return emit_constant(std::monostate{});
        case tok::identifier: {
            const std::size_t offset = cur_.offset;
            const std::string_view name = cur_.lexeme;
            advance();
            if (cur_.kind == tok::lparen) {
                return parse_call(offset, name);
            }
            return attribute(offset, name);
        }
        case tok::lparen: {
            const std::size_t open = cur_.offset;
            advance();
            const auto inner = parse_or();
            if (cur_.kind != tok::rparen) {
                fail_at(cur_.offset, "expected \")\" to close \"(\" at column " +
                                         std::to_string(column_at(out_.source, open)));
            }
            advance();
            return inner;
        }
        case tok::end:
            fail_at(cur_.offset, "unexpected end of expression");
        default:
            fail_at(cur_.offset, "unexpected " + describe(cur_) + "; expected a value");
        }
    }

    std::uint32_t attribute(std::size_t offset, std::string_view name) {
        for (std::size_t i = 0; i < attribute_names.size(); ++i) {
            if (attribute_names[i] == name) {
                return emit(op::attribute, static_cast<std::uint32_t>(i), 0, static_kind::any);
            }
        }
        for (const auto& f : functions) {
            if (f.name == name) {
                fail_at(offset,
                        "\"" + std::string(name) + "\" is a function; write " + std::string(name) + "(...)");
            }
        }
        fail_at(offset, "unknown identifier \"" + std::string(name) +
                            "\"; expected one of: " + joined_attribute_names());
    }

    std::uint32_t parse_call(std::size_t offset, std::string_view name) {
        const function_info* info = nullptr;
        for (const auto& f : functions) {
            if (f.name == name) {
                info = &f;
                break;
            }
        }
        if (info == nullptr) {
            fail_at(offset, "unknown function \"" + std::string(name) +
                                "\"; expected one of: " + joined_function_names());
        }
        advance(); // past "("
        std::vector<std::uint32_t> args;
        if (cur_.kind == tok::rparen) {
            advance();
        } else {
            while (true) {
                args.push_back(parse_or());
                if (cur_.kind == tok::comma) {
                    advance();
                } else if (cur_.kind == tok::rparen) {
                    advance();
                    break;
                } else {
                    fail_at(cur_.offset, "expected \")\" after arguments of " + std::string(name));
                }
            }
        }
        if (args.size() != info->arity) {
            fail_at(offset, std::string(name) + " expects " + std::to_string(info->arity) +
                                (info->arity == 1 ? " argument" : " arguments") + ", got " +
                                std::to_string(args.size()));
        }
        switch (info->fn) {
        case function::tag: {
            auto tag = literal_name(offset, name, args[0]);
            out_.tags.push_back(tag);
            return emit_name(op::tag, std::move(tag), static_kind::boolean);
        }
        case function::field: {
            auto field = literal_name(offset, name, args[0]);
            out_.fields.push_back(field);
            return emit_name(op::field, std::move(field), static_kind::any);
        }
        case function::has: {
            auto field = literal_name(offset, name, args[0]);
            out_.fields.push_back(field);
            return emit_name(op::has, std::move(field), static_kind::boolean);
        }
        case function::contains:
            require_text(offset, name, args);
            return emit(op::contains, args[0], args[1], static_kind::boolean);
        case function::lower:
            require_text(offset, name, args);
            return emit(op::lower, args[0], 0, kinds_[args[0]]);
        }
        fail_at(offset, "unknown function \"" + std::string(name) + "\"");
    }

    std::uint32_t emit_name(op code, std::string name, static_kind kind) {
        const auto index = checked_index(out_.names.size());
        out_.names.push_back(std::move(name));
        return emit(code, index, 0, kind);
    }

    // Names of tags and fields must be literals so that referenced_tags()/referenced_fields() are
    // complete, which lets callers index segments by the tags they depend on.
    std::string literal_name(std::size_t offset, std::string_view fn, std::uint32_t arg) {
        const auto& node = out_.nodes[arg];
        const std::string* text = nullptr;
        if (node.code == op::constant) {
            text = std::get_if<std::string>(&out_.constants[node.a]);
        }
        if (text == nullptr) {
            fail_at(offset, std::string(fn) + " expects a string literal argument, e.g. " + std::string(fn) +
                                "(\"VIP\")");
        }
        if (text->empty()) {
            fail_at(offset, std::string(fn) + " expects a non-empty name");
        }
        std::string result = *text;
        // The literal is folded into the call node, so drop it to keep the tree compact.
        if (arg + 1 == out_.nodes.size() && node.a + 1 == out_.constants.size()) {
            out_.nodes.pop_back();
            kinds_.pop_back();
            out_.constants.pop_back();
        }
        return result;
    }

    void require_text(std::size_t offset, std::string_view fn, const std::vector<std::uint32_t>& args) const {
        for (const auto arg : args) {
            const auto kind = kinds_[arg];
            if (kind != static_kind::any && kind != static_kind::text) {
                fail_at(offset, std::string(fn) + " expects text arguments");
            }
        }
    }

    lexer lex_;
    expression_program& out_;
    token cur_;
    std::vector<static_kind> kinds_;
    int depth_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// Evaluator

enum class kind : std::uint8_t { null, boolean, number, text };

// A value produced during evaluation. Text literals are borrowed from the program instead of copied,
// which keeps evaluating a segment over many contacts free of allocations.
class operand {
public:
    operand() = default;
    explicit operand(value v) noexcept : v_(std::move(v)) {}

    static operand of_bool(bool b) noexcept { return operand(value(b)); }

    static operand borrowed(std::string_view text) noexcept {
        operand o;
        o.view_ = text;
        o.is_view_ = true;
        return o;
    }

    [[nodiscard]] kind type() const noexcept { return is_view_ ? kind::text : static_cast<kind>(v_.index()); }
    [[nodiscard]] bool boolean() const noexcept { return *std::get_if<bool>(&v_); }
    [[nodiscard]] double number() const noexcept { return *std::get_if<double>(&v_); }
    [[nodiscard]] std::string_view text() const noexcept {
        return is_view_ ? view_ : std::string_view(*std::get_if<std::string>(&v_));
    }

    value release() && {
        if (is_view_) {
            return value(std::string(view_));
        }
        return std::move(v_);
    }

private:
    value v_;
    std::string_view view_;
    bool is_view_ = false;
};

bool truthy(const operand& o) noexcept {
    switch (o.type()) {
    case kind::null:
        return false;
    case kind::boolean:
        return o.boolean();
    case kind::number:
        return o.number() != 0.0;
    case kind::text:
        return !o.text().empty();
    }
    return false;
}

bool truthy(const value& v) noexcept {
    if (const auto* b = std::get_if<bool>(&v)) {
        return *b;
    }
    if (const auto* n = std::get_if<double>(&v)) {
        return *n != 0.0;
    }
    if (const auto* s = std::get_if<std::string>(&v)) {
        return !s->empty();
    }
    return false;
}

bool blank(const value& v) noexcept {
    if (std::holds_alternative<std::monostate>(v)) {
        return true;
    }
    const auto* s = std::get_if<std::string>(&v);
    return s != nullptr && s->empty();
}

// Both sides as numbers, when one is a number and the other a number or text that reads as one.
std::optional<std::pair<double, double>> as_numbers(const operand& l, const operand& r) noexcept {
    const auto number_of = [](const operand& o) -> std::optional<double> {
        if (o.type() == kind::number) {
            return o.number();
        }
        if (o.type() == kind::text) {
            return to_number(o.text());
        }
        return std::nullopt;
    };
    if (l.type() != kind::number && r.type() != kind::number) {
        return std::nullopt;
    }
    const auto a = number_of(l);
    const auto b = number_of(r);
    if (!a || !b) {
        return std::nullopt;
    }
    return std::pair{*a, *b};
}

bool equal(const operand& l, const operand& r) noexcept {
    if (l.type() == r.type()) {
        switch (l.type()) {
        case kind::null:
            return true;
        case kind::boolean:
            return l.boolean() == r.boolean();
        case kind::number:
            return l.number() == r.number();
        case kind::text:
            return l.text() == r.text();
        }
    }
    if (const auto numbers = as_numbers(l, r)) {
        return numbers->first == numbers->second;
    }
    return false;
}

// Three-way comparison result for the ordering operators; nullopt when the pair has no order, which
// makes every ordering operator false.
std::optional<int> order(const operand& l, const operand& r) noexcept {
    if (l.type() == kind::text && r.type() == kind::text) {
        // char_traits<char>::compare orders as unsigned char, i.e. by bytes.
        const int c = l.text().compare(r.text());
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (const auto numbers = as_numbers(l, r)) {
        const auto [a, b] = *numbers;
        if (a < b) {
            return -1;
        }
        if (a > b) {
            return 1;
        }
        if (a == b) {
            return 0;
        }
    }
    return std::nullopt; // includes NaN, null, booleans and mixed kinds
}

class evaluator {
public:
    evaluator(const expression_program& program, const expression_context& ctx) noexcept
        : p_(program), ctx_(ctx) {}

    // The boolean fast path: tag, has and the logical operators never build an operand.
    bool truth(std::uint32_t index) const {
        const expression_node& n = p_.nodes[index];
        switch (n.code) {
        case op::tag:
            return ctx_.has_tag(p_.names[n.a]);
        case op::has:
            return !blank(ctx_.field(p_.names[n.a]));
        case op::field:
            return truthy(ctx_.field(p_.names[n.a]));
        case op::attribute:
            return truthy(ctx_.attribute(attribute_names[n.a]));
        case op::not_:
            return !truth(n.a);
        case op::and_:
            for (std::uint32_t i = 0; i < n.b; ++i) {
                if (!truth(p_.lists[n.a + i])) {
                    return false;
                }
            }
            return true;
        case op::or_:
            for (std::uint32_t i = 0; i < n.b; ++i) {
                if (truth(p_.lists[n.a + i])) {
                    return true;
                }
            }
            return false;
        case op::eq:
            return equal(eval(n.a), eval(n.b));
        case op::ne:
            return !equal(eval(n.a), eval(n.b));
        case op::lt:
            return compare(n, [](int c) { return c < 0; });
        case op::le:
            return compare(n, [](int c) { return c <= 0; });
        case op::gt:
            return compare(n, [](int c) { return c > 0; });
        case op::ge:
            return compare(n, [](int c) { return c >= 0; });
        case op::contains:
            return contains(n);
        case op::constant:
        case op::lower:
            return truthy(eval(index));
        }
        return false;
    }

    operand eval(std::uint32_t index) const {
        const expression_node& n = p_.nodes[index];
        switch (n.code) {
        case op::constant: {
            const value& v = p_.constants[n.a];
            if (const auto* s = std::get_if<std::string>(&v)) {
                return operand::borrowed(*s);
            }
            return operand(v);
        }
        case op::attribute:
            return operand(ctx_.attribute(attribute_names[n.a]));
        case op::field:
            return operand(ctx_.field(p_.names[n.a]));
        case op::lower: {
            operand arg = eval(n.a);
            if (arg.type() != kind::text) {
                return arg;
            }
            std::string out(arg.text());
            for (char& c : out) {
                if (c >= 'A' && c <= 'Z') {
                    c = static_cast<char>(c - 'A' + 'a');
                }
            }
            return operand(value(std::move(out)));
        }
        default:
            return operand::of_bool(truth(index));
        }
    }

private:
    template <typename Predicate>
    bool compare(const expression_node& n, Predicate pred) const {
        const auto c = order(eval(n.a), eval(n.b));
        return c.has_value() && pred(*c);
    }

    bool contains(const expression_node& n) const {
        const operand haystack = eval(n.a);
        if (haystack.type() != kind::text) {
            return false;
        }
        const operand needle = eval(n.b);
        if (needle.type() != kind::text) {
            return false;
        }
        return haystack.text().find(needle.text()) != std::string_view::npos;
    }

    const expression_program& p_;
    const expression_context& ctx_;
};

const std::string& empty_string() noexcept {
    static const std::string empty;
    return empty;
}

const std::vector<std::string>& empty_list() noexcept {
    static const std::vector<std::string> empty;
    return empty;
}

} // namespace

expression::expression(std::shared_ptr<const detail::expression_program> program) noexcept
    : program_(std::move(program)) {}

expression expression::parse(std::string_view source) {
    auto program = std::make_shared<expression_program>();
    program->source = std::string(source);
    parser(program->source, *program).run();
    return expression(std::move(program));
}

bool expression::evaluate(const expression_context& ctx) const {
    if (!program_) {
        return true;
    }
    return evaluator(*program_, ctx).truth(program_->root);
}

value expression::evaluate_value(const expression_context& ctx) const {
    if (!program_) {
        return true;
    }
    return evaluator(*program_, ctx).eval(program_->root).release();
}

const std::string& expression::source() const noexcept {
    return program_ ? program_->source : empty_string();
}

const std::vector<std::string>& expression::referenced_tags() const noexcept {
    return program_ ? program_->tags : empty_list();
}

const std::vector<std::string>& expression::referenced_fields() const noexcept {
    return program_ ? program_->fields : empty_list();
}

namespace {

std::optional<tag_formula> formula_at(const expression_program& p, std::uint32_t index) {
    const expression_node& n = p.nodes[index];
    tag_formula f;
    switch (n.code) {
    case op::tag:
        f.what = tag_formula::kind::tag;
        f.tag = p.names[n.a];
        return f;
    case op::constant:
        if (const auto* b = std::get_if<bool>(&p.constants[n.a])) {
            f.what = tag_formula::kind::constant;
            f.constant = *b;
            return f;
        }
        return std::nullopt;
    case op::not_: {
        auto inner = formula_at(p, n.a);
        if (!inner) {
            return std::nullopt;
        }
        f.what = tag_formula::kind::negate;
        f.children.push_back(std::move(*inner));
        return f;
    }
    case op::and_:
    case op::or_:
        f.what = n.code == op::and_ ? tag_formula::kind::all_of : tag_formula::kind::any_of;
        for (std::uint32_t i = 0; i < n.b; ++i) {
            auto child = formula_at(p, p.lists[n.a + i]);
            if (!child) {
                return std::nullopt;
            }
            f.children.push_back(std::move(*child));
        }
        return f;
    default:
        return std::nullopt;
    }
}

} // namespace

std::optional<tag_formula> expression::as_tag_formula() const {
    if (!program_) {
        return tag_formula{};
    }
    return formula_at(*program_, program_->root);
}

} // namespace tagflow
