// The real-time runtime: one thread running an io_context with one steady timer that sleeps until
// the engine's next durable timer. The engine is the only state that matters; everything here is
// scheduling, so a crash at any point loses nothing (timers are in the store).
#include <tagflow/dispatcher.hpp>
#include <tagflow/error.hpp>
#include <tagflow/runtime.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace tagflow {

namespace asio = boost::asio;

namespace {

using steady = std::chrono::steady_clock;

// Set on the timer thread to its runtime, so start() and stop() called from on_error can refuse
// instead of deadlocking on the lifecycle mutex or joining their own thread.
thread_local const void* current_timer_thread_owner = nullptr;

} // namespace

struct runtime::impl {
    engine& eng;
    runtime_options opts;

    // Only the timer thread touches the timer and retry_not_before; other threads reach it by
    // posting to the io_context, so no lock is needed for them.
    asio::io_context io{1};
    asio::steady_timer timer{io};
    steady::time_point retry_not_before{};

    std::atomic<std::size_t> fired{0};
    // True while a wake is queued: a burst of ingests then costs one re-arm, not one per event.
    std::atomic<bool> wake_pending{false};

    // Admission of ingest calls, so stop() can close the door and wait for those inside.
    std::mutex gate_mutex;
    std::condition_variable drained;
    bool accepting = true;
    std::size_t in_flight = 0;

    // start() and stop() run one at a time.
    std::mutex lifecycle_mutex;
    bool started = false;
    bool stopped = false;
    std::thread thread; // last: nothing it uses may be destroyed before it is joined

    impl(engine& e, runtime_options o) : eng(e), opts(std::move(o)) {}

    [[nodiscard]] bool on_timer_thread() const noexcept { return current_timer_thread_owner == this; }

    // Lets one ingest call in, or refuses it once stop() has begun; the destructor lets it out.
    class ticket {
    public:
        explicit ticket(impl& owner) : owner_(owner) {
            std::lock_guard lock(owner_.gate_mutex);
            if (!owner_.accepting) {
                throw error(errc::invalid_argument, "runtime stopped");
            }
            ++owner_.in_flight;
        }
        ~ticket() {
            std::lock_guard lock(owner_.gate_mutex);
            if (--owner_.in_flight == 0) {
                owner_.drained.notify_all();
            }
        }
        ticket(const ticket&) = delete;
        ticket& operator=(const ticket&) = delete;

    private:
        impl& owner_;
    };

    void report(const std::exception& failure) noexcept {
        if (!opts.on_error) {
            return;
        }
        try {
            opts.on_error(failure);
        } catch (...) {
            // The handler is the application's; the timer thread must survive a faulty one.
        }
    }

    // A failing store would otherwise be retried in a tight loop (the due timer stays due).
    void back_off() {
        retry_not_before = steady::now() + std::min(opts.max_sleep, duration(std::chrono::seconds(1)));
    }

    // Runs `step`, turning whatever it throws into a report and a back-off. Returns true when it
    // succeeded.
    template <typename Step>
    bool guarded(Step&& step) noexcept {
        try {
            step();
            return true;
        } catch (const std::exception& failure) {
            report(failure);
        } catch (...) {
            report(std::runtime_error("tagflow::runtime: unknown exception while firing timers"));
        }
        try {
            back_off();
        } catch (...) {
            // steady_clock::now cannot fail in practice; never let this escape a handler.
        }
        return false;
    }

    void fire_due() {
        // The engine's own clock decides what is due, so a virtual clock drives it as well.
        if (guarded([this] {
                fired += eng.advance_to(eng.now());
                if (opts.dispatcher) {
                    opts.dispatcher->dispatch_due(eng.now());
                }
            })) {
            retry_not_before = {};
        }
    }

