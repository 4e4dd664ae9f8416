// Every adapter against the platform emulator: the exact HTTP request, and each class of answer.
#include <catch2/catch.hpp>

#include <tagflow/channels.hpp>
#include <tagflow/error.hpp>

#include "platform_emulator.hpp"

#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdlib>

using namespace tagflow;
using namespace std::chrono_literals;
using outcome = send_result::outcome;

namespace {

// Written independently of the library's crypto helper, so the two check each other.
std::string hmac_hex(const std::string& key, const std::string& message) {
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

struct fixture {
    testing::platform_emulator emu;
    std::shared_ptr<http_client> client{make_http_client()};
    contact lan;

    fixture() {
        lan.id = 7;
        lan.profile.name = "Lan";
        lan.profile.phone = "+84912345678";
        lan.profile.email = "lan@example.com";
    }

    testing::recorded_request last_request() const {
        const auto all = emu.requests();
        REQUIRE(!all.empty());
        return all.back();
    }
};

outbound_message msg(std::string channel, std::string to, std::string text, std::string purpose = "reply") {
    outbound_message m;
    m.id = 1;
    m.key = "out-1";
    m.contact = 7;
    m.to = {std::move(channel), std::move(to)};
    m.text = std::move(text);
    m.purpose = std::move(purpose);
    return m;
}

std::string refused_path(const std::function<void()>& f) {
    try {
        f();
    } catch (const definition_error& e) {
        return e.path();
    }
    return "(accepted)";
}

} // namespace

// ---------------------------------------------------------------------------------------- Zalo

TEST_CASE("zalo OA sends a consultation text with the token and appsecret_proof headers", "[channels]") {
    fixture f;
    zalo_oa_settings s;
    s.access_token = "oa-token";
    s.app_secret = "app-secret";
    s.base_url = f.emu.base_url();
    f.emu.configure([](auto& c) {
        c.zalo_access_token = "oa-token";
        c.zalo_app_secret = "app-secret";
    });
    zalo_oa_channel zalo(s, f.client);
    CHECK(zalo.name() == "zalo");
    CHECK(zalo.default_policy() == "zalo-2026");
    const auto r = zalo.send(msg("zalo", "1001", "Xin chào"), f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "zmsg-1");
    CHECK(r.requests == 1);
    const auto req = f.last_request();
    CHECK(req.method == "POST");
    CHECK(req.target == "/v3.0/oa/message/cs");
    CHECK(req.header("access_token") == "oa-token");
    CHECK(req.header("appsecret_proof") == hmac_hex("app-secret", "oa-token"));
    CHECK(req.header("Content-Type") == "application/json");
    CHECK(req.body == R"({"recipient":{"user_id":"1001"},"message":{"text":"Xin chào"}})");
    REQUIRE(f.emu.messages("zalo").size() == 1);
    CHECK(f.emu.messages("zalo")[0].text == "Xin chào");
}

TEST_CASE("zalo OA carries buttons and quick replies as oa.query.show buttons", "[channels]") {
    fixture f;
    zalo_oa_settings s;
    s.access_token = "t";
    s.base_url = f.emu.base_url();
    zalo_oa_channel zalo(s, f.client);
    auto m = msg("zalo", "1001", "Bạn muốn gì?");
    m.buttons = {{"Xem đơn", "ORDER"}};
    m.quick_replies = {"Có"};
    CHECK(zalo.send(m, f.lan).result == outcome::sent);
    CHECK(
        f.last_request().body ==
        R"({"recipient":{"user_id":"1001"},"message":{"text":"Bạn muốn gì?","attachment":{"type":"template",)"
        R"("payload":{"buttons":[{"title":"Xem đơn","type":"oa.query.show","payload":"ORDER"},)"
        R"({"title":"Có","type":"oa.query.show","payload":"Có"}]}}}})");
    // Six choices do not fit in five places: they become numbered text, nothing is lost.
    m.buttons.clear();
    m.quick_replies = {"1", "2", "3", "4", "5", "6"};
    const auto requests = zalo.requests_for(m, f.lan);
    REQUIRE(requests.size() == 1);
    CHECK(
        requests[0].body ==
        R"({"recipient":{"user_id":"1001"},"message":{"text":"Bạn muốn gì?\n1. 1\n2. 2\n3. 3\n4. 4\n5. 5\n6. 6"}})");
}

TEST_CASE("zalo OA sends request_user_info and ZBS templates by UID", "[channels]") {
    fixture f;
    zalo_oa_settings s;
    s.access_token = "t";
    s.base_url = f.emu.base_url();
    s.template_param_names["tmpl-1"] = {"customer_name", "order_code"};
    zalo_oa_channel zalo(s, f.client);

    auto form = msg("zalo", "1001", "Cho shop xin thông tin giao hàng");
    form.template_name = "request_user_info";
    form.template_params = {"Để giao hàng nhanh hơn"};
    CHECK(zalo.send(form, f.lan).result == outcome::sent);
    CHECK(f.last_request().target == "/v3.0/oa/message/cs");
    CHECK(f.last_request().body ==
          R"({"recipient":{"user_id":"1001"},"message":{"attachment":{"type":"template","payload":)"
          R"({"template_type":"request_user_info","elements":[{"title":"Cho shop xin thông tin giao hàng",)"
          R"("subtitle":"Để giao hàng nhanh hơn"}]}}}})");

    auto zbs = msg("zalo", "1001", "(preview)", "transactional");
    zbs.template_name = "tmpl-1";
    zbs.template_params = {"Lan", "DH01", "extra"};
    const auto r = zalo.send(zbs, f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "zmsg-2");
    CHECK(f.last_request().target == "/v3.0/oa/message/template");
    CHECK(
        f.last_request().body ==
        R"({"user_id":"1001","template_id":"tmpl-1","template_data":{"customer_name":"Lan","order_code":"DH01","p3":"extra"}})");

    s.template_recipient_nested = true;
    zalo_oa_channel nested(s, f.client);
    CHECK(
        nested.requests_for(zbs, f.lan)[0].body ==
        R"({"recipient":{"user_id":"1001"},"template_id":"tmpl-1","template_data":{"customer_name":"Lan","order_code":"DH01","p3":"extra"}})");
}

TEST_CASE("zalo OA answers become blocked, retry or failed results", "[channels]") {
    fixture f;
    const time_point now = parse_time("2026-01-05T23:30:00+07:00");
    zalo_oa_settings s;
    s.access_token = "t";
    s.base_url = f.emu.base_url();
    zalo_oa_channel zalo(s, f.client);
    f.emu.configure([&](auto& c) { c.clock = [now] { return now; }; });

    SECTION("no interaction for more than 7 days: -230, blocked") {
        f.emu.configure([&](auto& c) {
            c.zalo_last_interaction["1001"] = now - std::chrono::days(8);
            c.zalo_last_interaction["1002"] = now - std::chrono::days(6);
        });
        const auto r = zalo.send(msg("zalo", "1001", "Chào"), f.lan);
        CHECK(r.result == outcome::blocked);
        CHECK(r.error_code == "-230");
        CHECK(r.detail == "User has not interacted with the OA in the past 7 days");
        CHECK(zalo.send(msg("zalo", "1002", "Chào"), f.lan).result == outcome::sent);
        CHECK(f.emu.messages().size() == 1);
    }
    SECTION("a template at night: -234, blocked; consultation messages still go") {
        f.emu.configure([](auto& c) { c.zalo_night_block = true; });
        auto zbs = msg("zalo", "1001", "", "promotional");
        zbs.template_name = "promo";
        const auto r = zalo.send(zbs, f.lan);
        CHECK(r.result == outcome::blocked);
        CHECK(r.error_code == "-234");
        CHECK(zalo.send(msg("zalo", "1001", "Chào"), f.lan).result == outcome::sent);
    }
    SECTION("an invalid token: -216, retry once the application refreshes it") {
        f.emu.configure([](auto& c) { c.zalo_access_token = "fresh"; });
        const auto r = zalo.send(msg("zalo", "1001", "Chào"), f.lan);
        CHECK(r.result == outcome::retry);
        CHECK(r.error_code == "-216");
    }
    SECTION("a wrong appsecret_proof: -242, failed") {
        f.emu.configure([](auto& c) { c.zalo_app_secret = "the real one"; });
        s.app_secret = "a wrong one";
        zalo_oa_channel wrong(s, f.client);
        const auto r = wrong.send(msg("zalo", "1001", "Chào"), f.lan);
        CHECK(r.result == outcome::failed);
        CHECK(r.error_code == "-242");
    }
    SECTION("HTTP 503: retry, and the next attempt goes through") {
        f.emu.configure([](auto& c) { c.fail_next = 1; });
        const auto r = zalo.send(msg("zalo", "1001", "Chào"), f.lan);
        CHECK(r.result == outcome::retry);
        CHECK(r.error_code == "503");
        CHECK(zalo.send(msg("zalo", "1001", "Chào"), f.lan).result == outcome::sent);
    }
    SECTION("nobody listening: a transport retry") {
        s.base_url = "http://127.0.0.1:9";
        zalo_oa_channel nowhere(s, f.client);
        const auto r = nowhere.send(msg("zalo", "1001", "Chào"), f.lan);
        CHECK(r.result == outcome::retry);
        CHECK(r.error_code == "transport");
    }
}

// ----------------------------------------------------------------------------------- Messenger

TEST_CASE("messenger posts to the page with the token as a query parameter and the right messaging type",
          "[channels]") {
    fixture f;
    messenger_settings s;
    s.page_id = "PAGE1";
    s.access_token = "tok+1";
    s.base_url = f.emu.base_url();
    f.emu.configure([](auto& c) { c.messenger_access_token = "tok+1"; });
    messenger_channel fb(s, f.client);
    CHECK(fb.default_policy() == "messenger");

    const auto r = fb.send(msg("messenger", "psid-1", "Chào bạn"), f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "m_1");
    CHECK(f.last_request().target == "/v25.0/PAGE1/messages?access_token=tok%2B1");
    CHECK(f.last_request().body ==
          R"({"recipient":{"id":"psid-1"},"messaging_type":"RESPONSE","message":{"text":"Chào bạn"}})");

    CHECK(fb.send(msg("messenger", "psid-1", "Ưu đãi", "promotional"), f.lan).result == outcome::sent);
    CHECK(f.last_request().body ==
          R"({"recipient":{"id":"psid-1"},"messaging_type":"UPDATE","message":{"text":"Ưu đãi"}})");

    auto human = msg("messenger", "psid-1", "Nhân viên trả lời");
    human.channel_tag = "HUMAN_AGENT";
    human.by_human = true;
    CHECK(fb.send(human, f.lan).result == outcome::sent);
    CHECK(f.last_request().body ==
          R"({"recipient":{"id":"psid-1"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT",)"
          R"("message":{"text":"Nhân viên trả lời"}})");
}

