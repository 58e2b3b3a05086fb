// Pure parsers behind the agent's session inventory and figures: /proc text, sshd process
// titles, x2golistsessions_root, tmux and external-command output. Input is passed in so tests
// use fixture text; agent_collector.* does the reading and running.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/result.h"
#include "healthcheck/agent_protocol.h"

namespace tsd::health {

// /proc/loadavg: the 1-minute load average.
Result<double> parseLoadAvg(std::string_view text);
// /proc/meminfo: the MemAvailable line, in KiB.
Result<uint64_t> parseMemAvailableKib(std::string_view text);
// /proc/vmstat: the pswpin counter (pages swapped in since boot).
Result<uint64_t> parsePswpin(std::string_view text);

// Pages swapped in per second between two readings of pswpin. The first reading, a counter that
// went backwards, or no elapsed time give 0 (no evidence of swapping).
class SwapInRate {
 public:
  using Clock = std::chrono::steady_clock;
  double update(uint64_t pswpin, Clock::time_point now);

 private:
  std::optional<uint64_t> last_;
  Clock::time_point last_time_{};
};

inline constexpr int kTcpEstablished = 0x01;
inline constexpr int kTcpListen = 0x0A;

struct TcpSocket {
  std::string local_address;  // "10.0.0.1", "::1"; v4-mapped IPv6 shown as IPv4
  uint16_t local_port = 0;
  std::string remote_address;
  uint16_t remote_port = 0;
  int state = 0;
  uint64_t inode = 0;
};
// /proc/net/tcp or /proc/net/tcp6 (the address width tells which); bad lines are skipped.
std::vector<TcpSocket> parseProcNetTcp(std::string_view text);
// "0100007F" -> "127.0.0.1"; 32 hex digits -> IPv6. Empty on bad input.
std::string decodeProcAddress(std::string_view hex);

// What an sshd process title says. kUser ("USER@pts/N", "USER@notty") is the post-auth child of
// an authenticated connection; kPriv ("USER [priv]") is the monitor, which also exists before
// authentication succeeds, so it never makes a session on its own.
struct SshdTitle {
  enum Role { kPriv, kUser };
  std::string user;
  Role role = kUser;
};
bool isSshdComm(std::string_view comm);  // "sshd" or OpenSSH 9.8+'s "sshd-session"
// /proc/PID/cmdline (NUL-separated, possibly padded) of an sshd process.
std::optional<SshdTitle> parseSshdTitle(std::string_view cmdline);
// /proc/PID/stat: field 22, start time in clock ticks after boot.
std::optional<uint64_t> parseStartTicks(std::string_view stat);
// /proc/stat: the btime line (boot time, unix seconds).
std::optional<int64_t> parseBootTime(std::string_view text);

struct ProcInfo {
  int pid = 0;
  std::string comm;
  std::string cmdline;
  int64_t start_unix = 0;
  std::vector<uint64_t> socket_inodes;  // from /proc/PID/fd links "socket:[N]"
};
// One running ssh session per established TCP connection held by an authenticated sshd child.
// Connections whose local port is not one sshd listens on (port forwardings) are left out when
// the listening ports are known, and so are connections to an address that is not the node's
// when node_addresses is not empty (nodes sharing one host). since = earliest start of a
// process holding the connection.
std::vector<AgentSession> sshSessions(const std::vector<ProcInfo>& procs,
                                      const std::vector<TcpSocket>& sockets,
                                      const std::vector<std::string>& node_addresses = {});
// Both views of the same sshd walk: each login as a session (the client address) and as a
// connection (both endpoints as the node sees them, for the director's correlation; protocol
// version 2). The same filters apply to both, so every connection has its session and back.
struct SshLogins {
  std::vector<AgentSession> sessions;
  std::vector<AgentConnection> connections;
};
SshLogins sshLogins(const std::vector<ProcInfo>& procs, const std::vector<TcpSocket>& sockets,
                    const std::vector<std::string>& node_addresses = {});
// "::ffff:1.2.3.4" -> "1.2.3.4"; an invalid address -> "-".
std::string normalizeAddress(std::string_view s);
// One desktop, one session: an ssh connection that carries a running tmux, X2Go or NX session
// (same user, same client address) is the transport of that desktop, not a second session, so
// it is dropped from the list. Each desktop absorbs at most one ssh connection.
void mergeDesktops(std::vector<AgentSession>& sessions);

// x2golistsessions_root: '|'-separated, 1-based fields 2 session id, 5 state (R running,
// S suspended; others skipped), 8 client address, 12 user, 13 age in seconds.
std::vector<AgentSession> parseX2goList(std::string_view text, int64_t now_unix);

struct TmuxSession {
  std::string name;
  bool attached = false;
  int64_t created = 0;
};
// `tmux list-sessions -F '#{session_name} #{session_attached} #{session_created}'`; names may
// hold spaces, so the two numbers are taken from the right.
std::vector<TmuxSession> parseTmuxList(std::string_view text);
// `tmux show-environment ... SSH_CONNECTION` ("CLIENT CPORT SERVER SPORT") -> the client
// address, or empty; parseSshConnectionServer gives the server (node) address, or empty.
std::string parseSshConnection(std::string_view text);
std::string parseSshConnectionServer(std::string_view text);

// External command output: lines "USER KIND STATE CLIENT_ADDR SINCE_UNIX"; blank lines and
// lines starting with '#' are skipped, invalid ones counted.
struct ParsedSessions {
  std::vector<AgentSession> sessions;
  size_t bad_lines = 0;
};
ParsedSessions parseSessionLines(std::string_view text);

// The agent's memory of each user's most recent ssh client, so a detached tmux session still
// names the address its user came from after that ssh connection closed. Bounded.
class ClientMemory {
 public:
  static constexpr size_t kCapacity = 4096;
  void remember(const std::vector<AgentSession>& ssh_sessions);
  std::optional<std::string> lookup(const std::string& user) const;

 private:
  struct Seen {
    std::string address;
    int64_t since = 0;
  };
  std::map<std::string, Seen> by_user_;
};

// The client address reported for a tmux session: the user's most recent live ssh session's
// address, else the remembered one, else the tmux session's SSH_CONNECTION (env_address, only
// called when needed: it runs a command), else "-".
std::string tmuxClientAddress(const std::string& user, const std::vector<AgentSession>& ssh,
                              const ClientMemory& memory,
                              const std::function<std::string()>& env_address);

// Sets sessions_running / sessions_suspended from the session list.
void countSessions(AgentReport& report);

}  // namespace tsd::health
