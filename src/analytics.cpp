#include <tagflow/analytics.hpp>

#include <tagflow/error.hpp>
#include <tagflow/local_time.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>
#include <unordered_map>

namespace tagflow {

namespace json = boost::json;

namespace {

std::string source_of(std::string_view cause) {
    const auto colon = cause.find(':');
    if (colon != std::string_view::npos) {
        const auto prefix = cause.substr(0, colon);
        if (prefix == "rule" || prefix == "flow" || prefix == "sequence" || prefix == "broadcast") {
            return std::string(prefix);
        }
    }
    return "other";
}

// Follows merges to the contact that survived; ids never merged map to themselves.
class merge_map {
public:
    void merged(contact_id gone, contact_id survivor) {
        if (gone != survivor) {
            into_[gone] = survivor;
        }
    }
    [[nodiscard]] contact_id resolve(contact_id id) const {
        // Bounded: a corrupt log with a cycle must not hang a report.
        for (std::size_t hops = 0; hops < into_.size(); ++hops) {
            const auto it = into_.find(id);
            if (it == into_.end()) {
                break;
            }
            id = it->second;
        }
        return id;
    }

private:
    std::unordered_map<contact_id, contact_id> into_;
};

const json::object* parse_object(const std::string& body) {
    thread_local json::value holder;
    boost::system::error_code ec;
    holder = json::parse(body, ec);
    if (ec || !holder.is_object()) {
        return nullptr;
    }
    return &holder.as_object();
}

std::optional<std::int64_t> int_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v && v->is_int64()) {
        return v->as_int64();
    }
    if (v && v->is_uint64()) {
        return static_cast<std::int64_t>(v->as_uint64());
    }
    if (v && v->is_double()) {
        return static_cast<std::int64_t>(v->as_double());
    }
    return std::nullopt;
}

std::string string_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// "<key base>/<name>.step<N>/<k>": the step index a sequence send was keyed with.
std::optional<int> step_from_key(const std::string& key, const std::string& sequence) {
    const std::string marker = "/" + sequence + ".step";
    const auto at = key.rfind(marker);
    if (at == std::string::npos) {
        return std::nullopt;
    }
    std::size_t i = at + marker.size();
    int n = 0;
    bool digits = false;
    while (i < key.size() && key[i] >= '0' && key[i] <= '9' && n < 1'000'000) {
        n = n * 10 + (key[i] - '0');
        digits = true;
        ++i;
    }
    if (!digits || (i < key.size() && key[i] != '/')) {
        return std::nullopt;
    }
    return n;
}

void add_money(std::map<std::string, double>& into, const std::string& currency, double amount) {
    if (amount != 0) {
        into[currency] += amount;
    }
}

struct order_record {
    contact_id contact = 0;
    time_point at;
    double total = 0;
    std::string currency;
};

// Exits of a block in the order a reader of the flow meets them.
std::vector<std::string> exits_of(const block& b) {
    std::vector<std::string> out;
    auto push = [&out](const std::string& id) {
        if (!id.empty()) {
            out.push_back(id);
        }
    };
    push(b.next);
    for (const auto& br : b.branches) {
        push(br.next);
    }
    push(b.otherwise);
    for (const auto& p : b.paths) {
        push(p.next);
    }
    push(b.on_invalid);
    push(b.on_timeout);
    push(b.on_failure);
    return out;
}

