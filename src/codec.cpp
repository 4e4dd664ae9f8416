#include "detail/codec.hpp"

#include <charconv>

#include <tagflow/error.hpp>

#include <cmath>

namespace tagflow::detail {

namespace json = boost::json;

namespace {

// Whole amounts (VND totals, counts) print as integers: "950000", not "9.5E5".
json::value number_to_json(double d) {
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
        return static_cast<std::int64_t>(d);
    }
    return d;
}

} // namespace

json::value value_to_json(const value& v) {
    struct visitor {
        json::value operator()(std::monostate) const { return nullptr; }
        json::value operator()(bool b) const { return b; }
        json::value operator()(double d) const { return number_to_json(d); }
        json::value operator()(const std::string& s) const { return json::string(s); }
    };
    return std::visit(visitor{}, v);
}

value value_from_json(const json::value& v) {
    if (v.is_bool()) {
        return v.get_bool();
    }
    if (v.is_number()) {
        return v.to_number<double>();
    }
    if (v.is_string()) {
        return std::string(v.get_string());
    }
    return std::monostate{};
}

std::string scalar_text(const json::value& v) {
    switch (v.kind()) {
    case json::kind::string: return std::string(v.get_string());
    case json::kind::bool_: return v.get_bool() ? "true" : "false";
    case json::kind::int64: return std::to_string(v.get_int64());
    case json::kind::uint64: return std::to_string(v.get_uint64());
    case json::kind::double_: return to_text(value{v.get_double()});
    default: return {};
    }
}

std::optional<time_point> optional_time(const json::object& o, std::string_view key) {
    if (const auto* p = o.if_contains(key); p && p->is_string()) {
        return parse_time(p->get_string());
    }
    return std::nullopt;
}

namespace {

json::value time_or_null(const std::optional<time_point>& t) {
    if (t) {
        return json::string(format_time(*t));
    }
    return nullptr;
}

std::string str(const json::object& o, std::string_view key) {
    if (const auto* p = o.if_contains(key); p && p->is_string()) {
        return std::string(p->get_string());
    }
    return {};
}

std::int64_t int64(const json::object& o, std::string_view key) {
    if (const auto* p = o.if_contains(key); p && p->is_number()) {
        return p->to_number<std::int64_t>();
    }
    return 0;
}

} // namespace

