#pragma once
/// \file graph.hpp
/// Draws a flow as a graph, for people reviewing it: Graphviz DOT (`dot -Tsvg`) or a Mermaid
/// flowchart (renders in Markdown on most code hosts). See docs/flows-lint-and-graph.md.
///
/// Both formats draw the same thing, in document order so the same flow always gives the same
/// text:
///
///   - a "start" circle with an edge to the flow's start block;
///   - one node per block, labelled with its id and its kind followed by a short summary (the
///     text of a send or ask, the tags of a tag block, ...), cut to 40 code points with "…" and
///     never inside a UTF-8 sequence; the shape depends on the kind (box for send, diamond for
///     condition, parallelogram for ask, note for form, hexagon for tag, cylinder for set_field,
///     octagon for wait, trapezium for randomizer, arrow for go_to, component for call, 3-D box
///     for request, house for handoff, double circle for end; Mermaid has fewer shapes, so request
///     is drawn like send and handoff like wait);
///   - one edge per exit, labelled by its name: "next", "else", the branch's condition source,
///     "weight N" for a randomizer path, "invalid" (on_invalid), "timeout" (on_timeout) and
///     "failure" (on_failure);
///   - for go_to and call, an edge labelled "go_to" or "call" to one dashed node per other flow
///     named (to the start block when a flow names itself).
///
/// Block ids, texts and conditions are escaped for each format, so quotes, backslashes and
/// Vietnamese text come out as written.

#include <tagflow/definitions.hpp>

#include <string>
#include <string_view>

namespace tagflow {

/// The flow named `flow_name` as a Graphviz DOT digraph. Throws tagflow::error(errc::not_found)
/// when the document has no such flow. Thread-safe (definitions are immutable).
[[nodiscard]] std::string flow_to_dot(const definitions& defs, std::string_view flow_name);

/// The flow named `flow_name` as a Mermaid flowchart ("flowchart TD"). Throws
/// tagflow::error(errc::not_found) when the document has no such flow. Thread-safe.
[[nodiscard]] std::string flow_to_mermaid(const definitions& defs, std::string_view flow_name);

} // namespace tagflow