// Blocks as a reader follows the flow: by their longest distance from the start block (loops
// back, e.g. "ask again", are ignored), ties in document order; then the blocks no path reaches,
// in document order. A funnel then narrows top to bottom even where paths join again.
std::vector<const block*> flow_order(const flow& f) {
    const std::size_t n = f.blocks.size();
    std::map<std::string_view, std::size_t> index;
    for (std::size_t i = 0; i < n; ++i) {
        index.emplace(f.blocks[i].id, i);
    }
    std::vector<std::vector<std::size_t>> next(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (const auto& id : exits_of(f.blocks[i])) {
            if (const auto it = index.find(id); it != index.end()) {
                next[i].push_back(it->second);
            }
        }
    }
    // Depth-first from the start, iteratively (flows may be long): edges into a block still on
    // the path are loops and are dropped.
    enum class mark { unseen, open, done };
    std::vector<mark> marks(n, mark::unseen);
    std::vector<std::vector<std::size_t>> forward(n);
    std::vector<std::size_t> finished; // reverse topological order
    const auto start = index.find(f.start);
    if (start != index.end()) {
        std::vector<std::pair<std::size_t, std::size_t>> stack{{start->second, 0}};
        marks[start->second] = mark::open;
        while (!stack.empty()) {
            auto& [node, edge] = stack.back();
            if (edge == next[node].size()) {
                marks[node] = mark::done;
                finished.push_back(node);
                stack.pop_back();
                continue;
            }
            const auto to = next[node][edge++];
            if (marks[to] == mark::open) {
                continue;
            }
            forward[node].push_back(to);
            if (marks[to] == mark::unseen) {
                marks[to] = mark::open;
                stack.emplace_back(to, 0);
            }
        }
    }
    std::vector<std::size_t> depth(n, 0);
    for (auto it = finished.rbegin(); it != finished.rend(); ++it) {
        for (auto to : forward[*it]) {
            depth[to] = std::max(depth[to], depth[*it] + 1);
        }
    }
    std::vector<std::size_t> reached(finished.begin(), finished.end());
    std::sort(reached.begin(), reached.end(), [&depth](std::size_t a, std::size_t b) {
        return std::tie(depth[a], a) < std::tie(depth[b], b);
    });
    std::vector<const block*> order;
    for (auto i : reached) {
        order.push_back(&f.blocks[i]);
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (marks[i] == mark::unseen) {
            order.push_back(&f.blocks[i]);
        }
    }
    return order;
}

struct replay_state {
    std::int64_t conversations = 0;
    std::int64_t orders = 0;
    std::optional<time_point> last_message;
};

using day_key = std::tuple<int, unsigned, unsigned>;

day_key key_of(const local_date& d) {
    return {d.year, d.month, d.day};
}

} // namespace

void outcome_counts::add(const message_stats& m) {
    ++messages;
    const auto status = parse_message_status(m.status).value_or(message_status::pending);
    if (m.sent) {
        ++sent;
        delivered += m.delivered ? 1 : 0;
        read += m.read ? 1 : 0;
        clicked += m.clicked ? 1 : 0;
        add_money(cost, m.currency, m.cost);
    } else {
        switch (status) {
        case message_status::deferred:
            ++deferred;
            break;
        case message_status::blocked:
            ++blocked;
            ++blocked_by_reason[m.reason.empty() ? std::string("unknown") : m.reason];
            break;
        case message_status::failed:
        case message_status::dead_letter:
            ++failed;
            break;
        case message_status::cancelled:
            ++cancelled;
            break;
        default:
            ++pending;
            break;
        }
    }
    if (m.converted) {
        ++converted;
    }
    orders += m.orders;
    for (const auto& [currency, amount] : m.revenue) {
        add_money(revenue, currency, amount);
    }
}

