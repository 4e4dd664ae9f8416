#pragma once
/// \file http.hpp
/// External requests made by flows ("request" blocks). The engine never does I/O while it
/// decides: a request block records an http_request and waits; engine::perform_requests hands
/// pending ones to an http_client and ingests each answer as a request_completed event, so a
/// replay of the event log gives the same result without calling anyone.

#include <tagflow/contact.hpp>
#include <tagflow/time.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tagflow {

/// A request a flow wants made.
struct http_request {
    std::int64_t id = 0;                                      ///< Engine-assigned.
    contact_id contact = 0;                                   ///< For whom.
    std::string method = "GET";                               ///< GET, POST, PUT, PATCH or DELETE.
    std::string url;                                          ///< Rendered URL, http:// or https://.
    std::vector<std::pair<std::string, std::string>> headers; ///< Rendered headers, in order.
    std::string body;                                         ///< Rendered body (often JSON).
    duration timeout = std::chrono::seconds(10);              ///< How long the client may take.
    time_point created_at;                                    ///< When the flow decided it.
    std::string flow;                                         ///< The flow that asked.
    std::string block;                                        ///< The block that asked.

    friend bool operator==(const http_request&, const http_request&) = default;
};

/// What came back. `error` is set (and `status` 0) when there was no HTTP answer at all.
struct http_response {
    int status = 0;    ///< HTTP status code.
    std::string body;  ///< Response body.
    std::string error; ///< Transport failure (refused, timed out, bad URL), empty otherwise.
};

/// Makes HTTP calls for the engine. Implementations must be safe to call from the thread that
/// calls engine::perform_requests; they should report failures in http_response::error rather
/// than throw (an exception is caught and recorded as an error too).
class http_client {
public:
    virtual ~http_client() = default;
    /// Performs one request, blocking until it completes or its timeout passes.
    virtual http_response send(const http_request& request) = 0;
};

/// How the built-in client treats https:// servers.
struct http_client_options {
    /// Extra trusted CA certificates, PEM (one or more), on top of the system's default trust
    /// store; e.g. a test's self-signed certificate or a company CA.
    std::string ca_pem;
    /// A PEM file of extra trusted CA certificates, on top of the system's; empty for none.
    std::string ca_file;
    /// Verify each server's certificate chain and host name (IP addresses against IP
    /// subjectAltNames). Turning it off makes TLS worthless against an attacker: for local
    /// experiments only.
    bool verify_peer = true;
};

/// A client for http:// and https:// URLs on Boost.Beast (TLS through OpenSSL with SNI,
/// verifying servers against the system's default CA paths), honouring each request's timeout
/// for the whole exchange (connect, TLS handshake, write, read). Transport failures, including
/// certificate errors, come back in http_response::error. Thread-safe: each call uses its own
/// connection.
std::unique_ptr<http_client> make_http_client();

/// The same client with TLS `options`. Throws tagflow::error(errc::invalid_argument) when ca_pem
/// or ca_file cannot be loaded. Thread-safe.
std::unique_ptr<http_client> make_http_client(const http_client_options& options);

} // namespace tagflow