TEST_CASE("messenger sends quick replies and a button template", "[channels]") {
    fixture f;
    messenger_settings s;
    s.page_id = "PAGE1";
    s.access_token = "t";
    s.base_url = f.emu.base_url();
    messenger_channel fb(s, f.client);

    auto q = msg("messenger", "psid-1", "Size nào?");
    q.quick_replies = {"S", "M"};
    CHECK(fb.send(q, f.lan).result == outcome::sent);
    CHECK(
        f.last_request().body ==
        R"({"recipient":{"id":"psid-1"},"messaging_type":"RESPONSE","message":{"text":"Size nào?","quick_replies":[)"
        R"({"content_type":"text","title":"S","payload":"S"},{"content_type":"text","title":"M","payload":"M"}]}})");

    auto b = msg("messenger", "psid-1", "Đơn DH01");
    b.buttons = {{"Xác nhận", "CONFIRM"}};
    CHECK(fb.send(b, f.lan).result == outcome::sent);
    CHECK(
        f.last_request().body ==
        R"({"recipient":{"id":"psid-1"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"template",)"
        R"("payload":{"template_type":"button","text":"Đơn DH01","buttons":[{"type":"postback","title":"Xác nhận",)"
        R"("payload":"CONFIRM"}]}}}})");

    // Longer than the button template's 640: two messages, the id of the first is kept.
    std::string long_text;
    for (int i = 0; i < 200; ++i) {
        long_text += "chữ ";
    }
    const auto r = fb.send(msg("messenger", "psid-1", long_text), f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.requests == 2);
    CHECK(r.external_id == "m_3");
    CHECK(f.emu.messages("messenger").size() == 4);
}

