#include "detail/codec.hpp"
#include "detail/json_writer.hpp"

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
    case json::kind::string:
        return std::string(v.get_string());
    case json::kind::bool_:
        return v.get_bool() ? "true" : "false";
    case json::kind::int64:
        return std::to_string(v.get_int64());
    case json::kind::uint64:
        return std::to_string(v.get_uint64());
    case json::kind::double_:
        return to_text(value{v.get_double()});
    default:
        return {};
    }
}

std::optional<time_point> optional_time(const json::object& o, std::string_view key) {
    if (const auto* p = o.if_contains(key); p && p->is_string()) {
        return parse_time(p->get_string());
    }
    return std::nullopt;
}

namespace {

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

void write_contact_json(std::string& out, const contact& c, contact_shape shape) {
    const bool full = shape == contact_shape::full;
    json_writer w(out);
    // In the stored shape, defaults are implied by a missing key (contact_from_json).
    auto text = [full, &w](std::string_view key, const std::string& v) {
        if (full || !v.empty()) {
            w.key(key).string(v);
        }
    };
    auto time_or_null = [&w](const std::optional<time_point>& t) {
        if (t) {
            w.string(format_time(*t));
        } else {
            w.null();
        }
    };
    auto when = [full, &w, &time_or_null](std::string_view key, const std::optional<time_point>& t) {
        if (full || t) {
            w.key(key);
            time_or_null(t);
        }
    };
    auto count = [full, &w](std::string_view key, std::int64_t n) {
        if (full || n != 0) {
            w.key(key).integer(n);
        }
    };
    auto time_list = [&w](const std::vector<time_point>& times) {
        w.begin_array();
        for (const auto& t : times) {
            w.string(format_time(t));
        }
        w.end_array();
    };
    w.begin_object();
    w.key("id").integer(c.id);
    w.key("type").string(to_string(c.stage));
    w.key("identities").begin_array();
    for (const auto& i : c.identities) {
        w.string(i.to_string());
    }
    w.end_array();
    const auto& p = c.profile;
    if (full || !p.name.empty() || !p.phone.empty() || !p.email.empty() || !p.time_zone.empty() ||
        !p.locale.empty() || !p.customer_id.empty()) {
        w.key("profile").begin_object();
        text("name", p.name);
        text("phone", p.phone);
        text("email", p.email);
        text("timezone", p.time_zone);
        text("locale", p.locale);
        text("customer_id", p.customer_id);
        w.end_object();
    }
    if (full || !c.fields.empty()) {
        w.key("fields").begin_object();
        for (const auto& [name, f] : c.fields) {
            w.key(name).begin_object();
            w.key("type").string(to_string(f.type));
            w.key("value");
            std::visit(
                [&w](const auto& x) {
                    using T = std::decay_t<decltype(x)>;
                    if constexpr (std::is_same_v<T, std::monostate>) {
                        w.null();
                    } else if constexpr (std::is_same_v<T, bool>) {
                        w.boolean(x);
                    } else if constexpr (std::is_same_v<T, double>) {
                        w.number(x);
                    } else {
                        w.string(x);
                    }
                },
                f.data);
            w.end_object();
        }
        w.end_object();
    }
    if (full || !c.tags.empty()) {
        w.key("tags").begin_array();
        for (const auto& [name, at] : c.tags) {
            w.begin_object().key("name").string(name).key("added_at").string(format_time(at)).end_object();
        }
        w.end_array();
    }
    if (full || !c.notes.empty()) {
        w.key("notes").begin_array();
        for (const auto& n : c.notes) {
            w.begin_object();
            w.key("author").string(n.author).key("at").string(format_time(n.at)).key("text").string(n.text);
            w.end_object();
        }
        w.end_array();
    }
    const auto& a = c.activity;
    if (full || a.first_seen || a.last_inbound || a.last_message || a.last_order || a.first_order ||
        a.conversations != 0 || a.orders != 0 || a.total_spent != 0 || a.returning ||
        !a.last_channel.empty() || !a.last_product.empty()) {
        w.key("activity").begin_object();
        when("first_seen", a.first_seen);
        when("last_inbound", a.last_inbound);
        when("last_message", a.last_message);
        when("last_order", a.last_order);
        when("first_order", a.first_order);
        count("conversations", a.conversations);
        count("orders", a.orders);
        if (full || a.total_spent != 0) {
            w.key("total_spent").number(a.total_spent);
        }
        if (full || a.returning) {
            w.key("returning").boolean(a.returning);
        }
        text("last_channel", a.last_channel);
        text("last_product", a.last_product);
        w.end_object();
    }
    if (full || !c.fired_rules.empty()) {
        w.key("fired_rules").begin_array();
        for (const auto& r : c.fired_rules) {
            w.string(r);
        }
        w.end_array();
    }
    if (c.run) {
        const auto& r = *c.run;
        w.key("run").begin_object();
        w.key("flow").string(r.flow).key("block").string(r.block).key("waiting").string(r.waiting);
        w.key("retries").integer(r.retries).key("timer").integer(r.timer).key("request").integer(r.request);
        w.key("definitions_version").integer(r.definitions_version);
        w.key("stack").begin_array();
        for (const auto& f : r.stack) {
            w.begin_object().key("flow").string(f.flow).key("next").string(f.next).end_object();
        }
        w.end_array();
        w.end_object();
    } else if (full) {
        w.key("run").null();
    }
    if (!c.open_form.empty()) {
        w.key("open_form").string(c.open_form);
    }
    if (!c.capped_sends.empty()) {
        w.key("capped_sends").begin_object();
        for (const auto& [purpose, times] : c.capped_sends) {
            w.key(purpose);
            time_list(times);
        }
        w.end_object();
    }
    if (!c.segments.empty()) {
        w.key("segments").begin_object();
        for (const auto& [name, since] : c.segments) {
            w.key(name).string(format_time(since));
        }
        w.end_object();
    }
    if (!c.channels.empty()) {
        w.key("channels").begin_object();
        for (const auto& [name, st] : c.channels) {
            w.key(name).begin_object();
            when("last_inbound", st.last_inbound);
            count("replies_since_inbound", st.replies_since_inbound);
            if (st.follower) {
                w.key("follower").boolean(*st.follower);
            }
            if (!st.sends.empty()) {
                w.key("sends").begin_object();
                for (const auto& [purpose, times] : st.sends) {
                    w.key(purpose);
                    time_list(times);
                }
                w.end_object();
            }
            w.end_object();
        }
        w.end_object();
    }
    if (!c.date_timers.empty()) {
        w.key("date_timers").begin_object();
        for (const auto& [name, entry] : c.date_timers) {
            w.key(name)
                .begin_object()
                .key("from")
                .string(entry.first)
                .key("timer")
                .integer(entry.second)
                .end_object();
        }
        w.end_object();
    }
    if (!c.sequences.empty()) {
        w.key("sequences").begin_object();
        for (const auto& [name, st] : c.sequences) {
            w.key(name).begin_object();
            w.key("entered").string(format_time(st.entered));
            w.key("next_step").integer(st.next_step);
            w.key("last_step_at");
            time_or_null(st.last_step_at);
            w.key("timer").integer(st.timer);
            w.key("sends").integer(st.sends);
            w.key("active").boolean(st.active);
            w.key("completed").boolean(st.completed);
            w.key("left_at");
            time_or_null(st.left_at);
            w.end_object();
        }
        w.end_object();
    }
    if (c.paused_until) {
        w.key("paused_until");
        w.string(*c.paused_until == time_point::max() ? std::string("indefinitely")
                                                      : format_time(*c.paused_until));
    }
    w.end_object();
}

std::string contact_json_text(const contact& c, contact_shape shape) {
    std::string out;
    out.reserve(512);
    write_contact_json(out, c, shape);
    return out;
}

json::object contact_to_json(const contact& c, contact_shape shape) {
    // One writer is the only description of the document; the tree is read back from its text.
    return std::move(json::parse(contact_json_text(c, shape)).as_object());
}

contact contact_from_json(const json::value& v) {
    const auto& o = v.as_object();
    // A missing key is the default (the stored shape leaves defaults out); a present key of the
    // wrong kind is a damaged document and throws. Every contact read goes through here (a
    // broadcast reads each recipient), so each object is walked once instead of being searched
    // once per key.
    auto text = [](const json::value& x) {
        return x.is_string() ? std::string(x.get_string()) : std::string();
    };
    auto number = [](const json::value& x) -> std::int64_t {
        return x.is_number() ? x.to_number<std::int64_t>() : 0;
    };
    auto when = [](const json::value& x) -> std::optional<time_point> {
        if (x.is_string()) {
            return parse_time(x.get_string());
        }
        return std::nullopt;
    };
    auto times = [](const json::value& list) {
        std::vector<time_point> out;
        for (const auto& t : list.as_array()) {
            out.push_back(parse_time(t.as_string()));
        }
        return out;
    };
    contact c;
    const json::value* run = nullptr;
    for (const auto& [key, x] : o) {
        if (x.is_null()) {
            continue;
        }
        if (key == "id") {
            c.id = number(x);
        } else if (key == "type") {
            c.stage = parse_lifecycle(text(x)).value_or(lifecycle::stranger);
        } else if (key == "identities") {
            for (const auto& i : x.as_array()) {
                c.identities.push_back(identity::parse(i.as_string()));
            }
        } else if (key == "profile") {
            for (const auto& [pk, pv] : x.as_object()) {
                if (pk == "name") {
                    c.profile.name = text(pv);
                } else if (pk == "phone") {
                    c.profile.phone = text(pv);
                } else if (pk == "email") {
                    c.profile.email = text(pv);
                } else if (pk == "timezone") {
                    c.profile.time_zone = text(pv);
                } else if (pk == "locale") {
                    c.profile.locale = text(pv);
                } else if (pk == "customer_id") {
                    c.profile.customer_id = text(pv);
                }
            }
        } else if (key == "fields") {
            for (const auto& [name, fv] : x.as_object()) {
                const auto& fo = fv.as_object();
                c.fields[std::string(name)] =
                    field_value{parse_field_type(str(fo, "type")).value_or(field_type::text),
                                value_from_json(fo.at("value"))};
            }
        } else if (key == "tags") {
            for (const auto& t : x.as_array()) {
                const auto& to = t.as_object();
                c.tags[str(to, "name")] = parse_time(to.at("added_at").as_string());
            }
        } else if (key == "notes") {
            for (const auto& n : x.as_array()) {
                const auto& no = n.as_object();
                c.notes.push_back(
                    note{str(no, "author"), parse_time(no.at("at").as_string()), str(no, "text")});
            }
        } else if (key == "activity") {
            auto& a = c.activity;
            for (const auto& [ak, av] : x.as_object()) {
                if (ak == "first_seen") {
                    a.first_seen = when(av);
                } else if (ak == "last_inbound") {
                    a.last_inbound = when(av);
                } else if (ak == "last_message") {
                    a.last_message = when(av);
                } else if (ak == "last_order") {
                    a.last_order = when(av);
                } else if (ak == "first_order") {
                    a.first_order = when(av);
                } else if (ak == "conversations") {
                    a.conversations = number(av);
                } else if (ak == "orders") {
                    a.orders = number(av);
                } else if (ak == "total_spent") {
                    a.total_spent = av.to_number<double>();
                } else if (ak == "returning") {
                    a.returning = av.as_bool();
                } else if (ak == "last_channel") {
                    a.last_channel = text(av);
                } else if (ak == "last_product") {
                    a.last_product = text(av);
                }
            }
        } else if (key == "fired_rules") {
            for (const auto& r : x.as_array()) {
                c.fired_rules.insert(std::string(r.as_string()));
            }
        } else if (key == "open_form") {
            c.open_form = text(x);
        } else if (key == "capped_sends") {
            if (x.is_object()) {
                for (const auto& [purpose, list] : x.get_object()) {
                    c.capped_sends[std::string(purpose)] = times(list);
                }
            }
        } else if (key == "segments") {
            if (x.is_object()) {
                for (const auto& [name, since] : x.get_object()) {
                    c.segments[std::string(name)] = parse_time(since.as_string());
                }
            }
        } else if (key == "channels") {
            if (x.is_object()) {
                for (const auto& [name, entry] : x.get_object()) {
                    auto& st = c.channels[std::string(name)];
                    for (const auto& [ck, cv] : entry.as_object()) {
                        if (ck == "last_inbound") {
                            st.last_inbound = when(cv);
                        } else if (ck == "replies_since_inbound") {
                            st.replies_since_inbound = static_cast<int>(number(cv));
                        } else if (ck == "follower") {
                            st.follower = cv.as_bool();
                        } else if (ck == "sends" && cv.is_object()) {
                            for (const auto& [purpose, list] : cv.get_object()) {
                                st.sends[std::string(purpose)] = times(list);
                            }
                        }
                    }
                }
            }
        } else if (key == "date_timers") {
            if (x.is_object()) {
                for (const auto& [name, d] : x.get_object()) {
                    c.date_timers[std::string(name)] = {str(d.as_object(), "from"),
                                                        int64(d.as_object(), "timer")};
                }
            }
        } else if (key == "sequences") {
            if (x.is_object()) {
                for (const auto& [name, entry] : x.get_object()) {
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
        } else if (key == "paused_until") {
            if (x.is_string()) {
                c.paused_until =
                    x.get_string() == "indefinitely" ? time_point::max() : parse_time(x.get_string());
            }
        } else if (key == "run") {
            run = &x;
        }
    }
    if (run && run->is_object()) {
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
    case 's':
        return std::chrono::seconds(amount);
    case 'm':
        return std::chrono::minutes(amount);
    case 'h':
        return std::chrono::hours(amount);
    case 'd':
        return std::chrono::hours(24 * amount);
    default:
        return std::nullopt;
    }
}

std::string event_json_text(const event& e) {
    std::string out;
    out.reserve(256);
    json_writer w(out);
    w.begin_object();
    w.key("kind").string(to_string(e.kind));
    if (!e.identity.channel.empty() || !e.identity.external_id.empty()) {
        w.key("identity").string(e.identity.to_string());
    }
    if (e.contact) {
        w.key("contact").integer(*e.contact);
    }
    if (e.at) {
        w.key("at").string(format_time(*e.at));
    }
    auto put = [&w](std::string_view key, const std::string& s) {
        if (!s.empty()) {
            w.key(key).string(s);
        }
    };
    put("key", e.key);
    put("text", e.text);
    put("payload", e.payload);
    put("form", e.form);
    if (!e.data.empty()) {
        w.key("data").begin_object();
        for (const auto& [k, v] : e.data) {
            w.key(k).string(v);
        }
        w.end_object();
    }
    if (!e.profile.empty()) {
        w.key("profile").begin_object();
        auto opt = [&w](std::string_view key, const std::optional<std::string>& s) {
            if (s) {
                w.key(key).string(*s);
            }
        };
        opt("name", e.profile.name);
        opt("phone", e.profile.phone);
        opt("email", e.profile.email);
        opt("timezone", e.profile.time_zone);
        opt("locale", e.profile.locale);
        if (!e.profile.fields.empty()) {
            w.key("fields").begin_object();
            for (const auto& [k, v] : e.profile.fields) {
                w.key(k).string(v);
            }
            w.end_object();
        }
        w.end_object();
    }
    if (e.message_id != 0) {
        w.key("message_id").integer(e.message_id);
    }
    put("external_id", e.external_id);
    if (e.delivery) {
        w.key("delivery").string(to_string(*e.delivery));
    }
    if (e.until) {
        w.key("until").string(format_time(*e.until));
    }
    if (e.kind == event_kind::order_placed) {
        w.key("order").begin_object();
        w.key("id").string(e.order.order_id);
        w.key("total").number(e.order.total);
        w.key("currency").string(e.order.currency);
        w.key("items").begin_array();
        for (const auto& i : e.order.items) {
            w.string(i);
        }
        w.end_array();
        w.end_object();
    }
    put("customer_id", e.customer_id);
    put("tag", e.tag);
    put("name", e.name);
    put("author", e.author);
    if (e.request_id != 0) {
        w.key("request_id").integer(e.request_id);
    }
    if (e.status != 0) {
        w.key("status").integer(e.status);
    }
    put("error", e.error);
    w.end_object();
    return out;
}

json::object message_content_to_json(const outbound_message& m, json::storage_ptr sp) {
    json::object o(sp);
    if (!m.quick_replies.empty()) {
        json::array q(sp);
        for (const auto& r : m.quick_replies) {
            q.emplace_back(json::string(r));
        }
        o["quick_replies"] = std::move(q);
    }
    if (!m.buttons.empty()) {
        json::array b(sp);
        for (const auto& btn : m.buttons) {
            json::object bo(sp);
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
        json::array a(sp);
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

json::object result_to_json(const ingest_result& r, json::storage_ptr sp) {
    // One writer of the document: the tree is read back from the text the log keeps.
    return std::move(json::parse(result_json_text(r), std::move(sp)).as_object());
}

std::string json_kind_name(const json::value& v) {
    switch (v.kind()) {
    case json::kind::null:
        return "null";
    case json::kind::bool_:
        return "a bool";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
        return "a number";
    case json::kind::string:
        return "a string";
    case json::kind::array:
        return "an array";
    case json::kind::object:
        return "an object";
    }
    return "a value";
}

std::string result_json_text(const ingest_result& r) {
    std::string out;
    out.reserve(160);
    json_writer w(out);
    auto strings = [&w](std::string_view key, const std::vector<std::string>& v) {
        w.key(key).begin_array();
        for (const auto& s : v) {
            w.string(s);
        }
        w.end_array();
    };
    auto ints = [&w](std::string_view key, const auto& v) {
        w.key(key).begin_array();
        for (auto i : v) {
            w.integer(i);
        }
        w.end_array();
    };
    w.begin_object();
    w.key("event_id").integer(r.event_id);
    w.key("contact").integer(r.contact);
    w.key("contact_created").boolean(r.contact_created);
    w.key("duplicate").boolean(r.duplicate);
    ints("merged", r.merged);
    strings("tags_added", r.tags_added);
    strings("tags_removed", r.tags_removed);
    if (r.lifecycle_now) {
        w.key("lifecycle").string(to_string(*r.lifecycle_now));
    }
    strings("rules_fired", r.rules_fired);
    ints("messages", r.messages);
    w.end_object();
    return out;
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
