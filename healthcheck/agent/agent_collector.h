// InventoryCollector: reads /proc and runs the session-source commands (with timeouts) on the
// node, feeding the pure parsers of agent_inventory.h. Used by tsdirector-agent only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "conf/result.h"
#include "healthcheck/agent/agent_inventory.h"
#include "healthcheck/agent_protocol.h"

namespace tsd::health {

struct CommandOutput {
  std::string out;         // stdout, at most max_output bytes
  int exit_code = -1;      // -1 when killed or not exited normally
  bool timed_out = false;  // killed (with its process group) at the deadline
  bool truncated = false;  // more than max_output bytes; the command was killed
};
// Runs argv[0] (looked up in PATH) with stdin and stderr on /dev/null, in its own process
// group; as as_uid (and its primary group) when given and the agent is root. Errors only when
// it cannot be started at all.
Result<CommandOutput> runCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout, size_t max_output = 1 << 20,
                                 std::optional<uid_t> as_uid = std::nullopt);
// The full path of an executable in PATH (or the name itself when it holds a '/'), or empty.
std::string findExecutable(const std::string& name);

struct CollectorOptions {
  std::string node_name;
  std::string sessions_command;  // run with /bin/sh -c; empty: none
  std::chrono::milliseconds command_timeout{2000};
  std::string proc_dir = "/proc";
  std::string tmux_tmpdir = "/tmp";  // where tmux keeps tmux-UID/ socket directories
  std::string x2go_command = "x2golistsessions_root";
  std::string tmux_command = "tmux";
  // The node's own addresses (nodes sharing one host): only sshd connections to them and tmux
  // sessions whose SSH_CONNECTION names one of them are reported. Empty: everything seen.
  std::vector<std::string> node_addresses;
  // A command source that fails (times out, exits non-zero, prints only garbage) is reported
  // from its last good output for this long, with a warning; then it is left out.
  std::chrono::milliseconds keep_for{30000};
};

class InventoryCollector {
 public:
  explicit InventoryCollector(CollectorOptions options);
  // One full snapshot. A source that fails is left out and described in warnings().
  AgentReport collect();
  // Re-reads the sshd logins alone (no command run) into a report of the last collect():
  // its connections, and its sessions with the fresh ssh ones and the last command sources'.
  void refreshLogins(AgentReport& r);
  // Problems seen by the last collect(), for the log.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  void collectFigures(AgentReport& r);
  SshLogins collectSsh(int64_t boot_unix);
  std::vector<AgentSession> collectX2go(int64_t now_unix);
  std::vector<AgentSession> collectTmux(const std::vector<AgentSession>& ssh);
  std::vector<AgentSession> collectExternal();
  void tmuxSocket(const std::string& socket, const std::string& user,
                  const std::vector<AgentSession>& ssh, std::vector<AgentSession>& out);
  // The last good output of a command source, reused for keep_for when the command fails.
  struct LastGood {
    std::vector<AgentSession> sessions;
    std::chrono::steady_clock::time_point at{};
    bool valid = false;
  };
  std::vector<AgentSession> fallback(LastGood& last, const std::string& what,
                                     const std::string& why);

  CollectorOptions options_;
  LastGood x2go_last_;
  LastGood external_last_;
  SwapInRate swap_;
  void assembleSessions(AgentReport& r, std::vector<AgentSession> ssh) const;

  ClientMemory memory_;
  std::vector<AgentSession> others_;  // the last collect()'s tmux, X2Go and command sessions
  std::vector<std::string> warnings_;
};

}  // namespace tsd::health
