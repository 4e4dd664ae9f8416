// The webhook server: Boost.Beast sessions on an io_context with a few threads, and one writer
// thread that group-commits the events of every request waiting at that moment.
#include <tagflow/error.hpp>
#include <tagflow/webhook.hpp>

#include "detail/crypto.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace tagflow {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

enum class platform { zalo, messenger, whatsapp, telegram, generic };

std::optional<platform> platform_of(std::string_view path) {
    static constexpr std::pair<std::string_view, platform> routes[] = {
        {"/webhooks/zalo", platform::zalo},         {"/webhooks/messenger", platform::messenger},
        {"/webhooks/whatsapp", platform::whatsapp}, {"/webhooks/telegram", platform::telegram},
        {"/webhooks/generic", platform::generic},
    };
    if (path.size() > 1 && path.back() == '/') {
        path.remove_suffix(1);
    }
    for (const auto& [p, which] : routes) {
        if (p == path) {
            return which;
        }
    }
    return std::nullopt;
}

// What a request gets back.
struct reply {
    http::status status = http::status::ok;
    std::string body;
    std::string content_type = "application/json";
    std::string allow; // for 405
};

reply json_reply(http::status status, const json::object& body) {
    return {status, json::serialize(body), "application/json", {}};
}

reply error_reply(http::status status, std::string_view message, std::string_view field = {}) {
    json::object o;
    o["error"] = message;
    if (!field.empty()) {
        o["field"] = field;
    }
    return json_reply(status, o);
}

reply ok_reply(const std::vector<ingest_result>& results, bool detailed) {
    json::object o;
    o["ok"] = true;
    o["events"] = results.size();
    std::size_t duplicates = 0;
    json::array list;
    for (const auto& r : results) {
        duplicates += r.duplicate ? 1 : 0;
        if (detailed) {
            list.push_back(
                json::object{{"event_id", r.event_id}, {"contact", r.contact}, {"duplicate", r.duplicate}});
        }
    }
    o["duplicates"] = duplicates;
    if (detailed) {
        o["results"] = std::move(list);
    }
    return json_reply(http::status::ok, o);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::string url_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::map<std::string, std::string> query_of(std::string_view target) {
    std::map<std::string, std::string> out;
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        return out;
    }
    auto rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) {
            out.emplace(url_decode(pair), "");
        } else {
            out.emplace(url_decode(pair.substr(0, eq)), url_decode(pair.substr(eq + 1)));
        }
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    }
    return out;
}

// A request waiting for the writer. `done` runs on the writer thread and must only hand the reply
// over to the connection's own executor.
struct job {
    std::vector<event> events;
    bool detailed = false;
    std::function<void(reply)> done;
};

} // namespace

struct webhook_server::impl {
    class session;

    webhook_settings settings;
    webhook_sink sink;
    engine* target = nullptr; // set when built on an engine: declared fields are looked up there

    std::vector<std::thread> io_threads;
    std::atomic<std::uint16_t> bound_port{0};

    std::mutex state_mutex; // start/stop
    bool started = false;
    bool stopped = false;

    // Sessions, so stop() can close the idle ones; guarded by sessions_mutex.
    std::mutex sessions_mutex;
    std::condition_variable sessions_gone;
    std::map<session*, std::weak_ptr<session>> sessions;
    std::size_t live_sessions = 0;
    std::atomic<bool> stopping{false};

    // The writer's queue.
    std::mutex queue_mutex;
    std::condition_variable queue_ready;
    std::deque<std::shared_ptr<job>> queue;
    bool writer_stop = false;
    std::thread writer;

    // Declared last so they go first: handlers still queued in the io_context own sessions, whose
    // destructors use the members above.
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    tcp::acceptor acceptor{io};

    impl(webhook_settings s, webhook_sink k) : settings(std::move(s)), sink(std::move(k)) {
        if (settings.threads == 0 || settings.max_body == 0 || settings.max_batch == 0) {
            throw error(errc::invalid_argument,
                        "webhook_settings: threads, max_body and max_batch must be positive");
        }
        if (!sink) {
            throw error(errc::invalid_argument, "webhook_server needs a sink");
        }
    }

