#pragma once
/// \file analytics.hpp
/// Analytics over what an engine holds: per message delivery and conversion, per broadcast, per
/// sequence step, per flow block (funnels), new and returning contacts per local day; exported as
/// aligned text tables, CSV, JSON and a self-contained HTML report. Everything here is a pure
/// read of the engine's outbox, event log, block counters and contacts: nothing is written, and
/// the same engine state gives byte-identical output. See docs/analytics.md for what each number
/// means.

#include <tagflow/engine.hpp>
#include <tagflow/local_time.hpp>
#include <tagflow/time.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

/// Settings of analyze().
struct analytics_options {
    /// IANA zone whose calendar days the daily table counts in.
    std::string time_zone = "Asia/Ho_Chi_Minh";
    /// An order placed at most this long after a message was sent converts it (see analyze()).
    duration conversion_window = std::chrono::hours(24 * 7);
};

/// One outbox row with its delivery stages and conversion.
struct message_stats {
    std::int64_t id = 0;    ///< Outbox id.
    contact_id contact = 0; ///< Recipient, after merges (the contact that survived).
    std::string channel;    ///< Channel it went (or would go) to.
    std::string cause;      ///< What decided it, e.g. "rule:welcome", "broadcast:tet".
    std::string source;     ///< "rule", "flow", "sequence", "broadcast" or "other" (the cause's prefix).
    std::string status;     ///< message_status name now, e.g. "read".
    /// Policy rule of a block or deferral (else its reason in words), or the last error of a
    /// failed row; empty otherwise.
    std::string reason;
    time_point created_at;             ///< When it was decided.
    std::optional<time_point> sent_at; ///< When the channel accepted it.
    bool sent = false;                 ///< The channel accepted it (or a receipt proves it went out).
    bool delivered = false;            ///< A delivered receipt, or a read/clicked one (which imply delivery).
    bool read = false;                 ///< A read receipt.
    bool clicked = false;              ///< A clicked receipt.
    bool converted = false;            ///< At least one order is attributed to it.
    /// Orders attributed to it (it was the last message sent before each, within the window).
    std::int64_t orders = 0;
    /// Totals of those orders per currency ("" when the order named none).
    std::map<std::string, double> revenue;
    double cost = 0;      ///< Price the policy expects, in `currency`.
    std::string currency; ///< Currency of `cost`; empty when free.
};

/// Outcome counts of a group of messages (a broadcast, a sequence step, a cause). Each message
/// counts once in `messages` and once in exactly one of pending, deferred, blocked, failed,
/// cancelled or sent; sent >= delivered >= read.
struct outcome_counts {
    std::int64_t messages = 0;                             ///< Outbox rows.
    std::int64_t recipients = 0;                           ///< Distinct contacts among them.
    std::int64_t sent = 0;                                 ///< Went out (sent, delivered or read now).
    std::int64_t delivered = 0;                            ///< Of those, delivered (or read/clicked).
    std::int64_t read = 0;                                 ///< Of those, read.
    std::int64_t clicked = 0;                              ///< Of those, clicked.
    std::int64_t converted = 0;                            ///< Messages with an attributed order.
    std::int64_t orders = 0;                               ///< Orders attributed to these messages.
    std::int64_t pending = 0;                              ///< Waiting for dispatch.
    std::int64_t deferred = 0;                             ///< Held by a cap or channel policy until later.
    std::int64_t blocked = 0;                              ///< Refused by channel policy (or unreachable).
    std::int64_t failed = 0;                               ///< Refused by the channel, or dead-lettered.
    std::int64_t cancelled = 0;                            ///< Withdrawn before going out.
    std::map<std::string, std::int64_t> blocked_by_reason; ///< Blocked rows per policy rule (or reason).
    std::map<std::string, double> cost;    ///< Expected price of the rows that went out, per currency.
    std::map<std::string, double> revenue; ///< Attributed order totals, per currency.

    /// Adds one message. Never fails; not synchronised (a value type).
    void add(const message_stats& m);
};

/// Outcomes of one broadcast (outbox rows caused by "broadcast:<name>").
struct broadcast_stats {
    std::string name;      ///< The broadcast's name.
    outcome_counts counts; ///< Its rows; `recipients` is the number of contacts it was decided for.
};

