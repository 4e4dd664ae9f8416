// The platform emulator: Boost.Beast server, one thread, platform rules written from the
// channel reference (paths, envelopes, error codes).
#include "platform_emulator.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace tagflow::testing {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace json = boost::json;

using request_t = http::request<http::string_body>;
using response_t = http::response<http::string_body>;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string hmac_hex(std::string_view key, std::string_view message) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(), &size);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += digits[digest[i] >> 4];
        out += digits[digest[i] & 0x0f];
    }
    return out;
}

std::size_t code_points(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

int hex_digit(char c) {
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
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string query_param(std::string_view target, std::string_view name) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        return {};
    }
    auto rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) {
            return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
        }
        if (amp == std::string_view::npos) {
            break;
        }
        rest = rest.substr(amp + 1);
    }
    return {};
}

const json::value* member(const json::value* v, std::string_view key) {
    if (v == nullptr || !v->is_object()) {
        return nullptr;
    }
    return v->as_object().if_contains(key);
}

std::string text_of(const json::value* v) {
    if (v == nullptr) {
        return {};
    }
    if (v->is_string()) {
        return std::string(v->as_string());
    }
    if (v->is_int64()) {
        return std::to_string(v->as_int64());
    }
    if (v->is_uint64()) {
        return std::to_string(v->as_uint64());
    }
    return {};
}

std::size_t array_size(const json::value* v) {
    return v != nullptr && v->is_array() ? v->as_array().size() : 0;
}

} // namespace

std::string recorded_request::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) {
            return value;
        }
    }
    return {};
}

struct platform_emulator::impl {
    emulator_options options;
    asio::io_context io;
    std::optional<ssl::context> tls;
    asio::ip::tcp::acceptor acceptor{io};
    std::thread thread;
    std::once_flag stopped;

    mutable std::mutex mutex;
    emulator_config config;
    std::vector<recorded_request> requests;
    std::vector<accepted_message> messages;
    std::map<std::string, std::string> webhook_keys; // Idempotency-Key -> id answered
    std::map<std::string, std::string> sms_requests; // RequestId -> SMSID
    std::map<std::string, std::string> email_keys;   // Idempotency-Key -> id
    int counter = 0;

    void accept();
    response_t handle(const request_t& req);

    // Platform handlers, called with the lock held.
    response_t zalo(const recorded_request& r, bool is_template);
    response_t meta(const recorded_request& r);
    response_t messenger(const recorded_request& r, const json::value& body);
    response_t whatsapp(const recorded_request& r, const json::value& body);
    response_t telegram(const recorded_request& r, std::string_view token);
    response_t webhook(const recorded_request& r);
    response_t sms(const recorded_request& r);
    response_t email(const recorded_request& r);

    time_point now() const {
        return config.clock ? config.clock()
                            : std::chrono::time_point_cast<duration>(std::chrono::system_clock::now());
    }
    std::string next_id(std::string_view prefix) { return std::string(prefix) + std::to_string(++counter); }
    void accept_message(std::string platform, std::string recipient, std::string id, std::string text,
                        const std::string& body) {
        messages.push_back({std::move(platform), std::move(recipient), std::move(id), std::move(text), body});
    }
};

namespace {

response_t json_reply(http::status status, const json::value& body) {
    response_t res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(body);
    res.prepare_payload();
    return res;
}

response_t zalo_error(int code, std::string message) {
    // Zalo reports errors with HTTP 200 and a negative code in the envelope.
    return json_reply(http::status::ok, json::object{{"error", code}, {"message", std::move(message)}});
}

response_t graph_error(http::status status, int code, std::optional<int> subcode, std::string message,
                       json::object extra = {}) {
    json::object err{{"message", std::move(message)}, {"type", "OAuthException"}, {"code", code}};
    if (subcode) {
        err["error_subcode"] = *subcode;
    }
    for (auto& [k, v] : extra) {
        err[k] = v;
    }
    err["fbtrace_id"] = "emulator";
    return json_reply(status, json::object{{"error", std::move(err)}});
}

response_t telegram_error(http::status status, std::string description, json::object parameters = {}) {
    json::object body{
        {"ok", false}, {"error_code", static_cast<int>(status)}, {"description", std::move(description)}};
    if (!parameters.empty()) {
        body["parameters"] = std::move(parameters);
    }
    return json_reply(status, body);
}

template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
public:
    session(Stream stream, platform_emulator::impl& owner) : stream_(std::move(stream)), owner_(owner) {}