TEST_CASE("messenger answers become blocked, failed or retry results", "[channels]") {
    fixture f;
    messenger_settings s;
    s.page_id = "PAGE1";
    s.access_token = "t";
    s.base_url = f.emu.base_url();
    messenger_channel fb(s, f.client);
    f.emu.configure([](auto& c) {
        c.messenger_outside_window = {"late"};
        c.messenger_unavailable = {"gone"};
    });
    auto r = fb.send(msg("messenger", "late", "Chào"), f.lan);
    CHECK(r.result == outcome::blocked);
    CHECK(r.error_code == "10/2018278");
    r = fb.send(msg("messenger", "gone", "Chào"), f.lan);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "551/1545041");
    auto tagged = msg("messenger", "psid-1", "Chào");
    tagged.channel_tag = "POST_PURCHASE_UPDATE"; // withdrawn in 2026
    r = fb.send(tagged, f.lan);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "100");
    f.emu.configure([](auto& c) { c.messenger_access_token = "another"; });
    r = fb.send(msg("messenger", "psid-1", "Chào"), f.lan);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "190");
    f.emu.configure([](auto& c) {
        c.fail_next = 1;
        c.fail_status = 500;
    });
    r = fb.send(msg("messenger", "psid-1", "Chào"), f.lan);
    CHECK(r.result == outcome::retry);
    CHECK(f.emu.messages().empty());
}

