// Encoding and strict parsing of agent requests and replies. Everything a reply carries is
// checked (framing, MAC, then every field), because a forged or garbled inventory would send
// users to the wrong node.
#include "healthcheck/agent_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <tuple>

namespace tsd::health {
namespace {

constexpr std::string_view kReplyTag = " reply ";
constexpr std::string_view kMacPrefix = "mac ";

enum Field : unsigned {
  kNode = 1,
  kLoad = 2,
  kMem = 4,
  kSwap = 8,
  kRunning = 16,
  kSuspended = 32,
  kAllFields = 63,
  kAge = 64,       // optional: agents before the background collector do not send it
  kVersion = 128,  // optional: version-1 agents do not send it
};

struct FieldName {
  std::string_view name;
  Field bit;
};
constexpr FieldName kFields[] = {
    {"node", kNode},          {"load_per_cpu", kLoad},        {"mem_available_kib", kMem},
    {"swap_in_per_s", kSwap}, {"sessions_running", kRunning}, {"sessions_suspended", kSuspended},
};

// Bounded echo of a bad token for error messages.
std::string shown(std::string_view s) {
  std::string out(s.substr(0, 32));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return "'" + out + (s.size() > 32 ? "...'" : "'");
}

Result<uint64_t> parseUnsigned(std::string_view s, uint64_t max) {
  if (!s.empty() && s[0] == '-') return makeError("negative value " + shown(s));
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec == std::errc::invalid_argument || p != s.data() + s.size()) {
    return makeError("not a number " + shown(s));
  }
  if (ec == std::errc::result_out_of_range || v > max) return makeError("absurd value " + shown(s));
  return v;
}

Result<double> parseFigure(std::string_view s, double max) {
  if (!s.empty() && s[0] == '-') return makeError("negative value " + shown(s));
  // Only plain decimal notation: from_chars would also take "nan" and "inf".
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
      return makeError("not a number " + shown(s));
    }
  }
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec == std::errc::invalid_argument || p != s.data() + s.size()) {
    return makeError("not a number " + shown(s));
  }
  if (ec == std::errc::result_out_of_range || !std::isfinite(v) || v > max) {
    return makeError("absurd value " + shown(s));
  }
  return v;
}

std::string formatFigure(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, p) : "0";
}

// Splits on single spaces; empty tokens (double spaces) make the line invalid.
std::vector<std::string_view> splitTokens(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t sp = line.find(' ', start);
    out.push_back(line.substr(start, sp == std::string_view::npos ? sp : sp - start));
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  return out;
}

