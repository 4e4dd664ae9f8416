// Webhook parsers and signature checks. The server lives in webhook_server.cpp.
#include <tagflow/error.hpp>
#include <tagflow/webhook.hpp>

#include "detail/crypto.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace tagflow {

namespace json = boost::json;

namespace {

// ---- walking a JSON body, naming the place of every problem --------------------------------------

std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

json::value parse_body(std::string_view body) {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = 64;
    auto v = json::parse(body, ec, {}, opts);
    if (ec) {
        throw event_error("", "malformed JSON: " + ec.message());
    }
    return v;
}

const json::object& as_object(const json::value& v, const std::string& path) {
    if (!v.is_object()) {
        throw event_error(path, "expected an object");
    }
    return v.get_object();
}

const json::value& require(const json::object& o, std::string_view key, const std::string& path) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) {
        throw event_error(join(path, key), "required");
    }
    return *v;
}

const json::object& require_object(const json::object& o, std::string_view key, const std::string& path) {
    return as_object(require(o, key, path), join(path, key));
}

const json::object* optional_object(const json::object& o, std::string_view key, const std::string& path) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) {
        return nullptr;
    }
    return &as_object(*v, join(path, key));
}

const json::array* optional_array(const json::object& o, std::string_view key, const std::string& path) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) {
        return nullptr;
    }
    if (!v->is_array()) {
        throw event_error(join(path, key), "expected an array");
    }
    return &v->get_array();
}

// Platform ids arrive as strings (Zalo, Meta) or as integers (Telegram); both become text.
std::string id_text(const json::value& v, const std::string& path) {
    if (v.is_string()) {
        if (v.get_string().empty()) {
            throw event_error(path, "must not be empty");
        }
        return std::string(v.get_string());
    }
    if (v.is_int64()) {
        return std::to_string(v.get_int64());
    }
    if (v.is_uint64()) {
        return std::to_string(v.get_uint64());
    }
    throw event_error(path, "expected a string or an integer id");
}

std::string require_id(const json::object& o, std::string_view key, const std::string& path) {
    return id_text(require(o, key, path), join(path, key));
}

std::string require_string(const json::object& o, std::string_view key, const std::string& path) {
    const auto& v = require(o, key, path);
    if (!v.is_string()) {
        throw event_error(join(path, key), "expected a string");
    }
    return std::string(v.get_string());
}

std::optional<std::string> optional_string(const json::object& o, std::string_view key,
                                           const std::string& path) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) {
        return std::nullopt;
    }
    if (!v->is_string()) {
        throw event_error(join(path, key), "expected a string");
    }
    return std::string(v->get_string());
}

// A whole number written as a JSON number or as a decimal string ("1733300000000").
std::int64_t integer(const json::value& v, const std::string& path) {
    if (v.is_int64()) {
        return v.get_int64();
    }
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v.get_uint64());
    }
    if (v.is_string()) {
        const auto s = v.get_string();
        std::int64_t out = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        if (ec == std::errc{} && ptr == s.data() + s.size() && !s.empty()) {
            return out;
        }
    }
    throw event_error(path, "expected a whole number");
}

// Times far outside what any platform sends would overflow later arithmetic; refuse them here.
void check_range(std::int64_t ms, const std::string& path) {
    constexpr std::int64_t max_ms = 253402300799999; // 9999-12-31T23:59:59.999Z
    if (ms < 0 || ms > max_ms) {
        throw event_error(path, "timestamp out of range");
    }
}

time_point millis(const json::object& o, std::string_view key, const std::string& path) {
    const auto ms = integer(require(o, key, path), join(path, key));
    check_range(ms, join(path, key));
    return time_point(std::chrono::milliseconds(ms));
}