json::object contact_to_json(const contact& c, contact_shape shape) {
    const bool full = shape == contact_shape::full;
    json::object o;
    // In the stored shape, defaults are implied by a missing key (contact_from_json).
    auto text = [full](json::object& into, std::string_view key, const std::string& v) {
        if (full || !v.empty()) {
            into[key] = v;
        }
    };
    auto when = [full](json::object& into, std::string_view key, const std::optional<time_point>& t) {
        if (full || t) {
            into[key] = time_or_null(t);
        }
    };
    auto count = [full](json::object& into, std::string_view key, std::int64_t n) {
        if (full || n != 0) {
            into[key] = n;
        }
    };
    o["id"] = c.id;
    o["type"] = to_string(c.stage);
    json::array ids;
    for (const auto& i : c.identities) {
        ids.emplace_back(i.to_string());
    }
    o["identities"] = std::move(ids);
    json::object basic;
    text(basic, "name", c.profile.name);
    text(basic, "phone", c.profile.phone);
    text(basic, "email", c.profile.email);
    text(basic, "timezone", c.profile.time_zone);
    text(basic, "locale", c.profile.locale);
    text(basic, "customer_id", c.profile.customer_id);
    if (full || !basic.empty()) {
        o["profile"] = std::move(basic);
    }
    if (full || !c.fields.empty()) {
        json::object fields;
        for (const auto& [name, f] : c.fields) {
            json::object fo;
            fo["type"] = to_string(f.type);
            fo["value"] = value_to_json(f.data);
            fields[name] = std::move(fo);
        }
        o["fields"] = std::move(fields);
    }
    if (full || !c.tags.empty()) {
        json::array tags;
        for (const auto& [name, at] : c.tags) {
            json::object t;
            t["name"] = name;
            t["added_at"] = format_time(at);
            tags.emplace_back(std::move(t));
        }
        o["tags"] = std::move(tags);
    }
    if (full || !c.notes.empty()) {
        json::array notes;
        for (const auto& n : c.notes) {
            json::object no;
            no["author"] = n.author;
            no["at"] = format_time(n.at);
            no["text"] = n.text;
            notes.emplace_back(std::move(no));
        }
        o["notes"] = std::move(notes);
    }
    json::object act;
    when(act, "first_seen", c.activity.first_seen);
    when(act, "last_inbound", c.activity.last_inbound);
    when(act, "last_message", c.activity.last_message);
    when(act, "last_order", c.activity.last_order);
    when(act, "first_order", c.activity.first_order);
    count(act, "conversations", c.activity.conversations);
    count(act, "orders", c.activity.orders);
    if (full || c.activity.total_spent != 0) {
        act["total_spent"] = number_to_json(c.activity.total_spent);
    }
    if (full || c.activity.returning) {
        act["returning"] = c.activity.returning;
    }
    text(act, "last_channel", c.activity.last_channel);
    text(act, "last_product", c.activity.last_product);
    if (full || !act.empty()) {
        o["activity"] = std::move(act);
    }
    if (full || !c.fired_rules.empty()) {
        json::array fired;
        for (const auto& r : c.fired_rules) {
            fired.emplace_back(json::string(r));
        }
        o["fired_rules"] = std::move(fired);
    }
    if (c.run) {
        json::object run;
        run["flow"] = c.run->flow;
        run["block"] = c.run->block;
        run["waiting"] = c.run->waiting;
        run["retries"] = c.run->retries;
        run["timer"] = c.run->timer;
        run["request"] = c.run->request;
        run["definitions_version"] = c.run->definitions_version;
        json::array stack;
        for (const auto& f : c.run->stack) {
            json::object fo;
            fo["flow"] = f.flow;
            fo["next"] = f.next;
            stack.emplace_back(std::move(fo));
        }
        run["stack"] = std::move(stack);
        o["run"] = std::move(run);
    } else if (full) {
        o["run"] = nullptr;
    }
    if (!c.open_form.empty()) {
        o["open_form"] = c.open_form;
    }
    if (!c.capped_sends.empty()) {
        json::object caps;
        for (const auto& [purpose, times] : c.capped_sends) {
            json::array list;
            for (const auto& t : times) {
                list.emplace_back(json::string(format_time(t)));
            }
            caps[purpose] = std::move(list);
        }
        o["capped_sends"] = std::move(caps);
    }
    if (!c.segments.empty()) {
        json::object segs;
        for (const auto& [name, since] : c.segments) {
            segs[name] = format_time(since);
        }
        o["segments"] = std::move(segs);
    }
    if (!c.channels.empty()) {
        json::object chans;
        for (const auto& [name, st] : c.channels) {
            json::object co;
            when(co, "last_inbound", st.last_inbound);
            count(co, "replies_since_inbound", st.replies_since_inbound);
            if (st.follower) {
                co["follower"] = *st.follower;
            }
            if (!st.sends.empty()) {
                json::object sends;
                for (const auto& [purpose, times] : st.sends) {
                    json::array list;
                    for (const auto& t : times) {
                        list.emplace_back(json::string(format_time(t)));
                    }
                    sends[purpose] = std::move(list);
                }
                co["sends"] = std::move(sends);
            }
            chans[name] = std::move(co);
        }
        o["channels"] = std::move(chans);
    }
    if (!c.date_timers.empty()) {
        json::object dates;
        for (const auto& [name, entry] : c.date_timers) {
            json::object d;
            d["from"] = entry.first;
            d["timer"] = entry.second;
            dates[name] = std::move(d);
        }
        o["date_timers"] = std::move(dates);
    }
    if (!c.sequences.empty()) {
        json::object seqs;
        for (const auto& [name, s] : c.sequences) {
            json::object so;
            so["entered"] = format_time(s.entered);
            so["next_step"] = s.next_step;
            so["last_step_at"] = time_or_null(s.last_step_at);
            so["timer"] = s.timer;
            so["sends"] = s.sends;
            so["active"] = s.active;
            so["completed"] = s.completed;
            so["left_at"] = time_or_null(s.left_at);
            seqs[name] = std::move(so);
        }
        o["sequences"] = std::move(seqs);
    }
    if (c.paused_until) {
        o["paused_until"] = *c.paused_until == time_point::max() ? json::value("indefinitely")
                                                                 : json::value(format_time(*c.paused_until));
    }
    return o;
}