// ------------------------------------------------------------------------------------ WhatsApp

TEST_CASE("whatsapp sends text, reply buttons and templates with a bearer token", "[channels]") {
    fixture f;
    whatsapp_settings s;
    s.phone_number_id = "PN1";
    s.access_token = "wa-token";
    s.base_url = f.emu.base_url();
    f.emu.configure([](auto& c) { c.whatsapp_access_token = "wa-token"; });
    whatsapp_channel wa(s, f.client);
    CHECK(wa.default_policy() == "whatsapp");

    auto r = wa.send(msg("whatsapp", "+84912345678", "Chào"), f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "wamid.1");
    CHECK(f.last_request().target == "/v25.0/PN1/messages");
    CHECK(f.last_request().header("Authorization") == "Bearer wa-token");
    CHECK(f.last_request().body ==
          R"({"messaging_product":"whatsapp","recipient_type":"individual",)"
          R"("to":"84912345678","type":"text","text":{"preview_url":false,"body":"Chào"}})");

    auto b = msg("whatsapp", "84912345678", "Nhận hàng chưa?");
    b.buttons = {{"Rồi", "YES"}};
    b.quick_replies = {"Chưa"};
    CHECK(wa.send(b, f.lan).result == outcome::sent);
    CHECK(
        f.last_request().body ==
        R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"84912345678","type":"interactive",)"
        R"("interactive":{"type":"button","body":{"text":"Nhận hàng chưa?"},"action":{"buttons":[)"
        R"({"type":"reply","reply":{"id":"YES","title":"Rồi"}},{"type":"reply","reply":{"id":"Chưa","title":"Chưa"}}]}}})");

    auto t = msg("whatsapp", "84912345678", "", "transactional");
    t.template_name = "order_update";
    t.template_params = {"DH01"};
    CHECK(wa.send(t, f.lan).result == outcome::sent);
    CHECK(
        f.last_request().body ==
        R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"84912345678","type":"template",)"
        R"("template":{"name":"order_update","language":{"code":"vi"},"components":[{"type":"body",)"
        R"("parameters":[{"type":"text","text":"DH01"}]}]}})");
}

TEST_CASE("whatsapp outside the 24 hour window is blocked, templates still go", "[channels]") {
    fixture f;
    whatsapp_settings s;
    s.phone_number_id = "PN1";
    s.access_token = "t";
    s.base_url = f.emu.base_url();
    whatsapp_channel wa(s, f.client);
    f.emu.configure([](auto& c) { c.whatsapp_outside_window = {"84912345678"}; });
    auto r = wa.send(msg("whatsapp", "84912345678", "Chào"), f.lan);
    CHECK(r.result == outcome::blocked);
    CHECK(r.error_code == "131047");
    auto t = msg("whatsapp", "84912345678", "");
    t.template_name = "hello";
    CHECK(wa.send(t, f.lan).result == outcome::sent);
    f.emu.configure([](auto& c) { c.fail_next = 1; });
    CHECK(wa.send(t, f.lan).result == outcome::retry);
}

// ------------------------------------------------------------------------------------ Telegram

