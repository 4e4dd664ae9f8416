#include "detail/core.hpp"

#include "detail/codec.hpp"
#include "detail/dates.hpp"
#include "detail/flows.hpp"
#include "detail/render.hpp"
#include "detail/sequences.hpp"

#include <tagflow/error.hpp>
#include <tagflow/phone.hpp>
#include <tagflow/text.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace tagflow::detail {

namespace json = boost::json;

bool contact_view::has_tag(std::string_view tag) const {
    return contact_.has_tag(tag);
}

value contact_view::field(std::string_view name) const {
    return contact_.field(name);
}

value contact_view::attribute(std::string_view name) const {
    const auto& a = contact_.activity;
    auto days_since = [this](const std::optional<time_point>& t) -> value {
        if (!t) {
            return std::monostate{};
        }
        return std::chrono::duration<double, std::ratio<86400>>(now_ - *t).count();
    };
    if (name == "lifecycle") {
        return std::string(to_string(contact_.stage));
    }
    if (name == "orders") {
        return static_cast<double>(a.orders);
    }
    if (name == "total_spent") {
        return a.total_spent;
    }
    if (name == "conversations") {
        return static_cast<double>(a.conversations);
    }
    if (name == "returning") {
        return a.returning;
    }
    if (name == "first_time") {
        return !a.returning;
    }
    if (name == "channel") {
        return a.last_channel.empty() ? value{} : value{a.last_channel};
    }
    if (name == "days_since_last_inbound") {
        return days_since(a.last_inbound);
    }
    if (name == "days_since_first_seen") {
        return days_since(a.first_seen);
    }
    if (name == "days_since_last_order") {
        return days_since(a.last_order);
    }
    return contact_.field(name == "timezone" ? "timezone" : name);
}

value coerce_field(field_type type, const std::string& text) {
    switch (type) {
    case field_type::text:
        return text;
    case field_type::number: {
        double d = 0;
        const auto* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, d);
        if (text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(d)) {
            throw error(errc::invalid_argument, "\"" + text + "\" is not a number");
        }
        return d;
    }
    case field_type::boolean: {
        const auto f = fold(text);
        if (f == "true" || f == "1" || f == "yes" || f == "co") {
            return true;
        }
        if (f == "false" || f == "0" || f == "no" || f == "khong") {
            return false;
        }
        throw error(errc::invalid_argument, "\"" + text + "\" is not a bool (true/false, yes/no, có/không)");
    }
    case field_type::date: {
        try {
            const auto t = parse_time(text + "T00:00Z");
            (void)t;
        } catch (const error&) {
            throw error(errc::invalid_argument, "\"" + text + "\" is not a date (YYYY-MM-DD)");
        }
        if (text.size() != 10) {
            throw error(errc::invalid_argument, "\"" + text + "\" is not a date (YYYY-MM-DD)");
        }
        return text;
    }
    case field_type::phone:
        return normalize_phone(text);
    case field_type::email:
        return normalize_email(text);
    }
    return text;
}

void set_field(contact& c, const definitions& defs, const std::string& name, const std::string& text) {
    auto& p = c.profile;
    if (name == "name") {
        p.name = text;
    } else if (name == "phone") {
        p.phone = text.empty() ? std::string{} : normalize_phone(text);
    } else if (name == "email") {
        p.email = text.empty() ? std::string{} : normalize_email(text);
    } else if (name == "timezone") {
        if (!text.empty() && !is_valid_time_zone(text)) {
            throw error(errc::invalid_argument, "\"" + text + "\" is not an IANA time zone");
        }
        p.time_zone = text;
    } else if (name == "locale") {
        p.locale = text;
    } else if (name == "customer_id") {
        p.customer_id = text;
    } else {
        const auto* def = defs.find_field(name);
        if (!def) {
            throw error(errc::invalid_argument, "field \"" + name + "\" is not declared");
        }
        if (text.empty()) {
            c.fields.erase(name);
        } else {
            c.fields[name] = field_value{def->type, coerce_field(def->type, text)};
        }
    }
}

