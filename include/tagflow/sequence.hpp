#pragma once
/// \file sequence.hpp
/// Sequences: timed follow-ups for every contact that carries a tag (or matches a segment
/// expression). Entering subscribes; leaving cancels every pending step in the same
/// transaction. Part of the definitions document ("sequences"); see docs/sequences.md.

#include <tagflow/expression.hpp>
#include <tagflow/local_time.hpp>
#include <tagflow/time.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tagflow {

/// One timed step of a sequence.
struct sequence_step {
    /// What the step does.
    enum class kind { send, send_form, tags, start_flow };
    kind what = kind::send;               ///< Its action.
    duration after{};                     ///< Delay before it runs.
    bool from_previous = false;           ///< Delay counts from the previous step's run, not from entry.
    std::string text;                     ///< send: mustache template.
    std::string purpose = "reply";        ///< send: reply, transactional or promotional.
    std::string flow;                     ///< send_form: flow holding the form block; start_flow: the flow.
    std::string block;                    ///< send_form: the form block whose message is sent again.
    std::vector<std::string> add_tags;    ///< tags: to add.
    std::vector<std::string> remove_tags; ///< tags: to remove.
    std::string path;                     ///< JSON path, for messages.

    /// True for steps that send a message (and so wait for the send window).
    [[nodiscard]] bool sends() const noexcept { return what == kind::send || what == kind::send_form; }
};

/// A sequence definition.
struct sequence {
    std::string name;                  ///< Unique name.
    std::string follows_tag;           ///< Contacts with this tag are in the sequence...
    expression follows_segment;        ///< ...or those matching this expression...
    std::string follows_named_segment; ///< ...or the members of this declared segment (one of the three).
    std::vector<sequence_step> steps;  ///< In order.
    send_window window;                ///< When message steps may go out, contact-local time.
    bool reentry_restart = true;       ///< Re-entering starts over; false: ignored within `reentry_within`.
    duration reentry_within{};         ///< With reentry_restart false: how long re-entry is ignored.
    int max_sends = -1;                ///< Cap on messages per subscription (-1: no cap).
    /// After downtime: a message step more than this late is skipped (logged) instead of sent
    /// late. Unset: late steps are sent late.
    std::optional<duration> skip_if_late;
    std::vector<std::string> end_add_tags;    ///< After the last step: tags to add.
    std::vector<std::string> end_remove_tags; ///< After the last step: tags to remove.
    std::string path;                         ///< JSON path, for messages.
};

} // namespace tagflow
