#include <tagflow/error.hpp>
#include <tagflow/local_time.hpp>
#include <tagflow/policy.hpp>

#include "detail/codec.hpp"
#include "detail/policy.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <map>

namespace tagflow {

namespace json = boost::json;

namespace {

// The built-in profiles, written as the same data users can write, so a team that needs other
// numbers copies one into its definitions and edits it. Facts: docs/channels/*.md.
constexpr std::string_view builtin_source = R"json({
"zalo-2024": {"channel": "zalo", "currency": "VND", "rules": [
  {"kind": "window", "id": "zalo.window_7d", "within": "7d",
   "reason": "Zalo OA consultation messages need an interaction within the last 7 days (error -230)"},
  {"kind": "reply_cost", "id": "zalo.free_replies_48h", "within": "48h", "free_per_inbound": 8, "price": 55}
]},
"zalo-2026": {"channel": "zalo", "currency": "VND", "rules": [
  {"kind": "followers_only", "id": "zalo.promotion_followers_only", "purposes": ["promotional"],
   "reason": "Zalo promotional messages go only to followers of the OA (error -213)"},
  {"kind": "window", "id": "zalo.window_7d", "within": "7d", "purposes": ["reply", "transactional"],
   "reason": "Zalo OA consultation messages need an interaction within the last 7 days (error -230)"},
  {"kind": "hours", "id": "zalo.promotion_hours", "purposes": ["promotional"], "open": "06:00", "close": "22:00",
   "zone": "Asia/Ho_Chi_Minh", "reason": "Zalo promotional messages go out only from 06:00 to 21:59 (error -234)"},
  {"kind": "limit", "id": "zalo.promotion_daily", "purposes": ["promotional"], "max": 1, "per": "1d",
   "reason": "Zalo allows one promotional message per user per day"},
  {"kind": "reply_cost", "id": "zalo.free_48h", "purposes": ["reply", "transactional"], "within": "48h", "price": 55}
]},
"zalo": {"channel": "zalo", "currency": "VND", "rules": [
  {"kind": "followers_only", "id": "zalo.promotion_followers_only", "purposes": ["promotional"],
   "reason": "Zalo promotional messages go only to followers of the OA (error -213)"},
  {"kind": "window", "id": "zalo.window_7d", "within": "7d", "purposes": ["reply", "transactional"],
   "reason": "Zalo OA consultation messages need an interaction within the last 7 days (error -230)"},
  {"kind": "hours", "id": "zalo.promotion_hours", "purposes": ["promotional"], "open": "06:00", "close": "22:00",
   "zone": "Asia/Ho_Chi_Minh", "reason": "Zalo promotional messages go out only from 06:00 to 21:59 (error -234)"},
  {"kind": "limit", "id": "zalo.promotion_daily", "purposes": ["promotional"], "max": 1, "per": "1d",
   "reason": "Zalo allows one promotional message per user per day"},
  {"kind": "reply_cost", "id": "zalo.free_replies_48h", "purposes": ["reply", "transactional"], "within": "48h",
   "free_per_inbound": 8, "price": 55, "effective_until": "2026-01-01T00:00:00+07:00"},
  {"kind": "reply_cost", "id": "zalo.free_48h", "purposes": ["reply", "transactional"], "within": "48h", "price": 55,
   "effective_from": "2026-01-01T00:00:00+07:00"}
]},
"messenger": {"channel": "messenger", "rate_per_second": 300, "rules": [
  {"kind": "retired_tag", "id": "messenger.retired_tags", "effective_from": "2026-04-27T00:00:00Z",
   "tags": ["ACCOUNT_UPDATE", "POST_PURCHASE_UPDATE", "CONFIRMED_EVENT_UPDATE"],
   "reason": "Messenger retired this message tag on 2026-04-27 (error 100)"},
  {"kind": "window", "id": "messenger.window_24h", "within": "24h", "human_within": "7d",
   "reason": "Messenger allows messages only within 24 hours of the person's last message (HUMAN_AGENT: 7 days, human replies only) (error 10/2018278)"}
]},
"whatsapp": {"channel": "whatsapp", "rate_per_second": 80, "per_recipient_interval": "6s", "rules": [
  {"kind": "window", "id": "whatsapp.window_24h", "within": "24h", "templates_exempt": true,
   "reason": "WhatsApp allows free-form messages only within 24 hours of the customer's last message; send an approved template (error 131047)"}
]},
"telegram": {"channel": "telegram", "rate_per_second": 30, "per_recipient_interval": "1s", "rules": [
  {"kind": "requires_inbound", "id": "telegram.user_started",
   "reason": "A Telegram bot can only message users who started it (403 Forbidden)"}
]},
"email": {"channel": "email", "rules": [
  {"kind": "unsubscribe", "id": "email.one_click_unsubscribe", "purposes": ["promotional"],
   "reason": "Bulk and marketing e-mail must carry a one-click unsubscribe header (RFC 8058)"},
  {"kind": "limit", "id": "email.vn_ads_daily", "purposes": ["promotional"], "max": 3, "per": "1d",
   "reason": "Decree 91/2020: at most 3 advertising e-mails per address per 24 hours"}
]},
"sms-vn-ads": {"channel": "sms", "rules": [
  {"kind": "hours", "id": "sms.vn_ads_hours", "purposes": ["promotional"], "open": "07:00", "close": "22:00",
   "zone": "Asia/Ho_Chi_Minh", "reason": "Decree 91/2020: advertising SMS only from 07:00 to 22:00"},
  {"kind": "limit", "id": "sms.vn_ads_daily", "purposes": ["promotional"], "max": 3, "per": "1d",
   "reason": "Decree 91/2020: at most 3 advertising SMS per number per 24 hours"},
  {"kind": "label", "id": "sms.vn_ads_label", "purposes": ["promotional"], "label": "[QC] "}
]}
})json";

