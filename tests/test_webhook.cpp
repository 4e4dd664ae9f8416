#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>
#include <tagflow/webhook.hpp>

#include "detail/crypto.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace tagflow;
using namespace std::chrono_literals;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(TAGFLOW_TEST_DATA_DIR) + "/fixtures/webhooks/" + name, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

time_point utc_ms(std::int64_t ms) {
    return time_point(std::chrono::milliseconds(ms));
}

// The field a parser refuses a body at, or "(accepted)".
template <typename Parse>
std::string refused_field(Parse parse, const std::string& body) {
    try {
        (void)parse(body);
    } catch (const event_error& e) {
        return e.field();
    }
    return "(accepted)";
}

const char* shop_definitions = R"json({
  "schema": 1,
  "tags": ["Khách mới"],
  "rules": [{"name": "welcome", "when": "first_message",
             "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}, {"add_tag": "Khách mới"}]}]
})json";

engine memory_engine(const char* defs = shop_definitions) {
    engine e(make_memory_store());
    e.load_definitions(defs);
    return e;
}

struct temp_db {
    std::filesystem::path path;
    temp_db() {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("tagflow_webhook_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".db");
        remove_files();
    }
    ~temp_db() { remove_files(); }
    void remove_files() const {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(path.string() + suffix);
        }
    }
};

// A keep-alive HTTP/1.1 client over loopback.
class client {
public:
    explicit client(std::uint16_t port) : socket_(io_) {
        socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    }

    http::response<http::string_body>
    send(http::verb method, const std::string& target, const std::string& body = {},
         const std::vector<std::pair<std::string, std::string>>& headers = {}) {
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, "127.0.0.1");
        for (const auto& [name, value] : headers) {
            req.set(name, value);
        }
        if (method == http::verb::post) {
            req.set(http::field::content_type, "application/json");
            req.body() = body;
            req.prepare_payload();
        }
        http::write(socket_, req);
        return read();
    }

    // Writes raw bytes (a hand-made request head) and reads the answer.
    http::response<http::string_body> send_raw(const std::string& bytes) {
        asio::write(socket_, asio::buffer(bytes));
        return read();
    }

    http::response<http::string_body> read() {
        http::response<http::string_body> res;
        http::read(socket_, buffer_, res);
        return res;
    }

    // True when the server has closed the connection.
    bool closed_by_server() {
        beast::error_code ec;
        char byte = 0;
        socket_.read_some(asio::buffer(&byte, 1), ec);
        return ec == asio::error::eof || ec == asio::error::connection_reset;
    }

private:
    asio::io_context io_;
    tcp::socket socket_;
    beast::flat_buffer buffer_;
};

int status_of(const http::response<http::string_body>& res) {
    return static_cast<int>(res.result_int());
}

boost::json::object json_of(const http::response<http::string_body>& res) {
    return boost::json::parse(res.body()).as_object();
}

webhook_settings signed_settings() {
    webhook_settings s;
    s.zalo.app_id = "3504983910202040114";
    s.zalo.oa_secret = "oa-secret-Zx81";
    s.messenger.app_secret = "messenger-app-secret";
    s.messenger.verify_token = "xac-minh-123";
    s.whatsapp.app_secret = "whatsapp-app-secret";
    s.whatsapp.verify_token = "wa-verify";
    s.telegram.secret_token = "tg_secret-Token_42";
    s.generic.secret = "generic-secret";
    return s;
}

std::vector<std::pair<std::string, std::string>> zalo_headers(const webhook_settings& s,
                                                              const std::string& body) {
    const auto stamp = std::string(boost::json::parse(body).as_object().at("timestamp").as_string());
    return {{"X-ZEvent-Signature", "mac=" + zalo_signature(s.zalo.app_id, body, stamp, s.zalo.oa_secret)}};
}

std::vector<std::pair<std::string, std::string>> generic_headers(const std::string& secret,
                                                                 const std::string& body) {
    const auto stamp = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    return {{"X-Tagflow-Timestamp", stamp}, {"X-Tagflow-Signature", generic_signature(secret, stamp, body)}};
}

std::size_t inputs_with_key(const engine& e, const std::string& key) {
    std::size_t n = 0;
    for (const auto& ev : e.input_events()) {
        n += ev.key == key ? 1 : 0;
    }
    return n;
}

} // namespace

// ---- parsers ---------------------------------------------------------------------------------------

TEST_CASE("A Zalo text message becomes a message event keyed by its msg_id", "[webhook]") {
    const auto events = parse_zalo_webhook(fixture("zalo_user_send_text.json"));
    REQUIRE(events.size() == 1);
    const auto expected =
        event::message({"zalo", "8443512356789012345"}, "Shop ơi, áo thun trắng size M còn hàng không ạ?")
            .with_key("zalo:a1b2c3d4e5f6789012345678aabbccdd")
            .at_time(utc_ms(1767582000123));
    CHECK(events[0] == expected);
    CHECK(format_time(*events[0].at) == "2026-01-05T03:00:00.123Z");
}