void merge_contacts(contact& into, const contact& from) {
    for (const auto& id : from.identities) {
        if (!into.has_identity(id)) {
            into.identities.push_back(id);
        }
    }
    std::sort(into.identities.begin(), into.identities.end());
    auto fill = [](std::string& mine, const std::string& theirs) {
        if (mine.empty()) {
            mine = theirs;
        }
    };
    fill(into.profile.name, from.profile.name);
    fill(into.profile.phone, from.profile.phone);
    fill(into.profile.email, from.profile.email);
    fill(into.profile.time_zone, from.profile.time_zone);
    fill(into.profile.locale, from.profile.locale);
    fill(into.profile.customer_id, from.profile.customer_id);
    into.stage = std::max(into.stage, from.stage);
    for (const auto& [name, f] : from.fields) {
        into.fields.emplace(name, f);
    }
    for (const auto& [tag, at] : from.tags) {
        auto [it, inserted] = into.tags.emplace(tag, at);
        if (!inserted && at < it->second) {
            it->second = at;
        }
    }
    into.notes.insert(into.notes.end(), from.notes.begin(), from.notes.end());
    std::stable_sort(into.notes.begin(), into.notes.end(),
                     [](const note& a, const note& b) { return a.at < b.at; });
    auto& a = into.activity;
    const auto& b = from.activity;
    auto earliest = [](std::optional<time_point>& x, const std::optional<time_point>& y) {
        if (y && (!x || *y < *x)) {
            x = y;
        }
    };
    auto latest = [](std::optional<time_point>& x, const std::optional<time_point>& y) {
        if (y && (!x || *y > *x)) {
            x = y;
            return true;
        }
        return false;
    };
    earliest(a.first_seen, b.first_seen);
    earliest(a.first_order, b.first_order);
    if (latest(a.last_inbound, b.last_inbound)) {
        a.last_channel = b.last_channel;
    }
    latest(a.last_message, b.last_message);
    if (latest(a.last_order, b.last_order)) {
        a.last_product = b.last_product;
    }
    a.conversations += b.conversations;
    a.orders += b.orders;
    a.total_spent += b.total_spent;
    a.returning = a.returning || b.returning;
    into.fired_rules.insert(from.fired_rules.begin(), from.fired_rules.end());
    // Automation state: the survivor keeps its own; what only the other had carries over (its
    // timers are re-pointed to the survivor by the engine).
    if (!into.run) {
        into.run = from.run;
    }
    if (into.open_form.empty()) {
        into.open_form = from.open_form;
    }
    if (!into.paused_until) {
        into.paused_until = from.paused_until;
    }
    for (const auto& [name, state] : from.sequences) {
        into.sequences.emplace(name, state);
    }
}

std::int64_t record(core_env& env, contact_id who, std::string kind, json::object body, std::int64_t cause,
                    std::string origin) {
    if (!env.keep_log) {
        return ++env.ids.event;
    }
    return record_json(env, who, std::move(kind), json::serialize(body), cause, std::move(origin));
}

const std::string& contact_zone(const contact& c, const core_env& env) {
    return c.profile.time_zone.empty() ? env.options.default_time_zone : c.profile.time_zone;
}

send_context policy_context(const contact& c, const std::string& channel, const std::string& zone,
                            time_point now) {
    send_context ctx;
    ctx.now = now;
    const auto it = c.channels.find(channel);
    ctx.state = it == c.channels.end() ? nullptr : &it->second;
    ctx.zone = zone;
    return ctx;
}

send_context policy_context(const contact& c, const outbound_message& m, const std::string& zone,
                            time_point now) {
    auto ctx = policy_context(c, m.to.channel, zone, now);
    ctx.purpose = m.purpose;
    ctx.channel_tag = m.channel_tag;
    ctx.by_human = m.by_human;
    ctx.is_template = !m.template_name.empty();
    return ctx;
}

void cancel_timer_id(core_env& env, std::int64_t id) {
    auto& fresh = env.out.timers;
    const auto it =
        std::find_if(fresh.begin(), fresh.end(), [id](const timer_record& t) { return t.id == id; });
    if (it != fresh.end()) {
        fresh.erase(it);
    } else {
        env.out.removed_timers.push_back(id);
    }
}

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    // Runs of characters that need no escape (nearly all of them) are appended whole.
    std::size_t run = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto u = static_cast<unsigned char>(text[i]);
        if (u >= 0x20 && u != '"' && u != '\\') {
            continue; // UTF-8 passes through as it is, like Boost.JSON's serializer
        }
        out.append(text.data() + run, i - run);
        run = i + 1;
        switch (u) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        }
    }
    out.append(text.data() + run, text.size() - run);
    out += '"';
}

std::int64_t record_json(core_env& env, contact_id who, std::string kind, std::string body_json,
                         std::int64_t cause, std::string origin) {
    if (!env.keep_log) {
        return ++env.ids.event;
    }
    event_record r;
    r.id = ++env.ids.event;
    r.contact = who;
    r.kind = std::move(kind);
    r.at = env.now;
    r.body = std::move(body_json);
    r.cause = cause;
    r.origin = std::move(origin);
    r.definitions_version = env.definitions_version;
    env.out.events.push_back(std::move(r));
    return env.ids.event;
}

