#pragma once
/// \file dispatcher.hpp
/// Delivers outbox rows through channel adapters. At-least-once: a row stays pending until its
/// result is recorded, so a crash between the platform call and the record re-sends it; the
/// outbox key travels with the request (Idempotency-Key, RequestId) wherever the platform can
/// deduplicate, so a retry never makes a second message there. Every attempt's result is
/// ingested as a delivery_update event keyed "dispatch:<message id>/<attempt>", which keeps the
/// log replayable and lets rules branch on message_sent / message_failed / message_blocked.

#include <tagflow/channel.hpp>
#include <tagflow/engine.hpp>
#include <tagflow/time.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace tagflow {

/// Settings of a dispatcher.
struct dispatch_options {
    int max_attempts = 6;                             ///< Adapter calls before a row is dead-lettered.
    duration base_backoff = std::chrono::seconds(30); ///< Wait after the first temporary failure.
    duration max_backoff = std::chrono::hours(1);     ///< Longest wait between attempts.
    /// Seeds the jitter added to each backoff (up to half of it), so retries of many messages do
    /// not arrive together, yet a run with the same seed waits exactly the same.
    std::uint64_t jitter_seed = 0;
    std::size_t batch = 100; ///< Rows read per pass of dispatch_due().
    /// Waits for the channel rate limits (policy_profile::rate_per_second and
    /// per_recipient_interval). Defaults to sleeping;
    /// tests and simulations pass a function that only records the wait.
    std::function<void(duration)> wait;
};

/// What one dispatch_due() call did.
struct dispatch_report {
    std::size_t sent = 0;          ///< Accepted by the channel.
    std::size_t retried = 0;       ///< Temporary failures, scheduled again.
    std::size_t failed = 0;        ///< Permanent failures.
    std::size_t dead_lettered = 0; ///< Given up after max_attempts.
    std::size_t blocked = 0;       ///< Refused by policy at dispatch, or by the platform's policy.
    std::size_t deferred = 0;      ///< Held by policy until later.
    std::size_t unroutable = 0;    ///< No adapter for the channel: recorded as failed.

    /// Rows acted on.
    [[nodiscard]] std::size_t total() const noexcept {
        return sent + retried + failed + dead_lettered + blocked + deferred + unroutable;
    }
};

/// The delay before attempt `attempt + 1` after `attempt` temporary failures (1-based):
/// base * 2^(attempt-1), capped at max, plus a jitter of up to half of it drawn from a hash of
/// (seed, key, attempt). Pure; thread-safe.
[[nodiscard]] duration retry_delay(const dispatch_options& options, const std::string& key, int attempt);

/// Sends due outbox rows through registered adapters. Thread-safe: calls are serialised, so one
/// row is never sent twice at once; the engine stays usable from other threads meanwhile.
class dispatcher {
public:
    /// A dispatcher over `e`, which must outlive it. Throws tagflow::error(errc::invalid_argument)
    /// for max_attempts < 1 or a negative backoff.
    explicit dispatcher(engine& e, dispatch_options options = {});

    /// Routes messages for adapter->name() through `adapter`, replacing any earlier one.
    /// Throws tagflow::error(errc::invalid_argument) for a null adapter.
    void add_channel(std::shared_ptr<channel> adapter);

    /// The adapter for `channel_name`, or nullptr.
    [[nodiscard]] std::shared_ptr<channel> find_channel(std::string_view channel_name) const;

    /// Delivers every row due at `now` (the engine's clock when unset), in (due, id) order:
    /// checks the channel policy again, calls the adapter, and records each result. Channel
    /// faults never throw; an adapter exception counts as a temporary failure.
    dispatch_report dispatch_due(std::optional<time_point> now = std::nullopt);

    /// When the earliest waiting row is due, if any.
    [[nodiscard]] std::optional<time_point> next_due() const;

private:
    void deliver(const outbound_message& m, time_point now, dispatch_report& report);
    // `attempt`: an adapter's result (keyed by attempt number), not a policy verdict (keyed by time).
    void record(const outbound_message& m, bool attempt, delivery_status status, time_point now,
                std::string error, std::string rule, std::optional<time_point> until,
                std::string external_id);

    engine& engine_;
    dispatch_options options_;
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<channel>, std::less<>> channels_;
    std::map<std::string, time_point, std::less<>> next_slot_;           // per channel, for rate limits
    std::map<std::string, time_point, std::less<>> next_recipient_slot_; // per address, for pair rates
};

} // namespace tagflow