analytics_report analyze(const engine& e, const analytics_options& options) {
    if (!is_valid_time_zone(options.time_zone)) {
        throw error(errc::invalid_argument, "unknown time zone \"" + options.time_zone + "\"");
    }
    if (options.conversion_window < duration{}) {
        throw error(errc::invalid_argument, "the conversion window must not be negative");
    }
    analytics_report report;
    report.time_zone = options.time_zone;
    report.conversion_window = options.conversion_window;

    const auto log = e.event_log();
    const auto outbox = e.outbox();
    const auto counters = e.block_counters();
    const auto people = e.contacts();
    const auto defs = e.current_definitions();
    const duration gap = e.options().returning_gap;

    // One pass over the log: merges, orders, sequence steps, and the conversation replay.
    merge_map merges;
    std::vector<order_record> orders;
    std::map<std::pair<std::int64_t, std::string>, int> steps; // (cause event, origin) -> step
    std::unordered_map<contact_id, replay_state> replay;
    std::map<day_key, daily_contacts> days;
    std::set<std::pair<day_key, contact_id>> returning_seen;
    auto& summary = report.summary;
    for (const auto& r : log) {
        if (!summary.first_event || r.at < *summary.first_event) {
            summary.first_event = r.at;
        }
        if (!summary.last_event || r.at > *summary.last_event) {
            summary.last_event = r.at;
        }
        const bool input = r.cause == 0 && r.origin == "input";
        if (r.kind == "contact_merged") {
            const auto* body = parse_object(r.body);
            if (const auto gone = body ? int_member(*body, "merged") : std::nullopt) {
                const auto survivor = merges.resolve(r.contact);
                const auto from = merges.resolve(*gone);
                if (from != survivor) {
                    auto& into = replay[survivor];
                    const auto old = replay[from];
                    into.conversations += old.conversations;
                    into.orders += old.orders;
                    if (old.last_message && (!into.last_message || *old.last_message > *into.last_message)) {
                        into.last_message = old.last_message;
                    }
                    merges.merged(from, survivor);
                }
            }
        } else if (r.kind == "sequence_step") {
            const auto* body = parse_object(r.body);
            if (const auto step = body ? int_member(*body, "step") : std::nullopt) {
                steps[{r.cause, r.origin}] = static_cast<int>(*step);
            }
        } else if (input && r.kind == "order_placed") {
            order_record o;
            o.contact = merges.resolve(r.contact);
            o.at = r.at;
            if (const auto* body = parse_object(r.body)) {
                if (const auto* ord = body->if_contains("order"); ord && ord->is_object()) {
                    if (const auto* total = ord->as_object().if_contains("total");
                        total && total->is_number()) {
                        o.total = total->to_number<double>();
                    }
                    o.currency = string_member(ord->as_object(), "currency");
                }
            }
            ++replay[o.contact].orders;
            orders.push_back(std::move(o));
        } else if (input && r.kind == "message_received") {
            const auto who = merges.resolve(r.contact);
            auto& st = replay[who];
            const bool fresh = !st.last_message || r.at - *st.last_message > gap;
            if (fresh) {
                const bool returning = st.conversations > 0 || st.orders > 0;
                ++st.conversations;
                const auto day = local_date_of(r.at, options.time_zone);
                auto& d = days[key_of(day)];
                d.date = day;
                ++d.conversations;
                if (!returning) {
                    ++d.new_contacts;
                } else if (returning_seen.insert({key_of(day), who}).second) {
                    ++d.returning;
                }
            }
            st.last_message = r.at;
        }
    }
    for (auto& [key, d] : days) {
        report.daily.push_back(d);
    }

    // Messages, then conversions: each order goes to the last message sent to the contact
    // within the window before it.
    report.messages.reserve(outbox.size());
    std::unordered_map<contact_id, std::vector<std::size_t>> sent_by_contact;
    for (const auto& m : outbox) {
        message_stats s;
        s.id = m.id;
        s.contact = merges.resolve(m.contact);
        s.channel = m.to.channel;
        s.cause = m.cause;
        s.source = source_of(m.cause);
        s.status = std::string(to_string(m.status));
        if (m.status == message_status::blocked || m.status == message_status::deferred) {
            s.reason = m.policy_rule.empty() ? m.reason : m.policy_rule;
        } else if (m.status == message_status::failed || m.status == message_status::dead_letter) {
            s.reason = m.last_error;
        }
        s.created_at = m.created_at;
        s.sent_at = m.sent_at;
        const bool out_status = m.status == message_status::sent || m.status == message_status::delivered ||
                                m.status == message_status::read;
        s.read = m.read_at.has_value() || m.status == message_status::read;
        s.clicked = m.clicked_at.has_value();
        s.delivered =
            m.delivered_at.has_value() || m.status == message_status::delivered || s.read || s.clicked;
        s.sent = out_status || m.sent_at.has_value() || s.delivered;
        s.cost = m.cost;
        s.currency = m.currency;
        if (s.sent && s.sent_at) {
            sent_by_contact[s.contact].push_back(report.messages.size());
        }
        report.messages.push_back(std::move(s));
    }
    for (auto& [who, list] : sent_by_contact) {
        std::sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) {
            const auto& x = report.messages[a];
            const auto& y = report.messages[b];
            return std::tie(*x.sent_at, x.id) < std::tie(*y.sent_at, y.id);
        });
    }
    for (const auto& o : orders) {
        const auto it = sent_by_contact.find(merges.resolve(o.contact));
        if (it == sent_by_contact.end()) {
            continue;
        }
        const auto& list = it->second;
        // The last message sent at or before the order.
        auto after = std::upper_bound(list.begin(), list.end(), o.at, [&](time_point t, std::size_t i) {
            return t < *report.messages[i].sent_at;
        });
        if (after == list.begin()) {
            continue;
        }
        auto& m = report.messages[*std::prev(after)];
        if (o.at - *m.sent_at > options.conversion_window) {
            continue;
        }
        m.converted = true;
        ++m.orders;
        add_money(m.revenue, o.currency, o.total);
        ++summary.attributed_orders;
    }
    summary.orders = static_cast<std::int64_t>(orders.size());

    // Groupings.
    std::map<std::string, cause_stats> causes;
    std::map<std::string, broadcast_stats> broadcasts;
    std::map<std::pair<std::string, int>, sequence_step_stats> seq;
    std::map<std::string, std::set<contact_id>> cause_people, broadcast_people;
    std::map<std::pair<std::string, int>, std::set<contact_id>> step_people;
    std::set<contact_id> everyone;
    for (std::size_t i = 0; i < report.messages.size(); ++i) {
        const auto& s = report.messages[i];
        const auto& raw = outbox[i];
        summary.messages.add(s);
        everyone.insert(s.contact);
        auto& c = causes[s.cause];
        c.cause = s.cause;
        c.source = s.source;
        c.counts.add(s);
        cause_people[s.cause].insert(s.contact);
        if (s.source == "broadcast") {
            const std::string name = s.cause.substr(std::string_view("broadcast:").size());
            auto& b = broadcasts[name];
            b.name = name;
            b.counts.add(s);
            broadcast_people[name].insert(s.contact);
        } else if (s.source == "sequence") {
            const std::string name = s.cause.substr(std::string_view("sequence:").size());
            int step = -1;
            if (const auto it = steps.find({raw.cause_event, raw.cause}); it != steps.end()) {
                step = it->second;
            } else if (const auto k = step_from_key(raw.key, name)) {
                step = *k;
            }
            auto& st = seq[{name, step}];
            st.sequence = name;
            st.step = step;
            st.counts.add(s);
            step_people[{name, step}].insert(s.contact);
        }
    }
    summary.messages.recipients = static_cast<std::int64_t>(everyone.size());
    for (auto& [name, c] : causes) {
        c.counts.recipients = static_cast<std::int64_t>(cause_people[name].size());
        report.causes.push_back(std::move(c));
    }
    for (auto& [name, b] : broadcasts) {
        b.counts.recipients = static_cast<std::int64_t>(broadcast_people[name].size());
        report.broadcasts.push_back(std::move(b));
    }
    for (auto& [key, st] : seq) {
        st.counts.recipients = static_cast<std::int64_t>(step_people[key].size());
        report.sequence_steps.push_back(std::move(st));
    }

    // Funnels: the definitions' flows in their order, then flows only the log knows.
    std::map<std::string, std::vector<const block_counter*>> by_flow;
    for (const auto& c : counters) {
        by_flow[c.flow].push_back(&c);
    }
    auto counter_of = [&by_flow](const std::string& flow, const std::string& id) -> const block_counter* {
        const auto it = by_flow.find(flow);
        if (it == by_flow.end()) {
            return nullptr;
        }
        for (const auto* c : it->second) {
            if (c->block == id) {
                return c;
            }
        }
        return nullptr;
    };
    auto step_of = [](const std::string& flow, const std::string& id, std::string kind,
                      const block_counter* c, int position) {
        funnel_step s;
        s.flow = flow;
        s.block = id;
        s.kind = std::move(kind);
        s.position = position;
        if (c) {
            s.entered = c->entered;
            s.waiting = c->waiting;
            s.completed = c->completed;
        }
        return s;
    };
    std::set<std::string> defined;
    for (const auto& f : defs.flows()) {
        defined.insert(f.name);
        flow_funnel funnel;
        funnel.flow = f.name;
        std::set<std::string> listed;
        for (const auto* b : flow_order(f)) {
            listed.insert(b->id);
            funnel.blocks.push_back(step_of(f.name, b->id, std::string(to_string(b->kind)),
                                            counter_of(f.name, b->id),
                                            static_cast<int>(funnel.blocks.size()) + 1));
        }
        if (const auto it = by_flow.find(f.name); it != by_flow.end()) {
            for (const auto* c : it->second) {
                if (!listed.count(c->block)) {
                    funnel.blocks.push_back(
                        step_of(f.name, c->block, "", c, static_cast<int>(funnel.blocks.size()) + 1));
                }
            }
        }
        report.flows.push_back(std::move(funnel));
    }
    for (const auto& [name, list] : by_flow) {
        if (defined.count(name)) {
            continue;
        }
        flow_funnel funnel;
        funnel.flow = name;
        funnel.defined = false;
        for (const auto* c : list) {
            funnel.blocks.push_back(
                step_of(name, c->block, "", c, static_cast<int>(funnel.blocks.size()) + 1));
        }
        report.flows.push_back(std::move(funnel));
    }

    summary.contacts = static_cast<std::int64_t>(people.size());
    for (const auto& c : people) {
        summary.returning_contacts += c.activity.returning ? 1 : 0;
    }
    return report;
}

