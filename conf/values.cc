// Value syntax of the config file: enum names, durations, sizes, booleans, names and addresses.
// These are pure string functions, shared with the admin socket and fuzzed through parseConfig.
#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "conf/config.h"
#include "conf/parser_detail.h"

namespace tsd::conf {
namespace {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<Algorithm, 8> kAlgorithms{{
    {Algorithm::kRandom, "random"},
    {Algorithm::kRoundRobin, "roundrobin"},
    {Algorithm::kWeightedRoundRobin, "weighted-roundrobin"},
    {Algorithm::kLeastConn, "least-conn"},
    {Algorithm::kWeightedLeastConn, "weighted-least-conn"},
    {Algorithm::kLeastLoad, "least-load"},
    {Algorithm::kHash, "hash"},
    {Algorithm::kP2c, "p2c"},
}};
constexpr NameTable<FastPath, 3> kFastPaths{
    {{FastPath::kAuto, "auto"}, {FastPath::kEbpf, "ebpf"}, {FastPath::kUserspace, "userspace"}}};
constexpr NameTable<CheckKind, 4> kCheckKinds{{{CheckKind::kNone, "none"},
                                               {CheckKind::kTcp, "tcp"},
                                               {CheckKind::kSsh, "ssh"},
                                               {CheckKind::kAgent, "agent"}}};
constexpr NameTable<StickyKey, 3> kStickyKeys{
    {{StickyKey::kSrc, "src"}, {StickyKey::kSni, "sni"}, {StickyKey::kNone, "none"}}};
constexpr NameTable<NodeState, 3> kNodeStates{
    {{NodeState::kActive, "active"}, {NodeState::kDrain, "drain"}, {NodeState::kMaint, "maint"}}};
constexpr NameTable<WrongNode, 2> kWrongNodes{
    {{WrongNode::kKeep, "keep"}, {WrongNode::kBounce, "bounce"}}};

template <typename E, size_t N>
std::string_view nameOf(const NameTable<E, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> valueOf(const NameTable<E, N>& table, std::string_view s) {
  for (const auto& [e, name] : table) {
    if (name == s) return e;
  }
  return std::nullopt;
}

// Reads leading decimal digits into n; false on overflow past `limit` or no digits.
bool readNumber(std::string_view& s, uint64_t limit, uint64_t& n) {
  size_t i = 0;
  n = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    n = n * 10 + static_cast<uint64_t>(s[i] - '0');
    if (n > limit) return false;
    ++i;
  }
  s.remove_prefix(i);
  return i > 0;
}

std::optional<uint64_t> durationUnit(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return std::nullopt;
}

}  // namespace

std::string_view toString(Algorithm a) { return nameOf(kAlgorithms, a); }
std::string_view toString(FastPath f) { return nameOf(kFastPaths, f); }
std::string_view toString(CheckKind c) { return nameOf(kCheckKinds, c); }
std::string_view toString(StickyKey k) { return nameOf(kStickyKeys, k); }
std::string_view toString(NodeState s) { return nameOf(kNodeStates, s); }
std::string_view toString(WrongNode w) { return nameOf(kWrongNodes, w); }
std::optional<Algorithm> parseAlgorithm(std::string_view s) { return valueOf(kAlgorithms, s); }
std::optional<FastPath> parseFastPath(std::string_view s) { return valueOf(kFastPaths, s); }
std::optional<CheckKind> parseCheckKind(std::string_view s) { return valueOf(kCheckKinds, s); }
std::optional<StickyKey> parseStickyKey(std::string_view s) { return valueOf(kStickyKeys, s); }
std::optional<NodeState> parseNodeState(std::string_view s) { return valueOf(kNodeStates, s); }
std::optional<WrongNode> parseWrongNode(std::string_view s) { return valueOf(kWrongNodes, s); }

// "0", or NUMBER UNIT groups with units in falling order ("1h30m"); no unitless numbers, since
// "connect_timeout = 3" could mean seconds or milliseconds.
std::optional<Duration> parseDuration(std::string_view s) {
  if (s == "0") return Duration{0};
  constexpr uint64_t kMaxMs = 100ULL * 365 * 86'400'000;  // a century: beyond any sane setting
  uint64_t total = 0;
  uint64_t last_unit = UINT64_MAX;
  if (s.empty()) return std::nullopt;
  while (!s.empty()) {
    uint64_t n = 0;
    if (!readNumber(s, kMaxMs, n)) return std::nullopt;
    size_t len = 0;
    while (len < s.size() && std::isalpha(static_cast<unsigned char>(s[len]))) ++len;
    auto unit = durationUnit(s.substr(0, len));
    if (!unit || *unit >= last_unit || n > kMaxMs / *unit) return std::nullopt;
    s.remove_prefix(len);
    last_unit = *unit;
    total += n * *unit;
    if (total > kMaxMs) return std::nullopt;
  }
  return Duration{static_cast<Duration::rep>(total)};
}

// Bytes, or a number with a binary suffix k, M or G (case-insensitive): "64k" is 65536.
std::optional<uint64_t> parseSize(std::string_view s) {
  constexpr uint64_t kMax = 1ULL << 40;
  uint64_t n = 0;
  if (!readNumber(s, kMax, n)) return std::nullopt;
  uint64_t mult = 1;
  if (s.size() == 1) {
    switch (s[0]) {
      case 'k':
      case 'K':
        mult = 1ULL << 10;
        break;
      case 'm':
      case 'M':
        mult = 1ULL << 20;
        break;
      case 'g':
      case 'G':
        mult = 1ULL << 30;
        break;
      default:
        return std::nullopt;
    }
  } else if (!s.empty()) {
    return std::nullopt;
  }
  if (n > kMax / mult) return std::nullopt;
  return n * mult;
}

namespace detail {

std::optional<bool> parseBool(std::string_view s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "yes" || lower == "true" || lower == "on" || lower == "1") return true;
  if (lower == "no" || lower == "false" || lower == "off" || lower == "0") return false;
  return std::nullopt;
}

bool isValidName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

bool isValidUserName(std::string_view s) {
  if (s.empty() || s.size() > 32 || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

std::string formatDuration(Duration d) {
  static constexpr std::pair<int64_t, std::string_view> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  int64_t ms = d.count();
  if (ms <= 0) return "0";
  std::string out;
  for (const auto& [size, unit] : kUnits) {
    if (ms >= size) {
      out += std::to_string(ms / size);
      out += unit;
      ms %= size;
    }
  }
  return out;
}

std::string formatSize(uint64_t bytes) {
  if (bytes != 0 && bytes % (1ULL << 30) == 0) return std::to_string(bytes >> 30) + "G";
  if (bytes != 0 && bytes % (1ULL << 20) == 0) return std::to_string(bytes >> 20) + "M";
  if (bytes != 0 && bytes % (1ULL << 10) == 0) return std::to_string(bytes >> 10) + "k";
  return std::to_string(bytes);
}

Result<HostPort> parseHostPort(std::string_view s) {
  if (s.empty()) return makeError("empty address");
  HostPort hp;
  bool has_port = false;
  if (s.front() == '[') {
    size_t close = s.find(']');
    has_port = close != std::string_view::npos && close + 1 < s.size();
    hp.host = std::string(s.substr(1, close == std::string_view::npos ? 0 : close - 1));
  } else {
    size_t colon = s.find(':');
    // Exactly one colon: HOST:PORT. None or several: a bare IPv4 or IPv6 literal.
    has_port = colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos;
    hp.host = std::string(s.substr(0, has_port ? colon : s.size()));
  }
  // The placeholder port only lets SockAddr check the host; it is never stored.
  auto addr = SockAddr::parse(s, has_port ? std::nullopt : std::optional<uint16_t>(1));
  if (!addr) return makeError(addr.error());
  if (has_port) hp.port = addr->port();
  return hp;
}

Result<std::vector<SockAddr>> parseListenList(std::string_view s) {
  std::vector<SockAddr> out;
  while (!s.empty()) {
    size_t start = s.find_first_not_of(", \t");
    if (start == std::string_view::npos) break;
    s.remove_prefix(start);
    size_t end = s.find_first_of(", \t");
    std::string_view item = s.substr(0, end);
    s.remove_prefix(item.size());
    auto addr = SockAddr::parse(item);
    if (!addr) return makeError(addr.error());
    if (std::find(out.begin(), out.end(), *addr) != out.end()) {
      return makeError(addr->toString() + " is listed twice");
    }
    out.push_back(*addr);
  }
  if (out.empty()) return makeError("expected one or more ADDR:PORT (e.g. 0.0.0.0:22, [::]:22)");
  return out;
}

}  // namespace detail
}  // namespace tsd::conf
