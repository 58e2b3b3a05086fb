// Per-key value parsing with ranges and messages; see field_setters.h.
#include "conf/field_setters.h"

#include <sys/un.h>

#include <algorithm>
#include <cmath>

#include "conf/parser_detail.h"

namespace tsd::conf::detail {

Status checkNotQuoted(std::string_view key, std::string_view v) {
  auto isQuote = [](char c) { return c == '"' || c == '\''; };
  if (v.empty() || (!isQuote(v.front()) && !isQuote(v.back()))) return {};
  std::string_view bare = v;
  while (!bare.empty() && isQuote(bare.front())) bare.remove_prefix(1);
  while (!bare.empty() && isQuote(bare.back())) bare.remove_suffix(1);
  return makeError("values are not quoted: write '" + std::string(key) + " = " + std::string(bare) +
                   "'");
}

namespace {

template <typename T>
Status setSizeImpl(T& out, std::string_view v, uint64_t min, uint64_t max) {
  auto n = parseSize(v);
  if (!n) {
    return makeError("expected a size in bytes with an optional k, M or G suffix, got " +
                     quoted(v));
  }
  if (*n < min || *n > max) {
    return makeError("must be from " + formatSize(min) + " to " + formatSize(max) + ", got " +
                     quoted(v));
  }
  out = static_cast<T>(*n);
  return {};
}

// Levenshtein distance, for typo suggestions on short key names only.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

Status setAlgorithm(Algorithm& out, std::string_view v) {
  return setEnum(out, v, parseAlgorithm,
                 "random, roundrobin, weighted-roundrobin, least-conn, weighted-least-conn, "
                 "least-load, hash, p2c");
}

Status setDuration(Duration& out, std::string_view v, Duration min, Duration max,
                   bool zero_is_off) {
  auto d = (zero_is_off && v == "off") ? std::optional<Duration>(0) : parseDuration(v);
  if (!d) {
    return makeError("expected a duration with a unit (ms, s, m, h, d), e.g. 500ms or 2s, got " +
                     quoted(v));
  }
  if (zero_is_off && d->count() == 0) {
    out = *d;
    return {};
  }
  if (*d < min || *d > max) {
    return makeError("must be from " + formatDuration(min) + " to " + formatDuration(max) +
                     (zero_is_off ? " (or 0/off)" : "") + ", got " + quoted(v));
  }
  out = *d;
  return {};
}

Status setSize(uint32_t& out, std::string_view v, uint64_t min, uint64_t max) {
  return setSizeImpl(out, v, min, std::min<uint64_t>(max, UINT32_MAX));
}

Status setSize(uint64_t& out, std::string_view v, uint64_t min, uint64_t max) {
  return setSizeImpl(out, v, min, max);
}

Status setBool(bool& out, std::string_view v) {
  auto b = parseBool(v);
  if (!b) return makeError("expected yes/no, true/false, on/off or 1/0, got " + quoted(v));
  out = *b;
  return {};
}

Status setPositive(double& out, std::string_view v, double max) {
  double d = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || !std::isfinite(d) || d <= 0 ||
      d > max) {
    return makeError("expected a number above 0 and at most " +
                     std::to_string(static_cast<long long>(max)) + ", got " + quoted(v));
  }
  out = d;
  return {};
}

Status setPort(uint16_t& out, std::string_view v) { return setInt(out, v, 1, 65535); }

Status setPath(std::string& out, std::string_view v, bool may_be_empty) {
  if (v.empty() && may_be_empty) {
    out.clear();
    return {};
  }
  if (v.empty() || v.front() != '/')
    return makeError("expected an absolute path, got " + quoted(v));
  if (v.size() > 4000) return makeError("path too long");
  out = std::string(v);
  return {};
}

Status setUser(std::string& out, std::string_view v) {
  if (!v.empty() && !isValidUserName(v)) {
    return makeError("expected a user name (A-Z a-z 0-9 _ . -, up to 32), got " + quoted(v));
  }
  out = std::string(v);
  return {};
}

Status setSocketPath(std::string& out, std::string_view v) {
  if (v.empty() || v == "off") {
    out.clear();
    return {};
  }
  if (v.front() != '/') return makeError("expected an absolute path or off, got " + quoted(v));
  if (v.size() >= sizeof(sockaddr_un::sun_path)) {
    return makeError("path longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                     " bytes (the unix socket limit)");
  }
  out = std::string(v);
  return {};
}

Status setListenList(std::vector<SockAddr>& out, std::string_view v) {
  auto list = parseListenList(v);
  if (!list) return makeError(list.error());
  out = std::move(*list);
  return {};
}

Status setOptionalListen(std::optional<SockAddr>& out, std::string_view v) {
  if (v.empty() || v == "off") {
    out.reset();
    return {};
  }
  auto a = SockAddr::parse(v);
  if (!a) return makeError(a.error());
  out = *a;
  return {};
}

Status setNodeAddress(NodeConfig& node, std::string_view v) {
  auto hp = parseHostPort(v);
  if (!hp) return makeError(hp.error());
  node.host = hp->host;
  node.port = hp->port;
  return {};
}

std::string didYouMean(std::string_view key, const std::vector<std::string_view>& known) {
  std::string_view best;
  size_t best_d = 3;  // more than two edits is not a typo
  for (std::string_view k : known) {
    size_t d = editDistance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)";
}

}  // namespace tsd::conf::detail
