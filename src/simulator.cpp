#include <tagflow/analytics.hpp>
#include <tagflow/broadcast.hpp>
#include <tagflow/channel.hpp>
#include <tagflow/dispatcher.hpp>
#include <tagflow/engine.hpp>
#include <tagflow/error.hpp>
#include <tagflow/memory_store.hpp>
#include <tagflow/simulator.hpp>

#include "detail/codec.hpp"

#include <boost/json.hpp>
#include <date/tz.h>
#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>

namespace tagflow {

namespace json = boost::json;

namespace {

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw error(errc::not_found, "cannot read " + file.string());
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

void allow(const json::object& o, const std::string& path, std::initializer_list<std::string_view> keys) {
    for (const auto& [k, v] : o) {
        if (std::find(keys.begin(), keys.end(), std::string_view(k)) == keys.end()) {
            std::string list;
            for (auto key : keys) {
                list += list.empty() ? "" : ", ";
                list += key;
            }
            throw definition_error(path + "." + std::string(k), "unknown key; expected one of: " + list);
        }
    }
}

const json::object& object_at(const json::value& v, const std::string& path) {
    if (!v.is_object()) {
        throw definition_error(path, "expected an object");
    }
    return v.get_object();
}

std::string string_at(const json::value& v, const std::string& path) {
    if (!v.is_string()) {
        throw definition_error(path, "expected a string");
    }
    return std::string(v.get_string());
}

std::string show(const value& v) {
    if (std::holds_alternative<std::monostate>(v)) {
        return "(unset)";
    }
    return "\"" + to_text(v) + "\"";
}

// Stands in for a channel during a simulation: accepts everything and remembers the calls, so
// a scenario can assert what reached the adapter (as opposed to what was decided).
class recording_channel final : public channel {
public:
    struct call {
        std::int64_t message = 0;
        std::string to;
        std::string text;
    };

    explicit recording_channel(std::string name, std::vector<call>& calls)
        : name_(std::move(name)), calls_(calls) {}
    std::string_view name() const noexcept override { return name_; }
    const channel_capabilities& capabilities() const noexcept override { return caps_; }
    std::string_view default_policy() const noexcept override { return ""; }
    send_result send(const outbound_message& m, const contact&) override {
        calls_.push_back({m.id, m.to.to_string(), m.text});
        return send_result::ok(name_ + "-" + std::to_string(m.id));
    }

private:
    std::string name_;
    channel_capabilities caps_;
    std::vector<call>& calls_;
};

class runner {
public:
    runner(const json::object& doc, const std::filesystem::path& base, std::unique_ptr<store> backing)
        : doc_(doc) {
        allow(doc, "$",
              {"name", "description", "timezone", "start", "definitions", "definitions_file", "options",
               "steps"});
        result_.name = doc.contains("name") ? string_at(doc.at("name"), "$.name") : std::string("scenario");
        const std::string tz = doc.contains("timezone") ? string_at(doc.at("timezone"), "$.timezone")
                                                        : std::string("Asia/Ho_Chi_Minh");
        try {
            zone_ = date::locate_zone(tz);
        } catch (const std::exception&) {
            throw definition_error("$.timezone", "\"" + tz + "\" is not an IANA time zone");
        }
        const std::string start =
            doc.contains("start") ? string_at(doc.at("start"), "$.start") : "2026-01-05";
        try {
            start_day_ =
                std::chrono::floor<std::chrono::days>(parse_time(start + "T00:00Z")).time_since_epoch();
        } catch (const error&) {
            throw definition_error("$.start", "expected a date YYYY-MM-DD, got \"" + start + "\"");
        }
        now_ = to_sys(start_day_, std::chrono::minutes{0});

        engine_options options;
        options.clock = [this] { return now_; };
        if (const auto* o = doc.if_contains("options")) {
            const auto& opts = object_at(*o, "$.options");
            allow(opts, "$.options", {"returning_gap_hours", "max_cascade_depth", "dispatch"});
            if (const auto* gap = opts.if_contains("returning_gap_hours"); gap && gap->is_number()) {
                options.returning_gap = std::chrono::duration_cast<duration>(
                    std::chrono::duration<double, std::ratio<3600>>(gap->to_number<double>()));
            }
            if (const auto* depth = opts.if_contains("max_cascade_depth"); depth && depth->is_int64()) {
                options.max_cascade_depth = static_cast<int>(depth->get_int64());
            }
        }
        engine_ = std::make_unique<engine>(backing ? std::move(backing) : make_memory_store(), options);
        if (const auto* o = doc.if_contains("options")) {
            if (const auto* channels = o->as_object().if_contains("dispatch")) {
                if (!channels->is_array()) {
                    throw definition_error("$.options.dispatch", "expected an array of channel names");
                }
                dispatch_options dopts;
                dopts.wait = [](duration) {}; // virtual time: rate limits do not hold a simulation up
                dispatcher_ = std::make_unique<dispatcher>(*engine_, dopts);
                for (std::size_t i = 0; i < channels->get_array().size(); ++i) {
                    const auto name =
                        string_at(channels->get_array()[i], "$.options.dispatch[" + std::to_string(i) + "]");
                    dispatcher_->add_channel(std::make_shared<recording_channel>(name, calls_));
                }
            }
        }

        std::string defs_text;
        if (const auto* d = doc.if_contains("definitions")) {
            defs_text = json::serialize(*d);
        } else if (const auto* f = doc.if_contains("definitions_file")) {
            defs_text = read_file(base / string_at(*f, "$.definitions_file"));
        } else {
            throw definition_error("$.definitions", "required (or definitions_file)");
        }
        try {
            engine_->load_definitions(defs_text);
        } catch (const definition_error& e) {
            // Point into the scenario document so the path leads to the right place.
            throw definition_error("$.definitions" + e.path().substr(1),
                                   std::string(e.what()).substr(e.path().size() + 2));
        }
        line(fmt::format("scenario: {}", result_.name));
    }