// ---------------------------------------------------------------------------------------------
// Tables: the cells CSV, the text tables and the HTML report show.

namespace {

std::string format_number(double v) {
    if (!std::isfinite(v)) {
        return "0";
    }
    if (v == std::floor(v) && std::fabs(v) < 9e15) {
        return fmt::format("{}", static_cast<std::int64_t>(v));
    }
    // Sums of prices collect binary noise (0.1 + 0.2); six decimals is finer than any currency.
    std::string s = fmt::format("{:.6f}", v);
    while (!s.empty() && s.back() == '0') {
        s.pop_back();
    }
    if (!s.empty() && s.back() == '.') {
        s.pop_back();
    }
    return s;
}

std::string format_money(const std::map<std::string, double>& amounts) {
    std::string out;
    for (const auto& [currency, amount] : amounts) {
        out += out.empty() ? "" : "; ";
        out += format_number(amount);
        if (!currency.empty()) {
            out += " " + currency;
        }
    }
    return out;
}

std::string format_date(const local_date& d) {
    return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

std::string format_reasons(const std::map<std::string, std::int64_t>& reasons) {
    std::string out;
    for (const auto& [reason, n] : reasons) {
        out += out.empty() ? "" : "; ";
        out += reason + "=" + std::to_string(n);
    }
    return out;
}

std::string percent(std::int64_t part, std::int64_t whole) {
    if (whole <= 0) {
        return "";
    }
    return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

const std::vector<std::string> count_headers = {"messages",  "recipients",        "sent",      "delivered",
                                                "read",      "clicked",           "converted", "orders",
                                                "pending",   "deferred",          "blocked",   "failed",
                                                "cancelled", "blocked_by_reason", "cost",      "revenue"};

void append_counts(std::vector<std::string>& row, const outcome_counts& c) {
    for (auto n : {c.messages, c.recipients, c.sent, c.delivered, c.read, c.clicked, c.converted, c.orders,
                   c.pending, c.deferred, c.blocked, c.failed, c.cancelled}) {
        row.push_back(std::to_string(n));
    }
    row.push_back(format_reasons(c.blocked_by_reason));
    row.push_back(format_money(c.cost));
    row.push_back(format_money(c.revenue));
}

std::string opt_time(const std::optional<time_point>& t) {
    return t ? format_time(*t) : std::string();
}

} // namespace

analytics_table make_table(const analytics_report& r, std::string_view name) {
    analytics_table t;
    t.name = std::string(name);
    if (name == "summary") {
        t.title = "Summary";
        t.headers = {"measure", "value"};
        const auto& s = r.summary;
        const auto& m = s.messages;
        auto row = [&t](std::string k, std::string v) { t.rows.push_back({std::move(k), std::move(v)}); };
        row("contacts", std::to_string(s.contacts));
        row("returning_contacts", std::to_string(s.returning_contacts));
        row("messages", std::to_string(m.messages));
        row("sent", std::to_string(m.sent));
        row("delivered", std::to_string(m.delivered));
        row("read", std::to_string(m.read));
        row("clicked", std::to_string(m.clicked));
        row("converted", std::to_string(m.converted));
        row("blocked", std::to_string(m.blocked));
        row("deferred", std::to_string(m.deferred));
        row("pending", std::to_string(m.pending));
        row("failed", std::to_string(m.failed));
        row("cancelled", std::to_string(m.cancelled));
        row("cost", format_money(m.cost));
        row("orders", std::to_string(s.orders));
        row("attributed_orders", std::to_string(s.attributed_orders));
        row("attributed_revenue", format_money(m.revenue));
        row("first_event", opt_time(s.first_event));
        row("last_event", opt_time(s.last_event));
        row("time_zone", r.time_zone);
        row("conversion_window_hours",
            format_number(static_cast<double>(r.conversion_window.count()) / 3'600'000.0));
        t.numeric = {false, false};
        return t;
    }
    if (name == "messages") {
        t.title = "Messages";
        t.headers = {"id",      "contact",    "channel", "cause",   "source",    "status",
                     "reason",  "created_at", "sent_at", "sent",    "delivered", "read",
                     "clicked", "converted",  "orders",  "revenue", "cost",      "currency"};
        for (const auto& m : r.messages) {
            t.rows.push_back({std::to_string(m.id), std::to_string(m.contact), m.channel, m.cause, m.source,
                              m.status, m.reason, format_time(m.created_at), opt_time(m.sent_at),
                              m.sent ? "1" : "0", m.delivered ? "1" : "0", m.read ? "1" : "0",
                              m.clicked ? "1" : "0", m.converted ? "1" : "0", std::to_string(m.orders),
                              format_money(m.revenue), format_number(m.cost), m.currency});
        }
        t.numeric = {true, true, false, false, false, false, false, false, false,
                     true, true, true,  true,  true,  true,  false, true,  false};
        return t;
    }
    if (name == "causes" || name == "broadcasts" || name == "sequence_steps") {
        std::vector<std::string> lead;
        if (name == "causes") {
            t.title = "Messages by cause";
            lead = {"cause", "source"};
        } else if (name == "broadcasts") {
            t.title = "Broadcasts";
            lead = {"broadcast"};
        } else {
            t.title = "Sequence steps";
            lead = {"sequence", "step"};
        }
        t.headers = lead;
        t.headers.insert(t.headers.end(), count_headers.begin(), count_headers.end());
        t.numeric.assign(lead.size(), false);
        if (name == "sequence_steps") {
            t.numeric.back() = true;
        }
        t.numeric.resize(t.headers.size(), true);
        t.numeric[t.numeric.size() - 3] = false;
        if (name == "causes") {
            for (const auto& c : r.causes) {
                std::vector<std::string> row{c.cause, c.source};
                append_counts(row, c.counts);
                t.rows.push_back(std::move(row));
            }
        } else if (name == "broadcasts") {
            for (const auto& b : r.broadcasts) {
                std::vector<std::string> row{b.name};
                append_counts(row, b.counts);
                t.rows.push_back(std::move(row));
            }
        } else {
            for (const auto& s : r.sequence_steps) {
                // Steps are 1-based for people; -1 (unknown) stays visible as "?".
                std::vector<std::string> row{s.sequence, s.step >= 0 ? std::to_string(s.step + 1) : "?"};
                append_counts(row, s.counts);
                t.rows.push_back(std::move(row));
            }
        }
        return t;
    }
    if (name == "flow_blocks") {
        t.title = "Flow funnels";
        t.headers = {"flow", "position", "block", "kind", "entered", "waiting", "completed", "of_start"};
        t.numeric = {false, true, false, false, true, true, true, true};
        for (const auto& f : r.flows) {
            const std::int64_t first = f.blocks.empty() ? 0 : f.blocks.front().entered;
            for (const auto& b : f.blocks) {
                t.rows.push_back({f.flow, std::to_string(b.position), b.block, b.kind,
                                  std::to_string(b.entered), std::to_string(b.waiting),
                                  std::to_string(b.completed), percent(b.entered, first)});
            }
        }
        return t;
    }
    if (name == "daily") {
        t.title = "New and returning contacts per day (" + r.time_zone + ")";
        t.headers = {"date", "new", "returning", "conversations"};
        t.numeric = {false, true, true, true};
        for (const auto& d : r.daily) {
            t.rows.push_back({format_date(d.date), std::to_string(d.new_contacts),
                              std::to_string(d.returning), std::to_string(d.conversations)});
        }
        return t;
    }
    throw error(errc::invalid_argument, "unknown analytics table \"" + std::string(name) +
                                            "\" (summary, messages, causes, broadcasts, sequence_steps, "
                                            "flow_blocks, daily)");
}

const std::vector<std::string>& analytics_table_names() {
    static const std::vector<std::string> names = {"summary",        "messages",    "causes", "broadcasts",
                                                   "sequence_steps", "flow_blocks", "daily"};
    return names;
}

std::size_t display_width(std::string_view text) noexcept {
    std::size_t width = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t len = 1;
        char32_t cp = lead;
        if (lead >= 0xF0 && lead < 0xF8) {
            len = 4;
            cp = lead & 0x07u;
        } else if (lead >= 0xE0) {
            len = lead < 0xF0 ? 3 : 1;
            cp = lead & 0x0Fu;
        } else if (lead >= 0xC0) {
            len = 2;
            cp = lead & 0x1Fu;
        }
        bool ok = len > 1 && i + len <= text.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto c = static_cast<unsigned char>(text[i + k]);
            ok = (c & 0xC0u) == 0x80u;
            cp = (cp << 6) | (c & 0x3Fu);
        }
        if (!ok) {
            len = 1;
            cp = lead;
        }
        i += len;
        // Combining marks sit on the previous letter: Vietnamese in NFD ("e" + U+0302 + U+0301)
        // must line up like its precomposed form.
        const bool combining = (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
                               (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
                               (cp >= 0xFE20 && cp <= 0xFE2F);
        if (!combining || len == 1) {
            ++width;
        }
    }
    return width;
}

std::string to_csv(const analytics_report& report, std::string_view table_name) {
    const auto t = make_table(report, table_name);
    std::string out;
    auto field = [&out](const std::string& f) {
        if (f.find_first_of(",\"\r\n") == std::string::npos) {
            out += f;
            return;
        }
        out += '"';
        for (char c : f) {
            if (c == '"') {
                out += '"';
            }
            out += c;
        }
        out += '"';
    };
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
            if (i) {
                out += ',';
            }
            field(cells[i]);
        }
        out += "\r\n";
    };
    line(t.headers);
    for (const auto& row : t.rows) {
        line(row);
    }
    return out;
}