    void run() {
        auto self = this->shared_from_this();
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            read();
        } else {
            stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
                if (!ec) {
                    self->read();
                }
            });
        }
    }

private:
    void read() {
        auto self = this->shared_from_this();
        request_ = {};
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
        http::async_read(stream_, buffer_, request_, [self](beast::error_code ec, std::size_t) {
            if (ec) {
                return;
            }
            self->response_ = self->owner_.handle(self->request_);
            self->response_.keep_alive(self->request_.keep_alive());
            http::async_write(self->stream_, self->response_, [self](beast::error_code wec, std::size_t) {
                if (!wec && self->response_.keep_alive()) {
                    self->read();
                }
            });
        });
    }

    Stream stream_;
    platform_emulator::impl& owner_;
    beast::flat_buffer buffer_;
    request_t request_;
    response_t response_;
};

} // namespace

void platform_emulator::impl::accept() {
    acceptor.async_accept([this](beast::error_code ec, asio::ip::tcp::socket socket) {
        if (ec) {
            return; // closed: stopping
        }
        if (tls) {
            using stream_t = beast::ssl_stream<beast::tcp_stream>;
            std::make_shared<session<stream_t>>(stream_t(beast::tcp_stream(std::move(socket)), *tls), *this)
                ->run();
        } else {
            std::make_shared<session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), *this)->run();
        }
        accept();
    });
}

response_t platform_emulator::impl::handle(const request_t& req) {
    recorded_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
        r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    r.body = req.body();

    std::lock_guard lock(mutex);
    requests.push_back(r);
    if (config.fail_next > 0) {
        --config.fail_next;
        return json_reply(static_cast<http::status>(config.fail_status),
                          json::object{{"error", "injected failure"}});
    }
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (r.method == "GET" && path == "/health") {
        return json_reply(http::status::ok, json::object{{"ok", true}});
    }
    if (r.method != "POST") {
        return json_reply(http::status::method_not_allowed, json::object{{"error", "POST only"}});
    }
    if (path == "/v3.0/oa/message/cs") {
        return zalo(r, false);
    }
    if (path == "/v3.0/oa/message/template") {
        return zalo(r, true);
    }
    if (path.size() > 2 && path.rfind("/v", 0) == 0 && path.size() > 9 &&
        path.compare(path.size() - 9, 9, "/messages") == 0) {
        return meta(r);
    }
    if (path.rfind("/bot", 0) == 0) {
        const auto slash = path.find('/', 4);
        if (slash != std::string::npos && path.substr(slash) == "/sendMessage") {
            return telegram(r, std::string_view(path).substr(4, slash - 4));
        }
    }
    if (path == "/webhook" || path.rfind("/webhook/", 0) == 0) {
        return webhook(r);
    }
    if (path == "/MainService.svc/json/SendMultipleMessage_V4_post_json/") {
        return sms(r);
    }
    if (path == "/email/send") {
        return email(r);
    }
    return json_reply(http::status::not_found, json::object{{"error", "no such endpoint: " + path}});
}