bool printableLine(std::string_view line) {
  for (char c : line) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Result<AgentSession> parseSession(const std::vector<std::string_view>& t) {
  if (t.size() != 6) return makeError("session line needs 5 fields");
  AgentSession s;
  if (!validName(t[1])) return makeError("session: bad user " + shown(t[1]));
  s.user = t[1];
  auto kind = parseSessionKind(t[2]);
  if (!kind) return makeError("session: unknown kind " + shown(t[2]));
  s.kind = *kind;
  if (t[3] != "running" && t[3] != "suspended") {
    return makeError("session: bad state " + shown(t[3]));
  }
  s.suspended = t[3] == "suspended";
  if (!validClientAddress(t[4])) return makeError("session: bad client address " + shown(t[4]));
  s.client_address = t[4];
  auto since = parseUnsigned(t[5], kMaxSinceUnix);
  if (!since) return makeError("session: since: " + since.error());
  s.since_unix = static_cast<int64_t>(*since);
  return s;
}

Result<uint16_t> parsePort(std::string_view s) {
  auto n = parseUnsigned(s, 65535);
  if (!n) return makeError(n.error());
  if (*n == 0) return makeError("port 0");
  return static_cast<uint16_t>(*n);
}

// "conn USER REMOTE_IP REMOTE_PORT LOCAL_IP LOCAL_PORT SINCE"
Result<AgentConnection> parseConnection(const std::vector<std::string_view>& t) {
  if (t.size() != 7) return makeError("conn line needs 6 fields");
  AgentConnection c;
  if (!validName(t[1])) return makeError("conn: bad user " + shown(t[1]));
  c.user = t[1];
  if (!canonicalAddress(t[2])) return makeError("conn: bad remote address " + shown(t[2]));
  c.remote_address = t[2];
  auto rport = parsePort(t[3]);
  if (!rport) return makeError("conn: remote port: " + rport.error());
  c.remote_port = *rport;
  if (!canonicalAddress(t[4])) return makeError("conn: bad local address " + shown(t[4]));
  c.local_address = t[4];
  auto lport = parsePort(t[5]);
  if (!lport) return makeError("conn: local port: " + lport.error());
  c.local_port = *lport;
  auto since = parseUnsigned(t[6], kMaxSinceUnix);
  if (!since) return makeError("conn: since: " + since.error());
  c.since_unix = static_cast<int64_t>(*since);
  return c;
}

// Applies one "key value" figure line; false with a message on a bad value.
Status applyField(Field f, std::string_view v, AgentReport& r) {
  switch (f) {
    case kNode:
      if (!validName(v)) return makeError("bad name " + shown(v));
      r.node = v;
      return {};
    case kLoad: {
      auto d = parseFigure(v, kMaxLoadPerCpu);
      if (!d) return makeError(d.error());
      r.load_per_cpu = *d;
      return {};
    }
    case kSwap: {
      auto d = parseFigure(v, kMaxSwapInPerS);
      if (!d) return makeError(d.error());
      r.swap_in_per_s = *d;
      return {};
    }
    case kMem: {
      auto n = parseUnsigned(v, kMaxMemAvailableKib);
      if (!n) return makeError(n.error());
      r.mem_available_kib = *n;
      return {};
    }
    default: {
      auto n = parseUnsigned(v, kMaxSessionCount);
      if (!n) return makeError(n.error());
      (f == kRunning ? r.sessions_running : r.sessions_suspended) = static_cast<uint32_t>(*n);
      return {};
    }
  }
}

// One body line after the header.
Status parseLine(std::string_view line, unsigned& seen, AgentReport& r) {
  if (line.empty() || !printableLine(line)) return makeError("empty or non-printable line");
  auto t = splitTokens(line);
  for (auto tok : t) {
    if (tok.empty()) return makeError("empty field (double or trailing space)");
  }
  if (t[0] == "warning") {
    if (t.size() < 2) return makeError("warning: no text");
    if (r.warnings.size() >= kMaxWarnings) return makeError("too many warnings");
    std::string_view text = line.substr(std::string_view("warning ").size());
    if (text.size() > kMaxWarningChars) return makeError("warning too long");
    r.warnings.emplace_back(text);
    return {};
  }
  if (t[0] == "age_ms") {
    if (seen & kAge) return makeError("age_ms: duplicate field");
    if (t.size() != 2) return makeError("age_ms: needs exactly one value");
    seen |= kAge;
    auto n = parseUnsigned(t[1], kMaxAgeMs);
    if (!n) return makeError("age_ms: " + n.error());
    r.age_ms = *n;
    return {};
  }
  if (t[0] == "version") {
    if (seen & kVersion) return makeError("version: duplicate field");
    if (t.size() != 2) return makeError("version: needs exactly one value");
    seen |= kVersion;
    auto n = parseUnsigned(t[1], kMaxProtocolVersion);
    if (!n) return makeError("version: " + n.error());
    if (*n == 0) return makeError("version: 0");
    r.version = static_cast<uint32_t>(*n);
    return {};
  }
  if (t[0] == "conn") {
    if (r.connections.size() >= kMaxConnectionLines) return makeError("too many connections");
    auto c = parseConnection(t);
    if (!c) return makeError(c.error());
    r.connections.push_back(std::move(*c));
    return {};
  }
  if (t[0] == "session") {
    if (r.sessions.size() >= kMaxSessions) return makeError("too many sessions");
    auto s = parseSession(t);
    if (!s) return makeError(s.error());
    r.sessions.push_back(std::move(*s));
    return {};
  }
  for (const auto& f : kFields) {
    if (t[0] != f.name) continue;
    if (seen & f.bit) return makeError(std::string(f.name) + ": duplicate field");
    if (t.size() != 2) return makeError(std::string(f.name) + ": needs exactly one value");
    seen |= f.bit;
    auto st = applyField(f.bit, t[1], r);
    if (!st) return makeError(std::string(f.name) + ": " + st.error());
    return {};
  }
  // Unknown lower-case keys are skipped so version 1 can grow fields without breaking older
  // directors; "mac" inside the body is never legitimate.
  if (t[0] == "mac") return makeError("mac line inside the body");
  for (char c : t[0]) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return makeError("garbage line " + shown(line));
  }
  return {};
}