TEST_CASE("telegram sends text with an inline keyboard or a reply keyboard", "[channels]") {
    fixture f;
    telegram_settings s;
    s.bot_token = "123:ABC";
    s.base_url = f.emu.base_url();
    telegram_channel tg(s, f.client);
    CHECK(tg.default_policy() == "telegram");

    auto r = tg.send(msg("telegram", "555", "Chào"), f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "1");
    CHECK(f.last_request().target == "/bot123:ABC/sendMessage");
    CHECK(f.last_request().body == R"({"chat_id":555,"text":"Chào"})");

    auto b = msg("telegram", "555", "Chọn");
    b.buttons = {{"Mua", "BUY"}};
    CHECK(tg.send(b, f.lan).result == outcome::sent);
    CHECK(
        f.last_request().body ==
        R"({"chat_id":555,"text":"Chọn","reply_markup":{"inline_keyboard":[[{"text":"Mua","callback_data":"BUY"}]]}})");

    auto q = msg("telegram", "@shopchannel", "Size?");
    q.quick_replies = {"S", "M"};
    CHECK(tg.send(q, f.lan).result == outcome::sent);
    CHECK(f.last_request().body ==
          R"({"chat_id":"@shopchannel","text":"Size?","reply_markup":{"keyboard":[[{"text":"S"}],)"
          R"([{"text":"M"}]],"one_time_keyboard":true,"resize_keyboard":true}})");
}

TEST_CASE("telegram 429 is a retry after the platform's retry_after", "[channels]") {
    fixture f;
    telegram_settings s;
    s.bot_token = "t";
    s.base_url = f.emu.base_url();
    telegram_channel tg(s, f.client);
    f.emu.configure([](auto& c) {
        c.telegram_rate_limited = 1;
        c.telegram_retry_after = 7;
        c.telegram_blocked = {"666"};
    });
    auto r = tg.send(msg("telegram", "555", "Chào"), f.lan);
    CHECK(r.result == outcome::retry);
    CHECK(r.error_code == "429");
    REQUIRE(r.retry_after.has_value());
    CHECK(*r.retry_after == 7s);
    CHECK(r.detail == "Too Many Requests: retry after 7");
    CHECK(tg.send(msg("telegram", "555", "Chào"), f.lan).result == outcome::sent);
    CHECK(f.emu.messages().size() == 1);

    r = tg.send(msg("telegram", "666", "Chào"), f.lan);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "403");
    CHECK(r.detail == "Forbidden: bot was blocked by the user");
}

TEST_CASE("telegram refuses a button payload longer than callback_data allows, without a request",
          "[channels]") {
    fixture f;
    telegram_settings s;
    s.bot_token = "t";
    s.base_url = f.emu.base_url();
    telegram_channel tg(s, f.client);
    auto b = msg("telegram", "555", "Chọn");
    b.buttons = {{"Mua", std::string(65, 'x')}};
    const auto r = tg.send(b, f.lan);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "unaddressable");
    CHECK(r.requests == 0);
    CHECK(f.emu.requests().empty());
}

// ------------------------------------------------------------------------------------- Webhook

TEST_CASE("the webhook body is signed and a retried key is not a second message", "[channels]") {
    fixture f;
    webhook_channel_settings s;
    s.url = f.emu.base_url() + "/webhook";
    s.secret = "s3cret";
    s.clock = [] { return parse_time("2026-01-05T03:00:00Z"); };
    f.emu.configure([](auto& c) {
        c.webhook_secret = "s3cret";
        c.fail_next = 1;
    });
    webhook_channel hook(s, f.client);
    CHECK(hook.default_policy().empty());
    const auto m = msg("web", "abc", "Hi");

    auto r = hook.send(m, f.lan); // the receiver is down
    CHECK(r.result == outcome::retry);
    r = hook.send(m, f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "wh-1");
    r = hook.send(m, f.lan); // say our process died before recording the success
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "wh-1");
    CHECK(r.detail == "duplicate: already accepted");
    CHECK(f.emu.messages("webhook").size() == 1);
    CHECK(f.emu.requests().size() == 3);

    const auto req = f.last_request();
    CHECK(req.body ==
          R"({"id":"out-1","message_key":"out-1","contact":7,"to":"web:abc","channel":"web",)"
          R"("external_id":"abc","text":"Hi","buttons":[],"quick_replies":[],"purpose":"reply","cause":"",)"
          R"("form":"","template":"","template_params":[],"channel_tag":"","part":1,"parts":1,)"
          R"("timestamp":1767582000})");
    CHECK(req.header("X-Tagflow-Signature") == "sha256=" + hmac_hex("s3cret", req.body));
    CHECK(req.header("X-Tagflow-Timestamp") == "1767582000");
    CHECK(req.header("Idempotency-Key") == "out-1");

    s.secret = "wrong";
    webhook_channel forged(s, f.client);
    auto other = m;
    other.key = "out-2";
    r = forged.send(other, f.lan);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "401");
}

// ----------------------------------------------------------------------------------------- SMS