void change_tag(contact& c, const std::string& tag, bool add, std::int64_t cause, const std::string& origin,
                int depth, core_env& env, std::vector<raised>& queue) {
    if (add == c.has_tag(tag)) {
        return; // no change, no event: rules must not fire for a tag the contact already had
    }
    if (add) {
        c.tags[tag] = env.now;
        env.result.tags_added.push_back(tag);
    } else {
        c.tags.erase(tag);
        env.result.tags_removed.push_back(tag);
    }
    json::object body;
    body["tag"] = tag;
    const auto id = record(env, c.id, add ? "tag_added" : "tag_removed", std::move(body), cause, origin);
    queue.push_back({add ? trigger::tag_added : trigger::tag_removed, tag, id, depth});
}

void check_lifecycle(contact& c, std::int64_t cause, const std::string& origin, int depth, core_env& env,
                     std::vector<raised>& queue) {
    const auto next = std::max(c.stage, qualified_lifecycle(c.profile));
    if (next == c.stage) {
        return;
    }
    json::object body;
    body["from"] = to_string(c.stage);
    body["to"] = to_string(next);
    c.stage = next;
    env.result.lifecycle_now = next;
    const auto id = record(env, c.id, "lifecycle_changed", std::move(body), cause, origin);
    queue.push_back({trigger::lifecycle_changed, std::string(to_string(next)), id, depth});
}

namespace {

void touch_inbound(contact& c, const event& e, time_point now) {
    c.activity.last_inbound = now;
    if (!e.identity.channel.empty()) {
        c.activity.last_channel = e.identity.channel;
        // Channel windows and per-inbound reply budgets restart with every inbound message.
        auto& st = c.channels[e.identity.channel];
        st.last_inbound = now;
        st.replies_since_inbound = 0;
    }
}

bool filter_matches(const rule& r, const raised& what, const event* e) {
    const auto& f = r.filter;
    switch (r.when) {
    case trigger::message_received:
    case trigger::first_message:
    case trigger::returning_message:
        try {
            return !f.text || (e && f.text->matches(e->text));
        } catch (const error&) {
            return false; // a regex that gives up on a huge message does not match it
        }
    case trigger::postback:
        return f.payload.empty() || (e && f.payload == e->payload);
    case trigger::form_opened:
    case trigger::form_submitted:
        return f.form.empty() || (e && f.form == e->form);
    case trigger::order_placed:
        return f.item.empty() ||
               (e && std::any_of(e->order.items.begin(), e->order.items.end(),
                                 [&](const std::string& item) { return fold(item) == fold(f.item); }));
    case trigger::tag_added:
    case trigger::tag_removed:
        return f.tag.empty() || f.tag == what.detail;
    case trigger::lifecycle_changed:
        return !f.to || to_string(*f.to) == what.detail;
    case trigger::track:
        return f.name.empty() || (e && f.name == e->name);
    case trigger::segment_entered:
    case trigger::segment_left:
        return f.segment.empty() || f.segment == what.detail;
    case trigger::message_sent:
    case trigger::message_delivered:
    case trigger::message_read:
    case trigger::message_clicked:
    case trigger::message_failed:
    case trigger::message_blocked:
        return f.cause.empty() || what.detail.rfind(f.cause, 0) == 0;
    default:
        return true;
    }
}

// A dispatch result or platform receipt: updates the outbox row and raises the trigger rules
// branch on. Receipts only move a message forward (sent -> delivered -> read); a late or
// repeated one changes nothing.
void apply_delivery(contact& c, const event& e, std::int64_t input_id, core_env& env,
                    std::vector<raised>& queue) {
    if (!env.delivery_message || !e.delivery) {
        return;
    }
    outbound_message m = *env.delivery_message;
    const time_point now = *e.at;
    std::optional<trigger> raised_trigger;
    auto fail_with = [&](message_status status) {
        ++m.attempts;
        m.status = status;
        m.last_error = e.error;
        m.next_attempt.reset();
        raised_trigger = trigger::message_failed;
    };
    switch (*e.delivery) {
    case delivery_status::sent:
        ++m.attempts;
        m.status = message_status::sent;
        m.external_id = e.external_id;
        m.sent_at = now;
        m.next_attempt.reset();
        raised_trigger = trigger::message_sent;
        break;
    case delivery_status::retry:
        ++m.attempts;
        m.status = message_status::pending;
        m.last_error = e.error;
        m.next_attempt = e.until.value_or(now);
        break;
    case delivery_status::failed:
        fail_with(message_status::failed);
        break;
    case delivery_status::dead_letter:
        fail_with(message_status::dead_letter);
        break;
    case delivery_status::blocked:
        m.status = message_status::blocked;
        m.policy_rule = e.name;
        m.reason = e.error;
        raised_trigger = trigger::message_blocked;
        break;
    case delivery_status::deferred:
        m.status = message_status::deferred;
        m.policy_rule = e.name;
        m.reason = e.error;
        m.not_before = e.until.value_or(now);
        break;
    case delivery_status::delivered:
        if (!m.delivered_at) {
            m.delivered_at = now;
            raised_trigger = trigger::message_delivered;
        }
        if (m.status == message_status::sent) {
            m.status = message_status::delivered;
        }
        break;
    case delivery_status::read:
        if (!m.read_at) {
            m.read_at = now;
            raised_trigger = trigger::message_read;
        }
        if (m.status == message_status::sent || m.status == message_status::delivered) {
            m.status = message_status::read;
        }
        break;
    case delivery_status::clicked:
        if (!m.clicked_at) {
            m.clicked_at = now;
            raised_trigger = trigger::message_clicked;
        }
        break;
    case delivery_status::cancelled:
        // Only what has not gone out can be withdrawn.
        if (m.waiting()) {
            m.status = message_status::cancelled;
            m.reason = e.error;
        }
        break;
    }
    if (m == *env.delivery_message) {
        return;
    }
    env.out.message_updates.push_back(m);
    if (raised_trigger) {
        queue.push_back({*raised_trigger, m.cause, input_id, 0});
    }
    (void)c;
}

// Replies go where the contact wrote from; otherwise to the channel they used last.
identity reply_address(const contact& c, const event* e) {
    if (e && !e->identity.channel.empty() && c.has_identity(e->identity)) {
        return e->identity;
    }
    for (const auto& id : c.identities) {
        if (id.channel == c.activity.last_channel) {
            return id;
        }
    }
    return c.identities.empty() ? identity{} : c.identities.front();
}

} // namespace