const std::map<std::string, policy_profile, std::less<>>& builtins() {
    static const auto profiles = [] {
        std::map<std::string, policy_profile, std::less<>> out;
        const auto doc = json::parse(builtin_source);
        for (const auto& [name, v] : doc.as_object()) {
            out.emplace(std::string(name), detail::parse_policy_profile(v, std::string(name), "$"));
        }
        return out;
    }();
    return profiles;
}

bool applies(const policy_rule& r, const send_context& ctx) {
    if (r.effective_from && ctx.now < *r.effective_from) {
        return false;
    }
    if (r.effective_until && ctx.now >= *r.effective_until) {
        return false;
    }
    return r.purposes.empty() ||
           std::find(r.purposes.begin(), r.purposes.end(), ctx.purpose) != r.purposes.end();
}

std::optional<duration> since_inbound(const send_context& ctx, time_point at) {
    if (!ctx.state || !ctx.state->last_inbound) {
        return std::nullopt;
    }
    return at - *ctx.state->last_inbound;
}

// Sends the rule counts: those of its purposes (all purposes when it names none).
std::vector<time_point> counted_sends(const policy_rule& r, const send_context& ctx) {
    std::vector<time_point> out;
    if (!ctx.state) {
        return out;
    }
    for (const auto& [purpose, times] : ctx.state->sends) {
        if (r.purposes.empty() ||
            std::find(r.purposes.begin(), r.purposes.end(), purpose) != r.purposes.end()) {
            out.insert(out.end(), times.begin(), times.end());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

policy_decision blocked(const policy_rule& r) {
    policy_decision d;
    d.outcome = policy_decision::verdict::block;
    d.rule = r.id;
    d.reason = r.reason;
    return d;
}

} // namespace

std::string_view to_string(policy_decision::verdict v) noexcept {
    switch (v) {
    case policy_decision::verdict::allow:
        return "allow";
    case policy_decision::verdict::defer:
        return "defer";
    case policy_decision::verdict::block:
        return "block";
    }
    return "allow";
}

policy_decision evaluate(const policy_profile& profile, const send_context& ctx) {
    using kind = policy_rule::kind;
    // Blocks first: a message that may never go must not wait for a window to open.
    for (const auto& r : profile.rules) {
        if (!applies(r, ctx)) {
            continue;
        }
        switch (r.what) {
        case kind::retired_tag:
            if (!ctx.channel_tag.empty() &&
                std::find(r.tags.begin(), r.tags.end(), ctx.channel_tag) != r.tags.end()) {
                return blocked(r);
            }
            break;
        case kind::requires_inbound:
            if (!ctx.state || !ctx.state->last_inbound) {
                return blocked(r);
            }
            break;
        case kind::followers_only:
            if (!ctx.state || !ctx.state->follower.value_or(false)) {
                return blocked(r);
            }
            break;
        case kind::window: {
            const auto age = since_inbound(ctx, ctx.now);
            const bool inside = age && *age < r.within; // "within 24 h": at 24 h it has closed
            const bool human = ctx.by_human && r.human_within > duration{} && age && *age < r.human_within;
            const bool templ = ctx.is_template && r.templates_exempt;
            if (!inside && !human && !templ) {
                return blocked(r);
            }
            break;
        }
        default:
            break;
        }
    }

    policy_decision d;
    // Deferrals: each rule may push the time later; repeat until every one allows it.
    time_point at = ctx.now;
    const policy_rule* deferred_by = nullptr; // copied into the decision once, not per round
    // An hours rule that set `at` itself needs no second look while nothing else moves it: the
    // next opening from an open instant is that instant.
    const policy_rule* settled = nullptr;
    for (bool moved = true; moved;) {
        moved = false;
        for (const auto& r : profile.rules) {
            if (&r == settled || !applies(r, ctx)) {
                continue;
            }
            time_point next = at;
            if (r.what == kind::hours) {
                const send_window window(parse_clock_time(r.open), parse_clock_time(r.close));
                next = window.next_open(at, r.zone.empty() ? std::string_view(ctx.zone)
                                                           : std::string_view(r.zone));
            } else if (r.what == kind::limit && !ctx.at_dispatch) {
                std::vector<time_point> within;
                for (const auto t : counted_sends(r, ctx)) {
                    if (t > at - r.per) {
                        within.push_back(t);
                    }
                }
                if (static_cast<int>(within.size()) >= r.max) {
                    next = within[within.size() - static_cast<std::size_t>(r.max)] + r.per;
                }
            }
            if (next > at) {
                at = next;
                moved = true;
                deferred_by = &r;
                settled = r.what == kind::hours ? &r : nullptr;
            }
        }
    }
    if (at > ctx.now) {
        d.outcome = policy_decision::verdict::defer;
        d.until = at;
        d.rule = deferred_by->id;
        d.reason = deferred_by->reason;
    }

    for (const auto& r : profile.rules) {
        if (!applies(r, ctx)) {
            continue;
        }
        if (r.what == kind::label) {
            d.text_prefix = r.label;
        } else if (r.what == kind::price && !ctx.at_dispatch) {
            d.cost += r.price;
            d.currency = profile.currency;
            if (d.outcome == policy_decision::verdict::allow) {
                d.rule = r.id;
            }
        } else if (r.what == kind::unsubscribe) {
            d.needs_unsubscribe = true;
        } else if (r.what == kind::reply_cost && !ctx.at_dispatch) {
            const auto age = since_inbound(ctx, at);
            const int replies = ctx.state ? ctx.state->replies_since_inbound : 0;
            const bool free =
                age && *age < r.within && (r.free_per_inbound == 0 || replies < r.free_per_inbound);
            if (!free) {
                d.cost += r.price;
                d.currency = profile.currency;
                if (d.outcome == policy_decision::verdict::allow) {
                    d.rule = r.id;
                }
            }
        }
    }
    return d;
}

const policy_profile* builtin_policy(std::string_view name) noexcept {
    try {
        const auto& all = builtins();
        const auto it = all.find(name);
        return it == all.end() ? nullptr : &it->second;
    } catch (...) {
        return nullptr; // the built-in source is tested; this is unreachable in practice
    }
}

std::vector<std::string> builtin_policy_names() {
    std::vector<std::string> out;
    for (const auto& [name, p] : builtins()) {
        out.push_back(name);
    }
    return out;
}

policy_profile parse_policy_profile(std::string_view json_text, std::string name, const std::string& path) {
    boost::system::error_code ec;
    const auto v = json::parse(json_text, ec);
    if (ec) {
        throw definition_error(path, "malformed JSON: " + ec.message());
    }
    return detail::parse_policy_profile(v, std::move(name), path);
}

namespace detail {

namespace {

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

duration duration_at(const json::value& v, const std::string& path) {
    const auto text = string_at(v, path);
    if (const auto d = parse_short_duration(text)) {
        return *d;
    }
    throw definition_error(path, "expected a duration such as \"90s\", \"30m\", \"2h\" or \"7d\", got \"" +
                                     text + "\"");
}

double number_at(const json::value& v, const std::string& path) {
    if (!v.is_number()) {
        throw definition_error(path, "expected a number");
    }
    return v.to_number<double>();
}

std::vector<std::string> strings_at(const json::value& v, const std::string& path) {
    if (!v.is_array()) {
        throw definition_error(path, "expected an array of strings");
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < v.get_array().size(); ++i) {
        out.push_back(string_at(v.get_array()[i], path + "[" + std::to_string(i) + "]"));
    }
    return out;
}

void allow_keys(const json::object& o, std::initializer_list<std::string_view> keys,
                const std::string& path) {
    for (const auto& [k, v] : o) {
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
            std::string list;
            for (auto key : keys) {
                list += list.empty() ? "" : ", ";
                list += key;
            }
            throw definition_error(path + "." + std::string(k), "unknown key; expected one of: " + list);
        }
    }
}

constexpr std::array<std::pair<policy_rule::kind, std::string_view>, 10> kind_names{{
    {policy_rule::kind::retired_tag, "retired_tag"},
    {policy_rule::kind::requires_inbound, "requires_inbound"},
    {policy_rule::kind::followers_only, "followers_only"},
    {policy_rule::kind::window, "window"},
    {policy_rule::kind::hours, "hours"},
    {policy_rule::kind::limit, "limit"},
    {policy_rule::kind::reply_cost, "reply_cost"},
    {policy_rule::kind::price, "price"},
    {policy_rule::kind::label, "label"},
    {policy_rule::kind::unsubscribe, "unsubscribe"},
}};

policy_rule parse_rule(const json::value& v, const std::string& path) {
    const auto& o = object_at(v, path);
    allow_keys(o,
               {"kind", "id", "reason", "purposes", "effective_from", "effective_until", "within",
                "human_within", "templates_exempt", "free_per_inbound", "price", "max", "per", "open",
                "close", "zone", "tags", "label"},
               path);
    policy_rule r;
    const auto* kind = o.if_contains("kind");
    if (!kind) {
        throw definition_error(path + ".kind", "required");
    }
    const auto kind_name = string_at(*kind, path + ".kind");
    bool known = false;
    for (const auto& [k, n] : kind_names) {
        if (n == kind_name) {
            r.what = k;
            known = true;
        }
    }
    if (!known) {
        throw definition_error(path + ".kind",
                               "unknown rule kind \"" + kind_name +
                                   "\"; expected retired_tag, requires_inbound, followers_only, "
                                   "window, hours, limit, reply_cost, price, label or unsubscribe");
    }
    auto text = [&](std::string_view key, std::string& out) {
        if (const auto* f = o.if_contains(key)) {
            out = string_at(*f, path + "." + std::string(key));
        }
    };
    text("id", r.id);
    if (r.id.empty()) {
        r.id = kind_name;
    }
    text("reason", r.reason);
    if (r.reason.empty()) {
        r.reason = "policy rule " + r.id;
    }
    if (const auto* f = o.if_contains("purposes")) {
        r.purposes = strings_at(*f, path + ".purposes");
        for (std::size_t i = 0; i < r.purposes.size(); ++i) {
            const auto& p = r.purposes[i];
            if (p != "reply" && p != "transactional" && p != "promotional") {
                throw definition_error(path + ".purposes[" + std::to_string(i) + "]",
                                       "unknown purpose \"" + p +
                                           "\"; expected reply, transactional or promotional");
            }
        }
    }
    auto when = [&](std::string_view key, std::optional<time_point>& out) {
        if (const auto* f = o.if_contains(key)) {
            const auto p = path + "." + std::string(key);
            try {
                out = parse_time(string_at(*f, p));
            } catch (const definition_error&) {
                throw;
            } catch (const error& e) {
                throw definition_error(p, e.what());
            }
        }
    };
    when("effective_from", r.effective_from);
    when("effective_until", r.effective_until);
    auto span = [&](std::string_view key, duration& out) {
        if (const auto* f = o.if_contains(key)) {
            out = duration_at(*f, path + "." + std::string(key));
        }
    };
    span("within", r.within);
    span("human_within", r.human_within);
    span("per", r.per);
    if (const auto* f = o.if_contains("templates_exempt")) {
        if (!f->is_bool()) {
            throw definition_error(path + ".templates_exempt", "expected true or false");
        }
        r.templates_exempt = f->get_bool();
    }
    if (const auto* f = o.if_contains("free_per_inbound")) {
        const double n = number_at(*f, path + ".free_per_inbound");
        if (n < 0 || n != static_cast<int>(n)) {
            throw definition_error(path + ".free_per_inbound", "expected a whole number >= 0");
        }
        r.free_per_inbound = static_cast<int>(n);
    }
    if (const auto* f = o.if_contains("price")) {
        r.price = number_at(*f, path + ".price");
        if (r.price < 0) {
            throw definition_error(path + ".price", "must be >= 0");
        }
    }
    if (const auto* f = o.if_contains("max")) {
        const double n = number_at(*f, path + ".max");
        if (n < 1 || n != static_cast<int>(n)) {
            throw definition_error(path + ".max", "expected a whole number >= 1");
        }
        r.max = static_cast<int>(n);
    }
    text("open", r.open);
    text("close", r.close);
    text("zone", r.zone);
    if (const auto* f = o.if_contains("tags")) {
        r.tags = strings_at(*f, path + ".tags");
    }
    text("label", r.label);

    auto need = [&](bool ok, std::string_view key, std::string_view what) {
        if (!ok) {
            throw definition_error(path + "." + std::string(key),
                                   "required for a " + kind_name + " rule: " + std::string(what));
        }
    };
    using k = policy_rule::kind;
    switch (r.what) {
    case k::window:
        need(r.within > duration{}, "within", "how long after the last inbound message, e.g. \"24h\"");
        break;
    case k::reply_cost:
        need(r.within > duration{}, "within", "the free period, e.g. \"48h\"");
        break;
    case k::limit:
        need(r.max > 0, "max", "messages per period");
        need(r.per > duration{}, "per", "the period, e.g. \"1d\"");
        break;
    case k::hours:
        need(!r.open.empty(), "open", "\"HH:MM\"");
        need(!r.close.empty(), "close", "\"HH:MM\"");
        try {
            (void)send_window(parse_clock_time(r.open), parse_clock_time(r.close));
        } catch (const error& e) {
            throw definition_error(path + ".open", e.what());
        }
        if (!r.zone.empty() && !is_valid_time_zone(r.zone)) {
            throw definition_error(path + ".zone", "\"" + r.zone + "\" is not an IANA time zone");
        }
        break;
    case k::retired_tag:
        need(!r.tags.empty(), "tags", "the retired tags");
        break;
    case k::label:
        need(!r.label.empty(), "label", "the text to put first, e.g. \"[QC] \"");
        break;
    default:
        break;
    }
    return r;
}

} // namespace

policy_profile parse_policy_profile(const json::value& v, std::string name, const std::string& path) {
    const auto& o = object_at(v, path);
    allow_keys(o, {"channel", "currency", "rate_per_second", "per_recipient_interval", "rules"}, path);
    policy_profile p;
    p.name = std::move(name);
    if (const auto* f = o.if_contains("channel")) {
        p.channel = string_at(*f, path + ".channel");
    }
    if (const auto* f = o.if_contains("currency")) {
        p.currency = string_at(*f, path + ".currency");
    }
    if (const auto* f = o.if_contains("rate_per_second")) {
        p.rate_per_second = number_at(*f, path + ".rate_per_second");
        if (p.rate_per_second < 0) {
            throw definition_error(path + ".rate_per_second", "must be >= 0");
        }
    }
    if (const auto* f = o.if_contains("per_recipient_interval")) {
        p.per_recipient_interval = duration_at(*f, path + ".per_recipient_interval");
    }
    const auto* rules = o.if_contains("rules");
    if (!rules || !rules->is_array()) {
        throw definition_error(path + ".rules", "required: an array of rules");
    }
    for (std::size_t i = 0; i < rules->get_array().size(); ++i) {
        p.rules.push_back(parse_rule(rules->get_array()[i], path + ".rules[" + std::to_string(i) + "]"));
    }
    return p;
}

} // namespace detail

} // namespace tagflow