time_point seconds(const json::object& o, std::string_view key, const std::string& path) {
    const auto s = integer(require(o, key, path), join(path, key));
    check_range(s > INT64_MAX / 1000 ? -1 : s * 1000, join(path, key));
    return time_point(std::chrono::milliseconds(s * 1000));
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// ---- Zalo -----------------------------------------------------------------------------------------

// full_address is either a line of text or {user_address, user_ward, user_district, user_city}.
std::optional<std::string> zalo_address(const json::object& info, const std::string& path) {
    const auto* v = info.if_contains("full_address");
    if (!v || v->is_null()) {
        return std::nullopt;
    }
    if (v->is_string()) {
        if (v->get_string().empty()) {
            return std::nullopt;
        }
        return std::string(v->get_string());
    }
    const auto& parts = as_object(*v, join(path, "full_address"));
    std::string out;
    for (const char* key : {"user_address", "user_ward", "user_district", "user_city"}) {
        if (auto part = optional_string(parts, key, join(path, "full_address")); part && !part->empty()) {
            out += out.empty() ? "" : ", ";
            out += *part;
        }
    }
    return out.empty() ? std::nullopt : std::optional<std::string>(out);
}

// The user's side of a status event: the message went OA -> user, so the user is the recipient.
// The engine routes a receipt by the message's external id anyway, so this only has to be an id
// of the right channel.
std::string zalo_receipt_user(const json::object& o) {
    for (const char* side : {"recipient", "sender"}) {
        if (const auto* v = o.if_contains(side); v && v->is_object()) {
            if (const auto* id = v->get_object().if_contains("id");
                id && (id->is_string() || id->is_int64())) {
                auto text = id_text(*id, side);
                if (!text.empty()) {
                    return text;
                }
            }
        }
    }
    throw event_error("recipient.id", "required");
}

// ---- Meta -----------------------------------------------------------------------------------------

void messenger_event(const json::object& m, const std::string& path, std::vector<event>& out) {
    const identity who{"messenger",
                       require_id(require_object(m, "sender", path), "id", join(path, "sender"))};
    if (const auto* message = optional_object(m, "message", path)) {
        const auto mpath = join(path, "message");
        if (const auto* echo = message->if_contains("is_echo"); echo && echo->is_bool() && echo->get_bool()) {
            return; // the page's own message coming back
        }
        const auto at = millis(m, "timestamp", path);
        const auto mid = require_id(*message, "mid", mpath);
        if (const auto* quick = optional_object(*message, "quick_reply", mpath)) {
            out.push_back(
                event::postback_of(who, require_string(*quick, "payload", join(mpath, "quick_reply")))
                    .with_key("messenger:" + mid)
                    .at_time(at));
            return;
        }
        auto e = event::message(who, optional_string(*message, "text", mpath).value_or(""))
                     .with_key("messenger:" + mid)
                     .at_time(at);
        if (const auto* attachments = optional_array(*message, "attachments", mpath);
            attachments && !attachments->empty()) {
            const auto apath = index(join(mpath, "attachments"), 0);
            const auto& first = as_object((*attachments)[0], apath);
            e.data["attachment"] = optional_string(first, "type", apath).value_or("file");
            if (const auto* payload = optional_object(first, "payload", apath)) {
                if (auto url = optional_string(*payload, "url", join(apath, "payload"))) {
                    e.data["url"] = *url;
                }
            }
        }
        out.push_back(std::move(e));
        return;
    }
    if (const auto* postback = optional_object(m, "postback", path)) {
        const auto ppath = join(path, "postback");
        const auto at = millis(m, "timestamp", path);
        auto payload = require_string(*postback, "payload", ppath);
        // Older payloads carry no mid; sender and time identify the press then.
        const auto* mid = postback->if_contains("mid");
        const auto key = mid && !mid->is_null() ? "messenger:pb:" + id_text(*mid, join(ppath, "mid"))
                                                : "messenger:pb:" + who.external_id + ":" +
                                                      std::to_string(at.time_since_epoch().count());
        out.push_back(event::postback_of(who, std::move(payload)).with_key(key).at_time(at));
        return;
    }
    if (const auto* delivery = optional_object(m, "delivery", path)) {
        const auto dpath = join(path, "delivery");
        // Only the listed mids are receipts; a delivery with just a watermark names no message.
        if (const auto* mids = optional_array(*delivery, "mids", dpath)) {
            const auto at =
                m.contains("timestamp") ? std::optional(millis(m, "timestamp", path)) : std::nullopt;
            for (std::size_t i = 0; i < mids->size(); ++i) {
                const auto mid = id_text((*mids)[i], index(join(dpath, "mids"), i));
                auto e = event::receipt_of(who, mid, delivery_status::delivered)
                             .with_key("messenger:delivered:" + mid);
                e.at = at;
                out.push_back(std::move(e));
            }
        }
        return;
    }
    // read (a watermark, not message ids), reactions, referrals, optins, ...: nothing to ingest.
}

void whatsapp_value(const json::object& value, const std::string& path, std::vector<event>& out) {
    if (const auto* messages = optional_array(value, "messages", path)) {
        for (std::size_t i = 0; i < messages->size(); ++i) {
            const auto mpath = index(join(path, "messages"), i);
            const auto& m = as_object((*messages)[i], mpath);
            const identity who{"whatsapp", require_id(m, "from", mpath)};
            const auto id = require_id(m, "id", mpath);
            const auto at = seconds(m, "timestamp", mpath);
            const auto type = require_string(m, "type", mpath);
            const auto key = "whatsapp:" + id;
            if (type == "text") {
                const auto& text = require_object(m, "text", mpath);
                out.push_back(event::message(who, require_string(text, "body", join(mpath, "text")))
                                  .with_key(key)
                                  .at_time(at));
            } else if (type == "interactive") {
                const auto ipath = join(mpath, "interactive");
                const auto& interactive = require_object(m, "interactive", mpath);
                const json::object* reply = optional_object(interactive, "button_reply", ipath);
                auto rpath = join(ipath, "button_reply");
                if (!reply) {
                    reply = optional_object(interactive, "list_reply", ipath);
                    rpath = join(ipath, "list_reply");
                }
                if (!reply) {
                    continue; // flows' nfm_reply and future kinds
                }
                out.push_back(
                    event::postback_of(who, require_id(*reply, "id", rpath)).with_key(key).at_time(at));
            } else if (type == "button") {
                // A quick-reply button of a template message.
                const auto& button = require_object(m, "button", mpath);
                out.push_back(
                    event::postback_of(who, require_string(button, "payload", join(mpath, "button")))
                        .with_key(key)
                        .at_time(at));
            } else if (type == "image" || type == "audio" || type == "video" || type == "document" ||
                       type == "sticker" || type == "location" || type == "contacts") {
                auto e = event::message(who, "").with_key(key).at_time(at);
                if (const auto* media = optional_object(m, type, mpath)) {
                    if (auto caption = optional_string(*media, "caption", join(mpath, type))) {
                        e.text = *caption;
                    }
                }
                e.data["attachment"] = type;
                out.push_back(std::move(e));
            }
            // reaction, system, unsupported, ...: nothing to ingest.
        }
    }
    if (const auto* statuses = optional_array(value, "statuses", path)) {
        for (std::size_t i = 0; i < statuses->size(); ++i) {
            const auto spath = index(join(path, "statuses"), i);
            const auto& s = as_object((*statuses)[i], spath);
            const auto status = require_string(s, "status", spath);
            std::optional<delivery_status> mapped;
            if (status == "delivered") {
                mapped = delivery_status::delivered;
            } else if (status == "read") {
                mapped = delivery_status::read;
            } else if (status == "failed") {
                mapped = delivery_status::failed;
            }
            // "sent" repeats what the dispatcher recorded when the API accepted the message.
            if (!mapped) {
                continue;
            }
            const auto id = require_id(s, "id", spath);
            auto e = event::receipt_of({"whatsapp", require_id(s, "recipient_id", spath)}, id, *mapped)
                         .with_key("whatsapp:" + status + ":" + id)
                         .at_time(seconds(s, "timestamp", spath));
            if (*mapped == delivery_status::failed) {
                if (const auto* errors = optional_array(s, "errors", spath); errors && !errors->empty()) {
                    const auto epath = index(join(spath, "errors"), 0);
                    const auto& first = as_object((*errors)[0], epath);
                    auto text = optional_string(first, "title", epath).value_or("");
                    if (text.empty()) {
                        text = optional_string(first, "message", epath).value_or("failed");
                    }
                    if (const auto* code = first.if_contains("code"); code && code->is_int64()) {
                        text = std::to_string(code->get_int64()) + " " + text;
                    }
                    e.error = std::move(text);
                }
            }
            out.push_back(std::move(e));
        }
    }
}

// ---- signatures -------------------------------------------------------------------------------------

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// The body's "timestamp" exactly as the signer concatenated it: the string's contents, or the
// number's decimal digits.
std::optional<std::string> zalo_timestamp(std::string_view raw_body) {
    boost::system::error_code ec;
    auto v = json::parse(raw_body, ec);
    if (ec || !v.is_object()) {
        return std::nullopt;
    }
    const auto* t = v.get_object().if_contains("timestamp");
    if (!t) {
        return std::nullopt;
    }
    if (t->is_string()) {
        return std::string(t->get_string());
    }
    if (t->is_int64()) {
        return std::to_string(t->get_int64());
    }
    if (t->is_uint64()) {
        return std::to_string(t->get_uint64());
    }
    return std::nullopt;
}

} // namespace

