#pragma once
/// \file contact.hpp
/// A contact: one person across channels, with profile, lifecycle, fields, tags, notes and
/// activity. Plain value types with no I/O.

#include <tagflow/time.hpp>
#include <tagflow/value.hpp>

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// Store-assigned contact number; assigned in order of creation, so it is deterministic.
using contact_id = std::int64_t;

/// One way to reach a contact: a channel name ("zalo", "messenger", "web", ...) and the
/// channel's own id for the person.
struct identity {
    std::string channel;     ///< Channel name, lowercase ASCII.
    std::string external_id; ///< The channel's id for this person.

    /// "channel:external_id", the form used in logs and scenario files.
    [[nodiscard]] std::string to_string() const { return channel + ":" + external_id; }
    /// Parses "channel:external_id"; throws tagflow::error(errc::invalid_argument) without ':'.
    static identity parse(std::string_view text);

    friend auto operator<=>(const identity&, const identity&) = default;
};

/// Lifecycle type of a contact; it only moves forward.
enum class lifecycle {
    stranger, ///< No personal information yet.
    lead,     ///< A name plus an e-mail or a phone number are known.
    customer, ///< Linked to the shop's own customer id.
};

/// "stranger", "lead" or "customer". Never fails; thread-safe.
std::string_view to_string(lifecycle stage) noexcept;
/// Parses a lifecycle name; std::nullopt when unknown. Thread-safe.
std::optional<lifecycle> parse_lifecycle(std::string_view name) noexcept;

/// Built-in profile attributes. Phone is E.164, e-mail normalised, time zone an IANA name.
struct profile {
    std::string name;        ///< Display name; empty when unknown.
    std::string phone;       ///< E.164, e.g. "+84912345678"; empty when unknown.
    std::string email;       ///< Lowercased address; empty when unknown.
    std::string time_zone;   ///< IANA zone, e.g. "Asia/Ho_Chi_Minh"; empty means the engine default.
    std::string locale;      ///< BCP 47 tag, e.g. "vi-VN"; empty when unknown.
    std::string customer_id; ///< The shop's own customer id once linked; empty otherwise.

    friend bool operator==(const profile&, const profile&) = default;
};

/// A note written by staff or automation.
struct note {
    std::string author; ///< Who wrote it ("staff:lan", "rule:welcome", ...).
    time_point at;      ///< When it was written.
    std::string text;   ///< UTF-8 text, kept byte for byte.

    friend bool operator==(const note&, const note&) = default;
};

/// Counters from which first-time vs returning is derived.
struct activity {
    std::optional<time_point> first_seen;   ///< First event of any kind.
    std::optional<time_point> last_inbound; ///< Last message, button press or form from the contact.
    std::optional<time_point> last_message; ///< Last message the contact wrote (conversations count these).
    std::optional<time_point> last_order;   ///< Last order placed.
    std::optional<time_point> first_order;  ///< First order placed (anniversaries count from it).
    std::int64_t conversations = 0;         ///< Inbound messages separated by more than the gap.
    std::int64_t orders = 0;                ///< Orders placed.
    double total_spent = 0;                 ///< Sum of order totals, in the shop's currency.
    bool returning = false;                 ///< True once the current conversation is a return.
    std::string last_channel;               ///< Channel of the last inbound message.
    std::string last_product;               ///< First item of the last order, for templates.

    friend bool operator==(const activity&, const activity&) = default;
};

/// What one of the contact's channels allows: the facts channel policies read (policy.hpp).
struct channel_state {
    std::optional<time_point> last_inbound; ///< Last message, button press or form on this channel.
    int replies_since_inbound = 0;          ///< Messages decided on this channel since then.
    std::optional<bool> follower;           ///< Follows the account (Zalo OA); unset when unknown.
    /// When messages went or will go out on this channel, by purpose, within the policy windows.
    std::map<std::string, std::vector<time_point>> sends;

    friend bool operator==(const channel_state&, const channel_state&) = default;
};

/// A custom field value with its declared type.
struct field_value {
    field_type type = field_type::text; ///< Declared type.
    value data;                         ///< Typed content (text, number, bool).

    friend bool operator==(const field_value&, const field_value&) = default;
};