    simulation_result run() {
        const auto* steps = doc_.if_contains("steps");
        if (!steps || !steps->is_array()) {
            throw definition_error("$.steps", "required; expected an array of steps");
        }
        const auto& list = steps->get_array();
        for (std::size_t i = 0; i < list.size(); ++i) {
            step(list[i], "$.steps[" + std::to_string(i) + "]");
            ++result_.steps;
        }
        line(fmt::format("{}: {} steps, {} checks, {} failed", result_.passed ? "PASSED" : "FAILED",
                         result_.steps, result_.checks, result_.failures.size()));
        return std::move(result_);
    }

private:
    time_point to_sys(std::chrono::days day, std::chrono::minutes minutes,
                      std::chrono::seconds seconds = {}) const {
        const date::local_time<std::chrono::seconds> local{day + minutes + seconds};
        const auto sys = zone_->to_sys(local, date::choose::earliest);
        return std::chrono::time_point_cast<std::chrono::milliseconds>(sys);
    }

    time_point parse_at(const std::string& text, const std::string& path) const {
        if (!text.empty() && text[0] == 'D') {
            int day = 0;
            int hour = 0;
            int minute = 0;
            int second = 0;
            int used = 0;
            int n = std::sscanf(text.c_str(), "D%d %d:%d%n", &day, &hour, &minute, &used);
            if (n == 3 && static_cast<std::size_t>(used) < text.size()) {
                n = std::sscanf(text.c_str(), "D%d %d:%d:%d%n", &day, &hour, &minute, &second, &used);
            }
            if ((n == 3 || n == 4) && static_cast<std::size_t>(used) == text.size() && day >= 0 &&
                hour >= 0 && hour < 24 && minute >= 0 && minute < 60 && second >= 0 && second < 60) {
                return to_sys(start_day_ + std::chrono::days{day}, std::chrono::minutes{hour * 60 + minute},
                              std::chrono::seconds{second});
            }
            throw definition_error(path, "expected \"D<n> HH:MM[:SS]\" or an ISO time, got \"" + text + "\"");
        }
        try {
            return parse_time(text);
        } catch (const error& e) {
            throw definition_error(path, e.what());
        }
    }

    std::string label(time_point t) const {
        const auto local = zone_->to_local(t);
        const auto day = std::chrono::floor<std::chrono::days>(local.time_since_epoch());
        const auto in_day = std::chrono::floor<std::chrono::seconds>(local.time_since_epoch() - day);
        const std::chrono::hh_mm_ss hms{in_day};
        return fmt::format("D{} {:02}:{:02}", (day - start_day_).count(), hms.hours().count(),
                           hms.minutes().count());
    }

