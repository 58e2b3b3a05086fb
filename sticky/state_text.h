// The small text helpers the state files (sticky.state, admin.state, users.state) are read
// with: fields split on one separator, strict unsigned decimal numbers with an upper bound, and
// the %XX escaping of fields, and the check of a file's first (format version) line.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/result.h"

namespace tsd::sticky::detail {

// Every field, empty ones included ("a  b" has three).
inline std::vector<std::string_view> splitFields(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// Digits only (no sign, no blanks, at most 19), 0..max.
inline std::optional<int64_t> parseUnsigned(std::string_view s, int64_t max) {
  int64_t v = -1;
  if (s.empty() || s.size() > 19) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v > max) return std::nullopt;
  return v;
}

// Fields are %XX-escaped outside printable non-space ASCII and '%'.
inline bool plainChar(char c) { return c > ' ' && c < 0x7f && c != '%'; }

inline std::string escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (plainChar(c)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += {'%', kHex[b >> 4], kHex[b & 15]};
    }
  }
  return out;
}

inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

inline std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      if (!plainChar(s[i])) return std::nullopt;
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// The first line of a state file: MAGIC then a format version this build understands.
// `file` names the file in the first error ("sticky state file"), `noun` in the others
// ("state file").
inline Status checkFormatLine(std::string_view first, std::string_view magic, std::string_view file,
                              std::string_view noun, int64_t max_version) {
  if (!first.starts_with(magic)) {
    return makeError("not a tsdirector " + std::string(file) + " (unexpected first line)");
  }
  auto version = parseUnsigned(first.substr(magic.size()), 1'000'000);
  if (!version || *version == 0) {
    return makeError(std::string(noun) + " has a bad format version line");
  }
  if (*version > max_version) {
    return makeError(std::string(noun) + " format version " + std::to_string(*version) +
                     " is newer than this tsdirector (" + std::to_string(max_version) + ")");
  }
  return {};
}

}  // namespace tsd::sticky::detail