contact contact_from_json(const json::value& v) {
    const auto& o = v.as_object();
    // A missing key is the default (the stored shape leaves defaults out); a present key of the
    // wrong kind is a damaged document and throws.
    static const json::object none;
    auto object_at = [](const json::object& in, std::string_view key) -> const json::object& {
        const auto* p = in.if_contains(key);
        return p && !p->is_null() ? p->as_object() : none;
    };
    static const json::array empty;
    auto array_at = [](const json::object& in, std::string_view key) -> const json::array& {
        const auto* p = in.if_contains(key);
        return p && !p->is_null() ? p->as_array() : empty;
    };
    contact c;
    c.id = int64(o, "id");
    c.stage = parse_lifecycle(str(o, "type")).value_or(lifecycle::stranger);
    for (const auto& i : array_at(o, "identities")) {
        c.identities.push_back(identity::parse(i.as_string()));
    }
    const auto& basic = object_at(o, "profile");
    c.profile.name = str(basic, "name");
    c.profile.phone = str(basic, "phone");
    c.profile.email = str(basic, "email");
    c.profile.time_zone = str(basic, "timezone");
    c.profile.locale = str(basic, "locale");
    c.profile.customer_id = str(basic, "customer_id");
    for (const auto& [name, fv] : object_at(o, "fields")) {
        const auto& fo = fv.as_object();
        c.fields[std::string(name)] =
            field_value{parse_field_type(str(fo, "type")).value_or(field_type::text), value_from_json(fo.at("value"))};
    }
    for (const auto& t : array_at(o, "tags")) {
        const auto& to = t.as_object();
        c.tags[str(to, "name")] = parse_time(to.at("added_at").as_string());
    }
    for (const auto& n : array_at(o, "notes")) {
        const auto& no = n.as_object();
        c.notes.push_back(note{str(no, "author"), parse_time(no.at("at").as_string()), str(no, "text")});
    }
    const auto& act = object_at(o, "activity");
    c.activity.first_seen = optional_time(act, "first_seen");
    c.activity.last_inbound = optional_time(act, "last_inbound");
    c.activity.last_message = optional_time(act, "last_message");
    c.activity.last_order = optional_time(act, "last_order");
    c.activity.first_order = optional_time(act, "first_order");
    c.activity.conversations = int64(act, "conversations");
    c.activity.orders = int64(act, "orders");
    if (const auto* spent = act.if_contains("total_spent")) {
        c.activity.total_spent = spent->to_number<double>();
    }
    if (const auto* returning = act.if_contains("returning")) {
        c.activity.returning = returning->as_bool();
    }
    c.activity.last_channel = str(act, "last_channel");
    c.activity.last_product = str(act, "last_product");
    for (const auto& r : array_at(o, "fired_rules")) {
        c.fired_rules.insert(std::string(r.as_string()));
    }
    c.open_form = str(o, "open_form");
    if (const auto* caps = o.if_contains("capped_sends"); caps && caps->is_object()) {
        for (const auto& [purpose, list] : caps->get_object()) {
            auto& times = c.capped_sends[std::string(purpose)];
            for (const auto& t : list.as_array()) {
                times.push_back(parse_time(t.as_string()));
            }
        }
    }
    if (const auto* segs = o.if_contains("segments"); segs && segs->is_object()) {
        for (const auto& [name, since] : segs->get_object()) {
            c.segments[std::string(name)] = parse_time(since.as_string());
        }
    }
    if (const auto* chans = o.if_contains("channels"); chans && chans->is_object()) {
        for (const auto& [name, entry] : chans->get_object()) {
            const auto& co = entry.as_object();
            auto& st = c.channels[std::string(name)];
            st.last_inbound = optional_time(co, "last_inbound");
            st.replies_since_inbound = static_cast<int>(int64(co, "replies_since_inbound"));
            if (const auto* f = co.if_contains("follower")) {
                st.follower = f->as_bool();
            }
            if (const auto* sends = co.if_contains("sends"); sends && sends->is_object()) {
                for (const auto& [purpose, list] : sends->get_object()) {
                    auto& times = st.sends[std::string(purpose)];
                    for (const auto& t : list.as_array()) {
                        times.push_back(parse_time(t.as_string()));
                    }
                }
            }
        }
    }
    if (const auto* dates = o.if_contains("date_timers"); dates && dates->is_object()) {
        for (const auto& [name, d] : dates->get_object()) {
            c.date_timers[std::string(name)] = {str(d.as_object(), "from"), int64(d.as_object(), "timer")};
        }
    }
    if (const auto* seqs = o.if_contains("sequences"); seqs && seqs->is_object()) {
        for (const auto& [name, entry] : seqs->get_object()) {
            const auto& so = entry.as_object();
            sequence_state s;
            s.entered = parse_time(so.at("entered").as_string());
            s.next_step = static_cast<int>(int64(so, "next_step"));
            s.last_step_at = optional_time(so, "last_step_at");
            s.timer = int64(so, "timer");
            s.sends = static_cast<int>(int64(so, "sends"));
            s.active = so.at("active").as_bool();
            s.completed = so.at("completed").as_bool();
            s.left_at = optional_time(so, "left_at");
            c.sequences[std::string(name)] = s;
        }
    }
    if (const auto* paused = o.if_contains("paused_until"); paused && paused->is_string()) {
        c.paused_until = paused->get_string() == "indefinitely" ? time_point::max() : parse_time(paused->get_string());
    }
    if (const auto* run = o.if_contains("run"); run && run->is_object()) {
        const auto& ro = run->get_object();
        flow_run r;
        r.flow = str(ro, "flow");
        r.block = str(ro, "block");
        r.waiting = str(ro, "waiting");
        r.retries = static_cast<int>(int64(ro, "retries"));
        r.timer = int64(ro, "timer");
        r.request = int64(ro, "request");
        r.definitions_version = static_cast<int>(int64(ro, "definitions_version"));
        for (const auto& f : ro.at("stack").as_array()) {
            r.stack.push_back(flow_frame{str(f.as_object(), "flow"), str(f.as_object(), "next")});
        }
        c.run = std::move(r);
    }
    return c;
}