    void line(const std::string& text) {
        result_.transcript += text;
        result_.transcript += '\n';
    }

    void fail(const std::string& path, const std::string& what) {
        result_.passed = false;
        result_.failures.push_back(path + ": " + what);
        line("  FAIL " + path + ": " + what);
    }

    void step(const json::value& v, const std::string& path) {
        const auto& s = object_at(v, path);
        allow(s, path, {"at", "event", "refused", "broadcast", "expect", "note"});
        if (const auto* at = s.if_contains("at")) {
            const auto t = parse_at(string_at(*at, path + ".at"), path + ".at");
            if (t < now_) {
                throw definition_error(path + ".at",
                                       "time goes backwards (" + label(t) + " after " + label(now_) + ")");
            }
            now_ = t;
        }
        if (const auto* n = s.if_contains("note")) {
            line(fmt::format("{}  # {}", label(now_), string_at(*n, path + ".note")));
        }
        // Timers due by now fire first, in order, as they would have in real time: the virtual
        // clock steps to each due time, so nothing looks late.
        const auto log_before = last_log_id();
        const auto target = now_;
        std::size_t fired = 0;
        for (auto next = engine_->next_timer(); next && *next <= target; next = engine_->next_timer()) {
            now_ = *next;
            dispatch(); // what was due before this timer goes out first
            fired += engine_->advance_to(now_);
            dispatch();
        }
        now_ = target;
        dispatch();
        if (fired > 0) {
            for (const auto& r : engine_->event_log(log_before)) {
                if (r.kind == "tag_added" || r.kind == "tag_removed") {
                    const auto tag = json::parse(r.body).as_object().at("tag").as_string();
                    line(fmt::format("{}  {} #{} {} tag {} ({})", label(r.at), "   ", r.contact,
                                     r.kind == "tag_added" ? "+" : "-", std::string(tag), r.origin));
                }
            }
            print_new_messages();
        }
        if (const auto* e = s.if_contains("event")) {
            ingest(*e, s.if_contains("refused"), path);
        } else if (s.contains("refused")) {
            throw definition_error(path + ".refused", "only meaningful with an event");
        }
        if (const auto* b = s.if_contains("broadcast")) {
            run_broadcast(object_at(*b, path + ".broadcast"), path + ".broadcast");
        }
        dispatch();
        if (const auto* x = s.if_contains("expect")) {
            expect(object_at(*x, path + ".expect"), path + ".expect");
        }
    }

    // plan / send / cancel a broadcast; the summary is kept for a "broadcast" expectation.
    void run_broadcast(const json::object& b, const std::string& path) {
        allow(b, path, {"action", "name", "segment", "audience", "text", "purpose", "at", "channels"});
        const auto action =
            b.contains("action") ? string_at(b.at("action"), path + ".action") : std::string("send");
        broadcast_spec spec;
        spec.name = b.contains("name") ? string_at(b.at("name"), path + ".name") : std::string();
        if (const auto* v = b.if_contains("segment")) {
            spec.segment = string_at(*v, path + ".segment");
        }
        if (const auto* v = b.if_contains("audience")) {
            spec.audience = string_at(*v, path + ".audience");
        }
        if (const auto* v = b.if_contains("text")) {
            spec.text = string_at(*v, path + ".text");
        }
        if (const auto* v = b.if_contains("purpose")) {
            spec.purpose = string_at(*v, path + ".purpose");
        }
        if (const auto* v = b.if_contains("at")) {
            spec.at = parse_at(string_at(*v, path + ".at"), path + ".at");
        }
        if (const auto* v = b.if_contains("channels")) {
            if (!v->is_array()) {
                throw definition_error(path + ".channels", "expected an array of channel names");
            }
            for (std::size_t i = 0; i < v->get_array().size(); ++i) {
                spec.channels.push_back(
                    string_at(v->get_array()[i], fmt::format("{}.channels[{}]", path, i)));
            }
        }
        try {
            if (action == "plan") {
                broadcast_ = plan_broadcast(*engine_, spec);
            } else if (action == "send") {
                broadcast_ = send_broadcast(*engine_, spec);
            } else if (action == "cancel") {
                cancel_broadcast(*engine_, spec.name);
                broadcast_ = broadcast_status(*engine_, spec.name);
            } else if (action == "status") {
                broadcast_ = broadcast_status(*engine_, spec.name);
            } else {
                throw definition_error(path + ".action", "expected plan, send, status or cancel");
            }
        } catch (const definition_error&) {
            throw;
        } catch (const error& e) {
            throw definition_error(path, e.what());
        }
        std::string statuses;
        for (const auto& [st, n] : broadcast_->by_status) {
            statuses += fmt::format(" {} {}", n, st);
        }
        std::string costs;
        for (const auto& [cur, amount] : broadcast_->cost) {
            costs += fmt::format(" cost {} {}", amount, cur);
        }
        line(fmt::format("{}  broadcast {} {}:{}{}", label(now_), action, spec.name, statuses, costs));
        print_new_messages();
    }