/// Outcomes of one message step of a sequence.
struct sequence_step_stats {
    std::string sequence;  ///< Sequence name.
    int step = 0;          ///< 0-based step index in the sequence; -1 when it could not be recovered.
    outcome_counts counts; ///< Messages that step decided.
};

/// Outcomes of every message with the same cause ("rule:welcome", "flow:checkout/thanks", ...).
struct cause_stats {
    std::string cause;     ///< The cause.
    std::string source;    ///< Its prefix: rule, flow, sequence, broadcast or other.
    outcome_counts counts; ///< Its messages.
};

/// One block of a flow funnel.
struct funnel_step {
    std::string flow;           ///< Flow name.
    std::string block;          ///< Block id.
    std::string kind;           ///< Block kind ("send", "form", ...); empty when no longer defined.
    int position = 0;           ///< 1-based place in the flow order (see analyze()).
    std::int64_t entered = 0;   ///< Times a contact entered it.
    std::int64_t waiting = 0;   ///< Contacts waiting there now.
    std::int64_t completed = 0; ///< entered - waiting.
};

/// The funnel of one flow.
struct flow_funnel {
    std::string flow;                ///< Flow name.
    bool defined = true;             ///< False when only the log knows it (removed from the definitions).
    std::vector<funnel_step> blocks; ///< In flow order.
};

/// New and returning contacts of one local day.
struct daily_contacts {
    local_date date;                ///< The day, in analytics_options::time_zone.
    std::int64_t new_contacts = 0;  ///< Contacts whose first conversation started that day.
    std::int64_t returning = 0;     ///< Distinct contacts who started a returning conversation that day.
    std::int64_t conversations = 0; ///< Conversations started that day (first or returning).
};

/// Totals over the whole store.
struct analytics_summary {
    std::int64_t contacts = 0; ///< Live contacts.
    /// Live contacts whose current conversation is a return (activity.returning).
    std::int64_t returning_contacts = 0;
    std::int64_t orders = 0;               ///< order_placed inputs in the log.
    std::int64_t attributed_orders = 0;    ///< Of those, attributed to a message.
    outcome_counts messages;               ///< Every outbox row.
    std::optional<time_point> first_event; ///< Earliest event time in the log.
    std::optional<time_point> last_event;  ///< Latest event time in the log.
};

/// Everything analyze() computes. A plain value: copy it, keep it, render it later.
struct analytics_report {
    std::string time_zone;                           ///< Zone of the daily table.
    duration conversion_window{};                    ///< Attribution window used.
    analytics_summary summary;                       ///< Totals.
    std::vector<message_stats> messages;             ///< Every outbox row, ascending by id.
    std::vector<cause_stats> causes;                 ///< Per cause, ascending by cause.
    std::vector<broadcast_stats> broadcasts;         ///< Per broadcast, ascending by name.
    std::vector<sequence_step_stats> sequence_steps; ///< Per (sequence, step), ascending.
    /// Flows of the definitions in their order, then flows only the log knows.
    std::vector<flow_funnel> flows;
    std::vector<daily_contacts> daily; ///< Days with at least one conversation started, ascending.
};

/// Computes every table from `e`'s outbox, log, block counters, definitions and contacts.
///
/// - Delivery stages come from the outbox row: its status and receipt times.
/// - Conversion: each order_placed input (contact C, time T) is attributed to the one message
///   sent to C (after merges) with sent_at <= T <= sent_at + conversion_window whose sent_at is
///   the latest (ties: the higher id). Orders with no such message are not attributed.
/// - Sequence steps: the step index is taken from the "sequence_step" log row written with the
///   message (same cause event and origin), else from the outbox key ("<name>.step<N>").
/// - Flow order: blocks reachable from the start block by their longest distance from it over
///   their exits (next, branches, else, paths, on_invalid, on_timeout, on_failure; edges looping
///   back are ignored), ties in document order; then unreachable blocks in document order; then
///   blocks only the log knows (from older definitions), by name.
/// - Daily: message_received inputs are replayed in log order per contact (merges applied where
///   logged) with the engine's returning_gap, as the engine counts conversations; a conversation
///   start is "new" when the contact had neither a conversation nor an order before, otherwise
///   "returning". Days are local to options.time_zone.
///
/// Throws tagflow::error(errc::invalid_argument) for an unknown time zone or a negative window,
/// and what the engine's reads throw (errc::store_failure). Thread-safe: only const members of
/// the engine are called, so other threads may ingest meanwhile (the tables then reflect
/// whatever each read saw).
[[nodiscard]] analytics_report analyze(const engine& e, const analytics_options& options = {});

