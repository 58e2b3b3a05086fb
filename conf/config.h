// The configuration snapshot: parsed and validated once, then shared immutably
// (std::shared_ptr<const Config>). A reload builds a new one; nothing is edited in place.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/result.h"
#include "conf/sock_addr.h"

namespace tsd::conf {

using Duration = std::chrono::milliseconds;

enum class Algorithm {
  kRandom,
  kRoundRobin,
  kWeightedRoundRobin,
  kLeastConn,
  kWeightedLeastConn,
  kLeastLoad,
  kHash,
  kP2c,
};
enum class FastPath { kAuto, kEbpf, kUserspace };
enum class CheckKind { kNone, kTcp, kSsh, kAgent };
enum class StickyKey { kSrc, kSni, kNone };
enum class NodeState { kActive, kDrain, kMaint };
// A connection learned to be a user whose home is another node (docs/sticky.md).
enum class WrongNode { kKeep, kBounce };

// Names as written in the INI file ("weighted-roundrobin", "p2c", ...).
std::string_view toString(Algorithm a);
std::string_view toString(FastPath f);
std::string_view toString(CheckKind c);
std::string_view toString(StickyKey k);
std::string_view toString(NodeState s);
std::string_view toString(WrongNode w);
std::optional<Algorithm> parseAlgorithm(std::string_view s);
std::optional<FastPath> parseFastPath(std::string_view s);
std::optional<CheckKind> parseCheckKind(std::string_view s);
std::optional<StickyKey> parseStickyKey(std::string_view s);
std::optional<NodeState> parseNodeState(std::string_view s);
std::optional<WrongNode> parseWrongNode(std::string_view s);

struct DirectorConfig {
  Algorithm algorithm = Algorithm::kWeightedLeastConn;
  FastPath fast_path = FastPath::kAuto;
  Duration connect_timeout = std::chrono::seconds(3);
  int connect_attempts = 3;     // 1..16, distinct nodes tried per connection
  int max_connections = 10000;  // 1..10,000,000 client connections at once
  bool transparent = false;     // bind node sockets to the client address (IP_TRANSPARENT)
  std::string state_dir = "/var/lib/tsdirector";
  std::string user;          // drop privileges to this user after binding; empty: stay
  Duration idle_timeout{0};  // 0: off (desktops idle for hours)
  Duration stop_grace{0};    // SIGTERM: how long live connections may finish; 0: reset at once
  uint32_t buffer_size = 256 * 1024;  // user-space read size per direction, 16 KiB..4 MiB
  uint64_t demote_bytes = 4 << 20;    // fast path: queued bytes that hand a direction back
  Duration promote_after{200};        // fast path: user space first, kernel after this; 0: at once
};

struct ServiceConfig {
  std::string name;
  int line = 0;                        // line of the [service NAME] header
  std::vector<SockAddr> listen;        // one or more ADDR:PORT, IPv4 and IPv6
  uint16_t port = 22;                  // node port for this service when a node address has none
  std::optional<Algorithm> algorithm;  // overrides [director] algorithm
  CheckKind check = CheckKind::kTcp;
  StickyKey sticky_key = StickyKey::kSrc;
  std::optional<WrongNode> wrong_node;  // overrides [sticky] wrong_node
};

struct NodeConfig {
  std::string name;
  int line = 0;
  std::string host;              // IP literal as written
  std::optional<uint16_t> port;  // when absent, each service's port applies
  int weight = 1;                // 0..1000; 0 takes returning users only
  int max_sessions = 0;          // 0: unlimited
  NodeState state = NodeState::kActive;
  std::optional<SockAddr> manual_listen;  // connections here go to this node only
  // The node's address for a service (its own port or the service's port).
  SockAddr addressFor(const ServiceConfig& svc) const;
};

struct StickyConfig {
  int ipv4_prefix = 32;
  int ipv6_prefix = 64;
  Duration ttl = std::chrono::hours(8);
  uint32_t capacity = 100000;
  WrongNode wrong_node = WrongNode::kKeep;
  Duration bounce_window = std::chrono::seconds(5);  // only connections younger are bounced
  Duration bounce_ttl = std::chrono::seconds(60);    // how long a bounce pin waits for the retry
};

struct HealthConfig {
  Duration interval = std::chrono::seconds(2);
  Duration fast_interval = std::chrono::milliseconds(500);  // while a transition is pending
  Duration down_interval = std::chrono::seconds(5);         // while down
  Duration timeout = std::chrono::seconds(1);
  int rise = 2;
  int fall = 3;
  double max_load = 2.0;       // load average per CPU above which a node is Busy
  double max_swap_in = 100.0;  // pages swapped in per second above which it is Swapped
  Duration slow_response = std::chrono::milliseconds(500);  // check latency that means Slow
  Duration slowstart{0};  // ramp-up of a node that came back; 0: off
};

struct AgentConfig {
  uint16_t port = 7801;
  std::string key_file;  // shared key (hex or raw); required when any check = agent
  Duration poll = std::chrono::seconds(5);
  // A poll without a complete reply within this fails. Unset: 1 s, or poll if shorter.
  Duration timeout = std::chrono::seconds(1);
  Duration max_age = std::chrono::seconds(30);  // last good reply older than this: unknown
  Duration pollTimeout() const { return std::min(timeout, poll); }
};

struct MetricsConfig {
  std::optional<SockAddr> listen;  // default 127.0.0.1:9108; "off" disables
};

struct AdminConfig {
  std::string socket = "/run/tsdirector/admin.sock";  // empty: no admin socket
};

struct Config {
  std::string path;
  DirectorConfig director;
  std::vector<ServiceConfig> services;
  std::vector<NodeConfig> nodes;
  StickyConfig sticky;
  HealthConfig health;
  AgentConfig agent;
  MetricsConfig metrics;
  AdminConfig admin;

  // Where each key was set ("service ssh/listen" -> line), for messages about a later change.
  std::map<std::string, int, std::less<>> key_lines;

  const NodeConfig* findNode(std::string_view name) const;
  const ServiceConfig* findService(std::string_view name) const;
  // "FILE:LINE" of `key` in section `label` ("director", "service ssh"); "FILE" if unset.
  std::string location(std::string_view label, std::string_view key) const;
  Algorithm algorithmFor(const ServiceConfig& svc) const {
    return svc.algorithm.value_or(director.algorithm);
  }
  WrongNode wrongNodeFor(const ServiceConfig& svc) const {
    return svc.wrong_node.value_or(sticky.wrong_node);
  }
};

using ConfigPtr = std::shared_ptr<const Config>;

// Reads, parses and validates a file. Errors read "FILE:LINE: KEY: what is wrong".
Result<ConfigPtr> loadConfig(const std::string& path);
// Same, from text; `name` stands for the file name in messages.
Result<ConfigPtr> parseConfig(std::string_view text, const std::string& name);

// Value parsers, shared with the admin socket: "500ms", "2s", "8h", "1d"; "64k", "4M".
std::optional<Duration> parseDuration(std::string_view s);
std::optional<uint64_t> parseSize(std::string_view s);

}  // namespace tsd::conf
