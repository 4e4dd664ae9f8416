#include <tagflow/dispatcher.hpp>
#include <tagflow/error.hpp>

#include <algorithm>
#include <thread>

namespace tagflow {

namespace {

// FNV-1a then a splitmix finaliser: a stable hash, the same on every platform and run.
std::uint64_t mix(std::uint64_t seed, const std::string& key, int attempt) {
    std::uint64_t h = 1469598103934665603ULL ^ seed;
    for (unsigned char ch : key) {
        h = (h ^ ch) * 1099511628211ULL;
    }
    h ^= static_cast<std::uint64_t>(attempt) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

std::int64_t millis_of(time_point t) {
    return t.time_since_epoch().count();
}

} // namespace

duration retry_delay(const dispatch_options& options, const std::string& key, int attempt) {
    duration delay = options.base_backoff;
    for (int i = 1; i < attempt && delay < options.max_backoff; ++i) {
        delay *= 2;
    }
    delay = std::min(delay, options.max_backoff);
    const auto half = delay.count() / 2;
    const auto jitter = half > 0 ? static_cast<duration::rep>(mix(options.jitter_seed, key, attempt) %
                                                              static_cast<std::uint64_t>(half + 1))
                                 : 0;
    return delay + duration(jitter);
}

dispatcher::dispatcher(engine& e, dispatch_options options) : engine_(e), options_(std::move(options)) {
    if (options_.max_attempts < 1) {
        throw error(errc::invalid_argument, "dispatch_options.max_attempts must be at least 1");
    }
    if (options_.base_backoff < duration{} || options_.max_backoff < duration{}) {
        throw error(errc::invalid_argument, "dispatch_options backoffs must not be negative");
    }
    if (!options_.wait) {
        options_.wait = [](duration d) { std::this_thread::sleep_for(d); };
    }
}

void dispatcher::add_channel(std::shared_ptr<channel> adapter) {
    if (!adapter) {
        throw error(errc::invalid_argument, "dispatcher::add_channel needs an adapter");
    }
    std::lock_guard lock(mutex_);
    channels_[std::string(adapter->name())] = std::move(adapter);
}

std::shared_ptr<channel> dispatcher::find_channel(std::string_view channel_name) const {
    std::lock_guard lock(mutex_);
    const auto it = channels_.find(channel_name);
    return it == channels_.end() ? nullptr : it->second;
}

std::optional<time_point> dispatcher::next_due() const {
    return engine_.next_message_due();
}

dispatch_report dispatcher::dispatch_due(std::optional<time_point> now) {
    std::lock_guard lock(mutex_);
    const time_point at = now.value_or(engine_.now());
    dispatch_report report;
    // Rows recorded in this pass leave the due set (or move later), so reading again from the
    // start walks forward; a pass ends when nothing due is left.
    for (;;) {
        const auto due = engine_.due_messages(at, options_.batch);
        if (due.empty()) {
            break;
        }
        const auto before = report.total();
        for (const auto& m : due) {
            deliver(m, at, report);
        }
        if (report.total() == before) {
            break; // defensive: nothing changed, do not spin
        }
    }
    return report;
}

void dispatcher::record(const outbound_message& m, bool attempt, delivery_status status, time_point now,
                        std::string error_text, std::string rule, std::optional<time_point> until,
                        std::string external_id) {
    auto e = event::delivery_of(m.id, status).at_time(now);
    // One key per attempt (adapter results) or per check time (policy verdicts), so recording
    // the same outcome twice after a crash is a no-op.
    e.key = "dispatch:" + std::to_string(m.id) + "/" +
            (attempt ? "a" + std::to_string(m.attempts + 1) : "p" + std::to_string(millis_of(now)));
    e.error = std::move(error_text);
    e.name = std::move(rule);
    e.until = until;
    e.external_id = std::move(external_id);
    engine_.ingest(e);
}

void dispatcher::deliver(const outbound_message& m, time_point now, dispatch_report& report) {
    const auto it = channels_.find(m.to.channel);
    if (it == channels_.end()) {
        record(m, true, delivery_status::failed, now,
               "no channel adapter configured for \"" + m.to.channel + "\"", "", {}, "");
        ++report.unroutable;
        return;
    }
    channel& adapter = *it->second;

    const auto decision = engine_.check_policy(m, now);
    if (decision.outcome == policy_decision::verdict::block) {
        record(m, false, delivery_status::blocked, now, decision.reason, decision.rule, {}, "");
        ++report.blocked;
        return;
    }
    if (decision.outcome == policy_decision::verdict::defer) {
        record(m, false, delivery_status::deferred, now, decision.reason, decision.rule, decision.until, "");
        ++report.deferred;
        return;
    }

    // Channel rate limit: space sends 1/rate apart; and sends to one recipient at least
    // per_recipient_interval apart (Telegram 1 s per chat, WhatsApp's pair rate). Both wait,
    // really or as the options say, measured on the wall clock: they protect the platform's
    // counters, not the engine's time.
    const auto defs = engine_.current_definitions();
    if (const auto* profile = defs.channel_policy(m.to.channel)) {
        const auto wall = [] {
            return std::chrono::time_point_cast<duration>(std::chrono::system_clock::now());
        };
        auto pace = [&](time_point& slot, duration gap) {
            const auto t = wall();
            if (slot > t) {
                options_.wait(slot - t);
            }
            slot = std::max(slot, t) + gap;
        };
        if (profile->rate_per_second > 0) {
            pace(next_slot_[m.to.channel], std::chrono::duration_cast<duration>(std::chrono::duration<double>(
                                               1.0 / profile->rate_per_second)));
        }
        if (profile->per_recipient_interval > duration{}) {
            auto& slot = next_recipient_slot_[m.to.to_string()];
            pace(slot, profile->per_recipient_interval);
            // Forget recipients whose interval has passed, so the map stays as small as the burst.
            if (next_recipient_slot_.size() > 4096) {
                std::erase_if(next_recipient_slot_, [&](const auto& entry) { return entry.second < wall(); });
            }
        }
    }

    contact recipient;
    try {
        recipient = engine_.get_contact(m.contact);
    } catch (const error&) {
        if (auto found = engine_.find_contact(m.to)) {
            recipient = std::move(*found);
        }
    }

    send_result result;
    try {
        result = adapter.send(m, recipient);
    } catch (const std::exception& ex) {
        result = send_result::fail(send_result::outcome::retry, "exception", ex.what());
    } catch (...) {
        result = send_result::fail(send_result::outcome::retry, "exception", "unknown exception");
    }
    const std::string what = result.error_code.empty()
                                 ? result.detail
                                 : result.error_code + (result.detail.empty() ? "" : ": ") + result.detail;
    switch (result.result) {
    case send_result::outcome::sent:
        record(m, true, delivery_status::sent, now, "", "", {}, result.external_id);
        ++report.sent;
        break;
    case send_result::outcome::retry: {
        const int attempt = m.attempts + 1;
        if (attempt >= options_.max_attempts) {
            record(m, true, delivery_status::dead_letter, now,
                   what + " (gave up after " + std::to_string(attempt) + " attempts)", "", {}, "");
            ++report.dead_lettered;
            break;
        }
        auto wait = retry_delay(options_, m.key, attempt);
        if (result.retry_after && *result.retry_after > wait) {
            wait = *result.retry_after; // the platform said how long; never come back sooner
        }
        record(m, true, delivery_status::retry, now, what, "", now + wait, "");
        ++report.retried;
        break;
    }
    case send_result::outcome::failed:
        record(m, true, delivery_status::failed, now, what, "", {}, "");
        ++report.failed;
        break;
    case send_result::outcome::blocked:
        record(m, true, delivery_status::blocked, now, what, "platform:" + result.error_code, {}, "");
        ++report.blocked;
        break;
    }
}

} // namespace tagflow