// ---- parsers ----------------------------------------------------------------------------------------

std::vector<event> parse_zalo_webhook(std::string_view body) {
    const auto root = parse_body(body);
    const auto& o = as_object(root, "");
    const auto name = require_string(o, "event_name", "");
    std::vector<event> out;
    if (starts_with(name, "oa_send_") || starts_with(name, "oa_")) {
        return out; // echoes of the OA's own messages and OA-side actions
    }
    const auto at = millis(o, "timestamp", "");
    const auto stamp = std::to_string(at.time_since_epoch().count());
    if (starts_with(name, "user_send_")) {
        const auto user = require_id(require_object(o, "sender", ""), "id", "sender");
        const auto& message = require_object(o, "message", "");
        const auto msg_id = require_id(message, "msg_id", "message");
        auto e = event::message({"zalo", user}, optional_string(message, "text", "message").value_or(""))
                     .with_key("zalo:" + msg_id)
                     .at_time(at);
        if (name != "user_send_text") {
            e.data["attachment"] = name.substr(std::string_view("user_send_").size());
            if (const auto* attachments = optional_array(message, "attachments", "message");
                attachments && !attachments->empty() && (*attachments)[0].is_object()) {
                if (const auto* payload = (*attachments)[0].get_object().if_contains("payload");
                    payload && payload->is_object()) {
                    if (const auto* url = payload->get_object().if_contains("url"); url && url->is_string()) {
                        e.data["url"] = std::string(url->get_string());
                    }
                }
            }
        }
        out.push_back(std::move(e));
    } else if (name == "follow" || name == "unfollow") {
        const auto user = require_id(require_object(o, "follower", ""), "id", "follower");
        auto e = name == "follow" ? event::follow({"zalo", user}) : event::unfollow({"zalo", user});
        out.push_back(e.with_key("zalo:" + name + ":" + user + ":" + stamp).at_time(at));
    } else if (name == "user_submit_info") {
        const auto user = require_id(require_object(o, "sender", ""), "id", "sender");
        const auto& info = require_object(o, "info", "");
        profile_update p;
        if (auto v = optional_string(info, "name", "info"); v && !v->empty()) {
            p.name = *v;
        }
        if (auto v = optional_string(info, "phone", "info"); v && !v->empty()) {
            p.phone = *v;
        }
        if (auto address = zalo_address(info, "info")) {
            p.fields["address"] = *address;
        }
        out.push_back(event::profile_of({"zalo", user}, std::move(p))
                          .with_key("zalo:user_submit_info:" + user + ":" + stamp)
                          .at_time(at));
    } else if (name == "user_received_message") {
        const auto& message = require_object(o, "message", "");
        const auto msg_id = require_id(message, "msg_id", "message");
        out.push_back(event::receipt_of({"zalo", zalo_receipt_user(o)}, msg_id, delivery_status::delivered)
                          .with_key("zalo:delivered:" + msg_id)
                          .at_time(at));
    } else if (name == "user_seen_message") {
        const auto& message = require_object(o, "message", "");
        const auto user = zalo_receipt_user(o);
        const auto* ids = optional_array(message, "msg_ids", "message");
        if (!ids) {
            throw event_error("message.msg_ids", "required");
        }
        for (std::size_t i = 0; i < ids->size(); ++i) {
            const auto msg_id = id_text((*ids)[i], index("message.msg_ids", i));
            out.push_back(event::receipt_of({"zalo", user}, msg_id, delivery_status::read)
                              .with_key("zalo:read:" + msg_id)
                              .at_time(at));
        }
    }
    return out;
}