    // {"2026-01-05": {"new": 1, "returning": 0}}: analytics' new and returning contacts per day,
    // in the scenario's time zone. Days not named are not checked.
    void expect_daily(const json::object& x, const std::string& path) {
        ++result_.checks;
        analytics_options options;
        options.time_zone = std::string(zone_->name());
        const auto report = analyze(*engine_, options);
        for (const auto& [day, want] : x) {
            const auto p = path + "." + std::string(day);
            const auto& w = object_at(want, p);
            allow(w, p, {"new", "returning"});
            std::int64_t have_new = 0, have_returning = 0;
            for (const auto& d : report.daily) {
                if (fmt::format("{:04}-{:02}-{:02}", d.date.year, d.date.month, d.date.day) == day) {
                    have_new = d.new_contacts;
                    have_returning = d.returning;
                }
            }
            auto check = [&](const char* key, std::int64_t have) {
                if (const auto* v = w.if_contains(key); v && (!v->is_int64() || v->get_int64() != have)) {
                    fail(p + "." + key, fmt::format("is {}, expected {}", have, json::serialize(*v)));
                }
            };
            check("new", have_new);
            check("returning", have_returning);
        }
    }

    void expect_broadcast(const json::object& x, const std::string& path) {
        allow(x, path, {"status", "cost", "blocked", "already_decided"});
        if (!broadcast_) {
            throw definition_error(path, "needs an earlier step with \"broadcast\"");
        }
        ++result_.checks;
        auto counts = [&](const char* key, const std::map<std::string, std::size_t>& have) {
            if (const auto* want = x.if_contains(key)) {
                std::map<std::string, std::size_t> w;
                for (const auto& [k, v] : object_at(*want, path + "." + key)) {
                    w[std::string(k)] = v.is_int64() ? static_cast<std::size_t>(v.get_int64()) : 0;
                }
                if (w != have) {
                    std::string got;
                    for (const auto& [k, n] : have) {
                        got += fmt::format("{}{}: {}", got.empty() ? "" : ", ", k, n);
                    }
                    fail(path + "." + key,
                         fmt::format("is {{{}}}, expected {}", got, json::serialize(*want)));
                }
            }
        };
        counts("status", broadcast_->by_status);
        counts("blocked", broadcast_->blocked_by_reason);
        if (const auto* want = x.if_contains("cost")) {
            for (const auto& [cur, v] : object_at(*want, path + ".cost")) {
                const auto it = broadcast_->cost.find(std::string(cur));
                const double have = it == broadcast_->cost.end() ? 0 : it->second;
                if (!v.is_number() || v.to_number<double>() != have) {
                    fail(path + ".cost." + std::string(cur),
                         fmt::format("is {}, expected {}", have, json::serialize(v)));
                }
            }
        }
        if (const auto* want = x.if_contains("already_decided");
            want && (!want->is_int64() ||
                     static_cast<std::size_t>(want->get_int64()) != broadcast_->already_decided)) {
            fail(path + ".already_decided",
                 fmt::format("is {}, expected {}", broadcast_->already_decided, json::serialize(*want)));
        }
    }