std::string format_tables(const analytics_report& report, const std::vector<std::string>& tables) {
    std::vector<std::string> names = tables;
    if (names.empty()) {
        for (const auto& n : analytics_table_names()) {
            if (n != "messages") {
                names.push_back(n);
            }
        }
    }
    std::string out;
    for (const auto& name : names) {
        const auto t = make_table(report, name);
        if (!out.empty()) {
            out += '\n';
        }
        out += t.title + "\n";
        if (t.rows.empty()) {
            out += "  (none)\n";
            continue;
        }
        std::vector<std::size_t> widths(t.headers.size(), 0);
        auto measure = [&widths](const std::vector<std::string>& cells) {
            for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
                widths[i] = std::max(widths[i], display_width(cells[i]));
            }
        };
        measure(t.headers);
        for (const auto& row : t.rows) {
            measure(row);
        }
        auto line = [&](const std::vector<std::string>& cells, bool header) {
            std::string l = " ";
            for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
                // Control characters would break the grid; names come from users.
                std::string cell;
                for (char c : cells[i]) {
                    cell += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
                }
                const std::string pad(widths[i] - display_width(cell), ' ');
                const bool right = !header && i < t.numeric.size() && t.numeric[i];
                l += ' ';
                l += right ? pad + cell : cell + pad;
                l += ' ';
            }
            while (!l.empty() && l.back() == ' ') {
                l.pop_back();
            }
            out += l + "\n";
        };
        line(t.headers, true);
        std::vector<std::string> rule;
        for (auto w : widths) {
            rule.emplace_back(w, '-');
        }
        line(rule, true);
        for (const auto& row : t.rows) {
            line(row, false);
        }
    }
    return out;
}

