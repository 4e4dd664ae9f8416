#include <tagflow/error.hpp>
#include <tagflow/event.hpp>

#include "detail/codec.hpp"

#include <array>

namespace tagflow {

namespace json = boost::json;

namespace {

constexpr std::array<std::pair<event_kind, std::string_view>, 18> kind_names{{
    {event_kind::message_received, "message_received"},
    {event_kind::postback, "postback"},
    {event_kind::form_opened, "form_opened"},
    {event_kind::form_submitted, "form_submitted"},
    {event_kind::order_placed, "order_placed"},
    {event_kind::profile_updated, "profile_updated"},
    {event_kind::customer_linked, "customer_linked"},
    {event_kind::note_added, "note_added"},
    {event_kind::track, "track"},
    {event_kind::tag_added, "tag_added"},
    {event_kind::tag_removed, "tag_removed"},
    {event_kind::lifecycle_changed, "lifecycle_changed"},
    {event_kind::automation_resumed, "automation_resumed"},
    {event_kind::request_completed, "request_completed"},
    {event_kind::followed, "followed"},
    {event_kind::unfollowed, "unfollowed"},
    {event_kind::delivery_update, "delivery_update"},
    {event_kind::broadcast, "broadcast"},
}};

constexpr std::array<std::pair<delivery_status, std::string_view>, 10> delivery_names{{
    {delivery_status::sent, "sent"},
    {delivery_status::retry, "retry"},
    {delivery_status::failed, "failed"},
    {delivery_status::dead_letter, "dead_letter"},
    {delivery_status::blocked, "blocked"},
    {delivery_status::deferred, "deferred"},
    {delivery_status::delivered, "delivered"},
    {delivery_status::read, "read"},
    {delivery_status::clicked, "clicked"},
    {delivery_status::cancelled, "cancelled"},
}};

event make(event_kind kind, identity who) {
    event e;
    e.kind = kind;
    e.identity = std::move(who);
    return e;
}

// Name tables are tiny: a linear search both ways is simplest and fast enough.
template <typename Enum, std::size_t N>
std::string_view name_in(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) noexcept {
    for (const auto& [k, name] : table) {
        if (k == value) {
            return name;
        }
    }
    return "unknown";
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_in(const std::array<std::pair<Enum, std::string_view>, N>& table,
                             std::string_view name) noexcept {
    for (const auto& [k, n] : table) {
        if (n == name) {
            return k;
        }
    }
    return std::nullopt;
}

} // namespace

std::string_view to_string(event_kind kind) noexcept {
    return name_in(kind_names, kind);
}

std::optional<event_kind> parse_event_kind(std::string_view name) noexcept {
    return value_in(kind_names, name);
}

std::string_view to_string(delivery_status s) noexcept {
    return name_in(delivery_names, s);
}

std::optional<delivery_status> parse_delivery_status(std::string_view name) noexcept {
    return value_in(delivery_names, name);
}

event event::message(tagflow::identity who, std::string text) {
    auto e = make(event_kind::message_received, std::move(who));
    e.text = std::move(text);
    return e;
}

event event::postback_of(tagflow::identity who, std::string payload) {
    auto e = make(event_kind::postback, std::move(who));
    e.payload = std::move(payload);
    return e;
}

event event::form_open(tagflow::identity who, std::string form) {
    auto e = make(event_kind::form_opened, std::move(who));
    e.form = std::move(form);
    return e;
}

event event::form_submit(tagflow::identity who, std::string form, std::map<std::string, std::string> fields) {
    auto e = make(event_kind::form_submitted, std::move(who));
    e.form = std::move(form);
    e.data = std::move(fields);
    return e;
}

event event::order_of(tagflow::identity who, order_info order) {
    auto e = make(event_kind::order_placed, std::move(who));
    e.order = std::move(order);
    return e;
}

event event::profile_of(tagflow::identity who, profile_update update) {
    auto e = make(event_kind::profile_updated, std::move(who));
    e.profile = std::move(update);
    return e;
}

event event::link_customer(tagflow::identity who, std::string customer_id) {
    auto e = make(event_kind::customer_linked, std::move(who));
    e.customer_id = std::move(customer_id);
    return e;
}

event event::note_of(tagflow::identity who, std::string author, std::string text) {
    auto e = make(event_kind::note_added, std::move(who));
    e.author = std::move(author);
    e.text = std::move(text);
    return e;
}

event event::track_of(tagflow::identity who, std::string name,
                      std::map<std::string, std::string> properties) {
    auto e = make(event_kind::track, std::move(who));
    e.name = std::move(name);
    e.data = std::move(properties);
    return e;
}

event event::add_tag(tagflow::identity who, std::string tag) {
    auto e = make(event_kind::tag_added, std::move(who));
    e.tag = std::move(tag);
    return e;
}

event event::remove_tag(tagflow::identity who, std::string tag) {
    auto e = make(event_kind::tag_removed, std::move(who));
    e.tag = std::move(tag);
    return e;
}

event event::resume_automation(tagflow::identity who) {
    return make(event_kind::automation_resumed, std::move(who));
}

event event::follow(tagflow::identity who) {
    return make(event_kind::followed, std::move(who));
}

event event::unfollow(tagflow::identity who) {
    return make(event_kind::unfollowed, std::move(who));
}

event event::delivery_of(std::int64_t message_id, tagflow::delivery_status status) {
    event e;
    e.kind = event_kind::delivery_update;
    e.message_id = message_id;
    e.delivery = status;
    return e;
}

event event::receipt_of(tagflow::identity who, std::string external_id, tagflow::delivery_status status) {
    auto e = make(event_kind::delivery_update, std::move(who));
    e.external_id = std::move(external_id);
    e.delivery = status;
    return e;
}

event event::with_key(std::string k) const {
    auto e = *this;
    e.key = std::move(k);
    return e;
}

event event::at_time(time_point t) const {
    auto e = *this;
    e.at = t;
    return e;
}

event event::for_contact(contact_id id) const {
    auto e = *this;
    e.contact = id;
    e.identity = {};
    return e;
}

std::string to_json(const event& e) {
    return detail::event_json_text(e);
}

namespace {

const json::object& as_object(const json::value& v, const std::string& field) {
    if (!v.is_object()) {
        throw event_error(field, "expected an object");
    }
    return v.get_object();
}

std::string as_string(const json::value& v, const std::string& field) {
    if (!v.is_string()) {
        throw event_error(field, "expected a string");
    }
    return std::string(v.get_string());
}

std::map<std::string, std::string> as_string_map(const json::value& v, const std::string& field) {
    std::map<std::string, std::string> out;
    for (const auto& [k, item] : as_object(v, field)) {
        const std::string sub = field + "." + std::string(k);
        // Forms and track events often carry numbers; keep their text so nothing is lost.
        if (item.is_string()) {
            out[std::string(k)] = std::string(item.get_string());
        } else if (item.is_number() || item.is_bool()) {
            out[std::string(k)] = detail::scalar_text(item);
        } else {
            throw event_error(sub, "expected a string, number or bool");
        }
    }
    return out;
}

void check_keys(const json::object& o, std::initializer_list<std::string_view> allowed,
                const std::string& prefix) {
    for (const auto& [k, v] : o) {
        bool ok = false;
        for (auto a : allowed) {
            ok = ok || a == k;
        }
        if (!ok) {
            std::string list;
            for (auto a : allowed) {
                list += list.empty() ? "" : ", ";
                list += a;
            }
            throw event_error(prefix + std::string(k), "unknown key; expected one of: " + list);
        }
    }
}

} // namespace

event event_from_json(std::string_view text) {
    boost::system::error_code ec;
    auto parsed = json::parse(text, ec);
    if (ec) {
        throw event_error("", "malformed JSON: " + ec.message());
    }
    const auto& o = as_object(parsed, "");
    check_keys(o, {"kind",       "identity",    "contact",  "at",         "key",    "text",
                   "payload",    "form",        "data",     "profile",    "order",  "customer_id",
                   "tag",        "name",        "author",   "request_id", "status", "error",
                   "message_id", "external_id", "delivery", "until"},
               "");
    event e;
    const auto* kind = o.if_contains("kind");
    if (!kind) {
        throw event_error("kind", "required");
    }
    const auto kind_name = as_string(*kind, "kind");
    const auto parsed_kind = parse_event_kind(kind_name);
    if (!parsed_kind) {
        throw event_error("kind", "unknown event kind \"" + kind_name + "\"");
    }
    e.kind = *parsed_kind;
    if (const auto* v = o.if_contains("identity")) {
        const auto s = as_string(*v, "identity");
        try {
            e.identity = identity::parse(s);
        } catch (const error&) {
            throw event_error("identity", "expected \"channel:external_id\", got \"" + s + "\"");
        }
    }
    if (const auto* v = o.if_contains("contact")) {
        // The parser gives every integer that fits in int64 as int64; a uint64 is beyond the range
        // of contact ids and would not convert.
        if (!v->is_int64()) {
            throw event_error("contact", "expected an integer contact id");
        }
        e.contact = v->to_number<contact_id>();
    }
    if (const auto* v = o.if_contains("at")) {
        const auto s = as_string(*v, "at");
        try {
            e.at = parse_time(s);
        } catch (const error& err) {
            throw event_error("at", err.what());
        }
    }
    auto text_field = [&](std::string_view key, std::string& out) {
        if (const auto* v = o.if_contains(key)) {
            out = as_string(*v, std::string(key));
        }
    };
    text_field("key", e.key);
    text_field("text", e.text);
    text_field("payload", e.payload);
    text_field("form", e.form);
    text_field("customer_id", e.customer_id);
    text_field("tag", e.tag);
    text_field("name", e.name);
    text_field("author", e.author);
    text_field("error", e.error);
    auto int_field = [&](std::string_view key) -> std::int64_t {
        const auto* v = o.if_contains(key);
        if (!v) {
            return 0;
        }
        if (!v->is_int64()) {
            throw event_error(std::string(key), "expected an integer");
        }
        return v->get_int64();
    };
    e.request_id = int_field("request_id");
    e.message_id = int_field("message_id");
    text_field("external_id", e.external_id);
    if (const auto* v = o.if_contains("delivery")) {
        const auto name = as_string(*v, "delivery");
        e.delivery = parse_delivery_status(name);
        if (!e.delivery) {
            throw event_error("delivery",
                              "unknown delivery status \"" + name +
                                  "\"; expected sent, retry, failed, dead_letter, blocked, deferred, "
                                  "delivered, read, clicked or cancelled");
        }
    }
    if (const auto* v = o.if_contains("until")) {
        const auto s = as_string(*v, "until");
        try {
            e.until = parse_time(s);
        } catch (const error& err) {
            throw event_error("until", err.what());
        }
    }
    const auto status = int_field("status");
    if (status < 0 || status > 999) {
        throw event_error("status", "expected an HTTP status from 0 to 999");
    }
    e.status = static_cast<int>(status);
    if (const auto* v = o.if_contains("data")) {
        e.data = as_string_map(*v, "data");
    }
    if (const auto* v = o.if_contains("profile")) {
        const auto& p = as_object(*v, "profile");
        check_keys(p, {"name", "phone", "email", "timezone", "locale", "fields"}, "profile.");
        auto opt = [&](std::string_view key, std::optional<std::string>& out) {
            if (const auto* f = p.if_contains(key)) {
                out = as_string(*f, "profile." + std::string(key));
            }
        };
        opt("name", e.profile.name);
        opt("phone", e.profile.phone);
        opt("email", e.profile.email);
        opt("timezone", e.profile.time_zone);
        opt("locale", e.profile.locale);
        if (const auto* f = p.if_contains("fields")) {
            e.profile.fields = as_string_map(*f, "profile.fields");
        }
    }
    if (const auto* v = o.if_contains("order")) {
        const auto& ord = as_object(*v, "order");
        check_keys(ord, {"id", "total", "currency", "items"}, "order.");
        if (const auto* f = ord.if_contains("id")) {
            e.order.order_id = as_string(*f, "order.id");
        }
        if (const auto* f = ord.if_contains("total")) {
            if (!f->is_number()) {
                throw event_error("order.total", "expected a number");
            }
            e.order.total = f->to_number<double>();
        }
        if (const auto* f = ord.if_contains("currency")) {
            e.order.currency = as_string(*f, "order.currency");
        }
        if (const auto* f = ord.if_contains("items")) {
            if (!f->is_array()) {
                throw event_error("order.items", "expected an array of strings");
            }
            std::size_t i = 0;
            for (const auto& item : f->get_array()) {
                e.order.items.push_back(as_string(item, "order.items[" + std::to_string(i++) + "]"));
            }
        }
    }
    return e;
}

} // namespace tagflow