TEST_CASE("sms labels promotional texts [QC] and sends the outbox key as RequestId", "[channels]") {
    fixture f;
    sms_gateway_settings s;
    s.api_key = "K";
    s.secret_key = "S";
    s.brandname = "SHOP";
    s.base_url = f.emu.base_url();
    sms_gateway_channel sms(s, f.client);
    CHECK(sms.default_policy() == "sms-vn-ads");

    auto r = sms.send(msg("zalo", "1001", "Giảm 20% hôm nay", "promotional"), f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "sms-1");
    CHECK(f.last_request().target == "/MainService.svc/json/SendMultipleMessage_V4_post_json/");
    CHECK(f.last_request().body ==
          R"({"ApiKey":"K","SecretKey":"S","Phone":"84912345678","Content":"[QC] Giảm 20% hôm nay",)"
          R"("Brandname":"SHOP","SmsType":"2","IsUnicode":1,"Sandbox":0,"RequestId":"out-1"})");

    auto labelled = msg("sms", "+84900000001", "[QC] Sale", "promotional");
    labelled.key = "out-2";
    CHECK(sms.send(labelled, f.lan).result == outcome::sent);
    CHECK(f.last_request().body ==
          R"({"ApiKey":"K","SecretKey":"S","Phone":"84900000001","Content":"[QC] Sale",)"
          R"("Brandname":"SHOP","SmsType":"2","IsUnicode":0,"Sandbox":0,"RequestId":"out-2"})");

    auto otp = msg("zalo", "1001", "Ma OTP 1234", "transactional");
    otp.key = "out-3";
    CHECK(sms.send(otp, f.lan).result == outcome::sent);
    CHECK(f.emu.messages("sms").back().text == "Ma OTP 1234");
}

TEST_CASE("sms retries are idempotent through RequestId, and gateway errors are classified", "[channels]") {
    fixture f;
    sms_gateway_settings s;
    s.api_key = "K";
    s.secret_key = "S";
    s.brandname = "SHOP";
    s.base_url = f.emu.base_url();
    sms_gateway_channel sms(s, f.client);
    const auto m = msg("zalo", "1001", "Đơn DH01 đã giao", "transactional");
    CHECK(sms.send(m, f.lan).result == outcome::sent);
    const auto again = sms.send(m, f.lan);
    CHECK(again.result == outcome::sent);
    CHECK(again.detail == "duplicate RequestId: already sent");
    CHECK(again.external_id == "out-1");
    CHECK(f.emu.messages("sms").size() == 1);

    f.emu.configure([](auto& c) { c.sms_api_key = "other"; });
    auto other = m;
    other.key = "out-2";
    auto r = sms.send(other, f.lan);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "101");

    contact nobody;
    nobody.id = 8;
    r = sms.send(other, nobody);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "unaddressable");
}

// --------------------------------------------------------------------------------------- Email

TEST_CASE("promotional e-mail carries one-click unsubscribe headers", "[channels]") {
    fixture f;
    email_gateway_settings s;
    s.base_url = f.emu.base_url() + "/email";
    s.api_key = "ek";
    s.from = "Shop <shop@example.com>";
    s.subject = "Ưu đãi tháng 1";
    s.unsubscribe_url = "https://shop.example/u/{{token}}?c={{contact}}";
    s.unsubscribe_secret = "us";
    s.unsubscribe_mailto = "unsub@shop.example";
    f.emu.configure([](auto& c) { c.email_api_key = "ek"; });
    email_gateway_channel mail(s, f.client);
    CHECK(mail.default_policy() == "email");

    const auto r = mail.send(msg("zalo", "1001", "Giảm 20%", "promotional"), f.lan);
    CHECK(r.result == outcome::sent);
    CHECK(r.external_id == "email-1");
    const auto req = f.last_request();
    CHECK(req.target == "/email/send");
    CHECK(req.header("Authorization") == "Bearer ek");
    CHECK(req.header("Idempotency-Key") == "out-1");
    const auto body = boost::json::parse(req.body).as_object();
    CHECK(body.at("to").as_string() == "lan@example.com");
    CHECK(body.at("from").as_string() == "Shop <shop@example.com>");
    CHECK(body.at("subject").as_string() == "Ưu đãi tháng 1");
    CHECK(body.at("text").as_string() == "Giảm 20%");
    const auto& headers = body.at("headers").as_object();
    CHECK(headers.at("List-Unsubscribe").as_string() ==
          "<https://shop.example/u/" + hmac_hex("us", "7").substr(0, 32) +
              "?c=7>, <mailto:unsub@shop.example?subject=unsubscribe>");
    CHECK(headers.at("List-Unsubscribe-Post").as_string() == "List-Unsubscribe=One-Click");
}

