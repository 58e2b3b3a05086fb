// The small text helpers both state files (sticky.state, admin.state) are read with: fields
// split on one separator, and strict unsigned decimal numbers with an upper bound.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

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

}  // namespace tsd::sticky::detail
