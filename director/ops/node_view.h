// One node as an operator or a greeter sees it, computed on demand from the director's tables;
// shared by the greeter JSON (/nodes), the admin `nodes` command and the metrics.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "director/control/director.h"
#include "healthcheck/node_status.h"

namespace tsd::director {

struct NodeView {
  struct Check {
    std::string service;
    bool known = false;
    bool up = false;
    double latency_seconds = 0;  // of the last successful check
    uint64_t ok = 0, failed = 0;
    std::string last_error;
  };
  std::string name;
  std::string address;
  health::NodeStatus status = health::NodeStatus::kDown;
  std::optional<double> load_per_cpu;  // fresh agent figures only
  std::optional<uint32_t> sessions;    // running + suspended, fresh agent figures only
  std::optional<uint32_t> sessions_running, sessions_suspended;  // the same split by state
  std::optional<uint64_t> mem_available_kib;                     // fresh agent figures only
  std::optional<double> swap_in_per_s;                           // fresh agent figures only
  std::optional<std::string> agent_node;     // the name the node's agent gave (untrusted text)
  std::optional<std::string> manual_listen;  // ADDR:PORT that sends clients to this node only
  uint32_t active = 0;                       // live connections through the director
  int weight = 0;                            // in effect (runtime override or file)
  int file_weight = 0;
  bool weight_runtime = false;
  double effective_weight = 0;  // what the scheduler uses; 0 when it takes no new sessions
  conf::NodeState state = conf::NodeState::kActive;  // in effect
  bool state_runtime = false;
  bool removed = false;  // gone from the config, live connections remain
  std::vector<Check> checks;
  uint64_t polls_ok = 0, polls_failed = 0, polls_rejected = 0;
  uint64_t polls_wrong_node = 0;  // replies naming another node (a misaddressed agent)
};

// Configured nodes, plus removed ones that still carry connections.
std::vector<NodeView> nodeViews(const Director& d);
void to_json(nlohmann::json& j, const NodeView& n);  // NOLINT: nlohmann's ADL name
// The body of GET /nodes: {"generation":N,"nodes":[...]}.
std::string nodesDocument(const Director& d);
// Compact JSON that never throws: invalid UTF-8 in names (from files or agents) is replaced.
std::string dumpJson(const nlohmann::json& j);

}  // namespace tsd::director
