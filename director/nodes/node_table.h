// NodeTable: what the director knows about each node at run time (health per service, agent
// figures, live connections, admin overrides, counters). Nodes are found by id on the
// per-connection path; names are resolved once, when a config is applied or by the admin.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "director/base/types.h"
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

// Per-node traffic counters; the stats sink writes them, metrics read them.
struct NodeCounters {
  uint64_t connections = 0;  // forwarded connections
  uint64_t connect_attempts = 0;
  uint64_t connect_failures = 0;  // attempts the node failed (not local errors)
  uint64_t bytes_up = 0;          // closed connections only; live bytes come from forwarders
  uint64_t bytes_down = 0;
};

// The service a status is asked for: its id (checks are indexed by it) and check kind.
struct ServiceRef {
  ServiceId id = kNoId;
  conf::CheckKind check = conf::CheckKind::kTcp;
};

struct NodeRuntime {
  NodeId id = 0;
  conf::NodeConfig cfg;
  bool removed = false;                        // gone from the config; kept while connections live
  std::optional<conf::NodeState> admin_state;  // runtime override (tsdirectorctl)
  std::optional<int> admin_weight;
  // Active checks by service id; null for services without a check (check = none).
  std::vector<std::unique_ptr<ServiceCheck>> checks;
  SteadyClock::time_point up_since{};
  // Agent figures: the last good report and when it came.
  std::optional<health::AgentReport> report;
  SteadyClock::time_point report_time{};
  uint64_t polls_ok = 0, polls_failed = 0, polls_rejected = 0;
  uint64_t polls_wrong_node = 0;  // valid replies that named another node (rejected)
  uint32_t active = 0;            // live client connections through this node (all services)
  NodeCounters counters;
  health::NodeStatus status = health::NodeStatus::kDown;  // for display, as of last rebuild

  conf::NodeState adminState() const { return admin_state.value_or(cfg.state); }
  int weight() const { return admin_weight.value_or(cfg.weight); }
  ServiceCheck* check(ServiceId s) { return s < checks.size() ? checks[s].get() : nullptr; }
  const ServiceCheck* check(ServiceId s) const {
    return s < checks.size() ? checks[s].get() : nullptr;
  }
  // Agent figures as the status derivation reads them (nullopt without a report).
  std::optional<health::Figures> figures() const;
};

// What applying a config did to the nodes, for the reload log.
struct NodeChanges {
  std::vector<NodeId> added;
  std::vector<NodeId> removed;
  std::vector<std::string> changed;            // "a: weight 1 -> 3", "b: address ... -> ..."
  std::vector<std::string> overrides_dropped;  // runtime state/weight the file now overrides
};

class NodeTable {
 public:
  // Applies a config: adds new nodes, updates existing ones (admin overrides are kept unless
  // the file changed that node), marks missing ones removed.
  NodeChanges apply(const conf::Config& cfg);

  // A configured (not removed) node by name; admin commands and config apply only.
  NodeRuntime* find(std::string_view name);
  const NodeRuntime* find(std::string_view name) const;
  NodeRuntime* byId(NodeId id) { return id < nodes_.size() ? nodes_[id].get() : nullptr; }
  const NodeRuntime* byId(NodeId id) const {
    return id < nodes_.size() ? nodes_[id].get() : nullptr;
  }
  const std::vector<std::unique_ptr<NodeRuntime>>& all() const { return nodes_; }
  // Live connection counts indexed by node id, for the schedulers.
  const std::vector<uint32_t>& activeCounts() const { return active_; }
  void connectionStarted(NodeRuntime& n);
  void connectionEnded(NodeRuntime& n);
  // Told every change of a live count (after activeCounts() has it): tracking schedulers keep
  // their own ordered copy instead of scanning activeCounts() on every pick.
  using ActiveListener = std::function<void(NodeId, uint32_t active)>;
  void onActiveChanged(ActiveListener l) { active_listener_ = std::move(l); }

  // Whether a node's health for a service is up (a service without checks: always).
  bool healthy(const NodeRuntime& n, ServiceRef svc) const;
  // svc nullopt: the node-level status a greeter shows (up when any service is up).
  health::NodeStatus statusFor(const NodeRuntime& n, std::optional<ServiceRef> svc,
                               const conf::Config& cfg, SteadyClock::time_point now) const;
  // Scheduler input for one service: nodes that may take new sessions.
  std::shared_ptr<const sched::NodeSnapshot> snapshot(ServiceRef svc, const conf::Config& cfg,
                                                      SteadyClock::time_point now) const;

 private:
  NodeId add(const conf::NodeConfig& nc);
  void update(NodeRuntime& n, const conf::NodeConfig& nc, NodeChanges& out);

  std::vector<std::unique_ptr<NodeRuntime>> nodes_;
  std::vector<uint32_t> active_;
  ActiveListener active_listener_;
  std::unordered_map<std::string, NodeId> live_;  // configured nodes by name
};

}  // namespace tsd::director