    [[nodiscard]] time_point now() const {
        return settings.clock ? settings.clock()
                              : std::chrono::time_point_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now());
    }

    [[nodiscard]] bool enabled(platform p) const {
        if (settings.allow_unsigned) {
            return true;
        }
        switch (p) {
        case platform::zalo:
            return !settings.zalo.oa_secret.empty();
        case platform::messenger:
            return !settings.messenger.app_secret.empty();
        case platform::whatsapp:
            return !settings.whatsapp.app_secret.empty();
        case platform::telegram:
            return !settings.telegram.secret_token.empty();
        case platform::generic:
            return !settings.generic.secret.empty();
        }
        return false;
    }

    // ---- the writer ---------------------------------------------------------------------------------

    void submit(std::shared_ptr<job> j) {
        {
            std::lock_guard lock(queue_mutex);
            queue.push_back(std::move(j));
        }
        queue_ready.notify_one();
    }

    // No batching delay: the writer takes whatever is queued the moment it is free, so a lone
    // request is committed at once and concurrent ones share the next transaction.
    void write_loop() {
        std::vector<std::shared_ptr<job>> jobs;
        for (;;) {
            jobs.clear();
            {
                std::unique_lock lock(queue_mutex);
                queue_ready.wait(lock, [&] { return writer_stop || !queue.empty(); });
                if (queue.empty()) {
                    return; // writer_stop and nothing left
                }
                std::size_t events = 0;
                while (!queue.empty() &&
                       (jobs.empty() || events + queue.front()->events.size() <= settings.max_batch)) {
                    events += queue.front()->events.size();
                    jobs.push_back(std::move(queue.front()));
                    queue.pop_front();
                }
            }
            commit(jobs);
        }
    }

    void commit(const std::vector<std::shared_ptr<job>>& jobs) {
        if (jobs.size() == 1) {
            commit_one(*jobs.front());
            return;
        }
        std::vector<event> all;
        for (const auto& j : jobs) {
            all.insert(all.end(), j->events.begin(), j->events.end());
        }
        std::vector<ingest_result> results;
        try {
            results = sink(all);
        } catch (...) {
            // One request's bad event refuses the whole transaction; redo them one request at a
            // time so only that request fails.
            for (const auto& j : jobs) {
                commit_one(*j);
            }
            return;
        }
        if (results.size() != all.size()) {
            for (const auto& j : jobs) {
                j->done(error_reply(http::status::internal_server_error,
                                    "the sink returned the wrong number of results"));
            }
            return;
        }
        auto from = results.begin();
        for (const auto& j : jobs) {
            const auto n = static_cast<std::ptrdiff_t>(j->events.size());
            j->done(ok_reply(std::vector<ingest_result>(from, from + n), j->detailed));
            from += n;
        }
    }

    void commit_one(job& j) {
        reply r;
        try {
            auto results = sink(j.events);
            r = results.size() == j.events.size()
                    ? ok_reply(results, j.detailed)
                    : error_reply(http::status::internal_server_error,
                                  "the sink returned the wrong number of results");
        } catch (const event_error& e) {
            r = error_reply(http::status::bad_request, e.what(), e.field());
        } catch (const std::exception& e) {
            r = error_reply(http::status::internal_server_error, e.what());
        } catch (...) {
            r = error_reply(http::status::internal_server_error, "the sink failed");
        }
        j.done(std::move(r));
    }

    // ---- handling one request ------------------------------------------------------------------------

    // Platforms cannot fix a form answer carrying a field the shop never declared; dropping the
    // field keeps the rest (name, phone) instead of refusing the event and provoking retries.
    void drop_undeclared_fields(std::vector<event>& events) const {
        if (!target) {
            return;
        }
        std::optional<definitions> defs;
        for (auto& e : events) {
            for (auto it = e.profile.fields.begin(); it != e.profile.fields.end();) {
                if (!defs) {
                    defs = target->current_definitions();
                }
                it = defs->find_field(it->first) ? std::next(it) : e.profile.fields.erase(it);
            }
        }
    }

    // Returns a reply now, or nullopt when the request went to the writer, which calls `later`.
    std::optional<reply> handle(const http::request<http::string_body>& req,
                                std::function<void(reply)> later) {
        const std::string_view target_text(req.target().data(), req.target().size());
        const auto path = target_text.substr(0, target_text.find('?'));
        if (path == "/healthz") {
            if (req.method() != http::verb::get) {
                auto r = error_reply(http::status::method_not_allowed, "method not allowed");
                r.allow = "GET";
                return r;
            }
            return json_reply(http::status::ok, json::object{{"status", "ok"}});
        }
        const auto which = platform_of(path);
        if (!which || !enabled(*which)) {
            return error_reply(http::status::not_found, "no such endpoint");
        }
        const bool meta = *which == platform::messenger || *which == platform::whatsapp;
        if (req.method() == http::verb::get && meta) {
            return verify_subscription(*which, target_text);
        }
        if (req.method() != http::verb::post) {
            auto r = error_reply(http::status::method_not_allowed, "method not allowed");
            r.allow = meta ? "GET, POST" : "POST";
            return r;
        }
        const auto& body = req.body();
        if (!signature_ok(*which, req)) {
            return error_reply(http::status::forbidden, "bad signature");
        }
        std::vector<event> events;
        try {
            switch (*which) {
            case platform::zalo:
                events = parse_zalo_webhook(body);
                break;
            case platform::messenger:
                events = parse_messenger_webhook(body);
                break;
            case platform::whatsapp:
                events = parse_whatsapp_webhook(body);
                break;
            case platform::telegram:
                events = parse_telegram_webhook(body);
                break;
            case platform::generic:
                events = parse_generic_webhook(body);
                break;
            }
        } catch (const event_error& e) {
            return error_reply(http::status::bad_request, e.what(), e.field());
        }
        if (*which == platform::zalo && settings.zalo.max_age) {
            const auto t = now();
            for (const auto& e : events) {
                if (e.at && (*e.at < t - *settings.zalo.max_age || *e.at > t + *settings.zalo.max_age)) {
                    return error_reply(http::status::forbidden, "timestamp outside the accepted window");
                }
            }
        }
        if (*which != platform::generic) {
            try {
                drop_undeclared_fields(events);
            } catch (const std::exception& e) {
                return error_reply(http::status::internal_server_error, e.what());
            }
        }
        if (events.empty()) {
            return ok_reply({}, *which == platform::generic);
        }
        auto j = std::make_shared<job>();
        j->events = std::move(events);
        j->detailed = *which == platform::generic;
        j->done = std::move(later);
        submit(std::move(j));
        return std::nullopt;
    }

    [[nodiscard]] bool signature_ok(platform which, const http::request<http::string_body>& req) const {
        const auto header = [&](std::string_view name) {
            const auto it = req.find(name);
            return it == req.end() ? std::string_view{}
                                   : std::string_view(it->value().data(), it->value().size());
        };
        const auto& body = req.body();
        switch (which) {
        case platform::zalo:
            return settings.zalo.oa_secret.empty() ||
                   verify_zalo_signature(settings.zalo.app_id, settings.zalo.oa_secret, body,
                                         header("X-ZEvent-Signature"));
        case platform::messenger:
            return settings.messenger.app_secret.empty() ||
                   verify_meta_signature(settings.messenger.app_secret, body, header("X-Hub-Signature-256"));
        case platform::whatsapp:
            return settings.whatsapp.app_secret.empty() ||
                   verify_meta_signature(settings.whatsapp.app_secret, body, header("X-Hub-Signature-256"));
        case platform::telegram:
            return settings.telegram.secret_token.empty() ||
                   verify_telegram_secret(settings.telegram.secret_token,
                                          header("X-Telegram-Bot-Api-Secret-Token"));
        case platform::generic:
            return settings.generic.secret.empty() ||
                   verify_generic_signature(settings.generic.secret, body, header("X-Tagflow-Signature"),
                                            header("X-Tagflow-Timestamp"), now(), settings.generic.tolerance);
        }
        return false;
    }

    [[nodiscard]] reply verify_subscription(platform which, std::string_view target_text) const {
        const auto& token =
            which == platform::messenger ? settings.messenger.verify_token : settings.whatsapp.verify_token;
        const auto q = query_of(target_text);
        const auto get = [&](const char* key) {
            const auto it = q.find(key);
            return it == q.end() ? std::string{} : it->second;
        };
        const auto challenge = get("hub.challenge");
        if (token.empty() || get("hub.mode") != "subscribe" || challenge.empty() ||
            !detail::constant_time_equal(token, get("hub.verify_token"))) {
            return error_reply(http::status::forbidden, "verification refused");
        }
        return {http::status::ok, challenge, "text/plain", {}};
    }

    // ---- connections ---------------------------------------------------------------------------------

    class session : public std::enable_shared_from_this<session> {
    public:
        session(impl& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}
        ~session() {
            std::lock_guard lock(server_.sessions_mutex);
            server_.sessions.erase(this);
            if (--server_.live_sessions == 0) {
                server_.sessions_gone.notify_all();
            }
        }

        void start() {
            asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
        }

        // Runs on the session's strand: an idle connection is closed now, a busy one after its reply.
        void stop() {
            asio::post(stream_.get_executor(), [self = shared_from_this()] {
                if (!self->busy_) {
                    self->close();
                }
            });
        }

    private:
        void read_header() {
            if (server_.stopping) {
                close();
                return;
            }
            busy_ = false;
            parser_.emplace();
            parser_->header_limit(16 * 1024);
            parser_->body_limit(server_.settings.max_body);
            stream_.expires_after(server_.settings.idle_timeout);
            http::async_read_header(
                stream_, buffer_, *parser_,
                [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
        }

        void on_header(beast::error_code ec) {
            // The parser refuses a Content-Length over body_limit while it reads the header.
            const bool too_large =
                ec == http::error::body_limit ||
                (!ec && parser_->content_length() && *parser_->content_length() > server_.settings.max_body);
            if (ec && !too_large) {
                close();
                return;
            }
            busy_ = true;
            if (too_large) {
                // Refused before a byte of the body is read; the connection cannot be reused
                // because the body would still be in the way.
                respond(
                    error_reply(http::status::payload_too_large,
                                "body larger than " + std::to_string(server_.settings.max_body) + " bytes"),
                    false);
                return;
            }
            const auto& expect = parser_->get()[http::field::expect];
            if (beast::iequals(expect, "100-continue")) {
                static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
                asio::async_write(stream_, asio::buffer(go_on.data(), go_on.size()),
                                  [self = shared_from_this()](beast::error_code wec, std::size_t) {
                                      if (wec) {
                                          self->close();
                                          return;
                                      }
                                      self->read_body();
                                  });
                return;
            }
            read_body();
        }

        void read_body() {
            http::async_read(
                stream_, buffer_, *parser_,
                [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
        }

        void on_body(beast::error_code ec) {
            if (ec == http::error::body_limit) {
                respond(
                    error_reply(http::status::payload_too_large,
                                "body larger than " + std::to_string(server_.settings.max_body) + " bytes"),
                    false);
                return;
            }
            if (ec) {
                close();
                return;
            }
            request_ = parser_->release();
            keep_alive_ = request_.keep_alive();
            std::optional<reply> now;
            try {
                now = server_.handle(request_, [self = shared_from_this()](reply r) {
                    asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
                        self->respond(std::move(r), self->keep_alive_);
                    });
                });
            } catch (const std::exception& e) {
                now = error_reply(http::status::internal_server_error, e.what());
            }
            if (now) {
                respond(std::move(*now), keep_alive_);
            }
        }

        void respond(reply r, bool keep_alive) {
            response_.emplace(r.status, 11);
            response_->set(http::field::server, "tagflow");
            response_->set(http::field::content_type, r.content_type);
            if (!r.allow.empty()) {
                response_->set(http::field::allow, r.allow);
            }
            response_->body() = std::move(r.body);
            response_->keep_alive(keep_alive && !server_.stopping);
            response_->prepare_payload();
            stream_.expires_after(std::chrono::seconds(30));
            http::async_write(
                stream_, *response_,
                [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_written(ec); });
        }

        void on_written(beast::error_code ec) {
            const bool again = !ec && response_->keep_alive();
            response_.reset();
            if (!again) {
                beast::error_code ignored;
                stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                linger();
                return;
            }
            read_header();
        }

        // Closing with unread bytes (the rest of a refused body) makes the kernel send a reset,
        // which can destroy the answer before the client reads it; so read and discard what the
        // client still sends, for a short while, before closing.
        void linger() {
            if (!lingering_) {
                lingering_ = true;
                stream_.expires_after(std::chrono::seconds(1));
            }
            if (drained_ > 8 * server_.settings.max_body) {
                close();
                return;
            }
            stream_.async_read_some(asio::buffer(drain_),
                                    [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                        self->drained_ += n;
                                        if (ec) {
                                            self->close();
                                            return;
                                        }
                                        self->linger();
                                    });
        }

        void close() {
            busy_ = false;
            beast::error_code ignored;
            stream_.socket().close(ignored);
        }

        impl& server_;
        beast::tcp_stream stream_;
        beast::flat_buffer buffer_;
        std::optional<http::request_parser<http::string_body>> parser_;
        http::request<http::string_body> request_;
        std::optional<http::response<http::string_body>> response_;
        bool keep_alive_ = true;
        bool busy_ = false;
        std::array<char, 16 * 1024> drain_{};
        std::size_t drained_ = 0;
        bool lingering_ = false;
    };

    void accept() {
        acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
                return;
            }
            if (!ec) {
                std::shared_ptr<session> s;
                {
                    std::lock_guard lock(sessions_mutex);
                    if (!stopping) {
                        s = std::make_shared<session>(*this, std::move(socket));
                        ++live_sessions;
                        sessions.emplace(s.get(), s);
                    }
                }
                if (s) {
                    s->start();
                }
            }
            accept();
        });
    }
};