// Frequency caps: over the cap, the message is deferred to the first instant the window
// allows, recorded with the contact so later sends see it, and logged.
void apply_caps(contact& c, outbound_message& m, core_env& env) {
    duration longest{};
    for (const auto& cap : env.defs.caps()) {
        if (cap.purpose == m.purpose) {
            longest = std::max(longest, cap.per);
        }
    }
    if (longest == duration{}) {
        return;
    }
    auto& times = c.capped_sends[m.purpose];
    // Keep only what can still count for some cap: inside the longest window, or later.
    times.erase(
        std::remove_if(times.begin(), times.end(), [&](time_point t) { return t <= env.now - longest; }),
        times.end());
    std::sort(times.begin(), times.end());
    const time_point start = m.not_before.value_or(env.now); // scheduled sends count from their time
    time_point at = start;
    // Each cap may push the time later; repeat until every cap allows it (a few rounds at most).
    for (bool moved = true; moved;) {
        moved = false;
        for (const auto& cap : env.defs.caps()) {
            if (cap.purpose != m.purpose) {
                continue;
            }
            // Sends counted against `at`: those after at - per (later ones were already promised).
            std::vector<time_point> counted;
            for (const auto t : times) {
                if (t > at - cap.per) {
                    counted.push_back(t);
                }
            }
            if (static_cast<int>(counted.size()) >= cap.max) {
                const auto allowed = counted[counted.size() - static_cast<std::size_t>(cap.max)] + cap.per;
                if (allowed > at) {
                    at = allowed;
                    moved = true;
                }
            }
        }
    }
    if (at > start) {
        m.status = message_status::deferred;
        m.not_before = at;
        json::object body;
        body["message"] = m.id;
        body["purpose"] = m.purpose;
        body["until"] = format_time(at);
        record(env, c.id, "send_capped", std::move(body), m.cause_event, m.cause);
    }
    times.push_back(at);
    std::sort(times.begin(), times.end());
}