Status checkTotals(const AgentReport& r) {
  uint64_t running = 0;
  uint64_t suspended = 0;
  for (const auto& s : r.sessions) (s.suspended ? suspended : running)++;
  if (running > r.sessions_running || suspended > r.sessions_suspended) {
    return makeError("more sessions listed than counted");
  }
  return {};
}

// One TCP connection has one 4-tuple: a second line for it is a broken or forged report.
Status checkConnections(const AgentReport& r) {
  if (r.connections.empty()) return {};
  if (r.version < 2)
    return makeError("conn lines in a version " + std::to_string(r.version) + " reply");
  using Key = std::tuple<std::string_view, uint16_t, std::string_view, uint16_t>;
  std::vector<Key> keys;
  keys.reserve(r.connections.size());
  for (const auto& c : r.connections) {
    keys.emplace_back(c.remote_address, c.remote_port, c.local_address, c.local_port);
  }
  std::sort(keys.begin(), keys.end());
  auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup != keys.end()) {
    return makeError("duplicate connection " + std::string(std::get<0>(*dup)) + " port " +
                     std::to_string(std::get<1>(*dup)));
  }
  return {};
}

std::string connectionLine(const AgentConnection& c) {
  std::string line = "conn ";
  line.append(c.user).append(" ").append(c.remote_address).append(" ");
  line.append(std::to_string(c.remote_port)).append(" ").append(c.local_address).append(" ");
  line.append(std::to_string(c.local_port)).append(" ").append(std::to_string(c.since_unix));
  return line.append("\n");
}

bool encodableConnection(const AgentConnection& c) {
  return validName(c.user) && canonicalAddress(c.remote_address) &&
         canonicalAddress(c.local_address) && c.remote_port != 0 && c.local_port != 0 &&
         c.since_unix >= 0 && c.since_unix <= kMaxSinceUnix;
}

// Connection lines after everything else, bounded by count and by what keeps the signed reply
// within kMaxReplyBytes (with room left for the truncation warning and the mac line).
void appendConnections(const AgentReport& r, std::string& out) {
  constexpr std::string_view kTruncated = "warning connection list truncated\n";
  const size_t budget = kMaxReplyBytes - kMacPrefix.size() - kMacHexChars - 1 - kTruncated.size();
  size_t listed = 0;
  bool truncated = false;
  for (const auto& c : r.connections) {
    if (!encodableConnection(c)) continue;
    std::string line = connectionLine(c);
    if (listed == kMaxConnectionLines || out.size() + line.size() > budget) {
      truncated = true;
      break;
    }
    out.append(line);
    ++listed;
  }
  if (truncated && std::min(r.warnings.size(), kMaxWarnings) < kMaxWarnings) {
    out.append(kTruncated);
  }
}

}  // namespace

