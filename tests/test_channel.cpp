#include <catch2/catch.hpp>

#include <tagflow/channel.hpp>
#include <tagflow/channels.hpp>
#include <tagflow/error.hpp>

#include <deque>
#include <sstream>
#include <stdexcept>

using namespace tagflow;

namespace {

// Code points of well-formed UTF-8 (what the platforms count).
std::size_t code_points(const std::string& s) {
    std::size_t n = 0;
    for (const char c : s) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return n;
}

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        out += s;
    }
    return out;
}

outbound_message message_with(std::string text) {
    outbound_message m;
    m.key = "k1";
    m.contact = 1;
    m.to = {"test", "u1"};
    m.text = std::move(text);
    return m;
}

channel_capabilities caps(std::size_t max_text, std::size_t buttons = 0, std::size_t replies = 0,
                          std::size_t title = 20) {
    channel_capabilities c;
    c.max_text = max_text;
    c.max_buttons = buttons;
    c.max_quick_replies = replies;
    c.max_button_title = title;
    return c;
}

// A minimal HTTP adapter: one request per part, and the client's scripted answers decide.
class echo_channel final : public http_channel {
public:
    echo_channel(channel_capabilities c, std::shared_ptr<http_client> client)
        : http_channel("echo", c, std::move(client)) {}
    std::string_view default_policy() const noexcept override { return ""; }

private:
    http_request build_request(const outbound_message& m, const rendered_message& shaped, std::size_t index,
                               const contact&) const override {
        if (m.to.external_id.empty()) {
            throw error(errc::invalid_argument, "no address");
        }
        http_request r;
        r.method = "POST";
        r.url = "http://echo.invalid/" + std::to_string(index);
        r.body = shaped.parts[index];
        return r;
    }
    send_result interpret(const http_response& response) const override {
        if (response.body.rfind("ok:", 0) == 0) {
            return send_result::ok(response.body.substr(3));
        }
        return send_result::fail(send_result::outcome::retry, response.body, "scripted");
    }
};

struct scripted_client final : http_client {
    std::deque<std::string> answers; // "throw" throws, "down" is a transport failure
    std::vector<http_request> seen;
    http_response send(const http_request& request) override {
        seen.push_back(request);
        const std::string a = answers.empty() ? "ok:x" : answers.front();
        if (!answers.empty()) {
            answers.pop_front();
        }
        if (a == "throw") {
            throw std::runtime_error("socket exploded");
        }
        if (a == "down") {
            return {0, "", "connection refused"};
        }
        return {200, a, ""};
    }
};

} // namespace

TEST_CASE("buttons a channel cannot show become numbered lines", "[channel]") {
    auto m = message_with("Bạn chọn size nào?");
    m.buttons = {{"Size S", "S"}, {"Size M", "M"}};
    const auto shaped = degrade(m, caps(2000));
    CHECK(shaped.parts == std::vector<std::string>{"Bạn chọn size nào?\n1. Size S\n2. Size M"});
    CHECK(shaped.buttons.empty());
}

TEST_CASE("when not all buttons fit, all of them are numbered", "[channel]") {
    auto m = message_with("Chọn:");
    m.buttons = {{"A", "a"}, {"B", "b"}, {"C", "c"}};
    const auto shaped = degrade(m, caps(2000, 2));
    CHECK(shaped.parts == std::vector<std::string>{"Chọn:\n1. A\n2. B\n3. C"});
    CHECK(shaped.buttons.empty());
}

TEST_CASE("numbering runs on from buttons to quick replies", "[channel]") {
    auto m = message_with("Chọn:");
    m.buttons = {{"Mua", "BUY"}};
    m.quick_replies = {"Có", "Không"};
    const auto shaped = degrade(m, caps(2000));
    CHECK(shaped.parts == std::vector<std::string>{"Chọn:\n1. Mua\n2. Có\n3. Không"});
    const auto kept_buttons = degrade(m, caps(2000, 1, 0));
    CHECK(kept_buttons.parts == std::vector<std::string>{"Chọn:\n1. Có\n2. Không"});
    CHECK(kept_buttons.buttons == std::vector<button>{{"Mua", "BUY"}});
}