std::optional<duration> parse_short_duration(std::string_view text) {
    long long amount = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, amount);
    if (ec != std::errc{} || amount <= 0 || ptr + 1 != end) {
        return std::nullopt;
    }
    switch (*ptr) {
    case 's': return std::chrono::seconds(amount);
    case 'm': return std::chrono::minutes(amount);
    case 'h': return std::chrono::hours(amount);
    case 'd': return std::chrono::hours(24 * amount);
    default: return std::nullopt;
    }
}

json::object event_to_json_object(const event& e) {
    json::object o;
    o["kind"] = to_string(e.kind);
    if (!e.identity.channel.empty() || !e.identity.external_id.empty()) {
        o["identity"] = e.identity.to_string();
    }
    if (e.contact) {
        o["contact"] = *e.contact;
    }
    if (e.at) {
        o["at"] = format_time(*e.at);
    }
    auto put = [&o](std::string_view key, const std::string& s) {
        if (!s.empty()) {
            o[key] = s;
        }
    };
    put("key", e.key);
    put("text", e.text);
    put("payload", e.payload);
    put("form", e.form);
    if (!e.data.empty()) {
        json::object d;
        for (const auto& [k, v] : e.data) {
            d[k] = v;
        }
        o["data"] = std::move(d);
    }
    if (!e.profile.empty()) {
        json::object p;
        auto opt = [&p](std::string_view key, const std::optional<std::string>& s) {
            if (s) {
                p[key] = *s;
            }
        };
        opt("name", e.profile.name);
        opt("phone", e.profile.phone);
        opt("email", e.profile.email);
        opt("timezone", e.profile.time_zone);
        opt("locale", e.profile.locale);
        if (!e.profile.fields.empty()) {
            json::object f;
            for (const auto& [k, v] : e.profile.fields) {
                f[k] = v;
            }
            p["fields"] = std::move(f);
        }
        o["profile"] = std::move(p);
    }
    if (e.message_id != 0) {
        o["message_id"] = e.message_id;
    }
    put("external_id", e.external_id);
    if (e.delivery) {
        o["delivery"] = to_string(*e.delivery);
    }
    if (e.until) {
        o["until"] = format_time(*e.until);
    }
    if (e.kind == event_kind::order_placed) {
        json::object ord;
        ord["id"] = e.order.order_id;
        ord["total"] = number_to_json(e.order.total);
        ord["currency"] = e.order.currency;
        json::array items;
        for (const auto& i : e.order.items) {
            items.emplace_back(json::string(i));
        }
        ord["items"] = std::move(items);
        o["order"] = std::move(ord);
    }
    put("customer_id", e.customer_id);
    put("tag", e.tag);
    put("name", e.name);
    put("author", e.author);
    if (e.request_id != 0) {
        o["request_id"] = e.request_id;
    }
    if (e.status != 0) {
        o["status"] = e.status;
    }
    put("error", e.error);
    return o;
}

