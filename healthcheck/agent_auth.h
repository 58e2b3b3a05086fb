// Authentication of agent replies: nonces, HMAC-SHA256 with the shared key (OpenSSL), and
// loading that key from a file only its owner can read.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "conf/result.h"

namespace tsd::health {

inline constexpr size_t kMinKeyBytes = 16;
inline constexpr size_t kMaxKeyFileBytes = 4096;

// 16 bytes from the OpenSSL CSPRNG as 32 lowercase hex digits. Aborts if the CSPRNG fails: a
// predictable nonce would make replies replayable.
std::string makeNonce();

// HMAC-SHA256(key, nonce || body) as 64 lowercase hex digits.
std::string macHex(std::string_view key, std::string_view nonce, std::string_view body);
// Constant-time comparison (CRYPTO_memcmp) of a received MAC with the expected one; false when
// the lengths differ (a length is not secret).
bool macEquals(std::string_view received_hex, std::string_view expected_hex);

bool isLowerHex(std::string_view s);
std::string toHex(std::string_view bytes);

// The shared key from a file: it must be a regular file that only its owner may read or write
// (mode 0600 or stricter; group/other bits make it refused, since anyone who reads the key can
// forge replies). Content: hex digits only (decoded; an even count) or raw bytes otherwise;
// surrounding whitespace is ignored; at least kMinKeyBytes bytes after decoding.
Result<std::string> loadKey(const std::string& path);
// The content rules of loadKey without the file checks.
Result<std::string> parseKey(std::string_view content);

}  // namespace tsd::health