std::vector<event> parse_messenger_webhook(std::string_view body) {
    const auto root = parse_body(body);
    const auto& o = as_object(root, "");
    std::vector<event> out;
    if (require_string(o, "object", "") != "page") {
        return out; // Instagram and other objects are different channels
    }
    const auto* entries = optional_array(o, "entry", "");
    if (!entries) {
        throw event_error("entry", "required");
    }
    for (std::size_t i = 0; i < entries->size(); ++i) {
        const auto epath = index("entry", i);
        const auto& entry = as_object((*entries)[i], epath);
        if (const auto* messaging = optional_array(entry, "messaging", epath)) {
            for (std::size_t j = 0; j < messaging->size(); ++j) {
                const auto mpath = index(join(epath, "messaging"), j);
                messenger_event(as_object((*messaging)[j], mpath), mpath, out);
            }
        }
    }
    return out;
}

std::vector<event> parse_whatsapp_webhook(std::string_view body) {
    const auto root = parse_body(body);
    const auto& o = as_object(root, "");
    std::vector<event> out;
    if (require_string(o, "object", "") != "whatsapp_business_account") {
        return out;
    }
    const auto* entries = optional_array(o, "entry", "");
    if (!entries) {
        throw event_error("entry", "required");
    }
    for (std::size_t i = 0; i < entries->size(); ++i) {
        const auto epath = index("entry", i);
        const auto& entry = as_object((*entries)[i], epath);
        const auto* changes = optional_array(entry, "changes", epath);
        if (!changes) {
            continue;
        }
        for (std::size_t j = 0; j < changes->size(); ++j) {
            const auto cpath = index(join(epath, "changes"), j);
            const auto& change = as_object((*changes)[j], cpath);
            if (optional_string(change, "field", cpath).value_or("") != "messages") {
                continue; // template status, account updates, ...
            }
            whatsapp_value(require_object(change, "value", cpath), join(cpath, "value"), out);
        }
    }
    return out;
}