TEST_CASE("A Zalo image message keeps its caption and names the attachment", "[webhook]") {
    const auto events = parse_zalo_webhook(fixture("zalo_user_send_image.json"));
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == event_kind::message_received);
    CHECK(events[0].text == "Mẫu này nè shop");
    CHECK(events[0].key == "zalo:b2c3d4e5f6a7890123456789bbccddee");
    CHECK(events[0].data == std::map<std::string, std::string>{
                                {"attachment", "image"}, {"url", "https://photo.example.vn/ao-thun.jpg"}});
}

TEST_CASE("Zalo follow and unfollow become follow events keyed by name, follower and time", "[webhook]") {
    const auto follow = parse_zalo_webhook(fixture("zalo_follow.json"));
    REQUIRE(follow.size() == 1);
    CHECK(follow[0] == event::follow({"zalo", "8443512356789012345"})
                           .with_key("zalo:follow:8443512356789012345:1767582000000")
                           .at_time(utc_ms(1767582000000)));
    const auto unfollow = parse_zalo_webhook(fixture("zalo_unfollow.json"));
    REQUIRE(unfollow.size() == 1);
    CHECK(unfollow[0] == event::unfollow({"zalo", "8443512356789012345"})
                             .with_key("zalo:unfollow:8443512356789012345:1767582120000")
                             .at_time(utc_ms(1767582120000)));
}

TEST_CASE("A Zalo info form answer becomes a profile update with name, phone and address", "[webhook]") {
    const auto events = parse_zalo_webhook(fixture("zalo_user_submit_info.json"));
    REQUIRE(events.size() == 1);
    profile_update p;
    p.name = "Nguyễn Thị Hồng Nhung";
    p.phone = "0912 345 678";
    p.fields["address"] = "12 Nguyễn Trãi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh";
    CHECK(events[0] == event::profile_of({"zalo", "8443512356789012345"}, p)
                           .with_key("zalo:user_submit_info:8443512356789012345:1767582060000")
                           .at_time(utc_ms(1767582060000)));

    SECTION("a one-line address and a missing one") {
        auto line = parse_zalo_webhook(
            R"({"event_name":"user_submit_info","timestamp":"1","sender":{"id":"7"},"info":{"name":"An","full_address":"Hà Nội"}})");
        CHECK(line[0].profile.fields.at("address") == "Hà Nội");
        auto none = parse_zalo_webhook(
            R"({"event_name":"user_submit_info","timestamp":"1","sender":{"id":"7"},"info":{"name":"An","phone":""}})");
        CHECK(none[0].profile.fields.empty());
        CHECK(!none[0].profile.phone);
    }
}

TEST_CASE("Zalo receipts become delivery updates and echoes are ignored", "[webhook]") {
    const auto received = parse_zalo_webhook(fixture("zalo_user_received_message.json"));
    REQUIRE(received.size() == 1);
    CHECK(received[0] == event::receipt_of({"zalo", "8443512356789012345"},
                                           "oa0001c3d4e5f6789012345678aabbcc", delivery_status::delivered)
                             .with_key("zalo:delivered:oa0001c3d4e5f6789012345678aabbcc")
                             .at_time(utc_ms(1767582065000)));
    const auto seen = parse_zalo_webhook(fixture("zalo_user_seen_message.json"));
    REQUIRE(seen.size() == 2);
    CHECK(seen[1] == event::receipt_of({"zalo", "8443512356789012345"}, "oa0002c3d4e5f6789012345678aabbcc",
                                       delivery_status::read)
                         .with_key("zalo:read:oa0002c3d4e5f6789012345678aabbcc")
                         .at_time(utc_ms(1767582070000)));
    CHECK(parse_zalo_webhook(fixture("zalo_oa_send_text.json")).empty());
    CHECK(parse_zalo_webhook(R"({"event_name":"user_reacted_message","timestamp":"1767582070000"})").empty());
}

TEST_CASE("A Messenger body gives messages, quick replies, postbacks and deliveries in order", "[webhook]") {
    const auto events = parse_messenger_webhook(fixture("messenger_messages.json"));
    const identity who{"messenger", "6723401985512345"};
    REQUIRE(events.size() == 6);
    CHECK(events[0] == event::message(who, "Cho mình hỏi giá váy hoa nhí ạ")
                           .with_key("messenger:m_AbCdEf0123456789-text")
                           .at_time(utc_ms(1767582000123)));
    CHECK(events[1] == event::postback_of(who, "SIZE_M")
                           .with_key("messenger:m_AbCdEf0123456789-qr")
                           .at_time(utc_ms(1767582010000)));
    // the echo is skipped
    CHECK(events[2] == event::postback_of(who, "ORDER_VAY_HOA")
                           .with_key("messenger:pb:m_AbCdEf0123456789-pb")
                           .at_time(utc_ms(1767582020000)));
    CHECK(events[3].kind == event_kind::message_received);
    CHECK(events[3].text.empty());
    CHECK(events[3].data.at("attachment") == "image");
    CHECK(events[4] == event::receipt_of(who, "m_page0001", delivery_status::delivered)
                           .with_key("messenger:delivered:m_page0001")
                           .at_time(utc_ms(1767582030000)));
    CHECK(events[5].external_id == "m_page0002");
    // the read watermark names no message and is skipped

    SECTION("a postback without mid is keyed by sender and time") {
        const auto old = parse_messenger_webhook(
            R"({"object":"page","entry":[{"messaging":[{"sender":{"id":"9"},"timestamp":1767582020000,"postback":{"payload":"BAT_DAU"}}]}]})");
        REQUIRE(old.size() == 1);
        CHECK(old[0].key == "messenger:pb:9:1767582020000");
    }
    SECTION("other objects give nothing") {
        CHECK(parse_messenger_webhook(R"({"object":"instagram","entry":[]})").empty());
    }
}

