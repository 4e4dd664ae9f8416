#pragma once
// Digests and signatures for webhooks and signed requests, on OpenSSL's libcrypto.

#include <string>
#include <string_view>

namespace tagflow::detail {

// Lowercase hex of HMAC-SHA256(key, message).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// Lowercase hex of SHA-256(message).
std::string sha256_hex(std::string_view message);

// Compares two strings in time that depends only on their lengths, so a signature check does
// not tell an attacker how many leading characters were right.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

} // namespace tagflow::detail
