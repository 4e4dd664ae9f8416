#pragma once
/// \file definitions.hpp
/// The definitions document: one JSON document, with a schema version, holding tags, fields and
/// rules (later flows, sequences, segments). Loading validates everything and compiles
/// expressions and filters once; any problem throws definition_error naming the JSON path.

#include <tagflow/contact.hpp>
#include <tagflow/event.hpp>
#include <tagflow/expression.hpp>
#include <tagflow/flow.hpp>
#include <tagflow/policy.hpp>
#include <tagflow/sequence.hpp>
#include <tagflow/text.hpp>
#include <tagflow/value.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// The schema version this build of tagflow reads and writes.
inline constexpr int definitions_schema_version = 1;

/// A declared tag.
struct tag_definition {
    std::string name;        ///< Exact UTF-8 name.
    std::string description; ///< Free text for people.
};

/// A declared custom field.
struct field_definition {
    std::string name;                   ///< Field name (ASCII identifier).
    field_type type = field_type::text; ///< Declared type; values are converted to it.
    std::string description;            ///< Free text for people.
};

/// What starts a rule. first_message and returning_message are message_received narrowed by
/// the contact's activity: the first message ever, or the first of a conversation that returns.
enum class trigger {
    message_received,
    first_message,
    returning_message,
    postback,
    form_opened,
    form_submitted,
    order_placed,
    profile_updated,
    customer_linked,
    note_added,
    track,
    tag_added,
    tag_removed,
    lifecycle_changed,
    inactive,          ///< No message from the contact for filter.inactive_for (timer-driven).
    followed,          ///< The contact followed the channel's account.
    unfollowed,        ///< The contact unfollowed it.
    message_sent,      ///< A channel accepted one of the contact's messages.
    message_delivered, ///< Receipt: delivered.
    message_read,      ///< Receipt: read.
    message_clicked,   ///< Receipt: a link or button in it was followed.
    message_failed,    ///< Delivery failed for good (or went to the dead letters).
    message_blocked,   ///< Channel policy blocked it at dispatch.
    segment_entered,   ///< The contact entered a named segment (filter.segment).
    segment_left,      ///< The contact left a named segment (filter.segment).
};

/// Name of a trigger as written in definitions. Never fails; thread-safe.
std::string_view to_string(trigger t) noexcept;

/// Narrows a trigger to some events; empty members do not narrow.
struct rule_filter {
    std::optional<text_filter> text; ///< Message triggers: keyword / contains / regex.
    std::string payload;             ///< postback: exact payload.
    std::string form;                ///< form_*: form name.
    std::string item;                ///< order_placed: an item whose folded name equals this.
    std::string tag;                 ///< tag_*: the tag.
    std::optional<lifecycle> to;     ///< lifecycle_changed: the new stage.
    std::string name;                ///< track: event name.
    duration inactive_for{};         ///< inactive: how long without a message (required).
    std::string cause;   ///< message_*: what decided the message starts with this, e.g. "sequence:".
    std::string segment; ///< segment_*: the segment's name.
};

/// One thing a rule does.
struct action {
    /// Action kinds.
    enum class kind { add_tag, remove_tag, set_field, clear_field, add_note, send, start_flow, later };
    kind what = kind::add_tag;     ///< Which action.
    std::string tag;               ///< add_tag / remove_tag.
    std::string field;             ///< set_field / clear_field.
    std::string value;             ///< set_field: the value as text (a mustache template).
    std::string text;              ///< add_note / send: a mustache template over the contact.
    std::string purpose = "reply"; ///< send: reply, transactional or promotional.
    std::string template_name;     ///< send: a platform template (WhatsApp, Zalo ZBS, "request_user_info").
    std::vector<std::string> template_params; ///< send: template parameters (mustache templates).
    std::string channel_tag;                  ///< send: platform message tag, e.g. Messenger "HUMAN_AGENT".
    /// send: channels to try in order ("zalo", "email", "sms", ...): the first where the contact
    /// has an address (an identity; for email and sms the profile's e-mail or phone) and the
    /// channel's policy does not block. Empty: reply where the contact wrote.
    std::vector<std::string> channels;
    std::string flow;         ///< start_flow: the flow to start (replacing any current run).
    duration delay{};         ///< later: how long after the trigger the nested actions run.
    expression unless;        ///< later: skip the nested actions if this holds when they are due.
    std::vector<action> then; ///< later: the actions to run (not themselves delayed).
};

/// Actions on a date: a date field (birthdays) or the first order (anniversaries), every year
/// at a local time, or only on chosen anniversaries.
struct date_trigger {
    std::string name;          ///< Unique name.
    std::string field;         ///< A date field, or "first_order".
    local_clock_time at{9, 0}; ///< Contact-local time of day.
    std::vector<int> years;    ///< Only these anniversaries (1, 2, 3); empty: every year.
    std::vector<action> then;  ///< What to do.
    std::string path;          ///< JSON path, for messages.
};