// The channel's policy profile, decided with the send so the outbox row says from the start
// whether it may go, when, and at what cost. The dispatcher checks the time rules again.
void apply_channel_policy(contact& c, outbound_message& m, core_env& env) {
    const auto* profile = env.defs.channel_policy(m.to.channel);
    if (!profile) {
        return;
    }
    auto& state = c.channels[m.to.channel]; // updated below once the verdict is known
    const auto ctx = policy_context(c, m, contact_zone(c, env), m.not_before.value_or(env.now));
    const auto d = evaluate(*profile, ctx);
    // The log row's body, built only where the row is kept (dry runs drop it).
    auto log = [&](const char* kind, auto&& add) {
        json::object body;
        if (env.keep_log) {
            body["message"] = m.id;
            body["channel"] = m.to.channel;
            body["policy"] = profile->name;
            body["rule"] = d.rule;
            add(body);
        }
        record(env, c.id, kind, std::move(body), m.cause_event, m.cause);
    };
    if (d.outcome == policy_decision::verdict::block) {
        m.status = message_status::blocked;
        m.policy_rule = d.rule;
        m.reason = d.reason;
        log("send_blocked", [&](json::object& body) { body["reason"] = d.reason; });
        return;
    }
    if (!d.text_prefix.empty() && m.text.rfind(d.text_prefix, 0) != 0) {
        m.text = d.text_prefix + m.text;
    }
    m.cost = d.cost;
    m.currency = d.currency;
    time_point goes = ctx.now;
    if (d.outcome == policy_decision::verdict::defer) {
        m.status = message_status::deferred;
        m.not_before = *d.until;
        m.policy_rule = d.rule;
        m.reason = d.reason;
        goes = *d.until;
        log("send_deferred", [&](json::object& body) {
            body["until"] = format_time(*d.until);
            body["reason"] = d.reason;
        });
    } else if (d.cost > 0) {
        m.policy_rule = d.rule;
        log("send_billed", [&](json::object& body) {
            body["cost"] = d.cost;
            body["currency"] = d.currency;
        });
    }
    ++state.replies_since_inbound;
    // Keep only the sends some limit rule can still count.
    duration longest{};
    for (const auto& r : profile->rules) {
        if (r.what == policy_rule::kind::limit) {
            longest = std::max(longest, r.per);
        }
    }
    if (longest > duration{}) {
        auto& times = state.sends[m.purpose];
        std::erase_if(times, [&](time_point t) { return t <= env.now - longest; });
        times.push_back(goes);
        std::sort(times.begin(), times.end());
    }
}

// The first channel of the preference list where the contact has an address and the channel's
// policy would not block this message now. When none qualifies, the first channel with an
// address is returned so the policy records the block; with no address at all, an empty one.
identity reachable_address(const contact& c, const message_parts& parts, const core_env& env) {
    std::optional<identity> first_known;
    for (const auto& channel : parts.channels) {
        std::optional<identity> address;
        for (const auto& id : c.identities) {
            if (id.channel == channel) {
                address = id;
                break;
            }
        }
        if (!address && channel == "email" && !c.profile.email.empty()) {
            address = identity{"email", c.profile.email};
        }
        if (!address && channel == "sms" && !c.profile.phone.empty()) {
            address = identity{"sms", c.profile.phone};
        }
        if (!address) {
            continue;
        }
        if (!first_known) {
            first_known = address;
        }
        const auto* profile = env.defs.channel_policy(channel);
        if (!profile) {
            return *address;
        }
        auto ctx = policy_context(c, channel, contact_zone(c, env), env.now);
        ctx.purpose = parts.purpose;
        ctx.channel_tag = parts.channel_tag;
        ctx.is_template = !parts.template_name.empty();
        if (evaluate(*profile, ctx).outcome != policy_decision::verdict::block) {
            return *address;
        }
    }
    return first_known.value_or(identity{});
}

void send(contact& c, message_parts parts, std::int64_t cause_event, const std::string& cause,
          const std::string& key_part, core_env& env) {
    outbound_message m;
    m.id = ++env.ids.message;
    const auto ordinal = std::to_string(env.sends++);
    m.key.reserve(env.key_base.size() + key_part.size() + ordinal.size() + 2);
    m.key.append(env.key_base).append(1, '/').append(key_part).append(1, '/').append(ordinal);
    m.contact = c.id;
    m.to = parts.channels.empty() ? reply_address(c, env.input) : reachable_address(c, parts, env);
    m.text = render_template(parts.text, c);
    m.quick_replies = std::move(parts.quick_replies);
    m.buttons = std::move(parts.buttons);
    m.form = std::move(parts.form);
    m.purpose = std::move(parts.purpose);
    m.template_name = std::move(parts.template_name);
    for (const auto& p : parts.template_params) {
        m.template_params.push_back(render_template(p, c));
    }
    m.channel_tag = std::move(parts.channel_tag);
    m.created_at = env.now;
    if (parts.not_before && *parts.not_before > env.now) {
        m.status = message_status::deferred; // scheduled: policies judge it at that time
        m.not_before = parts.not_before;
    }
    m.cause_event = cause_event;
    m.cause = cause;
    apply_caps(c, m, env);
    if (m.to.channel.empty() && !parts.channels.empty()) {
        std::string list;
        for (const auto& ch : parts.channels) {
            list += list.empty() ? "" : ", ";
            list += ch;
        }
        m.status = message_status::blocked;
        m.policy_rule = "unreachable";
        m.reason = "the contact has no address on any of: " + list;
        json::object body;
        body["message"] = m.id;
        body["reason"] = m.reason;
        record(env, c.id, "send_blocked", std::move(body), m.cause_event, m.cause);
    } else {
        apply_channel_policy(c, m, env);
    }
    env.result.messages.push_back(m.id);
    env.out.messages.push_back(std::move(m));
}

