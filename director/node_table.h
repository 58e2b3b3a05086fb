// NodeTable: what the director knows about each node at run time (health per service, agent
// figures, live connections, admin overrides). Node ids are stable for the process lifetime;
// a node removed by a reload keeps its slot until its last connection ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "director/scheduler/scheduler.h"
#include "healthcheck/agent_protocol.h"
#include "healthcheck/health_state.h"
#include "healthcheck/node_status.h"

namespace tsd::director {

using SteadyClock = std::chrono::steady_clock;

struct ServiceCheck {
  explicit ServiceCheck(const conf::HealthConfig& h) : state(h.rise, h.fall) {}
  health::HealthState state;
  std::chrono::microseconds latency{0};
  std::string last_error;
  uint64_t ok = 0;
  uint64_t failed = 0;
};

struct NodeRuntime {
  uint32_t id = 0;
  conf::NodeConfig cfg;
  bool removed = false;                        // gone from the config; kept while connections live
  std::optional<conf::NodeState> admin_state;  // runtime override (tsdirectorctl)
  std::optional<int> admin_weight;
  // Active checks per service name; "unchecked" services (check = none) are absent.
  std::map<std::string, ServiceCheck, std::less<>> checks;
  SteadyClock::time_point up_since{};
  // Agent figures: the last good report and when it came.
  std::optional<health::AgentReport> report;
  SteadyClock::time_point report_time{};
  uint64_t polls_ok = 0, polls_failed = 0, polls_rejected = 0;
  uint32_t active = 0;  // live client connections through this node (all services)
  uint64_t connect_failures = 0;
  health::NodeStatus status = health::NodeStatus::kDown;  // for display, as of last rebuild

  conf::NodeState adminState() const { return admin_state.value_or(cfg.state); }
  int weight() const { return admin_weight.value_or(cfg.weight); }
};

class NodeTable {
 public:
  // Applies a config: adds new nodes, updates existing ones (admin overrides are kept unless
  // the file changed that node), marks missing ones removed. Returns names of removed nodes.
  std::vector<std::string> apply(const conf::Config& cfg);

  NodeRuntime* find(std::string_view name);
  NodeRuntime* byId(uint32_t id) { return id < nodes_.size() ? nodes_[id].get() : nullptr; }
  const std::vector<std::unique_ptr<NodeRuntime>>& all() const { return nodes_; }
  // Live connection counts indexed by node id, for the schedulers.
  const std::vector<uint32_t>& activeCounts() const { return active_; }
  void connectionStarted(NodeRuntime& n);
  void connectionEnded(NodeRuntime& n);
  // Drops removed nodes whose last connection has ended (slots are reused never).
  void collect();

  // Whether a node's health for a service is up (a service without checks: up unless the
  // node has passive failures recorded in its "" check).
  bool healthy(const NodeRuntime& n, const conf::ServiceConfig& svc) const;
  health::NodeStatus statusFor(const NodeRuntime& n, const conf::ServiceConfig* svc,
                               const conf::Config& cfg, SteadyClock::time_point now) const;
  // Scheduler input for one service: nodes that may take new sessions.
  std::shared_ptr<const sched::NodeSnapshot> snapshot(const conf::ServiceConfig& svc,
                                                      const conf::Config& cfg,
                                                      SteadyClock::time_point now) const;

 private:
  std::vector<std::unique_ptr<NodeRuntime>> nodes_;
  std::vector<uint32_t> active_;
};

}  // namespace tsd::director