webhook_server::webhook_server(engine& e, webhook_settings settings)
    : impl_(std::make_unique<impl>(std::move(settings),
                                   [&e](std::span<const event> events) { return e.ingest_batch(events); })) {
    impl_->target = &e;
}

webhook_server::webhook_server(engine& e, webhook_sink sink, webhook_settings settings)
    : impl_(std::make_unique<impl>(std::move(settings), std::move(sink))) {
    impl_->target = &e;
}

webhook_server::webhook_server(webhook_sink sink, webhook_settings settings)
    : impl_(std::make_unique<impl>(std::move(settings), std::move(sink))) {}

webhook_server::~webhook_server() {
    stop();
}

void webhook_server::start() {
    std::lock_guard lock(impl_->state_mutex);
    if (impl_->started) {
        throw error(errc::invalid_argument, "webhook_server already started");
    }
    auto& s = *impl_;
    beast::error_code ec;
    const auto address = asio::ip::make_address(s.settings.address, ec);
    if (ec) {
        throw error(errc::invalid_argument,
                    "webhook_server: bad address \"" + s.settings.address + "\": " + ec.message());
    }
    const tcp::endpoint endpoint(address, s.settings.port);
    const auto fail = [&](const char* what) {
        beast::error_code ignored;
        s.acceptor.close(ignored);
        throw error(errc::invalid_argument, std::string("webhook_server: cannot ") + what + " " +
                                                s.settings.address + ":" + std::to_string(s.settings.port) +
                                                ": " + ec.message());
    };
    if (s.acceptor.open(endpoint.protocol(), ec)) {
        fail("open");
    }
    if (s.acceptor.set_option(asio::socket_base::reuse_address(true), ec)) {
        fail("configure");
    }
    if (s.acceptor.bind(endpoint, ec)) {
        fail("bind");
    }
    if (s.acceptor.listen(asio::socket_base::max_listen_connections, ec)) {
        fail("listen on");
    }
    s.bound_port = s.acceptor.local_endpoint(ec).port();
    s.started = true;
    s.work.emplace(s.io.get_executor());
    s.writer = std::thread([&s] { s.write_loop(); });
    s.accept();
    for (std::size_t i = 0; i < s.settings.threads; ++i) {
        s.io_threads.emplace_back([&s] { s.io.run(); });
    }
}