std::string_view toString(SessionKind k) {
  switch (k) {
    case SessionKind::kSsh:
      return "ssh";
    case SessionKind::kX2go:
      return "x2go";
    case SessionKind::kNx:
      return "nx";
    case SessionKind::kTmux:
      return "tmux";
  }
  return "ssh";
}

std::optional<SessionKind> parseSessionKind(std::string_view s) {
  for (auto k : {SessionKind::kSsh, SessionKind::kX2go, SessionKind::kNx, SessionKind::kTmux}) {
    if (s == toString(k)) return k;
  }
  return std::nullopt;
}

bool validName(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameChars) return false;
  for (char c : s) {
    if (c <= 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool validClientAddress(std::string_view s) {
  if (s == "-") return true;
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  std::string z(s);
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

bool canonicalAddress(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  std::string z(s);
  char buf[INET6_ADDRSTRLEN];
  in_addr a4{};
  if (inet_pton(AF_INET, z.c_str(), &a4) == 1) {
    return inet_ntop(AF_INET, &a4, buf, sizeof(buf)) && z == buf;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, z.c_str(), &a6) != 1 || IN6_IS_ADDR_V4MAPPED(&a6)) return false;
  return inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) && z == buf;
}

std::string sanitizeWarning(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (out.size() == kMaxWarningChars) break;
    bool space = c == ' ' || c == '\t' || c == '\n' || c < 0x20 || c > 0x7e;
    if (space) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      continue;
    }
    out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "?" : out;
}

std::string encodeRequest(std::string_view nonce, std::string_view director_id) {
  std::string id(director_id.substr(0, kMaxNameChars));
  for (char& c : id) {
    if (c <= 0x20 || c > 0x7e) c = '_';
  }
  if (id.empty()) id = "-";
  return std::string(kAgentMagic) + " " + std::string(nonce) + " " + id + "\n";
}

Result<AgentRequest> parseRequest(std::string_view line) {
  if (line.size() > kMaxRequestBytes) return makeError("request too long");
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!printableLine(line)) return makeError("request has non-printable bytes");
  auto t = splitTokens(line);
  if (t[0] != kAgentMagic) {
    return t[0].starts_with("TSDAGENT/") ? makeError("unsupported protocol version " + shown(t[0]))
                                         : makeError("not a tsdirector agent request");
  }
  if (t.size() != 3) return makeError("request needs a nonce and a director id");
  if (t[1].size() != kNonceHexChars || !isLowerHex(t[1])) return makeError("bad nonce");
  if (!validName(t[2])) return makeError("bad director id");
  return AgentRequest{std::string(t[1]), std::string(t[2])};
}

std::string encodeBody(const AgentReport& r, std::string_view nonce) {
  std::string out;
  out.reserve(256 + 64 * std::min(r.sessions.size(), kMaxSessions));
  out.append(kAgentMagic).append(kReplyTag).append(nonce).append("\n");
  out.append("node ").append(r.node).append("\n");
  out.append("load_per_cpu ").append(formatFigure(r.load_per_cpu)).append("\n");
  out.append("mem_available_kib ").append(std::to_string(r.mem_available_kib)).append("\n");
  out.append("swap_in_per_s ").append(formatFigure(r.swap_in_per_s)).append("\n");
  out.append("sessions_running ").append(std::to_string(r.sessions_running)).append("\n");
  out.append("sessions_suspended ").append(std::to_string(r.sessions_suspended)).append("\n");
  out.append("age_ms ").append(std::to_string(std::min(r.age_ms, kMaxAgeMs))).append("\n");
  const bool v2 = r.version >= 2;
  if (v2) {
    uint32_t v = std::min(r.version, kMaxProtocolVersion);
    out.append("version ").append(std::to_string(v)).append("\n");
  }
  for (size_t i = 0; i < r.warnings.size() && i < kMaxWarnings; ++i) {
    out.append("warning ").append(sanitizeWarning(r.warnings[i])).append("\n");
  }
  size_t listed = 0;
  for (const auto& s : r.sessions) {
    if (listed == kMaxSessions) break;
    // Defensive: an entry the parser would refuse would make the whole reply useless.
    if (!validName(s.user) || !validClientAddress(s.client_address) || s.since_unix < 0 ||
        s.since_unix > kMaxSinceUnix) {
      continue;
    }
    out.append("session ").append(s.user).append(" ").append(toString(s.kind));
    out.append(s.suspended ? " suspended " : " running ").append(s.client_address);
    out.append(" ").append(std::to_string(s.since_unix)).append("\n");
    ++listed;
  }
  if (v2) appendConnections(r, out);
  return out;
}

