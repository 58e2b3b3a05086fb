// ServiceTable: each configured service by id, with what the per-connection path needs
// precomputed when a config is applied (node addresses, the scheduler and its snapshot) and
// its counters. Ids are stable for the process lifetime; a removed service keeps its slot
// (and counters) and a re-added name gets its old id back.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "conf/config.h"
#include "director/base/types.h"
#include "director/control/stats.h"
#include "director/nodes/node_table.h"
#include "director/scheduler/scheduler.h"

namespace tsd::director {

struct ServiceRuntime {
  ServiceId id = 0;
  std::string name;
  bool removed = false;
  const conf::ServiceConfig* cfg = nullptr;  // in the director's current snapshot; null: removed
  conf::CheckKind check = conf::CheckKind::kTcp;
  std::vector<SockAddr> addresses;  // by node id: where this service's connections go
  std::shared_ptr<const sched::NodeSnapshot> snapshot;
  std::unique_ptr<sched::Scheduler> scheduler;  // pick() advances it: mutable state
  conf::Algorithm algorithm = conf::Algorithm::kRoundRobin;
  ServiceCounters counters;

  ServiceRef ref() const { return {id, check}; }
};

class ServiceTable {
 public:
  // Adds, updates and removes services; recomputes every node address. Returns the log lines
  // of what changed ("service x added", "service ssh: algorithm a -> b").
  std::vector<std::string> apply(const conf::Config& cfg, const NodeTable& nodes);
  // Rebuilds snapshots from the node table. A scheduler (and its rotation) is kept unless the
  // change matters to its algorithm (sched::needsRebuild).
  void rebuild(const conf::Config& cfg, const NodeTable& nodes, SteadyClock::time_point now);
  // A node's live count changed: every scheduler tracks counts (NodeTable::onActiveChanged).
  void activeChanged(NodeId node, uint32_t active);
  std::optional<NodeId> pick(ServiceId id, uint64_t key_hash, std::span<const NodeId> tried,
                             const std::vector<uint32_t>& active);

  ServiceRuntime* byId(ServiceId id) { return id < services_.size() ? &services_[id] : nullptr; }
  const ServiceRuntime* byId(ServiceId id) const {
    return id < services_.size() ? &services_[id] : nullptr;
  }
  ServiceRuntime* find(std::string_view name);
  const std::vector<ServiceRuntime>& all() const { return services_; }

 private:
  std::vector<ServiceRuntime> services_;
  uint64_t seed_ = 0;
};

}  // namespace tsd::director