json::object message_content_to_json(const outbound_message& m) {
    json::object o;
    if (!m.quick_replies.empty()) {
        json::array q;
        for (const auto& r : m.quick_replies) {
            q.emplace_back(json::string(r));
        }
        o["quick_replies"] = std::move(q);
    }
    if (!m.buttons.empty()) {
        json::array b;
        for (const auto& btn : m.buttons) {
            json::object bo;
            bo["title"] = btn.title;
            bo["payload"] = btn.payload;
            b.emplace_back(std::move(bo));
        }
        o["buttons"] = std::move(b);
    }
    if (!m.form.empty()) {
        o["form"] = m.form;
    }
    if (m.not_before) {
        o["not_before"] = format_time(*m.not_before);
    }
    auto put = [&o](std::string_view key, const std::string& text) {
        if (!text.empty()) {
            o[key] = text;
        }
    };
    auto put_time = [&o](std::string_view key, const std::optional<time_point>& t) {
        if (t) {
            o[key] = format_time(*t);
        }
    };
    put("channel_tag", m.channel_tag);
    if (m.by_human) {
        o["by_human"] = true;
    }
    put("template", m.template_name);
    if (!m.template_params.empty()) {
        json::array a;
        for (const auto& p : m.template_params) {
            a.emplace_back(json::string(p));
        }
        o["template_params"] = std::move(a);
    }
    if (m.cost != 0) {
        o["cost"] = number_to_json(m.cost);
    }
    put("currency", m.currency);
    put("policy_rule", m.policy_rule);
    put("reason", m.reason);
    if (m.attempts != 0) {
        o["attempts"] = m.attempts;
    }
    put_time("next_attempt", m.next_attempt);
    put("external_id", m.external_id);
    put("last_error", m.last_error);
    put_time("sent_at", m.sent_at);
    put_time("delivered_at", m.delivered_at);
    put_time("read_at", m.read_at);
    put_time("clicked_at", m.clicked_at);
    return o;
}