response_t platform_emulator::impl::zalo(const recorded_request& r, bool is_template) {
    const std::string token = r.header("access_token");
    if (token.empty() || (!config.zalo_access_token.empty() && token != config.zalo_access_token)) {
        return zalo_error(-216, "Access token is invalid");
    }
    if (!config.zalo_app_secret.empty() &&
        r.header("appsecret_proof") != hmac_hex(config.zalo_app_secret, token)) {
        return zalo_error(-242, "Invalid appsecret_proof provided in the API argument");
    }
    boost::system::error_code ec;
    const auto body = json::parse(r.body, ec);
    if (ec || !body.is_object()) {
        return zalo_error(-201, "body is invalid!");
    }
    std::string user = text_of(member(&body, "user_id"));
    if (user.empty()) {
        user = text_of(member(member(&body, "recipient"), "user_id"));
    }
    if (user.empty()) {
        return zalo_error(-201, "user_id is invalid!");
    }
    std::string shown;
    if (is_template) {
        if (text_of(member(&body, "template_id")).empty()) {
            return zalo_error(-201, "template_id is invalid!");
        }
        const auto* data = member(&body, "template_data");
        if (data == nullptr || !data->is_object()) {
            return zalo_error(-201, "template_data is invalid!");
        }
        if (config.zalo_night_block) {
            const auto local = now() + std::chrono::hours(7); // Vietnam has no daylight saving
            const auto hour =
                std::chrono::floor<std::chrono::hours>(local - std::chrono::floor<std::chrono::days>(local))
                    .count();
            if (hour >= 22 || hour < 6) {
                return zalo_error(-234, "This message cannot be sent at night (10:00PM - 6:00AM)");
            }
        }
        shown = "template " + text_of(member(&body, "template_id"));
    } else {
        const auto* msg = member(&body, "message");
        if (msg == nullptr || !msg->is_object()) {
            return zalo_error(-201, "message is invalid!");
        }
        const auto last = config.zalo_last_interaction.find(user);
        if (last != config.zalo_last_interaction.end() && now() - last->second > std::chrono::days(7)) {
            return zalo_error(-230, "User has not interacted with the OA in the past 7 days");
        }
        shown = text_of(member(msg, "text"));
        if (code_points(shown) > 2000) {
            return zalo_error(-210, "Parameter exceeds allowable limit");
        }
        const auto* payload = member(member(msg, "attachment"), "payload");
        if (array_size(member(payload, "buttons")) > 5) {
            return zalo_error(-210, "Parameter exceeds allowable limit");
        }
        if (text_of(member(payload, "template_type")) == "request_user_info") {
            const auto* elements = member(payload, "elements");
            if (array_size(elements) != 1) {
                return zalo_error(-201, "elements is invalid!");
            }
            shown = text_of(member(&elements->as_array()[0], "title"));
            if (shown.empty() || code_points(shown) > 100) {
                return zalo_error(-201, "title is invalid!");
            }
        } else if (shown.empty()) {
            return zalo_error(-201, "text is invalid!");
        }
    }
    const std::string id = next_id("zmsg-");
    accept_message("zalo", user, id, shown, r.body);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
    json::object data{{"message_id", id}, {"user_id", user}, {"sent_time", std::to_string(ms)}};
    if (!is_template) {
        data["quota"] = json::object{{"quota_type", "reply"}};
    }
    return json_reply(http::status::ok,
                      json::object{{"data", std::move(data)}, {"error", 0}, {"message", "Success"}});
}

response_t platform_emulator::impl::meta(const recorded_request& r) {
    boost::system::error_code ec;
    const auto body = json::parse(r.body, ec);
    if (ec || !body.is_object()) {
        return graph_error(http::status::bad_request, 100, std::nullopt,
                           "Invalid parameter: body is not JSON");
    }
    if (member(&body, "messaging_product") != nullptr) {
        return whatsapp(r, body);
    }
    return messenger(r, body);
}