/// Where a contact is in a flow that called another one: the caller and where it resumes.
struct flow_frame {
    std::string flow; ///< The calling flow.
    std::string next; ///< Block to resume at when the called flow ends.
    friend bool operator==(const flow_frame&, const flow_frame&) = default;
};

/// A contact's position in a flow. It stays on the definitions version it started on.
struct flow_run {
    std::string flow;            ///< Current flow.
    std::string block;           ///< Current block.
    std::string waiting;         ///< "reply", "form", "timer", "until", "request", "handoff" or "" (running).
    int retries = 0;             ///< Bad answers so far at an ask block.
    std::int64_t timer = 0;      ///< Pending timer id (delay or timeout), 0 when none.
    std::int64_t request = 0;    ///< Pending external request id, 0 when none.
    int definitions_version = 0; ///< Definitions the run started on.
    std::vector<flow_frame> stack; ///< Callers, innermost last.

    friend bool operator==(const flow_run&, const flow_run&) = default;
};

/// A contact's place in one sequence. Kept after leaving, for the re-entry policy.
struct sequence_state {
    time_point entered;                     ///< When the contact entered (this time).
    int next_step = 0;                      ///< Index of the step to run next.
    std::optional<time_point> last_step_at; ///< When the previous step ran.
    std::int64_t timer = 0;                 ///< Pending timer id, 0 when none.
    int sends = 0;                          ///< Messages sent in this subscription.
    bool active = true;                     ///< A member: still carries the tag / matches the segment.
    bool completed = false;            ///< Nothing left to run (every step ran, or re-entry was ignored).
    std::optional<time_point> left_at; ///< When it last left.

    friend bool operator==(const sequence_state&, const sequence_state&) = default;
};

/// A complete contact record. Ordered containers keep exports deterministic.
struct contact {
    contact_id id = 0;                              ///< Store-assigned id.
    std::vector<identity> identities;               ///< Every way to reach them, sorted.
    tagflow::profile profile;                       ///< Built-in attributes.
    tagflow::lifecycle stage = lifecycle::stranger; ///< Lifecycle type.
    std::map<std::string, field_value> fields;      ///< Custom fields by name.
    std::map<std::string, time_point> tags;         ///< Tag name -> time it was added.
    std::vector<note> notes;                        ///< In the order they were written.
    tagflow::activity activity;                     ///< Counters.
    std::set<std::string> fired_rules;              ///< Rules marked "once" that already ran.
    std::optional<flow_run> run;                    ///< The flow the contact is in, if any.
    /// "flow/block" of the last form sent and not yet completed, even after its wait ended: a
    /// late submission may complete it once (forms with "late_submission": "accept").
    std::string open_form;
    std::map<std::string, sequence_state> sequences; ///< By sequence name.
    /// Date triggers scheduled for this contact: name -> (the date it counts from, timer id).
    std::map<std::string, std::pair<std::string, std::int64_t>> date_timers;
    /// When capped messages (by purpose) went or will go out, within the caps' windows.
    std::map<std::string, std::vector<time_point>> capped_sends;
    /// Named segments the contact is in, with the time it entered each.
    std::map<std::string, time_point> segments;
    /// Per channel name ("zalo", "messenger", ...): windows, reply counts, follower status.
    std::map<std::string, channel_state> channels;
    /// Set by a handoff block: rules and flows skip the contact until then (time_point::max()
    /// means until an automation_resumed event).
    std::optional<time_point> paused_until;

    /// True when the contact carries `tag` (exact UTF-8 match). Thread-safe for readers.
    [[nodiscard]] bool has_tag(std::string_view tag) const;
    /// True when this contact has `id` among its identities.
    [[nodiscard]] bool has_identity(const identity& id) const;
    /// Value of a custom or built-in field ("name", "phone", "email", "timezone", "locale",
    /// "customer_id"); std::monostate when unset.
    [[nodiscard]] value field(std::string_view name) const;

    friend bool operator==(const contact&, const contact&) = default;
};

/// The lifecycle a profile qualifies for (S2): customer when linked, lead when a name and an
/// e-mail or phone are known, else stranger. Pure; thread-safe.
lifecycle qualified_lifecycle(const profile& p) noexcept;

} // namespace tagflow