    // With options.dispatch, messages due by the clock go through the recording adapters, so a
    // scenario sees the dispatch-time policy check too. Rows not yet due wait for a later step.
    void dispatch() {
        if (!dispatcher_) {
            return;
        }
        print_new_messages(); // decided before delivered, in the transcript too
        const auto before = calls_.size();
        const auto log_before = log_seen_;
        dispatcher_->dispatch_due(now_);
        for (std::size_t i = before; i < calls_.size(); ++i) {
            line(fmt::format("{}  => {}: {}", label(now_), calls_[i].to, calls_[i].text));
        }
        for (const auto& r : engine_->event_log(log_before)) {
            log_seen_ = std::max(log_seen_, r.id);
        }
    }

    void ingest(const json::value& ev, const json::value* refused, const std::string& path) {
        auto obj = object_at(ev, path + ".event");
        if (!obj.contains("at")) {
            obj["at"] = format_time(now_);
        }
        event e;
        try {
            e = event_from_json(json::serialize(obj));
        } catch (const event_error& err) {
            throw definition_error(path + ".event" + (err.field().empty() ? "" : "." + err.field()),
                                   err.what());
        }
        const std::string who = e.contact ? "#" + std::to_string(*e.contact) : e.identity.to_string();
        std::string detail;
        if (!e.text.empty()) {
            detail = " \"" + e.text + "\"";
        } else if (!e.payload.empty()) {
            detail = " " + e.payload;
        } else if (!e.form.empty()) {
            detail = " " + e.form;
        } else if (!e.tag.empty()) {
            detail = " " + e.tag;
        }
        line(fmt::format("{}  -> {} {}{}", label(*e.at), who, to_string(e.kind), detail));
        try {
            auto r = engine_->ingest(e);
            if (refused) {
                fail(path, "expected the event to be refused (" + json::serialize(*refused) +
                               ") but it was accepted");
            }
            if (r.duplicate) {
                line("           duplicate key: no-op, first outcome returned");
                return;
            }
            for (const auto& t : r.tags_added) {
                line("           + tag " + t);
            }
            for (const auto& t : r.tags_removed) {
                line("           - tag " + t);
            }
            if (r.lifecycle_now) {
                line("           type -> " + std::string(to_string(*r.lifecycle_now)));
            }
            for (auto m : r.merged) {
                line("           merged contact #" + std::to_string(m));
            }
        } catch (const event_error& err) {
            if (!refused) {
                fail(path, std::string("event refused: ") + err.what());
            } else {
                ++result_.checks;
                const auto want = string_at(*refused, path + ".refused");
                if (err.field() != want) {
                    fail(path + ".refused", "refused on \"" + err.field() + "\", expected \"" + want + "\"");
                }
                line(std::string("           refused: ") + err.what());
            }
        }
        print_new_messages();
    }

    // The newest log row id, read incrementally so long scenarios stay linear.
    std::int64_t last_log_id() {
        const auto rows = engine_->event_log(log_seen_);
        if (!rows.empty()) {
            log_seen_ = rows.back().id;
        }
        return log_seen_;
    }

    void print_new_messages() {
        for (const auto& m : engine_->outbox(seen_messages_)) {
            std::string extra;
            if (!m.form.empty()) {
                extra = " [form: " + m.form + "]";
            }
            for (const auto& q : m.quick_replies) {
                extra += " [" + q + "]";
            }
            for (const auto& b : m.buttons) {
                extra += " [" + b.title + " -> " + b.payload + "]";
            }
            if (m.status == message_status::blocked) {
                extra += " [blocked: " + m.policy_rule + "]";
            } else if (m.status == message_status::deferred && m.not_before) {
                extra += " [deferred until " + label(*m.not_before) + "]";
            }
            if (m.cost > 0) {
                extra += fmt::format(" [cost {} {}]", m.cost, m.currency);
            }
            line(fmt::format("{}  <- {}: {}{}", label(m.created_at), m.to.to_string(), m.text, extra));
            seen_messages_ = m.id;
        }
    }