std::string signBody(std::string_view key, std::string_view nonce, std::string_view body) {
  std::string out(body);
  out.append(kMacPrefix).append(macHex(key, nonce, body)).append("\n");
  return out;
}

std::string encodeReply(std::string_view key, std::string_view nonce, const AgentReport& r) {
  return signBody(key, nonce, encodeBody(r, nonce));
}

Result<AgentReport> parseReplyBody(std::string_view body, std::string_view nonce) {
  size_t eol = body.find('\n');
  if (eol == std::string_view::npos) return makeError("no header line");
  std::string_view header = body.substr(0, eol);
  if (!header.starts_with(kAgentMagic)) {
    return header.starts_with("TSDAGENT/") ? makeError("unsupported protocol version")
                                           : makeError("not a tsdirector agent reply");
  }
  if (header.substr(kAgentMagic.size()) != std::string(kReplyTag) + std::string(nonce)) {
    return makeError("header does not carry this poll's nonce");
  }
  AgentReport r;
  unsigned seen = 0;
  size_t line_no = 1;
  for (size_t pos = eol + 1; pos < body.size();) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) return makeError("last body line has no newline");
    ++line_no;
    auto st = parseLine(body.substr(pos, end - pos), seen, r);
    if (!st) return makeError("line " + std::to_string(line_no) + ": " + st.error());
    pos = end + 1;
  }
  for (const auto& f : kFields) {
    if (!(seen & f.bit)) return makeError("missing field " + std::string(f.name));
  }
  if (auto st = checkTotals(r); !st) return makeError(st.error());
  if (auto st = checkConnections(r); !st) return makeError(st.error());
  return r;
}

Result<AgentReport> verifyAndParseReply(std::string_view key, std::string_view nonce,
                                        std::string_view reply) {
  if (reply.empty()) return makeError("empty reply");
  if (reply.size() > kMaxReplyBytes) return makeError("oversized reply");
  if (reply.back() != '\n') return makeError("truncated reply (no final newline)");
  size_t prev = reply.size() >= 2 ? reply.rfind('\n', reply.size() - 2) : std::string_view::npos;
  size_t start = prev == std::string_view::npos ? 0 : prev + 1;
  std::string_view mac_line = reply.substr(start, reply.size() - 1 - start);
  if (!mac_line.starts_with(kMacPrefix)) return makeError("truncated reply (no mac line)");
  std::string_view mac = mac_line.substr(kMacPrefix.size());
  if (mac.size() != kMacHexChars || !isLowerHex(mac)) return makeError("malformed mac line");
  std::string_view body = reply.substr(0, start);
  if (!macEquals(mac, macHex(key, nonce, body))) {
    // Reported apart only to help operators; both are rejected the same way.
    std::string expected = std::string(kAgentMagic) + std::string(kReplyTag) + std::string(nonce);
    bool other_nonce = body.starts_with(std::string(kAgentMagic) + std::string(kReplyTag)) &&
                       !body.starts_with(expected + "\n");
    return makeError(other_nonce ? "reply for another nonce (replayed or stale)"
                                 : "bad mac (wrong key or altered reply)");
  }
  return parseReplyBody(body, nonce);
}

}  // namespace tsd::health
