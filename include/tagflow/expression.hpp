#pragma once
/// \file expression.hpp
/// The condition and segment language: small boolean expressions over a contact's tags, fields and
/// built-in attributes, such as `tag("Khách VIP") and not tag("Đã mua Áo A") and orders >= 2`.
///
/// Grammar (keywords are lowercase and case-sensitive; `&&`, `||` and `!` are synonyms of `and`,
/// `or` and `not`):
///
///     or_expr    := and_expr ("or" and_expr)*
///     and_expr   := not_expr ("and" not_expr)*
///     not_expr   := "not" not_expr | comparison
///     comparison := primary (("==" | "!=" | "<" | "<=" | ">" | ">=") primary)?
///     primary    := number | string | "true" | "false" | "null" | identifier | call | "(" or_expr ")"
///     call       := identifier "(" [or_expr ("," or_expr)*] ")"
///
/// Numbers are `-?digits(.digits)?`. Strings are double-quoted UTF-8 with the escapes `\"` and `\\`
/// only. Identifiers name built-in attributes: lifecycle, orders, total_spent, conversations,
/// returning, first_time, name, email, phone, timezone, locale, channel, days_since_last_inbound,
/// days_since_first_seen, days_since_last_order. Unknown identifiers and functions are refused when
/// parsing, so a typo never silently turns a segment empty. Functions:
///
///   - tag("X"): true when the contact has tag X. The argument must be a non-empty string literal.
///   - field("x"): the custom or profile field x, null when unset. Non-empty string literal.
///   - has("x"): true when field x is set and not blank (not null, not ""). Non-empty string literal.
///   - contains(a, b): true when both are text and a contains b (case-sensitive byte match).
///   - lower(a): a with ASCII letters A-Z lowercased only; other letters, including Vietnamese
///     capitals such as "Đ", are left as they are. Values that are not text pass through unchanged.

#include <tagflow/value.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

namespace detail {
struct expression_program;
} // namespace detail

/// The data an expression is evaluated against; the contact model implements it. Implementations
/// must not throw for missing data (return false or std::monostate instead). The evaluator calls
/// these const members from the thread that called evaluate(), so an instance shared across threads
/// must make its const members safe to call concurrently.
class expression_context {
public:
    /// Destroys the context.
    virtual ~expression_context() = default;
    /// True when the contact carries the tag, as written in a tag("...") literal.
    virtual bool has_tag(std::string_view tag) const = 0;
    /// A custom or profile field by name; std::monostate when unset.
    virtual value field(std::string_view name) const = 0;
    /// A built-in attribute (one of the identifiers listed in this file's documentation);
    /// std::monostate when it has no value, e.g. days_since_last_order for a contact without orders.
    virtual value attribute(std::string_view name) const = 0;
};

/// A parsed condition. A value type: copies share one immutable, compact syntax tree, so copying is
/// cheap and a copy may be evaluated on any thread concurrently with the original.
///
/// Semantics: `and`/`or` short-circuit and yield booleans. Truthiness: null is false, a boolean is
/// itself, a number is true when not 0, text is true when not empty. `==`/`!=` compare values of the
/// same type; a number and text that reads as a number (`-?digits(.digits)?`, nothing else around it)
/// compare numerically; null equals only null; otherwise values of different types are unequal.
/// `<`, `<=`, `>`, `>=` order numbers numerically (and text that reads as a number against a
/// number), text by bytes; any other pairing, including anything with null, is false.
/// A boolean formula over tags only: what an expression is when it uses nothing but tag(),
/// and, or, not, true and false. Indexes evaluate it with set operations (segment_index.hpp).
struct tag_formula {
    /// Node kinds.
    enum class kind { tag, all_of, any_of, negate, constant };
    kind what = kind::constant;        ///< Which node.
    std::string tag;                   ///< tag: the tag name.
    bool constant = true;              ///< constant: its value.
    std::vector<tag_formula> children; ///< all_of / any_of: operands; negate: one operand.
};

class expression {
public:
    /// The empty condition: source() is "" and it evaluates to true. Never fails; thread-safe.
    expression() noexcept = default;

    /// Parses and validates an expression. Throws syntax_error whose column() (1-based, in code
    /// points) points at the offending token, for malformed input, for an unknown identifier or
    /// function, for a function called with the wrong number or kind of arguments, and for an empty
    /// or whitespace-only source ("empty expression"). Thread-safe.
    static expression parse(std::string_view source);

    /// Evaluates the expression and returns the truthiness of its result. Does not throw on its own
    /// for any data (missing fields, mismatched types just compare unequal); it propagates whatever
    /// the context throws. Const and thread-safe; allocates only in lower() and for the values the
    /// context returns.
    [[nodiscard]] bool evaluate(const expression_context& ctx) const;

    /// Evaluates the expression and returns its value: std::monostate, a boolean, a number or text.
    /// Same failure and thread-safety guarantees as evaluate().
    [[nodiscard]] value evaluate_value(const expression_context& ctx) const;

    /// The source text as given to parse(); "" for a default-constructed expression. Never fails;
    /// thread-safe.
    [[nodiscard]] const std::string& source() const noexcept;

    /// Tag names used in tag("...") calls, sorted by bytes and without duplicates. Never fails;
    /// thread-safe.
    [[nodiscard]] const std::vector<std::string>& referenced_tags() const noexcept;

    /// Field names used in field("...") and has("...") calls, sorted by bytes and without
    /// duplicates. Never fails; thread-safe.
    [[nodiscard]] const std::vector<std::string>& referenced_fields() const noexcept;

    /// The expression as a formula over tags, or std::nullopt when it reads anything else
    /// (fields, attributes, comparisons). The empty expression is the constant true. Thread-safe.
    [[nodiscard]] std::optional<tag_formula> as_tag_formula() const;

private:
    explicit expression(std::shared_ptr<const detail::expression_program> program) noexcept;

    std::shared_ptr<const detail::expression_program> program_;
};

} // namespace tagflow