    void expect(const json::object& x, const std::string& path) {
        allow(x, path,
              {"contact", "type", "tags", "has_tags", "lacks_tags", "fields", "profile", "identities",
               "notes", "activity", "contacts", "sent", "delivered", "adapter_calls", "broadcast", "daily"});
        if (const auto* n = x.if_contains("contacts")) {
            ++result_.checks;
            const auto want = n->is_int64() ? n->get_int64() : -1;
            const auto have = static_cast<std::int64_t>(engine_->contacts().size());
            if (have != want) {
                fail(path + ".contacts", fmt::format("{} contacts, expected {}", have, json::serialize(*n)));
            }
        }
        if (const auto* sent = x.if_contains("sent")) {
            expect_sent(*sent, path + ".sent");
        }
        if (const auto* delivered = x.if_contains("delivered")) {
            expect_delivered(*delivered, path + ".delivered");
        }
        if (const auto* b = x.if_contains("broadcast")) {
            expect_broadcast(object_at(*b, path + ".broadcast"), path + ".broadcast");
        }
        if (const auto* d = x.if_contains("daily")) {
            expect_daily(object_at(*d, path + ".daily"), path + ".daily");
        }
        if (const auto* calls = x.if_contains("adapter_calls")) {
            expect_adapter_calls(object_at(*calls, path + ".adapter_calls"), path + ".adapter_calls");
        }
        const auto* who = x.if_contains("contact");
        if (!who) {
            for (auto key : {"type", "tags", "has_tags", "lacks_tags", "fields", "profile", "identities",
                             "notes", "activity"}) {
                if (x.contains(key)) {
                    throw definition_error(path + "." + key, "needs \"contact\" to say whose");
                }
            }
            return;
        }
        const auto id_text = string_at(*who, path + ".contact");
        identity id;
        try {
            id = identity::parse(id_text);
        } catch (const error&) {
            throw definition_error(path + ".contact",
                                   "expected \"channel:external_id\", got \"" + id_text + "\"");
        }
        ++result_.checks;
        const auto c = engine_->find_contact(id);
        if (!c) {
            fail(path + ".contact", "no contact " + id_text);
            return;
        }
        if (const auto* t = x.if_contains("type")) {
            const auto want = string_at(*t, path + ".type");
            if (to_string(c->stage) != want) {
                fail(path + ".type",
                     fmt::format("{} is {}, expected {}", id_text, to_string(c->stage), want));
            }
        }
        auto tag_list = [&](const char* key) {
            std::set<std::string> out;
            const auto& arr = x.at(key);
            if (!arr.is_array()) {
                throw definition_error(path + "." + key, "expected an array of tag names");
            }
            for (std::size_t i = 0; i < arr.get_array().size(); ++i) {
                out.insert(string_at(arr.get_array()[i], fmt::format("{}.{}[{}]", path, key, i)));
            }
            return out;
        };
        std::set<std::string> have;
        for (const auto& [tag, at] : c->tags) {
            have.insert(tag);
        }
        auto joined = [](const std::set<std::string>& s) {
            std::string out;
            for (const auto& t : s) {
                out += out.empty() ? "" : ", ";
                out += t;
            }
            return "{" + out + "}";
        };
        if (x.contains("tags")) {
            if (const auto want = tag_list("tags"); want != have) {
                fail(path + ".tags",
                     fmt::format("{} has tags {}, expected {}", id_text, joined(have), joined(want)));
            }
        }
        if (x.contains("has_tags")) {
            for (const auto& t : tag_list("has_tags")) {
                if (have.count(t) == 0) {
                    fail(path + ".has_tags", fmt::format("{} lacks tag {}", id_text, t));
                }
            }
        }
        if (x.contains("lacks_tags")) {
            for (const auto& t : tag_list("lacks_tags")) {
                if (have.count(t) != 0) {
                    fail(path + ".lacks_tags", fmt::format("{} has tag {}", id_text, t));
                }
            }
        }
        auto compare_fields = [&](const char* key) {
            for (const auto& [name, want] : object_at(x.at(key), path + "." + key)) {
                const auto got = c->field(name);
                const auto want_text = detail::scalar_text(want);
                if (want.is_null() ? !std::holds_alternative<std::monostate>(got)
                                   : to_text(got) != want_text) {
                    fail(fmt::format("{}.{}.{}", path, key, std::string(name)),
                         fmt::format("{} is {}, expected {}", std::string(name), show(got),
                                     json::serialize(want)));
                }
            }
        };
        if (x.contains("fields")) {
            compare_fields("fields");
        }
        if (x.contains("profile")) {
            compare_fields("profile");
        }
        if (const auto* ids = x.if_contains("identities")) {
            std::set<std::string> want;
            for (const auto& i : ids->as_array()) {
                want.insert(std::string(i.as_string()));
            }
            std::set<std::string> got;
            for (const auto& i : c->identities) {
                got.insert(i.to_string());
            }
            if (want != got) {
                fail(path + ".identities",
                     fmt::format("{} has {}, expected {}", id_text, joined(got), joined(want)));
            }
        }
        if (const auto* notes = x.if_contains("notes")) {
            std::vector<std::string> got;
            for (const auto& n : c->notes) {
                got.push_back(n.text);
            }
            std::vector<std::string> want;
            for (const auto& n : notes->as_array()) {
                want.emplace_back(n.as_string());
            }
            if (got != want) {
                auto list = [](const std::vector<std::string>& v) {
                    std::string out;
                    for (const auto& t : v) {
                        out += out.empty() ? "\"" : ", \"";
                        out += t + "\"";
                    }
                    return "[" + out + "]";
                };
                fail(path + ".notes",
                     fmt::format("{} has notes {}, expected {}", id_text, list(got), list(want)));
            }
        }
        if (const auto* act = x.if_contains("activity")) {
            const auto full = detail::contact_to_json(*c).at("activity").as_object();
            for (const auto& [name, want] : object_at(*act, path + ".activity")) {
                const auto* got = full.if_contains(name);
                if (!got) {
                    throw definition_error(path + ".activity." + std::string(name),
                                           "unknown activity counter");
                }
                const bool same = (got->is_number() && want.is_number())
                                      ? got->to_number<double>() == want.to_number<double>()
                                      : *got == want;
                if (!same) {
                    fail(path + ".activity." + std::string(name),
                         fmt::format("is {}, expected {}", json::serialize(*got), json::serialize(want)));
                }
            }
        }
    }