response_t platform_emulator::impl::messenger(const recorded_request& r, const json::value& body) {
    const std::string token = query_param(r.target, "access_token");
    if (token.empty() || (!config.messenger_access_token.empty() && token != config.messenger_access_token)) {
        return graph_error(http::status::bad_request, 190, std::nullopt, "Invalid OAuth access token.");
    }
    const std::string psid = text_of(member(member(&body, "recipient"), "id"));
    if (psid.empty()) {
        return graph_error(http::status::bad_request, 100, std::nullopt,
                           "(#100) The parameter recipient is required");
    }
    const std::string type = text_of(member(&body, "messaging_type"));
    if (type != "RESPONSE" && type != "UPDATE" && type != "MESSAGE_TAG") {
        return graph_error(http::status::bad_request, 100, std::nullopt, "(#100) Invalid messaging_type");
    }
    if (type == "MESSAGE_TAG" && text_of(member(&body, "tag")) != "HUMAN_AGENT") {
        // The other tags were withdrawn in 2026.
        return graph_error(http::status::bad_request, 100, std::nullopt, "(#100) Invalid parameter: tag");
    }
    const auto* msg = member(&body, "message");
    if (msg == nullptr || !msg->is_object()) {
        return graph_error(http::status::bad_request, 100, std::nullopt,
                           "(#100) The parameter message is required");
    }
    std::string shown = text_of(member(msg, "text"));
    if (const auto* payload = member(member(msg, "attachment"), "payload")) {
        shown = text_of(member(payload, "text"));
        const auto buttons = array_size(member(payload, "buttons"));
        if (shown.empty() || code_points(shown) > 640 || buttons < 1 || buttons > 3) {
            return graph_error(http::status::bad_request, 100, std::nullopt,
                               "(#100) Invalid button template");
        }
        for (const auto& b : member(payload, "buttons")->as_array()) {
            if (code_points(text_of(member(&b, "title"))) > 20) {
                return graph_error(http::status::bad_request, 100, std::nullopt,
                                   "(#100) Button title too long");
            }
        }
    } else if (shown.empty() || code_points(shown) > 2000) {
        return graph_error(http::status::bad_request, 100, std::nullopt, "(#100) Invalid text");
    }
    if (array_size(member(msg, "quick_replies")) > 13) {
        return graph_error(http::status::bad_request, 100, std::nullopt, "(#100) Too many quick replies");
    }
    if (config.messenger_unavailable.count(psid) != 0) {
        return graph_error(http::status::bad_request, 551, 1545041, "This person isn't available right now.");
    }
    if (config.messenger_outside_window.count(psid) != 0 &&
        !(type == "MESSAGE_TAG" && text_of(member(&body, "tag")) == "HUMAN_AGENT")) {
        return graph_error(http::status::bad_request, 10, 2018278,
                           "(#10) This message is sent outside of allowed window.");
    }
    const std::string id = next_id("m_");
    accept_message("messenger", psid, id, shown, r.body);
    return json_reply(http::status::ok, json::object{{"recipient_id", psid}, {"message_id", id}});
}