TEST_CASE("WhatsApp messages, button replies and statuses", "[webhook]") {
    const identity who{"whatsapp", "84987654321"};
    const auto events = parse_whatsapp_webhook(fixture("whatsapp_messages.json"));
    REQUIRE(events.size() == 3); // the reaction is skipped
    CHECK(events[0] == event::message(who, "Em muốn đặt 2 hộp bánh pía sầu riêng")
                           .with_key("whatsapp:wamid.HBgLODQ5ODc2NTQzMjEVAgASGBQzQTk5")
                           .at_time(utc_ms(1767582000000)));
    CHECK(events[1] == event::postback_of(who, "GIAO_HANG_NHANH")
                           .with_key("whatsapp:wamid.HBgLODQ5ODc2NTQzMjEVAgASGBQzQjAw")
                           .at_time(utc_ms(1767582060000)));
    CHECK(events[2].text == "Địa chỉ nhà em");
    CHECK(events[2].data.at("attachment") == "image");

    const auto statuses = parse_whatsapp_webhook(fixture("whatsapp_statuses.json"));
    REQUIRE(statuses.size() == 3); // "sent" is skipped
    CHECK(statuses[0] == event::receipt_of(who, "wamid.OUT0001", delivery_status::delivered)
                             .with_key("whatsapp:delivered:wamid.OUT0001")
                             .at_time(utc_ms(1767582002000)));
    CHECK(statuses[1].delivery == delivery_status::read);
    CHECK(statuses[1].key == "whatsapp:read:wamid.OUT0001");
    CHECK(statuses[2].delivery == delivery_status::failed);
    CHECK(statuses[2].error == "131047 Re-engagement message");
}

TEST_CASE("Telegram messages and callback queries; group chats are ignored", "[webhook]") {
    const identity who{"telegram", "5123456789"};
    const auto message = parse_telegram_webhook(fixture("telegram_message.json"));
    REQUIRE(message.size() == 1);
    CHECK(message[0] == event::message(who, "Chào shop, cho mình xem bảng giá son môi nhé")
                            .with_key("telegram:5123456789:4821")
                            .at_time(utc_ms(1767582000000)));
    const auto callback = parse_telegram_webhook(fixture("telegram_callback_query.json"));
    REQUIRE(callback.size() == 1);
    CHECK(callback[0] == event::postback_of(who, "MAU_DO_CAM").with_key("telegram:cb:2200431155738917001"));
    CHECK(parse_telegram_webhook(fixture("telegram_group_message.json")).empty());
    CHECK(parse_telegram_webhook(R"({"update_id":1,"edited_message":{}})").empty());
}

TEST_CASE("The generic webhook takes a list of events or a single event", "[webhook]") {
    const auto events = parse_generic_webhook(fixture("generic_events.json"));
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == event_kind::order_placed);
    CHECK(events[0].order.items == std::vector<std::string>{"Áo thun trắng", "Quần jean xanh"});
    CHECK(events[1].data.at("san_pham") == "Váy hoa nhí");
    const auto one =
        parse_generic_webhook(R"({"kind":"message_received","identity":"web:1","text":"Xin chào"})");
    REQUIRE(one.size() == 1);
    CHECK(one[0] == event::message({"web", "1"}, "Xin chào"));
    CHECK(refused_field(parse_generic_webhook,
                        R"({"events":[{"kind":"message_received"},{"kind":"nope"}]})") == "events[1].kind");
}

TEST_CASE("Parsers refuse malformed bodies and name the missing field", "[webhook]") {
    CHECK(refused_field(parse_zalo_webhook, "{not json") == "");
    CHECK(refused_field(parse_zalo_webhook, R"({"timestamp":"1"})") == "event_name");
    CHECK(refused_field(parse_zalo_webhook,
                        R"({"event_name":"user_send_text","timestamp":"1","message":{"msg_id":"x"}})") ==
          "sender");
    CHECK(refused_field(
              parse_zalo_webhook,
              R"({"event_name":"user_send_text","timestamp":"1","sender":{},"message":{"msg_id":"x"}})") ==
          "sender.id");
    CHECK(refused_field(parse_zalo_webhook, R"({"event_name":"user_send_text","sender":{"id":"1"}})") ==
          "timestamp");
    CHECK(refused_field(parse_zalo_webhook,
                        R"({"event_name":"follow","timestamp":"soon","follower":{"id":"1"}})") ==
          "timestamp");
    CHECK(
        refused_field(
            parse_messenger_webhook,
            R"({"object":"page","entry":[{"messaging":[{"sender":{"id":"1"},"timestamp":1,"message":{"mid":"a"}},
                                                                   {"recipient":{"id":"2"},"timestamp":1,"message":{"mid":"b"}}]}]})") ==
        "entry[0].messaging[1].sender");
    CHECK(refused_field(parse_messenger_webhook, R"({"object":"page"})") == "entry");
    CHECK(
        refused_field(
            parse_whatsapp_webhook,
            R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","timestamp":"1","type":"text","text":{"body":"a"}}]}}]}]})") ==
        "entry[0].changes[0].value.messages[0].id");
    CHECK(refused_field(parse_telegram_webhook, R"({"message":{}})") == "update_id");
    CHECK(refused_field(parse_telegram_webhook,
                        R"({"update_id":1,"message":{"chat":{"id":1,"type":"private"},"date":1}})") ==
          "message.message_id");
}