void message_content_from_json(const json::value& v, outbound_message& m) {
    const auto& o = v.as_object();
    if (const auto* q = o.if_contains("quick_replies")) {
        for (const auto& r : q->as_array()) {
            m.quick_replies.emplace_back(r.as_string());
        }
    }
    if (const auto* b = o.if_contains("buttons")) {
        for (const auto& btn : b->as_array()) {
            m.buttons.push_back(button{str(btn.as_object(), "title"), str(btn.as_object(), "payload")});
        }
    }
    m.form = str(o, "form");
    m.not_before = optional_time(o, "not_before");
    m.channel_tag = str(o, "channel_tag");
    if (const auto* h = o.if_contains("by_human")) {
        m.by_human = h->as_bool();
    }
    m.template_name = str(o, "template");
    if (const auto* a = o.if_contains("template_params")) {
        for (const auto& p : a->as_array()) {
            m.template_params.emplace_back(p.as_string());
        }
    }
    if (const auto* c = o.if_contains("cost")) {
        m.cost = c->to_number<double>();
    }
    m.currency = str(o, "currency");
    m.policy_rule = str(o, "policy_rule");
    m.reason = str(o, "reason");
    if (const auto* a = o.if_contains("attempts")) {
        m.attempts = static_cast<int>(a->to_number<std::int64_t>());
    }
    m.next_attempt = optional_time(o, "next_attempt");
    m.external_id = str(o, "external_id");
    m.last_error = str(o, "last_error");
    m.sent_at = optional_time(o, "sent_at");
    m.delivered_at = optional_time(o, "delivered_at");
    m.read_at = optional_time(o, "read_at");
    m.clicked_at = optional_time(o, "clicked_at");
}

json::object message_to_json(const outbound_message& m) {
    json::object o;
    o["id"] = m.id;
    o["key"] = m.key;
    o["contact"] = m.contact;
    o["to"] = m.to.to_string();
    o["text"] = m.text;
    o["content"] = message_content_to_json(m);
    o["purpose"] = m.purpose;
    o["created_at"] = format_time(m.created_at);
    o["cause_event"] = m.cause_event;
    o["cause"] = m.cause;
    o["status"] = to_string(m.status);
    return o;
}

json::object result_to_json(const ingest_result& r) {
    json::object o;
    o["event_id"] = r.event_id;
    o["contact"] = r.contact;
    o["contact_created"] = r.contact_created;
    o["duplicate"] = r.duplicate;
    auto strings = [](const std::vector<std::string>& v) {
        json::array a;
        for (const auto& s : v) {
            a.emplace_back(json::string(s));
        }
        return a;
    };
    auto ints = [](const auto& v) {
        json::array a;
        for (auto i : v) {
            a.emplace_back(i);
        }
        return a;
    };
    o["merged"] = ints(r.merged);
    o["tags_added"] = strings(r.tags_added);
    o["tags_removed"] = strings(r.tags_removed);
    if (r.lifecycle_now) {
        o["lifecycle"] = to_string(*r.lifecycle_now);
    }
    o["rules_fired"] = strings(r.rules_fired);
    o["messages"] = ints(r.messages);
    return o;
}

ingest_result result_from_json(const json::value& v) {
    const auto& o = v.as_object();
    ingest_result r;
    r.event_id = int64(o, "event_id");
    r.contact = int64(o, "contact");
    r.contact_created = o.at("contact_created").as_bool();
    for (const auto& m : o.at("merged").as_array()) {
        r.merged.push_back(m.to_number<contact_id>());
    }
    for (const auto& s : o.at("tags_added").as_array()) {
        r.tags_added.emplace_back(s.as_string());
    }
    for (const auto& s : o.at("tags_removed").as_array()) {
        r.tags_removed.emplace_back(s.as_string());
    }
    if (const auto* l = o.if_contains("lifecycle")) {
        r.lifecycle_now = parse_lifecycle(l->as_string());
    }
    for (const auto& s : o.at("rules_fired").as_array()) {
        r.rules_fired.emplace_back(s.as_string());
    }
    for (const auto& m : o.at("messages").as_array()) {
        r.messages.push_back(m.to_number<std::int64_t>());
    }
    return r;
}

} // namespace tagflow::detail