namespace {

json::value number(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) {
        return static_cast<std::int64_t>(v);
    }
    return std::isfinite(v) ? std::round(v * 1e6) / 1e6 : 0.0;
}

json::object money(const std::map<std::string, double>& m) {
    json::object o;
    for (const auto& [currency, amount] : m) {
        o[currency] = number(amount);
    }
    return o;
}

json::value opt_time_json(const std::optional<time_point>& t) {
    return t ? json::value(format_time(*t)) : json::value(nullptr);
}

json::object counts_json(const outcome_counts& c) {
    json::object o;
    o["messages"] = c.messages;
    o["recipients"] = c.recipients;
    o["sent"] = c.sent;
    o["delivered"] = c.delivered;
    o["read"] = c.read;
    o["clicked"] = c.clicked;
    o["converted"] = c.converted;
    o["orders"] = c.orders;
    o["pending"] = c.pending;
    o["deferred"] = c.deferred;
    o["blocked"] = c.blocked;
    o["failed"] = c.failed;
    o["cancelled"] = c.cancelled;
    json::object reasons;
    for (const auto& [reason, n] : c.blocked_by_reason) {
        reasons[reason] = n;
    }
    o["blocked_by_reason"] = std::move(reasons);
    o["cost"] = money(c.cost);
    o["revenue"] = money(c.revenue);
    return o;
}

} // namespace