/// Names of the tables to_csv() and format_tables() know, in display order: "summary",
/// "messages", "causes", "broadcasts", "sequence_steps", "flow_blocks", "daily". Thread-safe.
[[nodiscard]] const std::vector<std::string>& analytics_table_names();

/// One table of a report as text cells: what to_csv() writes and format_tables() aligns.
struct analytics_table {
    std::string name;                           ///< One of analytics_table_names().
    std::string title;                          ///< Human title, e.g. "Sequence steps".
    std::vector<std::string> headers;           ///< Column names (CSV header row).
    std::vector<std::vector<std::string>> rows; ///< Cells, one vector per row, as many as headers.
    std::vector<bool> numeric;                  ///< Per column: right-align in text output.
};

/// Builds table `name` (one of analytics_table_names()) of `report`. Money columns hold
/// "<amount> <currency>" entries joined by "; " (just the amount when the currency is empty);
/// booleans are "1"/"0"; times ISO 8601 UTC; sequence steps 1-based. Throws
/// tagflow::error(errc::invalid_argument) for an unknown name. Thread-safe.
[[nodiscard]] analytics_table make_table(const analytics_report& report, std::string_view name);

/// The report as one JSON document (see docs/analytics.md for its shape): keys and rows in a fixed
/// order, times as ISO 8601 UTC, dates as "YYYY-MM-DD". Never fails except std::bad_alloc;
/// thread-safe.
[[nodiscard]] std::string to_json(const analytics_report& report);

/// One table as CSV (RFC 4180: comma separated, CRLF line ends, a header row, fields with a
/// comma, quote, CR or LF quoted with quotes doubled; UTF-8 text kept as is, no BOM). `table` is
/// one of analytics_table_names(); anything else throws tagflow::error(errc::invalid_argument).
/// Thread-safe.
[[nodiscard]] std::string to_csv(const analytics_report& report, std::string_view table);

/// Plain-text tables for a terminal: each table named in `tables` (all when empty) with a title
/// and columns aligned by display width (code points, combining marks counted as zero, so
/// Vietnamese text lines up whether precomposed or not). The messages table is left out unless
/// named, since it has a row per outbox row. Throws tagflow::error(errc::invalid_argument) for an
/// unknown table name. Thread-safe.
[[nodiscard]] std::string format_tables(const analytics_report& report,
                                        const std::vector<std::string>& tables = {});

/// Display width of UTF-8 `text` as format_tables() counts it: code points, with combining marks
/// counted as zero. Invalid bytes count one each. Never fails; thread-safe.
[[nodiscard]] std::size_t display_width(std::string_view text) noexcept;

/// Settings of render_html_report().
struct report_options {
    std::string title = "tagflow report"; ///< Page title and heading.
    /// Free text shown under the heading (e.g. the database's name); empty for none. The report
    /// itself holds no clock reading, so the same data renders byte-identically.
    std::string subtitle;
    /// At most this many rows of the per-message table (the most recent ones); 0 leaves it out.
    std::size_t max_message_rows = 200;
};

/// Renders `report` as one self-contained HTML page: inline CSS, inline SVG charts (a funnel per
/// flow, stacked bars of sequence step outcomes and of broadcast outcomes, new vs returning per
/// day), the tables behind them, and an explicit empty state for every section without data.
/// No scripts, no external fonts, images or style sheets; every piece of text is HTML-escaped;
/// UTF-8 with <meta charset="utf-8">. Never fails except std::bad_alloc; thread-safe.
[[nodiscard]] std::string render_html_report(const analytics_report& report,
                                             const report_options& options = {});

} // namespace tagflow