std::vector<event> parse_telegram_webhook(std::string_view body) {
    const auto root = parse_body(body);
    const auto& o = as_object(root, "");
    (void)require_id(o, "update_id", "");
    std::vector<event> out;
    if (const auto* message = optional_object(o, "message", "")) {
        const auto& chat = require_object(*message, "chat", "message");
        if (optional_string(chat, "type", "message.chat").value_or("private") != "private") {
            return out; // groups and channels are not one contact
        }
        const auto chat_id = require_id(chat, "id", "message.chat");
        const auto message_id = require_id(*message, "message_id", "message");
        const auto at = seconds(*message, "date", "message");
        std::string user = chat_id;
        if (const auto* from = optional_object(*message, "from", "message")) {
            user = require_id(*from, "id", "message.from");
        }
        auto e = event::message({"telegram", user}, "")
                     .with_key("telegram:" + chat_id + ":" + message_id)
                     .at_time(at);
        if (auto text = optional_string(*message, "text", "message")) {
            e.text = *text;
        } else {
            if (auto caption = optional_string(*message, "caption", "message")) {
                e.text = *caption;
            }
            for (const char* kind :
                 {"photo", "video", "voice", "audio", "document", "sticker", "location", "contact"}) {
                if (message->contains(kind)) {
                    e.data["attachment"] = kind;
                    break;
                }
            }
            if (e.text.empty() && e.data.empty()) {
                return out; // service messages (pinned, joined, ...)
            }
        }
        out.push_back(std::move(e));
    } else if (const auto* callback = optional_object(o, "callback_query", "")) {
        const auto id = require_id(*callback, "id", "callback_query");
        const auto user =
            require_id(require_object(*callback, "from", "callback_query"), "id", "callback_query.from");
        auto data = optional_string(*callback, "data", "callback_query");
        if (!data || data->empty()) {
            return out; // game callbacks carry no data
        }
        // A callback query has no date of its own; the engine clock stamps it.
        out.push_back(event::postback_of({"telegram", user}, std::move(*data)).with_key("telegram:cb:" + id));
    }
    return out;
}