std::vector<raised> apply_input(contact& c, const event& e, std::int64_t input_id, core_env& env) {
    const time_point now = *e.at;
    std::vector<raised> queue;
    auto& act = c.activity;
    if (!act.first_seen) {
        act.first_seen = now;
    }
    const auto& p = e.profile;
    if (p.name) {
        c.profile.name = *p.name;
    }
    if (p.phone) {
        c.profile.phone = *p.phone;
    }
    if (p.email) {
        c.profile.email = *p.email;
    }
    if (p.time_zone) {
        c.profile.time_zone = *p.time_zone;
    }
    if (p.locale) {
        c.profile.locale = *p.locale;
    }
    for (const auto& [name, text] : p.fields) {
        set_field(c, env.defs, name, text);
    }
    auto raise = [&](trigger t) { queue.push_back({t, {}, input_id, 0}); };
    switch (e.kind) {
    case event_kind::message_received: {
        // Conversations count messages only: a button press before the first message must not
        // swallow the first-message greeting.
        const bool new_conversation =
            !act.last_message || now - *act.last_message > env.options.returning_gap;
        if (new_conversation) {
            act.returning = act.conversations > 0 || act.orders > 0;
            ++act.conversations;
        }
        touch_inbound(c, e, now);
        act.last_message = now;
        raise(trigger::message_received);
        if (new_conversation) {
            raise(act.returning ? trigger::returning_message : trigger::first_message);
        }
        break;
    }
    case event_kind::postback:
        touch_inbound(c, e, now);
        raise(trigger::postback);
        break;
    case event_kind::form_opened:
        touch_inbound(c, e, now);
        raise(trigger::form_opened);
        break;
    case event_kind::form_submitted:
        touch_inbound(c, e, now);
        raise(trigger::form_submitted);
        break;
    case event_kind::order_placed:
        ++act.orders;
        act.total_spent += e.order.total;
        act.last_order = now;
        if (!act.first_order) {
            act.first_order = now;
        }
        if (!e.order.items.empty()) {
            act.last_product = e.order.items.front();
        }
        raise(trigger::order_placed);
        break;
    case event_kind::profile_updated:
        raise(trigger::profile_updated);
        break;
    case event_kind::customer_linked:
        c.profile.customer_id = e.customer_id;
        raise(trigger::customer_linked);
        break;
    case event_kind::note_added:
        c.notes.push_back(note{e.author.empty() ? std::string("api") : e.author, now, e.text});
        raise(trigger::note_added);
        break;
    case event_kind::track:
        raise(trigger::track);
        break;
    case event_kind::tag_added:
    case event_kind::tag_removed: {
        const bool add = e.kind == event_kind::tag_added;
        if (add != c.has_tag(e.tag)) {
            if (add) {
                c.tags[e.tag] = now;
                env.result.tags_added.push_back(e.tag);
            } else {
                c.tags.erase(e.tag);
                env.result.tags_removed.push_back(e.tag);
            }
            queue.push_back({add ? trigger::tag_added : trigger::tag_removed, e.tag, input_id, 0});
        }
        break;
    }
    case event_kind::lifecycle_changed:
        break; // refused by validation; derived only
    case event_kind::request_completed:
        break; // flows take the answer
    case event_kind::followed:
    case event_kind::unfollowed:
        if (!e.identity.channel.empty()) {
            c.channels[e.identity.channel].follower = e.kind == event_kind::followed;
        }
        // Following opens the Zalo interaction window as a message does.
        if (e.kind == event_kind::followed) {
            touch_inbound(c, e, now);
        }
        raise(e.kind == event_kind::followed ? trigger::followed : trigger::unfollowed);
        break;
    case event_kind::delivery_update:
        apply_delivery(c, e, input_id, env, queue);
        break;
    case event_kind::broadcast: {
        message_parts parts;
        parts.text = e.text;
        if (auto it = e.data.find("purpose"); it != e.data.end()) {
            parts.purpose = it->second;
        } else {
            parts.purpose = "promotional";
        }
        if (auto it = e.data.find("template"); it != e.data.end()) {
            parts.template_name = it->second;
        }
        if (auto it = e.data.find("channels"); it != e.data.end()) {
            for (std::size_t start = 0; start <= it->second.size();) {
                const auto comma = std::min(it->second.find(',', start), it->second.size());
                if (comma > start) {
                    parts.channels.push_back(it->second.substr(start, comma - start));
                }
                start = comma + 1;
            }
        }
        parts.not_before = e.until;
        send(c, std::move(parts), input_id, "broadcast:" + e.name, "broadcast", env);
        break;
    }
    case event_kind::automation_resumed:
        if (c.paused_until) {
            c.paused_until.reset();
            record(env, c.id, "automation_resumed", json::object{}, input_id, "engine");
        }
        break;
    }
    check_lifecycle(c, input_id, "engine", 0, env, queue);
    return queue;
}

