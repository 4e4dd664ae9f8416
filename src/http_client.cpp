// The default http_client: HTTP/1.1 on Boost.Beast, one connection per request, TLS for
// https:// through Boost.Asio's OpenSSL stream.
#include <tagflow/error.hpp>
#include <tagflow/http.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

#include <charconv>
#include <optional>

namespace tagflow {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;

struct url_parts {
    bool tls = false;
    std::string host;
    std::string port;
    std::string target = "/";
};

// http(s)://host[:port][/path][?query]; an IPv6 host is written in brackets.
std::optional<url_parts> split_url(const std::string& url) {
    url_parts out;
    std::string_view rest;
    if (url.rfind("http://", 0) == 0) {
        rest = std::string_view(url).substr(7);
        out.port = "80";
    } else if (url.rfind("https://", 0) == 0) {
        rest = std::string_view(url).substr(8);
        out.port = "443";
        out.tls = true;
    } else {
        return std::nullopt;
    }
    const auto slash = rest.find_first_of("/?");
    const auto authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        out.target = std::string(rest.substr(slash));
        if (out.target[0] == '?') {
            out.target.insert(0, "/");
        }
    }
    std::string_view host = authority;
    std::optional<std::string_view> port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        host = authority.substr(1, close - 1);
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return std::nullopt;
            }
            port = after.substr(1);
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (port) {
        int number = 0;
        auto [ptr, ec] = std::from_chars(port->data(), port->data() + port->size(), number);
        if (ec != std::errc{} || ptr != port->data() + port->size() || number <= 0 || number > 65535) {
            return std::nullopt;
        }
        out.port = std::string(*port);
    }
    out.host = std::string(host);
    if (out.host.empty()) {
        return std::nullopt;
    }
    return out;
}

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

std::string describe(const beast::error_code& failure, const http_request& request) {
    if (failure == beast::error::timeout) {
        return "timed out after " + std::to_string(request.timeout.count()) + " ms";
    }
    if (failure.category() == asio::error::get_ssl_category()) {
        // OpenSSL's reason ("certificate verify failed") says more than the generic message.
        return "TLS: " + failure.message();
    }
    return failure.message();
}

class beast_client final : public http_client {
public:
    explicit beast_client(const http_client_options& options) : tls_(ssl::context::tls_client) {
        try {
            tls_.set_default_verify_paths();
            if (!options.ca_pem.empty()) {
                tls_.add_certificate_authority(asio::buffer(options.ca_pem));
            }
            if (!options.ca_file.empty()) {
                tls_.load_verify_file(options.ca_file);
            }
        } catch (const std::exception& e) {
            throw error(errc::invalid_argument,
                        std::string("cannot load the trusted certificates: ") + e.what());
        }
        tls_.set_verify_mode(options.verify_peer ? ssl::verify_peer : ssl::verify_none);
        verify_ = options.verify_peer;
    }

    http_response send(const http_request& request) override {
        http_response out;
        const auto url = split_url(request.url);
        if (!url) {
            out.error = "invalid URL: " + request.url;
            return out;
        }
        try {
            http::request<http::string_body> req{http::string_to_verb(request.method), url->target, 11};
            const bool default_port = url->port == (url->tls ? "443" : "80");
            const std::string host =
                url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
            req.set(http::field::host, default_port ? host : host + ":" + url->port);
            req.set(http::field::user_agent, "tagflow");
            for (const auto& [name, value] : request.headers) {
                req.set(name, value);
            }
            if (!request.body.empty()) {
                if (req[http::field::content_type].empty()) {
                    req.set(http::field::content_type, "application/json");
                }
                req.body() = request.body;
            }
            req.prepare_payload();
            return url->tls ? exchange_tls(*url, req, request) : exchange_plain(*url, req, request);
        } catch (const std::exception& e) {
            out.status = 0;
            out.body.clear();
            out.error = e.what();
        }
        return out;
    }

private:
    // tcp_stream's deadline only covers asynchronous operations, so each exchange runs
    // asynchronously on a private io_context: one deadline for connect, handshake, write and read.
    http_response exchange_plain(const url_parts& url, http::request<http::string_body>& req,
                                 const http_request& request) {
        asio::io_context io;
        asio::ip::tcp::resolver resolver(io);
        beast::tcp_stream stream(io);
        const auto endpoints = resolver.resolve(url.host, url.port);
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
                http::async_read(stream, buffer, res,
                                 [&](beast::error_code rec, std::size_t) { failure = rec; });
            });
        });
        io.run();
        http_response out;
        if (failure) {
            out.error = describe(failure, request);
            return out;
        }
        out.status = static_cast<int>(res.result_int());
        out.body = std::move(res.body());
        beast::error_code ignored;
        stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        return out;
    }

    http_response exchange_tls(const url_parts& url, http::request<http::string_body>& req,
                               const http_request& request) {
        asio::io_context io;
        asio::ip::tcp::resolver resolver(io);
        beast::ssl_stream<beast::tcp_stream> stream(io, tls_);
        if (!is_ip_literal(url.host)) {
            // SNI: servers hosting several names pick the certificate by it.
            if (SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1) {
                http_response out;
                out.error = "TLS: cannot set the server name " + url.host;
                return out;
            }
        }
        if (verify_) {
            // Checks DNS names against the certificate, and IP literals against IP SANs.
            stream.set_verify_callback(ssl::host_name_verification(url.host));
        }
        const auto endpoints = resolver.resolve(url.host, url.port);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        beast::error_code failure;
        auto& lowest = beast::get_lowest_layer(stream);
        lowest.expires_after(request.timeout);
        lowest.async_connect(endpoints, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
            if (ec) {
                failure = ec;
                return;
            }
            stream.async_handshake(ssl::stream_base::client, [&](beast::error_code hec) {
                if (hec) {
                    failure = hec;
                    return;
                }
                http::async_write(stream, req, [&](beast::error_code wec, std::size_t) {
                    if (wec) {
                        failure = wec;
                        return;
                    }
                    http::async_read(stream, buffer, res,
                                     [&](beast::error_code rec, std::size_t) { failure = rec; });
                });
            });
        });
        io.run();
        http_response out;
        if (failure) {
            out.error = describe(failure, request);
            return out;
        }
        out.status = static_cast<int>(res.result_int());
        out.body = std::move(res.body());
        // No TLS close_notify exchange: the answer is complete (Content-Length or chunked), and
        // waiting for the peer's close_notify would only add a round trip or a stall.
        beast::error_code ignored;
        lowest.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        return out;
    }

    ssl::context tls_;
    bool verify_ = true;
};

} // namespace

std::unique_ptr<http_client> make_http_client() {
    return make_http_client(http_client_options{});
}

std::unique_ptr<http_client> make_http_client(const http_client_options& options) {
    return std::make_unique<beast_client>(options);
}

} // namespace tagflow