    // Checks the messages decided since the previous "sent" expectation, in order.
    void expect_sent(const json::value& v, const std::string& path) {
        if (!v.is_array()) {
            throw definition_error(path, "expected an array of {\"to\", \"text\"}");
        }
        ++result_.checks;
        const auto got = engine_->outbox(checked_messages_);
        const auto& want = v.get_array();
        for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
            const auto p = fmt::format("{}[{}]", path, i);
            if (i >= want.size()) {
                fail(p, fmt::format("unexpected message to {}: \"{}\"", got[i].to.to_string(), got[i].text));
                continue;
            }
            const auto& w = object_at(want[i], p);
            allow(w, p, {"to", "text", "purpose", "status", "reason", "cost"});
            if (i >= got.size()) {
                fail(p, "missing message " + json::serialize(w));
                continue;
            }
            if (const auto* to = w.if_contains("to");
                to && string_at(*to, p + ".to") != got[i].to.to_string()) {
                fail(p + ".to",
                     fmt::format("sent to {}, expected {}", got[i].to.to_string(), json::serialize(*to)));
            }
            if (const auto* text = w.if_contains("text");
                text && string_at(*text, p + ".text") != got[i].text) {
                fail(p + ".text",
                     fmt::format("text \"{}\", expected {}", got[i].text, json::serialize(*text)));
            }
            if (const auto* pur = w.if_contains("purpose");
                pur && string_at(*pur, p + ".purpose") != got[i].purpose) {
                fail(p + ".purpose",
                     fmt::format("purpose {}, expected {}", got[i].purpose, json::serialize(*pur)));
            }
            // Status and reason are as decided: the status column of the outbox when checked.
            if (const auto* st = w.if_contains("status");
                st && string_at(*st, p + ".status") != to_string(got[i].status)) {
                fail(p + ".status",
                     fmt::format("status {}, expected {}", to_string(got[i].status), json::serialize(*st)));
            }
            if (const auto* why = w.if_contains("reason");
                why && got[i].reason.find(string_at(*why, p + ".reason")) == std::string::npos) {
                fail(p + ".reason",
                     fmt::format("reason \"{}\" does not contain {}", got[i].reason, json::serialize(*why)));
            }
            if (const auto* cost = w.if_contains("cost")) {
                if (!cost->is_number()) {
                    throw definition_error(p + ".cost", "expected a number");
                }
                if (cost->to_number<double>() != got[i].cost) {
                    fail(p + ".cost",
                         fmt::format("cost {}, expected {}", got[i].cost, json::serialize(*cost)));
                }
            }
        }
        if (!got.empty()) {
            checked_messages_ = got.back().id;
        }
    }