void run_rules(contact& c, std::vector<raised> queue, core_env& env) {
    // Index-based: actions append to the queue while we walk it (breadth first).
    for (std::size_t qi = 0; qi < queue.size(); ++qi) {
        const raised what = queue[qi];
        if (what.depth > env.options.max_cascade_depth) {
            json::object body;
            body["trigger"] = to_string(what.when);
            body["depth"] = what.depth;
            record(env, c.id, "cascade_limit", std::move(body), what.event_id, "engine");
            continue;
        }
        for (const auto& r : env.defs.rules()) {
            if (r.when != what.when || !filter_matches(r, what, env.input)) {
                continue;
            }
            if (r.once && c.fired_rules.count(r.name) != 0) {
                continue;
            }
            if (!r.condition.evaluate(contact_view(c, env.now))) {
                continue;
            }
            env.result.rules_fired.push_back(r.name);
            if (r.once) {
                c.fired_rules.insert(r.name);
            }
            execute_actions(c, r.actions, "rule:" + r.name, r.path + ".then", what.event_id, what.depth + 1,
                            r.name, "later:" + r.name + "/", env, queue);
        }
    }
}

void execute_actions(contact& c, const std::vector<action>& actions, const std::string& origin,
                     const std::string& path, std::int64_t cause, int depth, const std::string& key_part,
                     const std::string& later_prefix, core_env& env, std::vector<raised>& queue) {
    for (std::size_t ai = 0; ai < actions.size(); ++ai) {
        const auto& a = actions[ai];
        switch (a.what) {
        case action::kind::add_tag:
        case action::kind::remove_tag:
            change_tag(c, a.tag, a.what == action::kind::add_tag, cause, origin, depth, env, queue);
            break;
        case action::kind::set_field:
        case action::kind::clear_field:
            try {
                set_field(c, env.defs, a.field,
                          a.what == action::kind::set_field ? render_template(a.value, c) : std::string{});
                check_lifecycle(c, cause, origin, depth, env, queue);
            } catch (const error& err) {
                // A rule's bad value is a runtime fault of the data, not of the caller: record
                // it and go on rather than refusing the whole event.
                json::object body;
                body["action"] = path + "[" + std::to_string(ai) + "]";
                body["error"] = err.what();
                record(env, c.id, "action_failed", std::move(body), cause, origin);
            }
            break;
        case action::kind::add_note:
            c.notes.push_back(note{origin, env.now, render_template(a.text, c)});
            break;
        case action::kind::send:
            send(c,
                 message_parts{.text = a.text,
                               .purpose = a.purpose,
                               .template_name = a.template_name,
                               .template_params = a.template_params,
                               .channel_tag = a.channel_tag,
                               .channels = a.channels},
                 cause, origin, key_part, env);
            break;
        case action::kind::start_flow:
            env.flow_starts.push_back({a.flow, cause, depth});
            break;
        case action::kind::later: {
            // Durable: the nested actions run when the timer fires, even after a restart.
            const auto id = ++env.ids.timer;
            env.out.timers.push_back(
                timer_record{id, env.now + a.delay, c.id, later_prefix + std::to_string(ai)});
            json::object body;
            body["action"] = path + "[" + std::to_string(ai) + "]";
            body["due"] = format_time(env.now + a.delay);
            record(env, c.id, "actions_scheduled", std::move(body), cause, origin);
            break;
        }
        }
    }
}

void run_later(contact& c, const std::string& kind, std::int64_t cause, core_env& env,
               std::vector<raised>& queue) {
    // kind is "later:<rule name>/<action index>"; rule names may contain '/', the index may not.
    const auto slash = kind.rfind('/');
    const std::string rule_name = kind.substr(6, slash - 6);
    const rule* r = env.defs.find_rule(rule_name);
    const auto index = static_cast<std::size_t>(std::stoul(kind.substr(slash + 1)));
    if (!r || index >= r->actions.size() || r->actions[index].what != action::kind::later) {
        json::object body;
        body["timer"] = kind;
        record(env, c.id, "later_dropped", std::move(body), cause, "engine"); // the definitions changed
        return;
    }
    const auto& a = r->actions[index];
    if (!a.unless.source().empty() && a.unless.evaluate(contact_view(c, env.now))) {
        json::object body;
        body["rule"] = r->name;
        record(env, c.id, "later_skipped", std::move(body), cause, "rule:" + r->name);
        return;
    }
    execute_actions(c, a.then, "rule:" + r->name, r->path + ".then[" + std::to_string(index) + "].then",
                    cause, 1, r->name + ".later" + std::to_string(index), "", env, queue);
}

