// Setters that parse one config value into a field, returning "what is wrong" on failure (the
// caller adds FILE:LINE: KEY). Each enforces the key's range, so a Config never holds a bad value.
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "conf/result.h"

namespace tsd::conf::detail {

inline std::string quoted(std::string_view v) { return "'" + std::string(v) + "'"; }

// INI values are taken as written: a value in quotes ("127.0.0.1:2299" or '...') would keep
// them, so it is refused for every key with a message that says so.
Status checkNotQuoted(std::string_view key, std::string_view v);

// Integers in [min, max]; the message gives the range whether the text was junk or too big.
template <typename T>
Status setInt(T& out, std::string_view v, long long min, long long max) {
  long long n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < min || n > max) {
    return makeError("expected an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got " + quoted(v));
  }
  out = static_cast<T>(n);
  return {};
}

template <typename E>
Status setEnum(E& out, std::string_view v, std::optional<E> (*parse)(std::string_view),
               std::string_view allowed) {
  auto e = parse(v);
  if (!e) return makeError("expected one of " + std::string(allowed) + ", got " + quoted(v));
  out = *e;
  return {};
}

Status setAlgorithm(Algorithm& out, std::string_view v);
// A duration in [min, max]; with zero_is_off, also "0" or "off" for 0.
Status setDuration(Duration& out, std::string_view v, Duration min, Duration max, bool zero_is_off);
Status setSize(uint32_t& out, std::string_view v, uint64_t min, uint64_t max);
Status setSize(uint64_t& out, std::string_view v, uint64_t min, uint64_t max);
Status setBool(bool& out, std::string_view v);
// A finite number > 0 and <= max.
Status setPositive(double& out, std::string_view v, double max);
Status setPort(uint16_t& out, std::string_view v);
// An absolute path; with may_be_empty, "" (unset) too.
Status setPath(std::string& out, std::string_view v, bool may_be_empty);
Status setUser(std::string& out, std::string_view v);
// A unix socket path, or ""/"off" for none.
Status setSocketPath(std::string& out, std::string_view v);
Status setListenList(std::vector<SockAddr>& out, std::string_view v);
// One ADDR:PORT, or ""/"off" for none.
Status setOptionalListen(std::optional<SockAddr>& out, std::string_view v);
Status setNodeAddress(NodeConfig& node, std::string_view v);

// " (did you mean 'x'?)" for a near miss among `known`, else "".
std::string didYouMean(std::string_view key, const std::vector<std::string_view>& known);

}  // namespace tsd::conf::detail