    // Checks the adapter calls made since the previous "delivered" expectation, in order.
    void expect_delivered(const json::value& v, const std::string& path) {
        if (!v.is_array()) {
            throw definition_error(path, "expected an array of {\"to\", \"text\"}");
        }
        if (!dispatcher_) {
            throw definition_error(path, "needs \"options\": {\"dispatch\": [channel names]}");
        }
        ++result_.checks;
        const auto& want = v.get_array();
        const std::size_t have = calls_.size() - checked_calls_;
        for (std::size_t i = 0; i < std::max(have, want.size()); ++i) {
            const auto p = fmt::format("{}[{}]", path, i);
            if (i >= want.size()) {
                const auto& c = calls_[checked_calls_ + i];
                fail(p, fmt::format("unexpected adapter call to {}: \"{}\"", c.to, c.text));
                continue;
            }
            const auto& w = object_at(want[i], p);
            allow(w, p, {"to", "text"});
            if (i >= have) {
                fail(p, "missing adapter call " + json::serialize(w));
                continue;
            }
            const auto& c = calls_[checked_calls_ + i];
            if (const auto* to = w.if_contains("to"); to && string_at(*to, p + ".to") != c.to) {
                fail(p + ".to", fmt::format("delivered to {}, expected {}", c.to, json::serialize(*to)));
            }
            if (const auto* text = w.if_contains("text"); text && string_at(*text, p + ".text") != c.text) {
                fail(p + ".text", fmt::format("text \"{}\", expected {}", c.text, json::serialize(*text)));
            }
        }
        checked_calls_ = calls_.size();
    }

    // Counts every adapter call to one address since the start of the run.
    void expect_adapter_calls(const json::object& x, const std::string& path) {
        allow(x, path, {"to", "count"});
        if (!dispatcher_) {
            throw definition_error(path, "needs \"options\": {\"dispatch\": [channel names]}");
        }
        const auto* to = x.if_contains("to");
        const auto* count = x.if_contains("count");
        if (!to || !count || !count->is_int64()) {
            throw definition_error(path, "expected {\"to\": \"channel:id\", \"count\": N}");
        }
        ++result_.checks;
        const auto address = string_at(*to, path + ".to");
        const auto have =
            std::count_if(calls_.begin(), calls_.end(), [&](const auto& c) { return c.to == address; });
        if (have != count->get_int64()) {
            fail(path + ".count",
                 fmt::format("{} adapter calls to {}, expected {}", have, address, count->get_int64()));
        }
    }

    const json::object& doc_;
    std::vector<recording_channel::call> calls_;
    std::size_t checked_calls_ = 0;
    std::unique_ptr<dispatcher> dispatcher_;
    std::optional<broadcast_summary> broadcast_;
    const date::time_zone* zone_ = nullptr;
    std::chrono::days start_day_{};
    time_point now_{};
    std::unique_ptr<engine> engine_;
    std::int64_t seen_messages_ = 0;
    std::int64_t checked_messages_ = 0;
    std::int64_t log_seen_ = 0;
    simulation_result result_;
};

} // namespace

simulation_result run_scenario(std::string_view text, const std::filesystem::path& base_dir,
                               std::unique_ptr<store> backing) {
    boost::system::error_code ec;
    auto doc = json::parse(text, ec);
    if (ec) {
        throw definition_error("$", "malformed JSON: " + ec.message());
    }
    runner r(object_at(doc, "$"), base_dir, std::move(backing));
    return r.run();
}

simulation_result run_scenario_file(const std::filesystem::path& file, std::unique_ptr<store> backing) {
    return run_scenario(read_file(file), file.parent_path(), std::move(backing));
}

} // namespace tagflow