TEST_CASE("kept button and quick reply titles are cut to the limit in code points", "[channel]") {
    auto m = message_with("Xác nhận đơn?");
    m.buttons = {{"Thanh toán ngay bây giờ", "PAY"}};
    m.quick_replies = {"Để sau nhé bạn ơi"};
    const auto shaped = degrade(m, caps(2000, 3, 3, 10));
    REQUIRE(shaped.buttons.size() == 1);
    CHECK(shaped.buttons[0].title == "Thanh toán");
    CHECK(shaped.buttons[0].payload == "PAY");
    CHECK(shaped.quick_replies == std::vector<std::string>{"Để sau nhé"});
    CHECK(shaped.parts == std::vector<std::string>{"Xác nhận đơn?"});
}

TEST_CASE("Vietnamese text without spaces is split at exactly the limit in code points", "[channel]") {
    const std::string text = repeat("ườ", 12) + "ả"; // 25 code points, 2 or 3 bytes each
    const auto shaped = degrade(message_with(text), caps(10));
    REQUIRE(shaped.parts.size() == 3);
    CHECK(code_points(shaped.parts[0]) == 10);
    CHECK(code_points(shaped.parts[1]) == 10);
    CHECK(code_points(shaped.parts[2]) == 5);
    CHECK(shaped.parts[0] + shaped.parts[1] + shaped.parts[2] == text);
    CHECK(shaped.parts[0] == repeat("ườ", 5));
}

TEST_CASE("splitting prefers a line break, then a space, in the last fifth of the limit", "[channel]") {
    // Limit 20: a soft cut may fall at code points 16..20.
    SECTION("a line break wins over a later space") {
        const auto shaped = degrade(message_with("Đơn hàng số 12345\nđã giao thành công"), caps(20));
        CHECK(shaped.parts == std::vector<std::string>{"Đơn hàng số 12345", "đã giao thành công"});
    }
    SECTION("a space near the limit") {
        const auto shaped = degrade(message_with("Cảm ơn quý khách đã mua hàng"), caps(20));
        CHECK(shaped.parts == std::vector<std::string>{"Cảm ơn quý khách đã", "mua hàng"});
    }
    SECTION("a space too early is ignored: the cut is at the limit") {
        const auto shaped = degrade(message_with("Chào khuyếnmãihômnaygiảmgiá"), caps(20));
        REQUIRE(shaped.parts.size() == 2);
        CHECK(code_points(shaped.parts[0]) == 20);
        CHECK(shaped.parts[0] + shaped.parts[1] == "Chào khuyếnmãihômnaygiảmgiá");
    }
    SECTION("text at the limit is one part") {
        const std::string text = repeat("đ", 20);
        CHECK(degrade(message_with(text), caps(20)).parts == std::vector<std::string>{text});
    }
}

TEST_CASE("limits count NFC code points and a hard cut keeps combining marks with their letter",
          "[channel]") {
    // "ệ" typed as e + circumflex + dot below is one character once composed.
    const std::string decomposed = repeat("e\xCC\x82\xCC\xA3", 10);
    const auto shaped = degrade(message_with(decomposed), caps(10));
    CHECK(shaped.parts == std::vector<std::string>{repeat("ệ", 10)});

    // x + acute has no precomposed form: a cut right before the mark moves back one.
    const auto marked = degrade(message_with("abcdefghix\xCC\x81yz"), caps(10));
    CHECK(marked.parts == std::vector<std::string>{"abcdefghi", "x\xCC\x81yz"});
}

TEST_CASE("an empty message is one empty part", "[channel]") {
    CHECK(degrade(message_with(""), caps(10)).parts == std::vector<std::string>{""});
}

TEST_CASE("outcomes have stable names", "[channel]") {
    CHECK(to_string(send_result::outcome::sent) == "sent");
    CHECK(to_string(send_result::outcome::retry) == "retry");
    CHECK(to_string(send_result::outcome::failed) == "failed");
    CHECK(to_string(send_result::outcome::blocked) == "blocked");
}

