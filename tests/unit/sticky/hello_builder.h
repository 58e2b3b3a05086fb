// Test helper: builds TLS ClientHello bytes piece by piece, so tests can make valid hellos
// and break exactly one thing at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tsd::sticky::testing {

inline std::string be16(size_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}
inline std::string be24(size_t v) { return static_cast<char>((v >> 16) & 0xff) + be16(v); }

inline std::string extension(uint16_t type, std::string_view data) {
  return be16(type) + be16(data.size()) + std::string(data);
}

// server_name extension data holding the given (name_type, name) entries.
inline std::string serverNameData(const std::vector<std::pair<uint8_t, std::string>>& names) {
  std::string list;
  for (const auto& [type, name] : names) list += static_cast<char>(type) + be16(name.size()) + name;
  return be16(list.size()) + list;
}
inline std::string sniExtension(const std::string& name) {
  return extension(0, serverNameData({{0, name}}));
}

// ClientHello body: TLS 1.2 legacy version, fixed random, 32-byte session id, two suites,
// null compression, then `extensions` as the extensions block (omitted when with_ext=false).
inline std::string helloBody(const std::string& extensions, bool with_ext = true) {
  std::string b = "\x03\x03" + std::string(32, 'r');
  b += static_cast<char>(32) + std::string(32, 's');
  b += be16(4) + std::string("\x13\x01\x13\x02", 4);
  b += std::string("\x01\x00", 2);
  if (with_ext) b += be16(extensions.size()) + extensions;
  return b;
}

inline std::string handshake(const std::string& body, uint8_t type = 1) {
  return static_cast<char>(type) + be24(body.size()) + body;
}

// Splits a handshake message into records of at most `fragment` bytes.
inline std::string records(const std::string& hs, size_t fragment = 16384, uint8_t type = 22) {
  std::string out;
  for (size_t at = 0; at < hs.size(); at += fragment) {
    const size_t n = std::min(fragment, hs.size() - at);
    out += static_cast<char>(type) + std::string("\x03\x01", 2) + be16(n) + hs.substr(at, n);
  }
  return out;
}

// A typical modern hello: some extensions before and after server_name.
inline std::string clientHello(const std::string& sni, size_t fragment = 16384) {
  std::string ext = extension(0x000a, be16(2) + be16(0x001d));  // supported_groups
  if (!sni.empty()) ext += sniExtension(sni);
  ext += extension(0x002b, std::string("\x02\x03\x04", 3));  // supported_versions
  ext += extension(0x0033, std::string(38, 'k'));            // key_share-ish payload
  return records(handshake(helloBody(ext)), fragment);
}

}  // namespace tsd::sticky::testing
