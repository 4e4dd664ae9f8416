#pragma once
/// \file lint.hpp
/// The flow linter: finds what a definitions document allows but is probably a mistake, such as
/// a block nothing leads to or a loop that never waits. definitions::parse already refuses what
/// cannot run (dangling references, unknown kinds); the linter only reads a loaded document, so
/// everything it reports except "invalid_definitions" is a warning. See
/// docs/flows-lint-and-graph.md for every finding code with an example.

#include <tagflow/definitions.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// One thing the linter found.
struct lint_finding {
    /// How bad it is: an error means the document does not load; a warning means it loads and
    /// runs, probably not as intended.
    enum class severity { error, warning };

    severity level = severity::warning; ///< Error or warning.
    std::string path;    ///< JSON path of the place to look at, such as "$.flows[0].blocks[3]".
    std::string code;    ///< Stable identifier of the kind of finding, such as "unreachable_block".
    std::string message; ///< What is wrong and why it matters, for people; wording may change.

    /// Member-wise equality, for tests and for comparing runs.
    friend bool operator==(const lint_finding&, const lint_finding&) = default;
};

/// Name of a severity as printed by `tagflow lint`: "error" or "warning". Never fails; thread-safe.
std::string_view to_string(lint_finding::severity level) noexcept;

/// Lints a loaded document and returns every finding, sorted by path (indices compared as
/// numbers, so "$.flows[2]" comes before "$.flows[10]") then by code; the same document always
/// gives the same list. The codes are:
///
///   - "unreachable_block": no exit (next, else, branches, paths, on_invalid, on_timeout,
///     on_failure) leads to the block from its flow's start. Path: the block.
///   - "loop_without_wait": blocks form a cycle that passes no block that waits (ask, form, wait,
///     and request and handoff, which wait for an answer or a person), so a run entering it is
///     stopped after 100 steps. go_to and call are followed into other flows; a
///     call's `next` counts only when the called flow can end without waiting. Each loop (each
///     strongly connected group of blocks) is reported once, at its first block in document order.
///   - "tag_removed_never_added": a rule's remove_tag or a tag block's `remove` names a tag that no
///     rule or tag block adds. The API may still add it, hence a warning. Path: the removal, such
///     as "$.rules[1].then[0].remove_tag" or "$.flows[0].blocks[2].remove[0]".
///   - "form_without_callback": a form block has no `next`, so a complete submission ends the
///     flow. Path: the block.
///   - "wait_without_timeout": an ask block, or a wait block with until_reply or until, has no
///     `timeout`, so a contact who never answers stays in it. Path: the block.
///   - "flow_never_started": no trigger, no rule's start_flow and no reachable go_to or call block
///     of a started flow leads to the flow. Path: the flow, such as "$.flows[1]".
///
/// Never throws except std::bad_alloc; thread-safe (definitions are immutable).
[[nodiscard]] std::vector<lint_finding> lint(const definitions& defs);

/// Loads a definitions file and lints it. A document that definitions::parse refuses gives one
/// finding of level error with code "invalid_definitions", the path from the definition_error and
/// its message without the path prefix. Throws tagflow::error(errc::not_found) when the file
/// cannot be read. Thread-safe.
[[nodiscard]] std::vector<lint_finding> lint_file(const std::filesystem::path& file);

} // namespace tagflow
