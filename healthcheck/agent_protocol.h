// The director <-> tsdirector-agent wire protocol: a one-line request carrying a fresh nonce, a
// line-based reply authenticated with HMAC-SHA256 over nonce || body.
//
// Versions: the frame ("TSDAGENT/1" request and reply header) is unchanged since version 1;
// later versions only add lines, which a version-1 parser skips as unknown lower-case keys. A
// version-2 reply says "version 2" and lists "conn" lines. So there is nothing to negotiate: an
// old director reads a new agent's reply as version 1 (no connections), a new director reads an
// old agent's reply as version 1 (no version line, no connections), and neither side needs a
// second round trip or per-node state. An incompatible change would get a new magic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/result.h"
#include "healthcheck/agent_auth.h"

namespace tsd::health {

inline constexpr std::string_view kAgentMagic = "TSDAGENT/1";
inline constexpr size_t kMaxRequestBytes = 256;               // one request line, '\n' included
inline constexpr size_t kMaxReplyBytes = size_t{256} * 1024;  // whole reply, mac line included
inline constexpr size_t kMaxSessions = 1024;                  // session lines in one reply
inline constexpr size_t kMaxConnectionLines = 1024;           // conn lines in one reply
inline constexpr uint32_t kProtocolVersion = 2;               // what this code writes
inline constexpr uint32_t kMaxProtocolVersion = 65535;        // above: garbage, not a future
inline constexpr size_t kNonceHexChars = 32;                  // 16 random bytes
inline constexpr size_t kMacHexChars = 64;                    // HMAC-SHA256
inline constexpr size_t kMaxNameChars = 64;                   // node, user, director id
// Figures above these are absurd (a corrupt or hostile agent), not a busy node.
inline constexpr double kMaxLoadPerCpu = 1e4;
inline constexpr double kMaxSwapInPerS = 1e9;
inline constexpr uint64_t kMaxMemAvailableKib = uint64_t{1} << 40;  // 1 PiB
inline constexpr uint32_t kMaxSessionCount = 1000000;
inline constexpr int64_t kMaxSinceUnix = int64_t{1} << 36;  // year ~4147
inline constexpr uint64_t kMaxAgeMs = uint64_t{1} << 40;    // ~35 years: beyond it, absurd
inline constexpr size_t kMaxWarnings = 16;                  // warning lines in one reply
inline constexpr size_t kMaxWarningChars = 200;             // text of one warning line

enum class SessionKind { kSsh, kX2go, kNx, kTmux };
std::string_view toString(SessionKind k);
std::optional<SessionKind> parseSessionKind(std::string_view s);

struct AgentSession {
  std::string user;
  SessionKind kind = SessionKind::kSsh;
  bool suspended = false;
  std::string client_address;  // IP literal, or "-" when unknown
  int64_t since_unix = 0;      // 0: unknown
  bool operator==(const AgentSession&) const = default;
};

// One established TCP connection held by an authenticated sshd child, as the node sees it
// (protocol version 2; agents of version 1 send none). remote_* is the peer the node sees: the
// client in transparent mode, the director's own source address and port otherwise. The
// director matches (remote, local) against the 4-tuples of its live forwarded connections to
// learn which user each connection is.
struct AgentConnection {
  std::string user;
  std::string remote_address;  // IP literal
  uint16_t remote_port = 0;
  std::string local_address;  // IP literal (the node's address the connection arrived on)
  uint16_t local_port = 0;
  int64_t since_unix = 0;  // 0: unknown
  bool operator==(const AgentConnection&) const = default;
};

struct AgentReport {
  std::string node;
  // The protocol version the reply was written in (1 for agents that predate connections).
  uint32_t version = 1;
  double load_per_cpu = 0;
  uint64_t mem_available_kib = 0;
  double swap_in_per_s = 0;
  // Totals per state; the session list may be shorter (capped at kMaxSessions) but not longer.
  uint32_t sessions_running = 0;
  uint32_t sessions_suspended = 0;
  std::vector<AgentSession> sessions;
  // Version 2: every authenticated sshd connection with its endpoints (capped like sessions).
  std::vector<AgentConnection> connections;
  // How old the snapshot was when the reply was sent (0 from agents that predate the field):
  // the director dates the figures from the collection, not from the reply.
  uint64_t age_ms = 0;
  // What went wrong while collecting (a source that failed, timed out or printed garbage).
  std::vector<std::string> warnings;
  bool operator==(const AgentReport&) const = default;
};

// A warning as it can travel on one reply line: printable ASCII, single spaces, bounded.
std::string sanitizeWarning(std::string_view text);

struct AgentRequest {
  std::string nonce;        // kNonceHexChars lowercase hex digits
  std::string director_id;  // for the agent's log only; not authenticated
};

// "TSDAGENT/1 NONCE DIRECTOR_ID\n". director_id is sanitised to a token.
std::string encodeRequest(std::string_view nonce, std::string_view director_id);
// Accepts one line with or without its '\n'.
Result<AgentRequest> parseRequest(std::string_view line);

// The body lines (header, figures, sessions, connections) without the mac line. Sessions past
// kMaxSessions are left out; the totals still count them. A report of version >= 2 gets a
// "version" line and its connections (at most kMaxConnectionLines, and only as many as keep the
// reply under kMaxReplyBytes; a truncation adds a warning); a version-1 report gets neither.
std::string encodeBody(const AgentReport& report, std::string_view nonce);
// body + "mac HEX\n" where HEX = HMAC-SHA256(key, nonce || body).
std::string signBody(std::string_view key, std::string_view nonce, std::string_view body);
std::string encodeReply(std::string_view key, std::string_view nonce, const AgentReport& report);

// Checks size, framing and the MAC (constant time) first, then parses the body strictly.
// A reply made for another nonce (a replay) or with another key is rejected.
Result<AgentReport> verifyAndParseReply(std::string_view key, std::string_view nonce,
                                        std::string_view reply);
// The body parser alone (after the MAC was checked); exposed for the fuzz target and tests.
Result<AgentReport> parseReplyBody(std::string_view body, std::string_view nonce);

// Checks one session field set as it appears on a wire line / in the external command output.
bool validName(std::string_view s);
bool validClientAddress(std::string_view s);  // an IPv4/IPv6 literal or "-"
// An IP literal in the form inet_ntop writes it (IPv4 dotted quad, IPv6 compressed lowercase,
// never v4-mapped): connection endpoints are compared as text, so there is one spelling each.
bool canonicalAddress(std::string_view s);

}  // namespace tsd::health