std::vector<event> parse_generic_webhook(std::string_view body) {
    const auto root = parse_body(body);
    const auto& o = as_object(root, "");
    std::vector<event> out;
    const auto* list = o.if_contains("events");
    if (!list) {
        out.push_back(event_from_json(body));
        return out;
    }
    if (!list->is_array()) {
        throw event_error("events", "expected an array");
    }
    out.reserve(list->get_array().size());
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
        try {
            out.push_back(event_from_json(json::serialize(list->get_array()[i])));
        } catch (const event_error& e) {
            throw event_error(index("events", i) + (e.field().empty() ? "" : "." + e.field()), e.detail());
        }
    }
    return out;
}

// ---- signatures -------------------------------------------------------------------------------------

std::string zalo_signature(std::string_view app_id, std::string_view raw_body, std::string_view timestamp,
                           std::string_view oa_secret) {
    std::string text;
    text.reserve(app_id.size() + raw_body.size() + timestamp.size() + oa_secret.size());
    text.append(app_id).append(raw_body).append(timestamp).append(oa_secret);
    return detail::sha256_hex(text);
}

bool verify_zalo_signature(std::string_view app_id, std::string_view oa_secret, std::string_view raw_body,
                           std::string_view header_value) noexcept {
    try {
        auto given = trim(header_value);
        if (starts_with(lower(given.substr(0, 4)), "mac=")) {
            given.remove_prefix(4);
        }
        const auto timestamp = zalo_timestamp(raw_body);
        if (oa_secret.empty() || given.empty() || !timestamp) {
            return false;
        }
        return detail::constant_time_equal(zalo_signature(app_id, raw_body, *timestamp, oa_secret),
                                           lower(given));
    } catch (...) {
        return false; // only allocation can fail here
    }
}

std::string meta_signature(std::string_view app_secret, std::string_view raw_body) {
    return "sha256=" + detail::hmac_sha256_hex(app_secret, raw_body);
}

bool verify_meta_signature(std::string_view app_secret, std::string_view raw_body,
                           std::string_view header_value) noexcept {
    try {
        const auto given = lower(trim(header_value));
        if (app_secret.empty() || !starts_with(given, "sha256=")) {
            return false;
        }
        return detail::constant_time_equal(meta_signature(app_secret, raw_body), given);
    } catch (...) {
        return false;
    }
}

bool verify_telegram_secret(std::string_view expected, std::string_view header_value) noexcept {
    return !expected.empty() && detail::constant_time_equal(expected, trim(header_value));
}

std::string generic_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view raw_body) {
    std::string text;
    text.reserve(timestamp.size() + 1 + raw_body.size());
    text.append(timestamp).append(".").append(raw_body);
    return "sha256=" + detail::hmac_sha256_hex(secret, text);
}

bool verify_generic_signature(std::string_view secret, std::string_view raw_body,
                              std::string_view signature_header, std::string_view timestamp_header,
                              time_point now, std::chrono::seconds tolerance) noexcept {
    try {
        const auto stamp = trim(timestamp_header);
        std::int64_t when = 0;
        auto [ptr, ec] = std::from_chars(stamp.data(), stamp.data() + stamp.size(), when);
        if (secret.empty() || stamp.empty() || ec != std::errc{} || ptr != stamp.data() + stamp.size()) {
            return false;
        }
        const auto now_s = std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
        // Compare without overflowing on absurd timestamps.
        const auto distance = when > now_s
                                  ? static_cast<std::uint64_t>(when) - static_cast<std::uint64_t>(now_s)
                                  : static_cast<std::uint64_t>(now_s) - static_cast<std::uint64_t>(when);
        if (distance > static_cast<std::uint64_t>(tolerance.count())) {
            return false;
        }
        return detail::constant_time_equal(generic_signature(secret, stamp, raw_body),
                                           lower(trim(signature_header)));
    } catch (...) {
        return false;
    }
}

} // namespace tagflow
