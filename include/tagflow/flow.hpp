#pragma once
/// \file flow.hpp
/// Flows: chatbot conversations stored as data, a graph of blocks with named exits. Part of the
/// definitions document ("flows"); see docs/flows.md for every block kind.

#include <tagflow/expression.hpp>
#include <tagflow/outbox.hpp>
#include <tagflow/text.hpp>
#include <tagflow/value.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tagflow {

/// What a block does.
enum class block_kind {
    send,       ///< Sends a message (text, quick replies, buttons), then `next`.
    ask,        ///< Sends a question and waits for one typed answer saved to a field.
    form,       ///< Sends a form and waits for a complete, valid submission; `next` is its callback.
    condition,  ///< Goes to the first branch whose expression holds, else `else`.
    tag,        ///< Adds and removes tags, then `next`.
    set_field,  ///< Sets, clears, increments or appends to a field, then `next`.
    wait,       ///< Waits a delay, or for a reply / a condition with a timeout.
    randomizer, ///< Picks a weighted path, the same one every time for a contact.
    go_to,      ///< Continues in another flow (no return).
    call,       ///< Runs another flow, then continues at `next` when it ends.
    request,    ///< Calls an external HTTP API, maps the JSON answer to fields; `on_failure` otherwise.
    handoff,    ///< Hands the contact to a human: automation pauses until resumed or `delay` passes.
    end,        ///< Ends the flow (or returns to the caller).
};

/// Name of a block kind as written in definitions ("send", "go_to", ...). Thread-safe.
std::string_view to_string(block_kind kind) noexcept;

/// A field of a form.
struct form_field {
    std::string name;                   ///< The contact field it is saved to.
    std::string label;                  ///< How the contact sees it; the name when empty.
    field_type type = field_type::text; ///< Checked on submission.
    bool required = true;               ///< A blank value refuses the submission.
};

/// One branch of a condition block.
struct branch {
    expression condition; ///< Must hold.
    std::string next;     ///< Block to go to.
};

/// One path of a randomizer.
struct weighted_path {
    int weight = 1;   ///< Relative weight (>= 1).
    std::string next; ///< Block to go to.
};

/// A block. Which members matter depends on `kind`; the loader checks them.
struct block {
    std::string id;                         ///< Unique within the flow.
    block_kind kind = block_kind::end;      ///< What it does.
    std::string path;                       ///< JSON path, for messages.
    std::string text;                       ///< send/ask/form: mustache template.
    std::vector<std::string> quick_replies; ///< send/ask: quick reply titles.
    std::vector<button> buttons;            ///< send: buttons.
    std::string purpose = "reply";          ///< send: reply, transactional or promotional.
    std::string template_name; ///< send: a platform template (WhatsApp, Zalo ZBS, "request_user_info").
    std::vector<std::string> template_params; ///< send: template parameters (mustache templates).
    std::string channel_tag;                  ///< send: platform message tag, e.g. Messenger "HUMAN_AGENT".
    std::vector<std::string> channels;        ///< send: channels to try in order (see action::channels).
    std::string next;                         ///< The normal exit.
    // ask
    field_type input = field_type::text; ///< ask: expected type ("choice" uses `choices`).
    std::vector<std::string> choices;    ///< ask: accepted answers (folded comparison).
    std::string field;                   ///< ask/set_field: target field.
    std::string retry_text;              ///< ask: sent when an answer does not fit.
    int max_retries = 2;                 ///< ask: re-asks before `on_invalid`.
    std::string on_invalid;              ///< ask: exit after too many bad answers.
    // form
    std::string form;               ///< form: the form's name (form_* events carry it).
    std::vector<form_field> fields; ///< form: its fields.
    std::string invalid_text;       ///< form: sent for a bad submission; {{invalid}} lists fields.
    bool accept_late = false;       ///< form: a valid submission after the wait ended still runs `next`.
    // waits (ask, form, wait)
    std::optional<duration> delay;   ///< wait: a plain delay. handoff: how long the pause lasts.
    bool until_reply = false;        ///< wait: a message from the contact ends the wait.
    expression until;                ///< wait: a condition checked on every event.
    std::optional<duration> timeout; ///< ask/form/wait: how long to wait.
    std::string on_timeout;          ///< ask/form/wait: exit when the timeout fires.
    // condition
    std::vector<branch> branches; ///< condition: in order.
    std::string otherwise;        ///< condition: exit when no branch holds.
    // tag
    std::vector<std::string> add_tags;    ///< tag: tags to add.
    std::vector<std::string> remove_tags; ///< tag: tags to remove.
    // set_field
    std::string op = "set"; ///< set_field: set, clear, increment, append.
    std::string value;      ///< set_field: template (set/append) or number (increment).
    // randomizer
    std::vector<weighted_path> paths; ///< randomizer: the paths.
    // go_to / call
    std::string flow; ///< go_to/call: the target flow.
    // request
    std::string method = "GET";                               ///< request: HTTP method.
    std::string url;                                          ///< request: URL template.
    std::vector<std::pair<std::string, std::string>> headers; ///< request: header templates.
    std::string body;                                         ///< request: body template.
    std::vector<std::pair<std::string, std::string>> map; ///< request: field <- JSON pointer into the answer.
    std::string on_failure; ///< request: exit for errors, non-2xx answers and timeouts.
};

/// What starts a flow besides a rule's start_flow action.
struct flow_trigger {
    std::string postback;            ///< A postback with this payload.
    std::optional<text_filter> text; ///< A message matching this filter.
    bool interrupts = false;         ///< Also starts while another flow waits for an answer.
};

/// A flow: blocks and the block it starts at.
struct flow {
    std::string name;                   ///< Unique flow name.
    std::string start;                  ///< Id of the first block.
    std::vector<flow_trigger> triggers; ///< What starts it.
    std::vector<block> blocks;          ///< In document order.
    std::string path;                   ///< JSON path, for messages.

    /// The block with `id`, or nullptr.
    [[nodiscard]] const block* find(std::string_view id) const noexcept;
};

} // namespace tagflow