// ---- signatures ------------------------------------------------------------------------------------

TEST_CASE("Zalo signatures: plain SHA-256 of app id, body, timestamp and OA secret", "[webhook]") {
    const auto body = fixture("zalo_user_send_text.json");
    const std::string app = "3504983910202040114", secret = "oa-secret-Zx81";
    const auto digest = detail::sha256_hex(app + body + "1767582000123" + secret);
    CHECK(zalo_signature(app, body, "1767582000123", secret) == digest);
    CHECK(verify_zalo_signature(app, secret, body, digest));
    CHECK(verify_zalo_signature(app, secret, body, "mac=" + digest));
    CHECK(verify_zalo_signature(app, secret, body, " MAC=" + digest));
    std::string upper = digest;
    for (auto& c : upper) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    CHECK(verify_zalo_signature(app, secret, body, upper));
    CHECK(!verify_zalo_signature(app, "other-secret", body, digest));
    CHECK(!verify_zalo_signature(app, secret, body + " ", digest));
    CHECK(!verify_zalo_signature(app, secret, body, digest.substr(0, 63)));
    CHECK(!verify_zalo_signature(app, secret, body, digest + "0"));
    CHECK(!verify_zalo_signature(app, secret, body, ""));
    CHECK(!verify_zalo_signature(app, secret, "{}", detail::sha256_hex(app + "{}" + secret)));
    CHECK(!verify_zalo_signature(app, "", body, detail::sha256_hex(app + body + "1767582000123")));
    // A numeric timestamp is signed with its digits.
    const std::string numeric = R"({"event_name":"follow","timestamp":1767582000000})";
    CHECK(verify_zalo_signature(app, secret, numeric,
                                detail::sha256_hex(app + numeric + "1767582000000" + secret)));
}

TEST_CASE("Meta signatures: HMAC-SHA256 of the raw body with the app secret", "[webhook]") {
    const auto body = fixture("messenger_messages.json");
    const auto header = "sha256=" + detail::hmac_sha256_hex("messenger-app-secret", body);
    CHECK(meta_signature("messenger-app-secret", body) == header);
    CHECK(verify_meta_signature("messenger-app-secret", body, header));
    CHECK(verify_meta_signature("messenger-app-secret", body, "SHA256=" + header.substr(7)));
    CHECK(!verify_meta_signature("messenger-app-secret", body, header.substr(7))); // prefix required
    CHECK(!verify_meta_signature("wrong-secret", body, header));
    CHECK(!verify_meta_signature("messenger-app-secret", body + "\n", header));
    CHECK(!verify_meta_signature("messenger-app-secret", body, header.substr(0, header.size() - 2)));
    CHECK(!verify_meta_signature("messenger-app-secret", body, "sha1=" + header.substr(7)));
    CHECK(!verify_meta_signature("", body, "sha256=" + detail::hmac_sha256_hex("", body)));
}

TEST_CASE("Telegram secret tokens and generic signatures with a timestamp tolerance", "[webhook]") {
    CHECK(verify_telegram_secret("tg_secret-Token_42", "tg_secret-Token_42"));
    CHECK(!verify_telegram_secret("tg_secret-Token_42", "tg_secret-Token_43"));
    CHECK(!verify_telegram_secret("tg_secret-Token_42", "tg_secret"));
    CHECK(!verify_telegram_secret("", ""));

    const std::string body = R"({"kind":"message_received","identity":"web:1","text":"Xin chào"})";
    const auto now = parse_time("2026-01-05T03:00:00Z");
    const std::string stamp = "1767582000";
    const auto signature = generic_signature("s3cret", stamp, body);
    CHECK(signature == "sha256=" + detail::hmac_sha256_hex("s3cret", stamp + "." + body));
    CHECK(verify_generic_signature("s3cret", body, signature, stamp, now));
    CHECK(verify_generic_signature("s3cret", body, signature, stamp, now + 300s));
    CHECK(!verify_generic_signature("s3cret", body, signature, stamp, now + 301s));
    CHECK(!verify_generic_signature("s3cret", body, signature, stamp, now - 301s));
    CHECK(verify_generic_signature("s3cret", body, signature, stamp, now + 3000s, 3600s));
    CHECK(!verify_generic_signature("s3cret", body, signature, "1767582001", now)); // timestamp is signed
    CHECK(!verify_generic_signature("s3cret", body, signature, "", now));
    CHECK(!verify_generic_signature("s3cret", body, signature, "17675x", now));
    CHECK(!verify_generic_signature("s3cret", body, signature, "-99999999999999999", now));
    CHECK(!verify_generic_signature("other", body, signature, stamp, now));
    CHECK(!verify_generic_signature("", body, generic_signature("", stamp, body), stamp, now));
}