TEST_CASE("e-mail without an unsubscribe link is not sent when promotional", "[channels]") {
    fixture f;
    email_gateway_settings s;
    s.base_url = f.emu.base_url() + "/email";
    s.api_key = "ek";
    s.from = "shop@example.com";
    email_gateway_channel mail(s, f.client);
    auto r = mail.send(msg("email", "khach@example.com", "Sale!", "promotional"), f.lan);
    CHECK(r.result == outcome::failed);
    CHECK(r.error_code == "no_unsubscribe");
    CHECK(r.requests == 0);
    CHECK(f.emu.requests().empty());

    r = mail.send(msg("email", "khach@example.com", "Đơn DH01 đã giao\nCảm ơn bạn", "transactional"), f.lan);
    CHECK(r.result == outcome::sent);
    const auto body = boost::json::parse(f.last_request().body).as_object();
    CHECK(body.at("to").as_string() == "khach@example.com");
    CHECK(body.at("subject").as_string() == "Đơn DH01 đã giao");
    CHECK(body.at("headers").as_object().empty());

    f.emu.configure([](auto& c) { c.fail_next = 1; });
    auto again = msg("email", "khach@example.com", "x", "transactional");
    again.key = "out-9";
    CHECK(mail.send(again, f.lan).result == outcome::retry);
}

// ------------------------------------------------------------------------------- Channels file

TEST_CASE("a channels file builds every adapter by name", "[channels]") {
    fixture f;
    const std::string base = f.emu.base_url();
    const auto set = load_channels(R"({
      "zalo": {"type": "zalo_oa", "access_token": "t", "base_url": ")" +
                                       base + R"(", "timeout_ms": 2000,
               "template_params": {"tmpl-1": ["name"]}},
      "fb": {"type": "messenger", "page_id": "P", "access_token": "t", "base_url": ")" +
                                       base + R"(", "version": "26.0"},
      "wa": {"type": "whatsapp", "phone_number_id": "N", "access_token": "t", "base_url": ")" +
                                       base + R"("},
      "tg": {"type": "telegram", "bot_token": "t", "base_url": ")" +
                                       base + R"("},
      "hook": {"type": "webhook", "url": ")" +
                                       base + R"(/webhook", "secret": "s", "max_buttons": 3},
      "sms": {"type": "sms", "api_key": "k", "secret_key": "s", "brandname": "SHOP", "base_url": ")" +
                                       base + R"(",
              "sandbox": true},
      "mail": {"type": "email", "base_url": ")" +
                                       base + R"(/email", "api_key": "k", "from": "a@b.c"},
      "mem": {"type": "memory", "max_buttons": 3, "policy": "zalo-2026"},
      "out": {"type": "console"}
    })",
                                   f.client);
    REQUIRE(set.size() == 9);
    CHECK(set.at("zalo")->name() == "zalo");
    CHECK(set.at("zalo")->default_policy() == "zalo-2026");
    CHECK(set.at("fb")->default_policy() == "messenger");
    CHECK(set.at("wa")->default_policy() == "whatsapp");
    CHECK(set.at("tg")->default_policy() == "telegram");
    CHECK(set.at("hook")->capabilities().max_buttons == 3);
    CHECK(set.at("sms")->default_policy() == "sms-vn-ads");
    CHECK(set.at("mail")->default_policy() == "email");
    CHECK(set.at("mem")->default_policy() == "zalo-2026");
    CHECK(set.at("mem")->capabilities().max_buttons == 3);

    CHECK(set.at("fb")->send(msg("fb", "psid", "Chào"), f.lan).result == outcome::sent);
    CHECK(f.last_request().target == "/v26.0/P/messages?access_token=t");
    CHECK(set.at("sms")->send(msg("zalo", "1", "x"), f.lan).result == outcome::sent);
    CHECK(f.last_request().body.find(R"("Sandbox":1)") != std::string::npos);
}