response_t platform_emulator::impl::whatsapp(const recorded_request& r, const json::value& body) {
    const std::string auth = r.header("Authorization");
    if (auth.rfind("Bearer ", 0) != 0 ||
        (!config.whatsapp_access_token.empty() && auth != "Bearer " + config.whatsapp_access_token)) {
        return graph_error(http::status::unauthorized, 190, std::nullopt, "Invalid OAuth access token.");
    }
    std::string to = text_of(member(&body, "to"));
    if (!to.empty() && to.front() == '+') {
        to.erase(0, 1);
    }
    if (to.empty()) {
        return graph_error(http::status::bad_request, 100, std::nullopt, "(#100) Invalid parameter: to");
    }
    const std::string type = text_of(member(&body, "type"));
    std::string shown;
    if (type == "text") {
        shown = text_of(member(member(&body, "text"), "body"));
        if (shown.empty() || code_points(shown) > 4096) {
            return graph_error(http::status::bad_request, 100, std::nullopt,
                               "(#100) Invalid parameter: text.body");
        }
    } else if (type == "interactive") {
        const auto* interactive = member(&body, "interactive");
        shown = text_of(member(member(interactive, "body"), "text"));
        const auto* buttons = member(member(interactive, "action"), "buttons");
        if (shown.empty() || code_points(shown) > 1024 || array_size(buttons) < 1 ||
            array_size(buttons) > 3) {
            return graph_error(http::status::bad_request, 100, std::nullopt,
                               "(#100) Invalid interactive message");
        }
        for (const auto& b : buttons->as_array()) {
            if (code_points(text_of(member(member(&b, "reply"), "title"))) > 20) {
                return graph_error(http::status::bad_request, 100, std::nullopt,
                                   "(#100) Button title too long");
            }
        }
    } else if (type == "template") {
        shown = "template " + text_of(member(member(&body, "template"), "name"));
    } else {
        return graph_error(http::status::bad_request, 100, std::nullopt, "(#100) Invalid parameter: type");
    }
    if (type != "template" && config.whatsapp_outside_window.count(to) != 0) {
        return graph_error(
            http::status::bad_request, 131047, std::nullopt, "Re-engagement message",
            json::object{
                {"error_data",
                 json::object{{"messaging_product", "whatsapp"},
                              {"details", "Message failed to send because more than 24 hours have passed "
                                          "since the customer last replied to this number."}}}});
    }
    const std::string id = next_id("wamid.");
    accept_message("whatsapp", to, id, shown, r.body);
    return json_reply(http::status::ok,
                      json::object{{"messaging_product", "whatsapp"},
                                   {"contacts", json::array{json::object{{"input", to}, {"wa_id", to}}}},
                                   {"messages", json::array{json::object{{"id", id}}}}});
}

response_t platform_emulator::impl::telegram(const recorded_request& r, std::string_view token) {
    if (token.empty() || (!config.telegram_token.empty() && token != config.telegram_token)) {
        return telegram_error(http::status::unauthorized, "Unauthorized");
    }
    if (config.telegram_rate_limited > 0) {
        --config.telegram_rate_limited;
        return telegram_error(http::status::too_many_requests,
                              "Too Many Requests: retry after " + std::to_string(config.telegram_retry_after),
                              json::object{{"retry_after", config.telegram_retry_after}});
    }
    boost::system::error_code ec;
    const auto body = json::parse(r.body, ec);
    if (ec || !body.is_object()) {
        return telegram_error(http::status::bad_request, "Bad Request: body is not JSON");
    }
    const std::string chat = text_of(member(&body, "chat_id"));
    if (chat.empty()) {
        return telegram_error(http::status::bad_request, "Bad Request: chat_id is empty");
    }
    const std::string text = text_of(member(&body, "text"));
    if (text.empty()) {
        return telegram_error(http::status::bad_request, "Bad Request: message text is empty");
    }
    if (code_points(text) > 4096) {
        return telegram_error(http::status::bad_request, "Bad Request: message is too long");
    }
    if (const auto* rows = member(member(&body, "reply_markup"), "inline_keyboard");
        rows != nullptr && rows->is_array()) {
        for (const auto& row : rows->as_array()) {
            for (const auto& b : row.as_array()) {
                const auto data = text_of(member(&b, "callback_data"));
                if (data.empty() || data.size() > 64) {
                    return telegram_error(http::status::bad_request, "Bad Request: BUTTON_DATA_INVALID");
                }
            }
        }
    }
    if (config.telegram_blocked.count(chat) != 0) {
        return telegram_error(http::status::forbidden, "Forbidden: bot was blocked by the user");
    }
    ++counter;
    const int id = counter;
    accept_message("telegram", chat, std::to_string(id), text, r.body);
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
    return json_reply(
        http::status::ok,
        json::object{
            {"ok", true},
            {"result", json::object{{"message_id", id},
                                    {"chat", json::object{{"id", member(&body, "chat_id")->is_string()
                                                                     ? json::value(chat)
                                                                     : *member(&body, "chat_id")}}},
                                    {"date", seconds},
                                    {"text", text}}}});
}

