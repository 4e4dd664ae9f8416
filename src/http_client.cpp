// The default http_client: plain HTTP/1.1 on Boost.Beast, one connection per request.
#include <tagflow/http.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>

namespace tagflow {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

struct url_parts {
    std::string host;
    std::string port = "80";
    std::string target = "/";
};

// Only what a request block needs: http://host[:port][/path][?query].
std::optional<url_parts> split_url(const std::string& url) {
    constexpr std::string_view scheme = "http://";
    if (url.compare(0, scheme.size(), scheme) != 0) {
        return std::nullopt;
    }
    url_parts out;
    const auto rest = std::string_view(url).substr(scheme.size());
    const auto slash = rest.find_first_of("/?");
    const auto authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        out.target = std::string(rest.substr(slash));
        if (out.target[0] == '?') {
            out.target.insert(0, "/");
        }
    }
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
        out.host = std::string(authority.substr(0, colon));
        out.port = std::string(authority.substr(colon + 1));
        int port = 0;
        auto [ptr, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
        if (ec != std::errc{} || ptr != out.port.data() + out.port.size() || port <= 0 || port > 65535) {
            return std::nullopt;
        }
    } else {
        out.host = std::string(authority);
    }
    if (out.host.empty()) {
        return std::nullopt;
    }
    return out;
}

class beast_client final : public http_client {
public:
    http_response send(const http_request& request) override {
        http_response out;
        if (request.url.rfind("https://", 0) == 0) {
            out.error = "https is not supported by the built-in client yet: " + request.url;
            return out;
        }
        const auto url = split_url(request.url);
        if (!url) {
            out.error = "invalid URL: " + request.url;
            return out;
        }
        try {
            asio::io_context io;
            asio::ip::tcp::resolver resolver(io);
            beast::tcp_stream stream(io);
            const auto endpoints = resolver.resolve(url->host, url->port);
            http::request<http::string_body> req{http::string_to_verb(request.method), url->target, 11};
            req.set(http::field::host, url->host);
            req.set(http::field::user_agent, "tagflow");
            for (const auto& [name, value] : request.headers) {
                req.set(name, value);
            }
            if (!request.body.empty()) {
                if (req[http::field::content_type].empty()) {
                    req.set(http::field::content_type, "application/json");
                }
                req.body() = request.body;
                req.prepare_payload();
            }
            // tcp_stream's deadline only covers asynchronous operations, so the exchange runs
            // asynchronously on this private io_context: one deadline for connect, write and read.
            beast::flat_buffer buffer;
            http::response<http::string_body> res;
            beast::error_code failure;
            stream.expires_after(request.timeout);
            stream.async_connect(endpoints, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
                if (ec) {
                    failure = ec;
                    return;
                }
                http::async_write(stream, req, [&](beast::error_code wec, std::size_t) {
                    if (wec) {
                        failure = wec;
                        return;
                    }
                    http::async_read(stream, buffer, res, [&](beast::error_code rec, std::size_t) { failure = rec; });
                });
            });
            io.run();
            if (failure) {
                out.error = failure == beast::error::timeout ? "timed out after " +
                                                                   std::to_string(request.timeout.count()) + " ms"
                                                             : failure.message();
                return out;
            }
            out.status = static_cast<int>(res.result_int());
            out.body = std::move(res.body());
            beast::error_code ignored;
            stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        } catch (const std::exception& e) {
            out.status = 0;
            out.body.clear();
            out.error = e.what();
        }
        return out;
    }
};

} // namespace

std::unique_ptr<http_client> make_http_client() { return std::make_unique<beast_client>(); }

} // namespace tagflow