void webhook_server::stop() noexcept {
    try {
        std::lock_guard lock(impl_->state_mutex);
        auto& s = *impl_;
        if (!s.started || s.stopped) {
            s.stopped = true;
            return;
        }
        s.stopped = true;
        std::vector<std::shared_ptr<impl::session>> open;
        {
            std::lock_guard sessions_lock(s.sessions_mutex);
            s.stopping = true;
            for (auto& [ptr, weak] : s.sessions) {
                if (auto strong = weak.lock()) {
                    open.push_back(std::move(strong));
                }
            }
        }
        asio::post(s.io, [&s] {
            beast::error_code ignored;
            s.acceptor.close(ignored);
        });
        for (auto& session : open) {
            session->stop();
        }
        open.clear();
        {
            std::unique_lock sessions_lock(s.sessions_mutex);
            if (!s.sessions_gone.wait_for(sessions_lock, s.settings.shutdown_timeout,
                                          [&] { return s.live_sessions == 0; })) {
                s.io.stop(); // cut what is still busy
            }
        }
        s.work.reset();
        for (auto& t : s.io_threads) {
            t.join();
        }
        s.io_threads.clear();
        {
            std::lock_guard queue_lock(s.queue_mutex);
            s.writer_stop = true;
        }
        s.queue_ready.notify_one();
        s.writer.join();
    } catch (...) {
        // Joining can only fail on a broken thread library; nothing sensible is left to do.
    }
}

std::uint16_t webhook_server::port() const noexcept {
    return impl_->bound_port;
}

} // namespace tagflow
