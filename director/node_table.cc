// Node bookkeeping and the per-service scheduler snapshot.
#include "director/node_table.h"

#include <algorithm>

namespace tsd::director {

std::vector<std::string> NodeTable::apply(const conf::Config& cfg) {
  std::vector<std::string> removed;
  for (auto& n : nodes_) {
    if (!n->removed && cfg.findNode(n->cfg.name) == nullptr) {
      n->removed = true;
      removed.push_back(n->cfg.name);
    }
  }
  for (const auto& nc : cfg.nodes) {
    NodeRuntime* n = find(nc.name);
    if (n == nullptr || n->removed) {
      if (n != nullptr) n->cfg.name += "\x01gone";  // a re-added name gets a fresh node
      auto fresh = std::make_unique<NodeRuntime>();
      fresh->id = static_cast<uint32_t>(nodes_.size());
      fresh->cfg = nc;
      nodes_.push_back(std::move(fresh));
      active_.push_back(0);
      continue;
    }
    // A runtime override survives a reload unless the file changed that setting.
    if (n->cfg.state != nc.state) n->admin_state.reset();
    if (n->cfg.weight != nc.weight) n->admin_weight.reset();
    bool moved = n->cfg.host != nc.host || n->cfg.port != nc.port;
    n->cfg = nc;
    if (moved) {
      n->checks.clear();  // a new address must prove itself again
      n->report.reset();
    }
  }
  // Health thresholds may have changed; keep states, drop checks of vanished services.
  for (auto& n : nodes_) {
    for (auto it = n->checks.begin(); it != n->checks.end();) {
      if (cfg.findService(it->first) == nullptr) {
        it = n->checks.erase(it);
      } else {
        it->second.state.setThresholds(cfg.health.rise, cfg.health.fall);
        ++it;
      }
    }
  }
  return removed;
}

NodeRuntime* NodeTable::find(std::string_view name) {
  for (auto& n : nodes_) {
    if (n->cfg.name == name && !n->removed) return n.get();
  }
  for (auto& n : nodes_) {
    if (n->cfg.name == name) return n.get();
  }
  return nullptr;
}

void NodeTable::connectionStarted(NodeRuntime& n) {
  ++n.active;
  active_[n.id] = n.active;
}

void NodeTable::connectionEnded(NodeRuntime& n) {
  if (n.active > 0) --n.active;
  active_[n.id] = n.active;
}

void NodeTable::collect() {
  // Ids index active_, so slots stay; only the configuration copy of a dead node is trimmed.
  for (auto& n : nodes_) {
    if (n->removed && n->active == 0) n->checks.clear();
  }
}

bool NodeTable::healthy(const NodeRuntime& n, const conf::ServiceConfig& svc) const {
  auto it = n.checks.find(svc.name);
  if (it == n.checks.end()) return svc.check == conf::CheckKind::kNone;
  // Before its first check a node counts as up (as HAProxy starts servers): a restarted
  // director must not turn users away for an interval. Connect retries cover a dead one.
  return !it->second.state.known() || it->second.state.up();
}

health::NodeStatus NodeTable::statusFor(const NodeRuntime& n, const conf::ServiceConfig* svc,
                                        const conf::Config& cfg,
                                        SteadyClock::time_point now) const {
  health::StatusInput in{};
  if (svc != nullptr) {
    auto it = n.checks.find(svc->name);
    in.health_known = true;
    in.health_up = healthy(n, *svc);
    if (it != n.checks.end()) {
      in.check_latency = std::chrono::duration_cast<conf::Duration>(it->second.latency);
    }
  } else {
    // Node-level status (greeters): up when any service's check is up.
    in.health_known = false;
    for (const auto& [name, c] : n.checks) {
      in.health_known = true;
      in.health_up |= !c.state.known() || c.state.up();
      in.check_latency =
          std::max(in.check_latency, std::chrono::duration_cast<conf::Duration>(c.latency));
    }
    if (n.checks.empty()) {
      in.health_known = true;
      in.health_up = std::any_of(cfg.services.begin(), cfg.services.end(),
                                 [](const auto& s) { return s.check == conf::CheckKind::kNone; });
    }
  }
  if (n.removed) in.health_up = false;
  in.admin = n.adminState();
  // With agents configured, a node without a fresh report has unknown load (never Idle).
  in.figures_expected = !cfg.agent.key_file.empty();
  if (n.report) {
    in.figures = health::Figures{n.report->load_per_cpu, n.report->swap_in_per_s,
                                 n.report->mem_available_kib,
                                 n.report->sessions_running + n.report->sessions_suspended};
    in.figures_fresh = now - n.report_time <= cfg.agent.max_age;
  }
  in.active_connections = n.active;
  in.max_sessions = static_cast<uint32_t>(n.cfg.max_sessions);
  return health::deriveStatus(in, cfg.health);
}

std::shared_ptr<const sched::NodeSnapshot> NodeTable::snapshot(const conf::ServiceConfig& svc,
                                                               const conf::Config& cfg,
                                                               SteadyClock::time_point now) const {
  auto snap = std::make_shared<sched::NodeSnapshot>();
  for (const auto& n : nodes_) {
    if (n->removed || n->weight() <= 0) continue;
    health::NodeStatus st = statusFor(*n, &svc, cfg, now);
    // A full node (max_sessions) is Busy here but the schedulers also check counts live.
    bool full = n->cfg.max_sessions > 0 && n->active >= static_cast<uint32_t>(n->cfg.max_sessions);
    if (!health::acceptsNew(st) && !(full && st == health::NodeStatus::kBusy)) continue;
    bool fresh = n->report && now - n->report_time <= cfg.agent.max_age;
    std::optional<health::Figures> fig;
    if (n->report) {
      fig = health::Figures{n->report->load_per_cpu, n->report->swap_in_per_s,
                            n->report->mem_available_kib,
                            n->report->sessions_running + n->report->sessions_suspended};
    }
    auto since_up = std::chrono::duration_cast<conf::Duration>(now - n->up_since);
    sched::SchedNode sn{};
    sn.id = n->id;
    sn.name = n->cfg.name;
    sn.weight = health::effectiveWeight(n->weight(), fig, fresh, cfg.health, since_up,
                                        cfg.health.slowstart);
    sn.load = (fig && fresh) ? fig->load_per_cpu : -1.0;
    sn.max_sessions = static_cast<uint32_t>(n->cfg.max_sessions);
    sn.degraded = health::degraded(st);
    snap->nodes.push_back(sn);
  }
  return snap;
}

}  // namespace tsd::director