TEST_CASE("Signatures are compared with the constant-time comparison", "[webhook]") {
    // Every check above goes through detail::constant_time_equal (CRYPTO_memcmp); its contract:
    CHECK(detail::constant_time_equal("abc", "abc"));
    CHECK(!detail::constant_time_equal("abc", "abd"));
    CHECK(!detail::constant_time_equal("abc", "ab"));
    CHECK(detail::constant_time_equal("", ""));
}

// ---- the server ------------------------------------------------------------------------------------

TEST_CASE("The webhook server stores a Zalo message before it answers 200", "[webhook]") {
    auto e = memory_engine();
    const auto settings = signed_settings();
    webhook_server server(e, settings);
    server.start();
    REQUIRE(server.port() != 0);
    client c(server.port());
    const auto body = fixture("zalo_user_send_text.json");
    const auto res = c.send(http::verb::post, "/webhooks/zalo", body, zalo_headers(settings, body));
    REQUIRE(status_of(res) == 200);
    CHECK(json_of(res).at("events").as_int64() == 1);
    // Durable before the answer: the contact, its text and the welcome are there now.
    const auto contact = e.find_contact({"zalo", "8443512356789012345"});
    REQUIRE(contact);
    const auto inputs = e.input_events();
    REQUIRE(inputs.size() == 1);
    CHECK(inputs[0].text == "Shop ơi, áo thun trắng size M còn hàng không ạ?");
    REQUIRE(e.outbox().size() == 1);
    CHECK(e.outbox()[0].text == "Chào bạn, Shop rất vui được hỗ trợ bạn!");

    SECTION("a retried delivery with the same msg_id is stored once") {
        const auto again = c.send(http::verb::post, "/webhooks/zalo", body, zalo_headers(settings, body));
        REQUIRE(status_of(again) == 200);
        CHECK(json_of(again).at("duplicates").as_int64() == 1);
        CHECK(inputs_with_key(e, "zalo:a1b2c3d4e5f6789012345678aabbccdd") == 1);
        CHECK(e.outbox().size() == 1);
    }
    SECTION("echoes are answered 200 without storing anything") {
        const auto echo = fixture("zalo_oa_send_text.json");
        const auto r = c.send(http::verb::post, "/webhooks/zalo", echo, zalo_headers(settings, echo));
        REQUIRE(status_of(r) == 200);
        CHECK(json_of(r).at("events").as_int64() == 0);
        CHECK(e.input_events().size() == 1);
    }
}

TEST_CASE("A bad signature is refused with 403 and nothing is stored", "[webhook]") {
    auto e = memory_engine();
    const auto settings = signed_settings();
    webhook_server server(e, settings);
    server.start();
    client c(server.port());
    const auto zalo = fixture("zalo_user_send_text.json");
    CHECK(status_of(c.send(http::verb::post, "/webhooks/zalo", zalo, {{"X-ZEvent-Signature", "mac=00"}})) ==
          403);
    CHECK(status_of(c.send(http::verb::post, "/webhooks/zalo", zalo)) == 403);
    const auto messenger = fixture("messenger_messages.json");
    CHECK(status_of(c.send(http::verb::post, "/webhooks/messenger", messenger,
                           {{"X-Hub-Signature-256", meta_signature("wrong", messenger)}})) == 403);
    const auto whatsapp = fixture("whatsapp_messages.json");
    CHECK(status_of(c.send(
              http::verb::post, "/webhooks/whatsapp", whatsapp,
              {{"X-Hub-Signature-256", meta_signature(settings.messenger.app_secret, whatsapp)}})) == 403);
    const auto generic = fixture("generic_events.json");
    CHECK(status_of(c.send(http::verb::post, "/webhooks/generic", generic,
                           generic_headers("wrong", generic))) == 403);
    CHECK(e.input_events().empty());
    CHECK(e.contacts().empty());

    // The same requests signed properly go through, on the same connection.
    CHECK(status_of(c.send(
              http::verb::post, "/webhooks/messenger", messenger,
              {{"X-Hub-Signature-256", meta_signature(settings.messenger.app_secret, messenger)}})) == 200);
    CHECK(status_of(c.send(
              http::verb::post, "/webhooks/whatsapp", whatsapp,
              {{"X-Hub-Signature-256", meta_signature(settings.whatsapp.app_secret, whatsapp)}})) == 200);
    const auto res =
        c.send(http::verb::post, "/webhooks/generic", generic, generic_headers("generic-secret", generic));
    REQUIRE(status_of(res) == 200);
    CHECK(json_of(res).at("results").as_array().size() == 2);
    CHECK(e.find_contact({"messenger", "6723401985512345"}));
    CHECK(e.find_contact({"whatsapp", "84987654321"}));
    CHECK(e.find_contact({"web", "kh-2041"}));
}

