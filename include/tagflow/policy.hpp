#pragma once
/// \file policy.hpp
/// Channel messaging policy as data. Platforms change their rules (Zalo's 2026 pricing,
/// Messenger retiring message tags), so a policy is a named profile of rules, each with
/// optional effective dates, evaluated by one small interpreter. The engine evaluates the
/// profile of a message's channel when it decides the send, and the dispatcher again just before
/// the adapter call. Built-in profiles: zalo-2024, zalo-2026, zalo, messenger, whatsapp,
/// telegram, email, sms-vn-ads (see docs/channels/).

#include <tagflow/contact.hpp>
#include <tagflow/time.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// One rule of a policy profile. Which members matter depends on `what`.
struct policy_rule {
    /// Rule kinds, checked in this order: block rules, then deferrals, then cost.
    enum class kind {
        retired_tag,      ///< Block messages carrying one of `tags` (from effective_from on).
        requires_inbound, ///< Block until the contact has written on the channel (Telegram).
        followers_only,   ///< Block unless the contact follows the account (Zalo promotions).
        window,           ///< Block once `within` has passed since the last inbound message; human
                          ///< replies may go until `human_within`, templates always when
                          ///< `templates_exempt`.
        hours,            ///< Defer to the next opening of a daily clock window (`open`-`close`).
        limit,            ///< Defer while `max` messages already went within `per`.
        reply_cost,       ///< Free until `within` after the last inbound (the first
                          ///< `free_per_inbound` only, when set), else billed `price`.
        price,            ///< Every message is billed `price` (template and promotional prices).
        label,            ///< Prefix the text with `label` (Vietnamese advertising SMS "[QC] ").
        unsubscribe,      ///< Messages must carry a one-click unsubscribe header (RFC 8058).
    };
    kind what = kind::window;                  ///< Which rule.
    std::string id;                            ///< Names the rule in decisions, e.g. "messenger.window_24h".
    std::string reason;                        ///< Why it blocks or defers, in words.
    std::vector<std::string> purposes;         ///< Purposes it applies to; empty means all.
    std::optional<time_point> effective_from;  ///< Applies from this instant on; unset: always did.
    std::optional<time_point> effective_until; ///< Applies before this instant only; unset: still does.
    duration within{};             ///< window, reply_cost: measured from the last inbound message.
    duration human_within{};       ///< window: longer limit for human-written replies (0: none).
    bool templates_exempt = false; ///< window: approved templates may go outside it.
    int free_per_inbound = 0;      ///< reply_cost: free replies per inbound message (0: unlimited).
    double price = 0;              ///< reply_cost, price: price of a billed message.
    int max = 0;                   ///< limit: messages allowed per `per`.
    duration per{};                ///< limit: the rolling period.
    std::string open;              ///< hours: "HH:MM" the window opens.
    std::string close;             ///< hours: "HH:MM" it closes (exclusive).
    std::string zone;              ///< hours: fixed IANA zone; empty means the contact's.
    std::vector<std::string> tags; ///< retired_tag: the refused tags.
    std::string label;             ///< label: text put before the message.

    friend bool operator==(const policy_rule&, const policy_rule&) = default;
};

/// A named set of rules for one channel.
struct policy_profile {
    std::string name;                  ///< e.g. "zalo-2026".
    std::string channel;               ///< The channel it is meant for, e.g. "zalo" (informative).
    std::string currency;              ///< Currency of reply_cost prices, e.g. "VND".
    double rate_per_second = 0;        ///< Dispatch rate for the whole channel; 0: no limit.
    duration per_recipient_interval{}; ///< Minimum gap between two sends to one contact; 0: none.
    std::vector<policy_rule> rules;    ///< In the order they were written.

    friend bool operator==(const policy_profile&, const policy_profile&) = default;
};

/// Everything a profile looks at for one send.
struct send_context {
    time_point now;                        ///< When the send is decided or dispatched.
    std::string purpose = "reply";         ///< reply, transactional or promotional.
    const channel_state* state = nullptr;  ///< The contact on this channel; null when never seen there.
    std::string zone = "Asia/Ho_Chi_Minh"; ///< The contact's IANA zone.
    std::string channel_tag;               ///< Platform message tag, if any.
    bool by_human = false;                 ///< Written by staff.
    bool is_template = false;              ///< A pre-approved platform template.
    /// True at dispatch: counting rules (limit, reply_cost) were applied when the send was
    /// decided and already count this message, so only the time-dependent rules run again.
    bool at_dispatch = false;
};

/// What a profile says about one send.
struct policy_decision {
    /// The verdict.
    enum class verdict { allow, defer, block };
    verdict outcome = verdict::allow; ///< allow, defer or block.
    double cost = 0;                  ///< allow: expected price.
    std::string currency;             ///< allow: currency of cost (empty when free).
    std::optional<time_point> until;  ///< defer: when it may go.
    std::string rule;                 ///< The deciding rule's id (for a cost, the billing rule).
    std::string reason;               ///< block/defer: why, in words.
    std::string text_prefix;          ///< A label to put before the text.
    bool needs_unsubscribe = false;   ///< The message must carry a one-click unsubscribe header.
};

/// "allow", "defer" or "block". Never fails; thread-safe.
std::string_view to_string(policy_decision::verdict v) noexcept;

/// Evaluates `profile` for one send. Pure and deterministic; thread-safe. Throws
/// tagflow::error(errc::invalid_argument) when an hours rule meets an unknown zone.
[[nodiscard]] policy_decision evaluate(const policy_profile& profile, const send_context& context);

/// A built-in profile by name, or nullptr when there is none. Thread-safe.
[[nodiscard]] const policy_profile* builtin_policy(std::string_view name) noexcept;

/// Names of the built-in profiles, sorted. Thread-safe.
[[nodiscard]] std::vector<std::string> builtin_policy_names();

/// Parses a profile from JSON such as
/// {"channel":"zalo","currency":"VND","rules":[{"kind":"window","id":"zalo.window_7d","within":"7d"}]}.
/// Rule keys: kind, id, reason, purposes, effective_from, effective_until (RFC 3339), within,
/// human_within, per ("90s", "2h", "7d"), templates_exempt, free_per_inbound, price, max, open,
/// close, zone, tags, label. Throws definition_error naming the JSON path under `path` (the
/// profile is called `name`). Thread-safe.
[[nodiscard]] policy_profile parse_policy_profile(std::string_view json_text, std::string name,
                                                  const std::string& path = "$");

} // namespace tagflow
