#pragma once
/// \file broadcast.hpp
/// Broadcasts: one message to every member of a segment, now or at a set time. Each recipient
/// becomes a `broadcast` input event keyed "broadcast:<name>/<contact id>", processed like any
/// other: the channel's policy (followers, hours, caps, windows) decides per recipient, and the
/// outbox row records the outcome (pending, deferred until, blocked + reason). The keys make
/// sending resumable: after a crash, sending again decides only the recipients not yet done,
/// so no one gets the campaign twice. The dispatcher delivers (and throttles) as usual.

#include <tagflow/engine.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tagflow {

/// What to broadcast, and to whom.
struct broadcast_spec {
    std::string name;                    ///< Unique name; part of every key ("broadcast:<name>/<id>").
    std::string segment;                 ///< A segment declared in the definitions...
    std::string audience;                ///< ...or a condition (the expression language); one of the two.
    std::string text;                    ///< Mustache template over the contact.
    std::string purpose = "promotional"; ///< reply, transactional or promotional.
    std::optional<time_point> at;        ///< Scheduled time; unset: now.
    std::string template_name;           ///< Platform template, if any.
    std::vector<std::string> channels;   ///< Channels to try in order; empty: the contact's last channel.
};

/// One recipient's outcome, planned or decided.
struct broadcast_recipient {
    contact_id contact = 0;                          ///< Who.
    identity to;                                     ///< Where it goes.
    message_status status = message_status::pending; ///< pending, deferred, blocked, ... (what the row says).
    std::optional<time_point> not_before;            ///< When it may go, if later than planned.
    std::string rule;                                ///< Policy rule behind a block, deferral or cost.
    std::string reason;                              ///< Why, in words.
    double cost = 0;                                 ///< Expected price.
    std::string currency;                            ///< Currency of `cost`.
    std::int64_t message_id = 0;                     ///< The outbox row (0 in a plan).
};

/// A plan or the state of a broadcast.
struct broadcast_summary {
    std::string name;                                     ///< The broadcast.
    std::vector<broadcast_recipient> recipients;          ///< Ascending by contact id.
    std::map<std::string, std::size_t> by_status;         ///< Recipients per status name.
    std::map<std::string, std::size_t> blocked_by_reason; ///< Blocked recipients per rule id.
    std::map<std::string, double> cost; ///< Estimated cost per currency (billed messages x price).
    std::size_t already_decided = 0;    ///< In a plan: recipients an earlier send already covered.
};

/// Dry run: what sending `spec` now would decide for each member (policy verdicts, deferrals,
/// costs), writing nothing. Throws tagflow::error(errc::invalid_argument) for a spec without a
/// name or text, with neither or both of segment and audience, or naming an undeclared segment;
/// syntax_error for a bad audience expression. Thread-safe.
[[nodiscard]] broadcast_summary plan_broadcast(engine& e, const broadcast_spec& spec);

/// Decides the broadcast: one outbox row per member, committed `batch` recipients per
/// transaction. Resumable: recipients already decided (by an interrupted earlier call) are
/// skipped. Returns the summary of every row of the broadcast. Fails as plan_broadcast does.
/// Thread-safe.
broadcast_summary send_broadcast(engine& e, const broadcast_spec& spec, std::size_t batch = 1000);

/// The rows of broadcast `name` as they are now (sent, delivered, blocked, ...): the outbox rows
/// with cause `broadcast:<name>` decided by events keyed `broadcast:<name>/<contact id>` (what
/// send_broadcast ingests). Reads only that key range of the outbox. Thread-safe.
[[nodiscard]] broadcast_summary broadcast_status(const engine& e, const std::string& name);

/// Withdraws every row of broadcast `name` (as broadcast_status finds them) that has not gone out
/// (pending or deferred): each becomes `cancelled` through a delivery_update event, committed a
/// thousand at a time. Returns how many. Thread-safe.
std::size_t cancel_broadcast(engine& e, const std::string& name);

} // namespace tagflow