TEST_CASE("Zalo's timestamp window is off by default and refuses old events when set", "[webhook]") {
    auto e = memory_engine();
    auto settings = signed_settings();
    settings.zalo.max_age = 3600s;
    settings.clock = [] { return parse_time("2026-01-05T05:00:00Z"); }; // two hours after the fixture
    webhook_server server(e, settings);
    server.start();
    client c(server.port());
    const auto body = fixture("zalo_user_send_text.json");
    CHECK(status_of(c.send(http::verb::post, "/webhooks/zalo", body, zalo_headers(settings, body))) == 403);
    CHECK(e.input_events().empty());
}

TEST_CASE("Bodies over the limit are refused with 413", "[webhook]") {
    auto e = memory_engine();
    auto settings = signed_settings();
    webhook_server server(e, settings);
    server.start();

    SECTION("from Content-Length, before the body is sent") {
        client c(server.port());
        const auto res =
            c.send_raw("POST /webhooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 1048577\r\n\r\n");
        CHECK(status_of(res) == 413);
        CHECK(c.closed_by_server());
    }
    SECTION("a chunked body that grows past the limit") {
        client c(server.port());
        const std::string chunk(512 * 1024, ' ');
        std::string raw = "POST /webhooks/generic HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 3; ++i) {
            raw += "80000\r\n" + chunk + "\r\n";
        }
        raw += "0\r\n\r\n";
        CHECK(status_of(c.send_raw(raw)) == 413);
    }
    SECTION("exactly at the limit is read (and refused only for its content)") {
        client c(server.port());
        std::string body(1024 * 1024, ' ');
        body.replace(0, 2, "{}");
        const auto res =
            c.send(http::verb::post, "/webhooks/generic", body, generic_headers("generic-secret", body));
        CHECK(status_of(res) == 400);
    }
    CHECK(e.input_events().empty());
}

TEST_CASE("Malformed bodies and refused events are answered 400 naming the field", "[webhook]") {
    auto e = memory_engine();
    auto settings = signed_settings();
    webhook_server server(e, settings);
    server.start();
    client c(server.port());

    const std::string broken =
        R"({"object":"page","entry":[{"messaging":[{"timestamp":1,"message":{"mid":"a"}}]}]})";
    auto res = c.send(http::verb::post, "/webhooks/messenger", broken,
                      {{"X-Hub-Signature-256", meta_signature(settings.messenger.app_secret, broken)}});
    REQUIRE(status_of(res) == 400);
    CHECK(json_of(res).at("field").as_string() == "entry[0].messaging[0].sender");

    const std::string not_json = "{\"object\": ";
    res = c.send(http::verb::post, "/webhooks/messenger", not_json,
                 {{"X-Hub-Signature-256", meta_signature(settings.messenger.app_secret, not_json)}});
    REQUIRE(status_of(res) == 400);
    CHECK(std::string(json_of(res).at("error").as_string()).find("malformed JSON") != std::string::npos);

    // Parsed fine, refused by the engine: the field is not declared.
    const std::string undeclared =
        R"({"kind":"profile_updated","identity":"web:1","profile":{"fields":{"chieu_cao":"1m6"}}})";
    res = c.send(http::verb::post, "/webhooks/generic", undeclared,
                 generic_headers("generic-secret", undeclared));
    CHECK(status_of(res) == 400);
    CHECK(e.input_events().empty());
}

TEST_CASE("Meta's subscription handshake echoes the challenge only for the right token", "[webhook]") {
    auto e = memory_engine();
    webhook_server server(e, signed_settings());
    server.start();
    client c(server.port());
    auto res = c.send(
        http::verb::get,
        "/webhooks/messenger?hub.mode=subscribe&hub.verify_token=xac-minh-123&hub.challenge=1158201444");
    REQUIRE(status_of(res) == 200);
    CHECK(res.body() == "1158201444");
    CHECK(res[http::field::content_type] == "text/plain");
    res = c.send(http::verb::get,
                 "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wa%2Dverify&hub.challenge=abc");
    CHECK(status_of(res) == 200);
    CHECK(res.body() == "abc");
    CHECK(status_of(c.send(
              http::verb::get,
              "/webhooks/messenger?hub.mode=subscribe&hub.verify_token=sai&hub.challenge=1158201444")) ==
          403);
    CHECK(status_of(c.send(
              http::verb::get,
              "/webhooks/messenger?hub.mode=unsubscribe&hub.verify_token=xac-minh-123&hub.challenge=1")) ==
          403);
    CHECK(status_of(c.send(http::verb::get, "/webhooks/messenger")) == 403);
}

TEST_CASE("Telegram updates need the secret token header", "[webhook]") {
    auto e = memory_engine();
    webhook_server server(e, signed_settings());
    server.start();
    client c(server.port());
    const auto body = fixture("telegram_message.json");
    CHECK(status_of(c.send(http::verb::post, "/webhooks/telegram", body,
                           {{"X-Telegram-Bot-Api-Secret-Token", "tg_secret-Token_41"}})) == 403);
    CHECK(status_of(c.send(http::verb::post, "/webhooks/telegram", body)) == 403);
    CHECK(e.input_events().empty());
    CHECK(status_of(c.send(http::verb::post, "/webhooks/telegram", body,
                           {{"X-Telegram-Bot-Api-Secret-Token", "tg_secret-Token_42"}})) == 200);
    REQUIRE(e.input_events().size() == 1);
    CHECK(e.input_events()[0].text == "Chào shop, cho mình xem bảng giá son môi nhé");
}