/// A named, dynamic segment: the contacts for whom `condition` holds. Membership is kept on
/// each contact and updated whenever it changes; entering and leaving raise the
/// segment_entered / segment_left triggers. A condition that reads the clock (days_since_*)
/// is also re-checked every `recheck` without any event.
struct segment_definition {
    std::string name;     ///< Unique name, e.g. "churn risk".
    expression condition; ///< Who belongs.
    duration recheck{};   ///< Re-check period for clock-dependent conditions; 0: only on changes.
    std::string path;     ///< JSON path, for messages.
};

/// A frequency cap across all automations: at most `max` messages of `purpose` per contact in
/// any `per` window. Only promotional messages can be capped (replies and transactional ones
/// are exempt). A send over the cap is deferred, never dropped.
struct frequency_cap {
    std::string purpose = "promotional"; ///< The capped purpose.
    int max = 1;                         ///< Messages allowed per window.
    duration per{};                      ///< The sliding window.
};

/// when EVENT [filter] if CONDITION then ACTIONS.
struct rule {
    std::string name;                         ///< Unique rule name; recorded as the cause of what it does.
    trigger when = trigger::message_received; ///< What starts it.
    rule_filter filter;                       ///< Narrows the trigger.
    expression condition;                     ///< Must hold (after the event is applied); true when absent.
    std::vector<action> actions;              ///< Run in order.
    bool once = false;                        ///< Run at most once per contact.
    std::string path;                         ///< JSON path of the rule, for messages.
};

/// A validated, compiled definitions document. Immutable after loading, so sharing one
/// between threads is safe.
class definitions {
public:
    /// Empty definitions: no tags, fields or rules.
    definitions();

    /// Parses and validates a document. Throws definition_error naming the JSON path for
    /// malformed JSON, unknown keys, wrong types, bad expressions and dangling references
    /// (a rule using an undeclared tag or field). Thread-safe.
    static definitions parse(std::string_view json);

    /// Reads a file and parses it; throws tagflow::error(errc::not_found) when unreadable.
    static definitions load_file(const std::filesystem::path& file);

    /// The schema version of the document.
    [[nodiscard]] int schema_version() const noexcept;
    /// Declared tags, in document order.
    [[nodiscard]] const std::vector<tag_definition>& tags() const noexcept;
    /// Declared custom fields, in document order.
    [[nodiscard]] const std::vector<field_definition>& fields() const noexcept;
    /// Rules, in document order (the order they run in).
    [[nodiscard]] const std::vector<rule>& rules() const noexcept;
    /// The rule named `name`, or nullptr.
    [[nodiscard]] const rule* find_rule(std::string_view name) const noexcept;
    /// Flows, in document order (the order their triggers are tried in).
    [[nodiscard]] const std::vector<flow>& flows() const noexcept;
    /// Frequency caps.
    [[nodiscard]] const std::vector<frequency_cap>& caps() const noexcept;
    /// Named segments, in document order.
    [[nodiscard]] const std::vector<segment_definition>& segments() const noexcept;
    /// The segment named `name`, or nullptr.
    [[nodiscard]] const segment_definition* find_segment(std::string_view name) const noexcept;
    /// Date triggers, in document order.
    [[nodiscard]] const std::vector<date_trigger>& dates() const noexcept;
    /// Sequences, in document order.
    [[nodiscard]] const std::vector<sequence>& sequences() const noexcept;
    /// The flow named `name`, or nullptr.
    [[nodiscard]] const flow* find_flow(std::string_view name) const noexcept;
    /// The declared field named `name`, or nullptr.
    [[nodiscard]] const field_definition* find_field(std::string_view name) const noexcept;
    /// True when `name` is a declared tag.
    [[nodiscard]] bool has_tag(std::string_view name) const noexcept;
    /// The policy profile messages on `channel` follow ($.channels.<channel>.policy: a built-in
    /// profile or one from $.policies), or nullptr when the document names none.
    [[nodiscard]] const policy_profile* channel_policy(std::string_view channel) const noexcept;
    /// Every channel with a policy, by channel name.
    [[nodiscard]] const std::map<std::string, policy_profile, std::less<>>& channel_policies() const noexcept;
    /// The document in canonical form (compact JSON, as given); what the store keeps.
    [[nodiscard]] const std::string& source() const noexcept;

    /// Opaque compiled form; defined in the implementation.
    struct data;

private:
    std::shared_ptr<const data> data_;
};

/// Names of built-in profile fields usable wherever a field is ("name", "phone", "email",
/// "timezone", "locale", "customer_id").
bool is_profile_field(std::string_view name) noexcept;

} // namespace tagflow