response_t platform_emulator::impl::webhook(const recorded_request& r) {
    if (!config.webhook_secret.empty()) {
        const std::string expected = "sha256=" + hmac_hex(config.webhook_secret, r.body);
        if (r.header("X-Tagflow-Signature") != expected) {
            return json_reply(http::status::unauthorized, json::object{{"error", "bad signature"}});
        }
    }
    const std::string key = r.header("Idempotency-Key");
    if (key.empty()) {
        return json_reply(http::status::bad_request, json::object{{"error", "Idempotency-Key is required"}});
    }
    if (const auto seen = webhook_keys.find(key); seen != webhook_keys.end()) {
        return json_reply(http::status::conflict, json::object{{"error", "duplicate"}, {"id", seen->second}});
    }
    boost::system::error_code ec;
    const auto body = json::parse(r.body, ec);
    if (ec || !body.is_object()) {
        return json_reply(http::status::bad_request, json::object{{"error", "body is not JSON"}});
    }
    const std::string id = next_id("wh-");
    webhook_keys.emplace(key, id);
    accept_message("webhook", text_of(member(&body, "to")), id, text_of(member(&body, "text")), r.body);
    return json_reply(http::status::ok, json::object{{"id", id}});
}

response_t platform_emulator::impl::sms(const recorded_request& r) {
    boost::system::error_code ec;
    const auto body = json::parse(r.body, ec);
    if (ec || !body.is_object()) {
        return json_reply(http::status::ok,
                          json::object{{"CodeResult", "99"}, {"ErrorMessage", "body is not JSON"}});
    }
    if ((!config.sms_api_key.empty() && text_of(member(&body, "ApiKey")) != config.sms_api_key) ||
        (!config.sms_secret_key.empty() && text_of(member(&body, "SecretKey")) != config.sms_secret_key)) {
        return json_reply(http::status::ok,
                          json::object{{"CodeResult", "101"}, {"ErrorMessage", "Authorize Failed"}});
    }
    if (text_of(member(&body, "Brandname")).empty()) {
        return json_reply(http::status::ok,
                          json::object{{"CodeResult", "104"}, {"ErrorMessage", "Brandname not found"}});
    }
    const std::string request_id = text_of(member(&body, "RequestId"));
    if (!request_id.empty() && sms_requests.count(request_id) != 0) {
        return json_reply(http::status::ok,
                          json::object{{"CodeResult", "124"}, {"ErrorMessage", "Duplicate RequestId"}});
    }
    const std::string phone = text_of(member(&body, "Phone"));
    const std::string content = text_of(member(&body, "Content"));
    if (phone.empty() || content.empty()) {
        return json_reply(http::status::ok, json::object{{"CodeResult", "99"},
                                                         {"ErrorMessage", "Phone and Content are required"}});
    }
    const std::string id = next_id("sms-");
    if (!request_id.empty()) {
        sms_requests.emplace(request_id, id);
    }
    accept_message("sms", phone, id, content, r.body);
    return json_reply(http::status::ok, json::object{{"CodeResult", "100"}, {"SMSID", id}});
}

response_t platform_emulator::impl::email(const recorded_request& r) {
    const std::string auth = r.header("Authorization");
    if (auth.rfind("Bearer ", 0) != 0 ||
        (!config.email_api_key.empty() && auth != "Bearer " + config.email_api_key)) {
        return json_reply(http::status::unauthorized, json::object{{"error", "unauthorized"}});
    }
    const std::string key = r.header("Idempotency-Key");
    if (const auto seen = email_keys.find(key); !key.empty() && seen != email_keys.end()) {
        // Like most e-mail APIs, a repeated key returns the first answer without sending again.
        return json_reply(http::status::ok, json::object{{"id", seen->second}});
    }
    boost::system::error_code ec;
    const auto body = json::parse(r.body, ec);
    const std::string to = ec ? std::string() : text_of(member(&body, "to"));
    if (to.empty() || to.find('@') == std::string::npos || text_of(member(&body, "from")).empty()) {
        return json_reply(http::status::unprocessable_entity,
                          json::object{{"error", "from and to are required"}});
    }
    const std::string id = next_id("email-");
    if (!key.empty()) {
        email_keys.emplace(key, id);
    }
    accept_message("email", to, id, text_of(member(&body, "text")), r.body);
    return json_reply(http::status::ok, json::object{{"id", id}});
}