TEST_CASE("Unknown paths, wrong methods, switched-off platforms and the health check", "[webhook]") {
    auto e = memory_engine();
    webhook_settings settings;
    settings.messenger.app_secret = "only-messenger";
    webhook_server server(e, settings);
    server.start();
    client c(server.port());
    CHECK(status_of(c.send(http::verb::get, "/healthz")) == 200);
    CHECK(status_of(c.send(http::verb::post, "/healthz", "{}")) == 405);
    CHECK(status_of(c.send(http::verb::post, "/nowhere", "{}")) == 404);
    CHECK(status_of(c.send(http::verb::post, "/webhooks/zalo", "{}")) == 404); // no secret: switched off
    const auto res = c.send(http::verb::put, "/webhooks/messenger", "{}");
    CHECK(status_of(res) == 405);
    CHECK(res[http::field::allow] == "GET, POST");
}

TEST_CASE("Zalo's address is kept when the definitions declare it and dropped otherwise", "[webhook]") {
    const auto body = fixture("zalo_user_submit_info.json");
    auto settings = signed_settings();
    SECTION("declared") {
        auto e = memory_engine(R"({"schema": 1, "fields": [{"name": "address", "type": "text"}]})");
        webhook_server server(e, settings);
        server.start();
        client c(server.port());
        REQUIRE(status_of(c.send(http::verb::post, "/webhooks/zalo", body, zalo_headers(settings, body))) ==
                200);
        const auto contact = e.find_contact({"zalo", "8443512356789012345"});
        REQUIRE(contact);
        CHECK(contact->profile.name == "Nguyễn Thị Hồng Nhung");
        CHECK(contact->profile.phone == "+84912345678");
        CHECK(e.contact_json(contact->id).find("12 Nguyễn Trãi, Phường Bến Thành") != std::string::npos);
    }
    SECTION("declared, through a runtime on the engine") {
        auto e = memory_engine(R"({"schema": 1, "fields": [{"name": "address", "type": "text"}]})");
        runtime live(e);
        webhook_server server(
            e, [&live](std::span<const event> events) { return live.ingest_batch(events); }, settings);
        server.start();
        client c(server.port());
        REQUIRE(status_of(c.send(http::verb::post, "/webhooks/zalo", body, zalo_headers(settings, body))) ==
                200);
        const auto contact = e.find_contact({"zalo", "8443512356789012345"});
        REQUIRE(contact);
        CHECK(e.contact_json(contact->id).find("12 Nguyễn Trãi") != std::string::npos);
    }
    SECTION("not declared, through a runtime on the engine") {
        auto e = memory_engine();
        runtime live(e);
        webhook_server server(
            e, [&live](std::span<const event> events) { return live.ingest_batch(events); }, settings);
        server.start();
        client c(server.port());
        REQUIRE(status_of(c.send(http::verb::post, "/webhooks/zalo", body, zalo_headers(settings, body))) ==
                200);
        CHECK(e.find_contact({"zalo", "8443512356789012345"}));
    }
    SECTION("not declared, through a bare sink: refused") {
        auto e = memory_engine();
        webhook_server server([&e](std::span<const event> events) { return e.ingest_batch(events); },
                              settings);
        server.start();
        client c(server.port());
        const auto res = c.send(http::verb::post, "/webhooks/zalo", body, zalo_headers(settings, body));
        REQUIRE(status_of(res) == 400);
        CHECK(json_of(res).at("field").as_string() == "[0].profile.fields.address");
    }
    SECTION("not declared") {
        auto e = memory_engine();
        webhook_server server(e, settings);
        server.start();
        client c(server.port());
        REQUIRE(status_of(c.send(http::verb::post, "/webhooks/zalo", body, zalo_headers(settings, body))) ==
                200);
        const auto contact = e.find_contact({"zalo", "8443512356789012345"});
        REQUIRE(contact);
        CHECK(contact->profile.phone == "+84912345678");
        CHECK(e.contact_json(contact->id).find("Nguyễn Trãi") == std::string::npos);
    }
}