// Named segments follow every change: membership is recomputed, entering and leaving are
// logged and raise triggers, and clock-dependent segments keep one re-check timer per contact.
void reconcile_segments(contact& c, std::int64_t cause, core_env& env, std::vector<raised>& queue) {
    const auto& segments = env.defs.segments();
    if (segments.empty() && c.segments.empty()) {
        return;
    }
    const contact_view view(c, env.now);
    duration recheck{};
    for (const auto& seg : segments) {
        const bool member = seg.condition.evaluate(view);
        const bool was = c.segments.count(seg.name) != 0;
        if (seg.recheck > duration{} && (recheck == duration{} || seg.recheck < recheck)) {
            recheck = seg.recheck;
        }
        if (member == was) {
            continue;
        }
        if (member) {
            c.segments[seg.name] = env.now;
        } else {
            c.segments.erase(seg.name);
        }
        json::object body;
        body["segment"] = seg.name;
        const auto id = record(env, c.id, member ? "segment_entered" : "segment_left", std::move(body), cause,
                               "segment:" + seg.name);
        queue.push_back({member ? trigger::segment_entered : trigger::segment_left, seg.name, id, 0});
    }
    // Segments removed from the definitions: the contact is no longer in them.
    for (auto it = c.segments.begin(); it != c.segments.end();) {
        if (!env.defs.find_segment(it->first)) {
            it = c.segments.erase(it);
        } else {
            ++it;
        }
    }
    if (recheck > duration{}) {
        auto& entry = c.date_timers["segments:"];
        if (entry.second == 0) {
            entry = {format_time(env.now + recheck), ++env.ids.timer};
            env.out.timers.push_back(timer_record{entry.second, env.now + recheck, c.id, "segments:"});
        }
    }
}

void segments_on_timer(contact& c, std::int64_t timer_id) {
    if (auto it = c.date_timers.find("segments:");
        it != c.date_timers.end() && it->second.second == timer_id) {
        c.date_timers.erase(it); // reconcile_segments arms the next one
    }
}

void react(contact& c, std::vector<raised> queue, std::int64_t cause, core_env& env) {
    if (c.paused_until && env.now < *c.paused_until) {
        // A human has the conversation: no rule or flow may speak over them. Subscriptions
        // still follow the contact (leaving a sequence must cancel its steps even now), and
        // an answer to an orphaned request is closed so it is not sent again.
        std::vector<raised> unheard; // membership is kept, but no rule runs during the pause
        reconcile_segments(c, cause, env, unheard);
        reconcile_sequences(c, cause, env);
        reconcile_dates(c, cause, env);
        if (env.input && env.input->kind == event_kind::request_completed) {
            env.out.completed_requests.push_back(env.input->request_id);
        }
        json::object body;
        body["until"] =
            *c.paused_until == time_point::max() ? std::string("resumed") : format_time(*c.paused_until);
        record(env, c.id, "automation_paused", std::move(body), cause, "engine");
        return;
    }
    bool input_delivered = env.input == nullptr;
    // Each round: rules for what is queued, then flows; flows' tag changes feed the next round.
    // The bound only guards against definitions that bounce between rules and flows forever.
    for (int round = 0; round < 16; ++round) {
        run_rules(c, std::move(queue), env);
        queue.clear();
        if (!input_delivered) {
            input_delivered = true;
            flow_on_event(c, *env.input, cause, env, queue);
        } else if (c.run && !c.run->waiting.empty()) {
            // A wait "until" a condition looks again after every change.
            flow_recheck(c, cause, env, queue);
        }
        auto starts = std::move(env.flow_starts);
        env.flow_starts.clear();
        for (const auto& s : starts) {
            start_flow(c, s.flow, s.cause, s.depth, env, queue);
        }
        // Segments and sequences follow whatever this round changed (tags from rules, flows or
        // the input); segment changes feed the next round's rules.
        reconcile_segments(c, cause, env, queue);
        reconcile_sequences(c, cause, env);
        reconcile_dates(c, cause, env);
        reconcile_inactivity(c, cause, env);
        if (queue.empty() && env.flow_starts.empty()) {
            return;
        }
    }
    json::object body;
    body["reason"] = "rules and flows kept triggering each other";
    record(env, c.id, "cascade_limit", std::move(body), cause, "engine");
}

} // namespace tagflow::detail