TEST_CASE("a channels file reads secrets from the environment", "[channels]") {
    fixture f;
    ::setenv("TAGFLOW_TEST_ZALO_TOKEN", "from-env", 1);
    const auto set =
        load_channels(R"({"zalo": {"type": "zalo_oa", "access_token": {"env": "TAGFLOW_TEST_ZALO_TOKEN"},
                                               "base_url": ")" +
                          f.emu.base_url() + R"("}})",
                      f.client);
    CHECK(set.at("zalo")->send(msg("zalo", "1001", "Chào"), f.lan).result == outcome::sent);
    CHECK(f.last_request().header("access_token") == "from-env");
    ::unsetenv("TAGFLOW_TEST_ZALO_TOKEN");
}

TEST_CASE("channels file errors name the JSON path", "[channels]") {
    auto load = [](const std::string& text) { return [text] { (void)load_channels(text); }; };
    CHECK(refused_path(load("not json")) == "$");
    CHECK(refused_path(load("[1]")) == "$");
    CHECK(refused_path(load(R"({"x": 5})")) == "$.x");
    CHECK(refused_path(load(R"({"Zalo": {"type": "memory"}})")) == "$.Zalo");
    CHECK(refused_path(load(R"({"x": {"access_token": "t"}})")) == "$.x.type");
    CHECK(refused_path(load(R"({"x": {"type": "pigeon"}})")) == "$.x.type");
    CHECK(refused_path(load(R"({"zalo": {"type": "zalo_oa"}})")) == "$.zalo.access_token");
    CHECK(refused_path(load(R"({"zalo": {"type": "zalo_oa", "access_token": ""}})")) ==
          "$.zalo.access_token");
    CHECK(refused_path(load(R"({"zalo": {"type": "zalo_oa", "access_token": 7}})")) == "$.zalo.access_token");
    CHECK(refused_path(load(R"({"zalo": {"type": "zalo_oa", "access_token": "t", "acess_token": "t"}})")) ==
          "$.zalo.acess_token");
    CHECK(refused_path(load(
              R"({"zalo": {"type": "zalo_oa", "access_token": {"env": "TAGFLOW_TEST_NOT_SET_123"}}})")) ==
          "$.zalo.access_token.env");
    CHECK(refused_path(
              load(R"({"zalo": {"type": "zalo_oa", "access_token": "t", "template_params": {"a": [1]}}})")) ==
          "$.zalo.template_params.a[0]");
    CHECK(refused_path(load(R"({"fb": {"type": "messenger", "access_token": "t"}})")) == "$.fb.page_id");
    CHECK(refused_path(load(R"({"tg": {"type": "telegram", "bot_token": "t", "timeout_ms": 0}})")) ==
          "$.tg.timeout_ms");
    CHECK(refused_path(load(R"({"hook": {"type": "webhook", "url": "ftp://x", "secret": "s"}})")) ==
          "$.hook.url");
    CHECK(refused_path(load(R"({"sms": {"type": "sms", "api_key": "k", "secret_key": "s", "brandname": "B",
                                        "sandbox": "yes"}})")) == "$.sms.sandbox");
    CHECK(refused_path(
              load(R"({"mail": {"type": "email", "base_url": "http://x", "api_key": "k", "from": "a@b.c",
                                         "unsubscribe_url": "https://x/u/{{token}}"}})")) ==
          "$.mail.unsubscribe_secret");
    CHECK(refused_path(load(R"({"mem": {"type": "memory", "max_text": -1}})")) == "$.mem.max_text");
    CHECK(refused_path([] { (void)make_channel("zalo", R"({"type": "zalo_oa"})"); }) == "$.access_token");
    CHECK_THROWS_WITH(load_channels(R"({"zalo": {"type": "zalo_oa"}})"),
                      "$.zalo.access_token: required string is missing");
}

TEST_CASE("adapters refuse settings without their credentials", "[channels]") {
    auto client = std::shared_ptr<http_client>(make_http_client());
    CHECK_THROWS_AS(zalo_oa_channel(zalo_oa_settings{}, client), error);
    CHECK_THROWS_AS(messenger_channel(messenger_settings{}, client), error);
    CHECK_THROWS_AS(whatsapp_channel(whatsapp_settings{}, client), error);
    CHECK_THROWS_AS(telegram_channel(telegram_settings{}, client), error);
    CHECK_THROWS_AS(webhook_channel(webhook_channel_settings{}, client), error);
    CHECK_THROWS_AS(sms_gateway_channel(sms_gateway_settings{}, client), error);
    CHECK_THROWS_AS(email_gateway_channel(email_gateway_settings{}, client), error);
    telegram_settings ok;
    ok.bot_token = "t";
    CHECK_THROWS_AS(telegram_channel(ok, nullptr), error);
}