TEST_CASE("Concurrent requests on a SQLite file are group-committed and all stored", "[webhook]") {
    temp_db db;
    auto e = engine::open(db.path.string());
    e.load_definitions(shop_definitions);
    std::atomic<std::size_t> calls{0};
    std::atomic<std::size_t> largest{0};
    webhook_settings settings = signed_settings();
    webhook_server server(
        [&](std::span<const event> events) {
            ++calls;
            for (auto seen = largest.load();
                 events.size() > seen && !largest.compare_exchange_weak(seen, events.size());) {
            }
            return e.ingest_batch(events);
        },
        settings);
    server.start();
    constexpr int clients = 8, per_client = 40;
    std::vector<std::future<int>> done;
    for (int k = 0; k < clients; ++k) {
        done.push_back(std::async(std::launch::async, [&, k] {
            client c(server.port());
            int ok = 0;
            for (int i = 0; i < per_client; ++i) {
                const std::string body =
                    R"({"object":"page","entry":[{"messaging":[{"sender":{"id":"psid-)" + std::to_string(k) +
                    R"("},"timestamp":1767582000000,"message":{"mid":"m-)" + std::to_string(k) + "-" +
                    std::to_string(i) + R"(","text":"Tin nhắn số )" + std::to_string(i) + R"("}}]}]})";
                ok += status_of(c.send(http::verb::post, "/webhooks/messenger", body,
                                       {{"X-Hub-Signature-256",
                                         meta_signature(settings.messenger.app_secret, body)}})) == 200;
            }
            return ok;
        }));
    }
    int ok = 0;
    for (auto& f : done) {
        ok += f.get();
    }
    server.stop();
    CHECK(ok == clients * per_client);
    CHECK(e.input_events().size() == clients * per_client);
    CHECK(e.contacts().size() == clients);
    CHECK(calls.load() <= static_cast<std::size_t>(clients * per_client));
    INFO("transactions: " << calls.load() << ", largest batch: " << largest.load());
    // Reopened from the file, everything is there.
    engine reopened = engine::open(db.path.string());
    CHECK(reopened.input_events().size() == clients * per_client);
}

TEST_CASE("A bad request in a group-committed batch fails alone", "[webhook]") {
    auto e = memory_engine();
    std::vector<std::size_t> batches;
    std::mutex batches_mutex;
    std::promise<void> first_started;
    std::atomic<bool> first{true};
    webhook_settings settings;
    settings.allow_unsigned = true;
    webhook_server server(
        [&](std::span<const event> events) {
            {
                std::lock_guard lock(batches_mutex);
                batches.push_back(events.size());
            }
            if (first.exchange(false)) {
                first_started.set_value();
                std::this_thread::sleep_for(300ms); // let the other requests queue up behind this one
            }
            return e.ingest_batch(events);
        },
        settings);
    server.start();
    auto opener = std::async(std::launch::async, [&] {
        client c(server.port());
        return status_of(
            c.send(http::verb::post, "/webhooks/generic",
                   R"({"kind":"message_received","identity":"web:0","text":"Đầu tiên","key":"k0"})"));
    });
    first_started.get_future().wait();
    std::vector<std::future<int>> rest;
    for (int i = 1; i <= 4; ++i) {
        rest.push_back(std::async(std::launch::async, [&, i] {
            client c(server.port());
            const std::string body =
                i == 3
                    ? R"({"kind":"profile_updated","identity":"web:3","profile":{"fields":{"chieu_cao":"1m6"}},"key":"k3"})"
                    : R"({"kind":"message_received","identity":"web:)" + std::to_string(i) +
                          R"(","text":"Xin chào","key":"k)" + std::to_string(i) + R"("})";
            return status_of(c.send(http::verb::post, "/webhooks/generic", body));
        }));
        std::this_thread::sleep_for(20ms);
    }
    CHECK(opener.get() == 200);
    std::vector<int> statuses;
    for (auto& f : rest) {
        statuses.push_back(f.get());
    }
    CHECK(statuses == std::vector<int>{200, 200, 400, 200});
    CHECK(e.input_events().size() == 4);
    std::lock_guard lock(batches_mutex);
    // The four queued requests went in one transaction, which was refused, then one by one.
    CHECK(batches.size() == 6);
    CHECK(batches[1] == 4);
}

TEST_CASE("stop() lets a request in flight finish and closes the connection", "[webhook]") {
    auto e = memory_engine();
    std::promise<void> entered;
    webhook_settings settings;
    settings.allow_unsigned = true;
    webhook_server server(
        [&](std::span<const event> events) {
            entered.set_value();
            std::this_thread::sleep_for(200ms);
            return e.ingest_batch(events);
        },
        settings);
    server.start();
    const auto port = server.port();
    client idle(port);
    CHECK(status_of(idle.send(http::verb::get, "/healthz")) == 200);
    auto in_flight = std::async(std::launch::async, [&] {
        client c(port);
        auto res =
            c.send(http::verb::post, "/webhooks/generic",
                   R"({"kind":"message_received","identity":"web:9","text":"Kịp không?","key":"late"})");
        return std::make_pair(status_of(res), res.keep_alive());
    });
    entered.get_future().wait();
    server.stop();
    const auto [status, keep_alive] = in_flight.get();
    CHECK(status == 200);
    CHECK(!keep_alive);
    CHECK(inputs_with_key(e, "late") == 1);
    CHECK(idle.closed_by_server());
    CHECK_THROWS_AS(client(port), boost::system::system_error);
    CHECK_THROWS_AS(server.start(), error);
}

TEST_CASE("Settings are checked when the server is built", "[webhook]") {
    auto e = memory_engine();
    webhook_settings bad;
    bad.threads = 0;
    CHECK_THROWS_AS(webhook_server(e, bad), error);
    CHECK_THROWS_AS(webhook_server(webhook_sink{}, webhook_settings{}), error);
    webhook_settings unbindable;
    unbindable.address = "not an address";
    webhook_server server(e, unbindable);
    CHECK_THROWS_AS(server.start(), error);
}
