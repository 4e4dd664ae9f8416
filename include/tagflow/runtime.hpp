#pragma once
/// \file runtime.hpp
/// The real-time driver: a background thread that fires an engine's durable timers when they
/// fall due on the engine's clock, while callers ingest events from any thread. The engine stays
/// a deterministic state machine; the runtime only decides *when* to call engine::advance_to.
/// See docs/runtime.md.

#include <tagflow/engine.hpp>
#include <tagflow/event.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace tagflow {

class dispatcher;

/// Settings of a runtime.
struct runtime_options {
    /// The longest the timer thread sleeps before it looks at engine::next_timer() again, even
    /// when no timer is due sooner. It bounds how late a timer fires when the engine's clock jumps
    /// (system clock adjustments, a virtual clock moved by hand) or when timers were written by
    /// someone who did not wake the runtime. Must be positive. After a failure the thread also
    /// waits min(max_sleep, 1 s) before it retries.
    std::chrono::milliseconds max_sleep = std::chrono::seconds(60);
    /// Called on the timer thread when engine::advance_to (or next_timer / the clock) throws.
    /// The runtime keeps going either way; an exception thrown by the handler itself is ignored.
    /// Empty (the default): failures are ignored and retried.
    std::function<void(const std::exception&)> on_error;
    /// When set, the timer thread also delivers due outbox rows through it after firing timers,
    /// and wakes when the next row is due (retries, deferrals). Adapter calls then run on the
    /// timer thread. The dispatcher must outlive the runtime.
    tagflow::dispatcher* dispatcher = nullptr;
};

/// Drives an engine in real time on one background thread (Boost.Asio, a single steady timer):
/// sleeps until the engine's next timer is due, fires what is due with
/// engine::advance_to(engine::now()), and re-arms. Events go straight to the engine from the
/// caller's thread, so results and errors come back synchronously, and then the timer thread is
/// woken so a newly scheduled earlier timer is honoured.
///
/// Thread-safety: every member may be called from any thread, except that start(), stop() and
/// the destructor must not be called from `on_error` (the timer thread). The engine must outlive
/// the runtime. Several runtimes on one engine are allowed but pointless.
class runtime {
public:
    /// Binds a runtime to `e`; no thread is started yet. Throws
    /// tagflow::error(errc::invalid_argument) when `opts.max_sleep` is not positive.
    explicit runtime(engine& e, runtime_options opts = {});
    /// Calls stop() and never throws. Destroying a runtime from its own timer thread (inside
    /// on_error) cannot join that thread and terminates the program, as std::thread would.
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;
    runtime(runtime&&) = delete;
    runtime& operator=(runtime&&) = delete;

    /// Starts the timer thread, which at once fires whatever is already due. Throws
    /// tagflow::error(errc::invalid_argument) when the runtime was already started or stopped
    /// (a runtime runs once), and std::system_error when the thread cannot be created (the
    /// runtime may then be started again). Thread-safe.
    void start();

    /// Ingests one event through engine::ingest on the calling thread, then wakes the timer
    /// thread. The event is durable when this returns. Allowed before start() (timers then wait
    /// for it). Throws what engine::ingest throws (event_error for an invalid event, nothing
    /// written), and tagflow::error(errc::invalid_argument, "runtime stopped") once stop() has
    /// begun. Thread-safe; calls are serialised by the engine.
    ingest_result ingest(const event& e);
    /// Ingests a batch through engine::ingest_batch (one transaction) on the calling thread, then
    /// wakes the timer thread. Fails as engine::ingest_batch does (nothing of the batch written),
    /// and like ingest() once stop() has begun. Thread-safe.
    std::vector<ingest_result> ingest_batch(std::span<const event> events);

    /// Asks the timer thread to look at the engine's timers now, for callers that write through
    /// the engine directly (engine::ingest, load_definitions, perform_requests). Returns at once;
    /// repeated wakes before the thread gets to them count as one. Does nothing useful before
    /// start() (the thread looks anyway when it starts) or after stop(). Never fails; thread-safe.
    void wake();

    /// Graceful shutdown: refuses new ingest calls ("runtime stopped"), waits until the ones in
    /// flight have returned (they are committed), fires the timers due at that moment one last
    /// time on the timer thread, and joins it. A runtime never started only refuses new calls
    /// (it fires nothing). Idempotent; concurrent callers all return once it is done. Throws
    /// tagflow::error(errc::invalid_argument) when called from on_error (the timer thread).
    /// Thread-safe.
    void stop();

    /// How many timers the runtime has fired so far (the sum of advance_to results). A count is
    /// added when advance_to returns, so it may trail the outbox by a moment while timers are
    /// being fired. Never fails; thread-safe.
    [[nodiscard]] std::size_t fired() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace tagflow