    // Sleeps until the next timer, at most max_sleep, and not before a pending retry time.
    // Re-arming cancels the previous wait, so exactly one wait is ever outstanding.
    void arm() {
        steady::duration wait = opts.max_sleep;
        if (!guarded([&] {
                auto next = eng.next_timer();
                if (opts.dispatcher) {
                    if (const auto due = opts.dispatcher->next_due(); due && (!next || *due < *next)) {
                        next = due;
                    }
                }
                if (next) {
                    wait = std::clamp<duration>(*next - eng.now(), duration::zero(), opts.max_sleep);
                }
            })) {
            wait = steady::duration::zero(); // the back-off set by the failure decides the retry
        }
        const auto now = steady::now();
        if (retry_not_before > now) {
            wait = std::max(wait, retry_not_before - now);
        }
        timer.expires_after(wait);
        timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec == asio::error::operation_aborted) {
                return; // re-armed meanwhile: the newer wait is the live one
            }
            fire_due();
            arm();
        });
    }

    void wake() {
        if (wake_pending.exchange(true)) {
            return; // one is queued and has not yet read the timers: it will see ours too
        }
        asio::post(io, [this] {
            // Cleared before reading the timers, so a timer written after this read posts again.
            wake_pending = false;
            arm();
        });
    }

    void run() {
        current_timer_thread_owner = this;
        auto work = asio::make_work_guard(io);
        for (;;) {
            try {
                io.run();
                return; // stopped by stop()
            } catch (const std::exception& failure) {
                // Only Asio itself (or memory) can throw here: handlers guard engine calls. The
                // wait may not have been armed, so arm again rather than go quiet.
                report(failure);
            } catch (...) {
                report(std::runtime_error("tagflow::runtime: unknown exception in the timer thread"));
            }
            asio::post(io, [this] { arm(); });
        }
    }
};

runtime::runtime(engine& e, runtime_options opts) {
    if (opts.max_sleep <= std::chrono::milliseconds::zero()) {
        throw error(errc::invalid_argument, "runtime_options.max_sleep must be positive");
    }
    impl_ = std::make_unique<impl>(e, std::move(opts));
}

runtime::~runtime() {
    try {
        stop();
    } catch (...) {
        // Only reachable from the timer thread itself; the joinable thread then terminates, as
        // documented, rather than this destructor throwing.
    }
}

void runtime::start() {
    if (impl_->on_timer_thread()) {
        throw error(errc::invalid_argument, "runtime already started");
    }
    std::lock_guard lock(impl_->lifecycle_mutex);
    if (impl_->stopped) {
        throw error(errc::invalid_argument, "runtime stopped");
    }
    if (impl_->started) {
        throw error(errc::invalid_argument, "runtime already started");
    }
    // Queued before the thread exists, so its first act is to look at what is already due.
    asio::post(impl_->io, [this] { impl_->arm(); });
    impl_->thread = std::thread([this] { impl_->run(); });
    impl_->started = true;
}

ingest_result runtime::ingest(const event& e) {
    const impl::ticket admitted(*impl_);
    auto result = impl_->eng.ingest(e);
    impl_->wake();
    return result;
}

std::vector<ingest_result> runtime::ingest_batch(std::span<const event> events) {
    const impl::ticket admitted(*impl_);
    auto results = impl_->eng.ingest_batch(events);
    impl_->wake();
    return results;
}

void runtime::wake() {
    impl_->wake();
}

void runtime::stop() {
    if (impl_->on_timer_thread()) {
        throw error(errc::invalid_argument, "runtime::stop called from the runtime's own thread");
    }
    std::lock_guard lock(impl_->lifecycle_mutex);
    if (impl_->stopped) {
        return;
    }
    {
        std::unique_lock gate(impl_->gate_mutex);
        impl_->accepting = false;
        impl_->drained.wait(gate, [this] { return impl_->in_flight == 0; });
    }
    impl_->stopped = true;
    if (!impl_->started) {
        return;
    }
    // Runs after any firing in progress; the timers the last ingests scheduled for now go too.
    asio::post(impl_->io, [this] {
        impl_->timer.cancel();
        impl_->fire_due();
        impl_->io.stop();
    });
    impl_->thread.join();
}

std::size_t runtime::fired() const noexcept {
    return impl_->fired.load();
}

} // namespace tagflow