TEST_CASE("an http channel sends one request per part and keeps the first part's id", "[channel]") {
    auto client = std::make_shared<scripted_client>();
    client->answers = {"ok:first", "ok:second"};
    echo_channel ch(caps(10), client);
    const auto m = message_with(repeat("a", 15));
    CHECK(ch.requests_for(m, {}).size() == 2);
    const auto r = ch.send(m, {});
    CHECK(r.result == send_result::outcome::sent);
    CHECK(r.external_id == "first");
    CHECK(r.requests == 2);
    CHECK(r.detail == "2 parts: first,second");
    REQUIRE(client->seen.size() == 2);
    CHECK(client->seen[1].url == "http://echo.invalid/1");
}

TEST_CASE("an http channel stops at the first part that is not sent", "[channel]") {
    auto client = std::make_shared<scripted_client>();
    client->answers = {"ok:first", "busy", "ok:third"};
    echo_channel ch(caps(10), client);
    const auto r = ch.send(message_with(repeat("a", 25)), {});
    CHECK(r.result == send_result::outcome::retry);
    CHECK(r.error_code == "busy");
    CHECK(r.requests == 2);
    CHECK(r.external_id == "first");
    CHECK(r.detail == "part 2 of 3: scripted");
    CHECK(client->seen.size() == 2);
}

TEST_CASE("client exceptions and transport failures are retries, unaddressable messages fail", "[channel]") {
    auto client = std::make_shared<scripted_client>();
    echo_channel ch(caps(100), client);
    client->answers = {"throw"};
    auto r = ch.send(message_with("hi"), {});
    CHECK(r.result == send_result::outcome::retry);
    CHECK(r.detail == "socket exploded");
    CHECK(r.requests == 1);

    client->answers = {"down"};
    r = ch.send(message_with("hi"), {});
    CHECK(r.result == send_result::outcome::retry);
    CHECK(r.error_code == "transport");
    CHECK(r.detail == "connection refused");

    auto nowhere = message_with("hi");
    nowhere.to.external_id.clear();
    r = ch.send(nowhere, {});
    CHECK(r.result == send_result::outcome::failed);
    CHECK(r.error_code == "unaddressable");
    CHECK(r.requests == 0);
    CHECK_THROWS_AS(ch.requests_for(nowhere, {}), error);
}

TEST_CASE("the memory channel records sends and returns scripted results first", "[channel]") {
    memory_channel ch("zalo", caps(2000, 5), "zalo-2026");
    CHECK(ch.name() == "zalo");
    CHECK(ch.default_policy() == "zalo-2026");
    ch.fail_next(2);
    contact c;
    c.id = 9;
    CHECK(ch.send(message_with("a"), c).result == send_result::outcome::retry);
    CHECK(ch.send(message_with("b"), c).result == send_result::outcome::retry);
    const auto ok = ch.send(message_with("c"), c);
    CHECK(ok.result == send_result::outcome::sent);
    CHECK(ok.external_id == "zalo-1");
    const auto all = ch.deliveries();
    REQUIRE(all.size() == 3);
    CHECK(all[2].recipient == 9);
    CHECK(all[2].shaped.parts == std::vector<std::string>{"c"});
    REQUIRE(ch.sent().size() == 1);
    CHECK(ch.sent()[0].text == "c");
    ch.clear();
    CHECK(ch.deliveries().empty());
}

TEST_CASE("the console channel prints one line per part and button", "[channel]") {
    std::ostringstream out;
    console_channel ch("console", out, caps(2000, 3));
    auto m = message_with("Chào bạn");
    m.to = {"zalo", "1001"};
    m.buttons = {{"Xem hàng", "SHOP"}};
    CHECK(ch.send(m, {}).result == send_result::outcome::sent);
    CHECK(out.str() == "[console] zalo:1001: Chào bạn\n  [Xem hàng]\n");
}
