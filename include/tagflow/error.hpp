#pragma once
/// \file error.hpp
/// The exception hierarchy. Every exception tagflow throws derives from tagflow::error and carries
/// an error code. Exceptions are for misuse and bad input (definitions, events, expressions);
/// runtime faults of channels never unwind through the engine.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tagflow {

/// What went wrong, independent of the message text.
enum class errc {
    invalid_argument,   ///< A function was called with a value it cannot accept.
    invalid_definition, ///< The definitions document is malformed or inconsistent.
    invalid_event,      ///< An event was refused before anything was written.
    invalid_phone,      ///< A phone number could not be normalised to E.164.
    invalid_email,      ///< An e-mail address is not well formed.
    syntax_error,       ///< An expression could not be parsed.
    not_found,          ///< A contact, definition or record does not exist.
    store_failure,      ///< The store failed (I/O, corruption, constraint).
    schema_mismatch,    ///< The store was written by a newer, unknown schema version.
};

/// Short stable name of an error code, e.g. "invalid_event". Never fails; thread-safe.
std::string_view to_string(errc code) noexcept;

/// Root of every exception thrown by tagflow. Thread-safe to read.
class error : public std::runtime_error {
public:
    /// Builds an error with a code and a human-readable message.
    error(errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    /// The error code.
    [[nodiscard]] errc code() const noexcept { return code_; }

private:
    errc code_;
};

/// A definitions document was refused. path() names the offending place as a JSON path such as
/// "$.rules[2].then[0]".
class definition_error : public error {
public:
    /// Builds the error; the message becomes "<path>: <what>".
    definition_error(std::string path, const std::string& what)
        : error(errc::invalid_definition, path + ": " + what), path_(std::move(path)) {}
    /// JSON path of the offending value.
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

/// An event was refused; field() names the offending field, such as "identity.channel".
class event_error : public error {
public:
    /// Builds the error; the message becomes "event.<field>: <what>" ("event: <what>" when the
    /// whole event is at fault, e.g. malformed JSON).
    event_error(std::string field, const std::string& what)
        : error(errc::invalid_event, (field.empty() ? "event: " : "event." + field + ": ") + what),
          field_(std::move(field)), detail_(what) {}
    /// The offending field of the event.
    [[nodiscard]] const std::string& field() const noexcept { return field_; }
    /// What is wrong with it, without the "event.<field>: " prefix.
    [[nodiscard]] const std::string& detail() const noexcept { return detail_; }

private:
    std::string field_;
    std::string detail_;
};

/// An expression failed to parse or refers to something unknown; column() is 1-based and counts
/// Unicode code points, so it points at the right character in Vietnamese text too.
class syntax_error : public error {
public:
    /// Builds the error; the message becomes "column <n>: <what>".
    syntax_error(std::size_t column, const std::string& what)
        : error(errc::syntax_error, "column " + std::to_string(column) + ": " + what), column_(column) {}
    /// 1-based column, in code points, where the problem starts.
    [[nodiscard]] std::size_t column() const noexcept { return column_; }

private:
    std::size_t column_;
};

} // namespace tagflow