std::string to_json(const analytics_report& r) {
    json::object doc;
    doc["schema"] = 1;
    doc["time_zone"] = r.time_zone;
    doc["conversion_window_hours"] = number(static_cast<double>(r.conversion_window.count()) / 3'600'000.0);
    json::object summary;
    summary["contacts"] = r.summary.contacts;
    summary["returning_contacts"] = r.summary.returning_contacts;
    summary["orders"] = r.summary.orders;
    summary["attributed_orders"] = r.summary.attributed_orders;
    summary["first_event"] = opt_time_json(r.summary.first_event);
    summary["last_event"] = opt_time_json(r.summary.last_event);
    summary["messages"] = counts_json(r.summary.messages);
    doc["summary"] = std::move(summary);

    json::array messages;
    for (const auto& m : r.messages) {
        json::object o;
        o["id"] = m.id;
        o["contact"] = m.contact;
        o["channel"] = m.channel;
        o["cause"] = m.cause;
        o["source"] = m.source;
        o["status"] = m.status;
        o["reason"] = m.reason;
        o["created_at"] = format_time(m.created_at);
        o["sent_at"] = opt_time_json(m.sent_at);
        o["sent"] = m.sent;
        o["delivered"] = m.delivered;
        o["read"] = m.read;
        o["clicked"] = m.clicked;
        o["converted"] = m.converted;
        o["orders"] = m.orders;
        o["revenue"] = money(m.revenue);
        o["cost"] = number(m.cost);
        o["currency"] = m.currency;
        messages.push_back(std::move(o));
    }
    doc["messages"] = std::move(messages);

    json::array causes;
    for (const auto& c : r.causes) {
        json::object o;
        o["cause"] = c.cause;
        o["source"] = c.source;
        o["counts"] = counts_json(c.counts);
        causes.push_back(std::move(o));
    }
    doc["causes"] = std::move(causes);

    json::array broadcasts;
    for (const auto& b : r.broadcasts) {
        json::object o;
        o["name"] = b.name;
        o["counts"] = counts_json(b.counts);
        broadcasts.push_back(std::move(o));
    }
    doc["broadcasts"] = std::move(broadcasts);

    json::array steps;
    for (const auto& s : r.sequence_steps) {
        json::object o;
        o["sequence"] = s.sequence;
        o["step"] = s.step;
        o["counts"] = counts_json(s.counts);
        steps.push_back(std::move(o));
    }
    doc["sequence_steps"] = std::move(steps);

    json::array flows;
    for (const auto& f : r.flows) {
        json::object o;
        o["flow"] = f.flow;
        o["defined"] = f.defined;
        json::array blocks;
        for (const auto& b : f.blocks) {
            json::object ob;
            ob["block"] = b.block;
            ob["kind"] = b.kind;
            ob["position"] = b.position;
            ob["entered"] = b.entered;
            ob["waiting"] = b.waiting;
            ob["completed"] = b.completed;
            blocks.push_back(std::move(ob));
        }
        o["blocks"] = std::move(blocks);
        flows.push_back(std::move(o));
    }
    doc["flows"] = std::move(flows);

    json::array daily;
    for (const auto& d : r.daily) {
        json::object o;
        o["date"] = format_date(d.date);
        o["new"] = d.new_contacts;
        o["returning"] = d.returning;
        o["conversations"] = d.conversations;
        daily.push_back(std::move(o));
    }
    doc["daily"] = std::move(daily);
    return json::serialize(doc);
}

} // namespace tagflow