platform_emulator::platform_emulator(emulator_options options) : impl_(std::make_unique<impl>()) {
    impl_->options = std::move(options);
    if (!impl_->options.tls_cert_pem.empty()) {
        impl_->tls.emplace(ssl::context::tls_server);
        try {
            impl_->tls->use_certificate_chain(asio::buffer(impl_->options.tls_cert_pem));
            impl_->tls->use_private_key(asio::buffer(impl_->options.tls_key_pem), ssl::context::pem);
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("emulator: cannot load the TLS certificate: ") + e.what());
        }
    }
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(impl_->options.host), impl_->options.port);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
    impl_->accept();
    impl_->thread = std::thread([this] { impl_->io.run(); });
}

platform_emulator::~platform_emulator() {
    stop();
}

void platform_emulator::stop() {
    std::call_once(impl_->stopped, [this] {
        asio::post(impl_->io, [this] {
            beast::error_code ignored;
            impl_->acceptor.close(ignored);
        });
        impl_->io.stop();
        if (impl_->thread.joinable()) {
            impl_->thread.join();
        }
    });
}

std::string platform_emulator::base_url() const {
    return std::string(impl_->tls ? "https" : "http") + "://" + impl_->options.host + ":" +
           std::to_string(port());
}

unsigned short platform_emulator::port() const {
    beast::error_code ec;
    const auto endpoint = impl_->acceptor.local_endpoint(ec);
    return ec ? impl_->options.port : endpoint.port();
}

void platform_emulator::configure(const std::function<void(emulator_config&)>& change) {
    std::lock_guard lock(impl_->mutex);
    change(impl_->config);
}

std::vector<recorded_request> platform_emulator::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->requests;
}

std::vector<accepted_message> platform_emulator::messages() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->messages;
}

std::vector<accepted_message> platform_emulator::messages(std::string_view platform) const {
    std::lock_guard lock(impl_->mutex);
    std::vector<accepted_message> out;
    for (const auto& m : impl_->messages) {
        if (m.platform == platform) {
            out.push_back(m);
        }
    }
    return out;
}

void platform_emulator::clear() {
    std::lock_guard lock(impl_->mutex);
    impl_->requests.clear();
    impl_->messages.clear();
    impl_->webhook_keys.clear();
    impl_->sms_requests.clear();
    impl_->email_keys.clear();
}

namespace {

template <class T, void (*Free)(T*)>
struct openssl_deleter {
    void operator()(T* p) const noexcept { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(size));
}

void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string("OpenSSL: ") + what);
    }
}

} // namespace

self_signed_certificate make_self_signed_certificate() {
    pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    check(key != nullptr, "EC key generation failed");
    x509_ptr cert(X509_new());
    check(cert != nullptr, "X509_new failed");
    check(X509_set_version(cert.get(), 2) == 1, "X509_set_version failed");
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey failed");
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                               -1, -1, 0);
    check(X509_set_issuer_name(cert.get(), name) == 1, "X509_set_issuer_name failed");
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                                     std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                                     std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        check(ext != nullptr, "cannot build an extension");
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign failed");
    bio_ptr cert_bio(BIO_new(BIO_s_mem()));
    bio_ptr key_bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1, "PEM_write_bio_X509 failed");
    check(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey failed");
    return {bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

} // namespace tagflow::testing
