// Node bookkeeping, node status and the per-service scheduler snapshot.
#include "director/nodes/node_table.h"

#include <algorithm>

namespace tsd::director {
namespace {

std::string addressText(const conf::NodeConfig& n) {
  return n.port ? n.host + ":" + std::to_string(*n.port) : n.host;
}

}  // namespace

std::optional<health::Figures> NodeRuntime::figures() const {
  if (!report) return std::nullopt;
  return health::Figures{report->load_per_cpu, report->swap_in_per_s, report->mem_available_kib,
                         report->sessions_running + report->sessions_suspended};
}

NodeId NodeTable::add(const conf::NodeConfig& nc) {
  auto fresh = std::make_unique<NodeRuntime>();
  fresh->id = static_cast<NodeId>(nodes_.size());
  fresh->cfg = nc;
  live_[nc.name] = fresh->id;
  nodes_.push_back(std::move(fresh));
  active_.push_back(0);
  return nodes_.back()->id;
}

void NodeTable::update(NodeRuntime& n, const conf::NodeConfig& nc, NodeChanges& out) {
  // A runtime override survives a reload unless the file changed that setting.
  if (n.cfg.state != nc.state && n.admin_state) {
    out.overrides_dropped.push_back(
        nc.name + ": runtime state " + std::string(conf::toString(*n.admin_state)) +
        " replaced by the file's " + std::string(conf::toString(nc.state)));
    n.admin_state.reset();
  }
  if (n.cfg.weight != nc.weight && n.admin_weight) {
    out.overrides_dropped.push_back(nc.name + ": runtime weight " +
                                    std::to_string(*n.admin_weight) + " replaced by the file's " +
                                    std::to_string(nc.weight));
    n.admin_weight.reset();
  }
  if (n.cfg.weight != nc.weight) {
    out.changed.push_back(nc.name + ": weight " + std::to_string(n.cfg.weight) + " -> " +
                          std::to_string(nc.weight));
  }
  if (n.cfg.state != nc.state) {
    out.changed.push_back(nc.name + ": state " + std::string(conf::toString(n.cfg.state)) + " -> " +
                          std::string(conf::toString(nc.state)));
  }
  if (n.cfg.max_sessions != nc.max_sessions) {
    out.changed.push_back(nc.name + ": max_sessions " + std::to_string(n.cfg.max_sessions) +
                          " -> " + std::to_string(nc.max_sessions));
  }
  bool moved = n.cfg.host != nc.host || n.cfg.port != nc.port;
  if (moved) {
    out.changed.push_back(nc.name + ": address " + addressText(n.cfg) + " -> " + addressText(nc));
    n.checks.clear();  // a new address must prove itself again
    n.report.reset();
  }
  n.cfg = nc;
}

NodeChanges NodeTable::apply(const conf::Config& cfg) {
  NodeChanges out;
  for (auto& n : nodes_) {
    if (!n->removed && cfg.findNode(n->cfg.name) == nullptr) {
      n->removed = true;
      live_.erase(n->cfg.name);
      out.removed.push_back(n->id);
    }
  }
  for (const auto& nc : cfg.nodes) {
    NodeRuntime* n = find(nc.name);
    if (n == nullptr) {
      out.added.push_back(add(nc));
    } else {
      update(*n, nc, out);
    }
  }
  return out;
}

NodeRuntime* NodeTable::find(std::string_view name) {
  auto it = live_.find(std::string(name));
  return it == live_.end() ? nullptr : nodes_[it->second].get();
}

const NodeRuntime* NodeTable::find(std::string_view name) const {
  auto it = live_.find(std::string(name));
  return it == live_.end() ? nullptr : nodes_[it->second].get();
}

void NodeTable::connectionStarted(NodeRuntime& n) {
  ++n.active;
  active_[n.id] = n.active;
  if (active_listener_) active_listener_(n.id, n.active);
}

void NodeTable::connectionEnded(NodeRuntime& n) {
  if (n.active > 0) --n.active;
  active_[n.id] = n.active;
  if (active_listener_) active_listener_(n.id, n.active);
  // A removed node's last connection: its checks and figures are of no more use.
  if (n.removed && n.active == 0) {
    n.checks.clear();
    n.report.reset();
  }
}

bool NodeTable::healthy(const NodeRuntime& n, ServiceRef svc) const {
  const ServiceCheck* c = n.check(svc.id);
  if (c == nullptr) return svc.check == conf::CheckKind::kNone;
  // Before its first check a node counts as up (as HAProxy starts servers): a restarted
  // director must not turn users away for an interval. Connect retries cover a dead one.
  return !c->state.known() || c->state.up();
}

health::NodeStatus NodeTable::statusFor(const NodeRuntime& n, std::optional<ServiceRef> svc,
                                        const conf::Config& cfg,
                                        SteadyClock::time_point now) const {
  health::StatusInput in{};
  in.health_known = true;
  if (svc) {
    in.health_up = healthy(n, *svc);
    if (const ServiceCheck* c = n.check(svc->id)) {
      in.check_latency = std::chrono::duration_cast<conf::Duration>(c->latency);
    }
  } else {
    // Node-level status (greeters): up when any service's check is up, or when some service
    // is not checked at all.
    bool any_check = false;
    for (const auto& c : n.checks) {
      if (!c) continue;
      any_check = true;
      in.health_up |= !c->state.known() || c->state.up();
      in.check_latency =
          std::max(in.check_latency, std::chrono::duration_cast<conf::Duration>(c->latency));
    }
    if (!any_check) {
      in.health_up = std::any_of(cfg.services.begin(), cfg.services.end(),
                                 [](const auto& s) { return s.check == conf::CheckKind::kNone; });
    }
  }
  if (n.removed) in.health_up = false;
  in.admin = n.adminState();
  // With agents configured, a node without a fresh report has unknown load (never Idle).
  in.figures_expected = !cfg.agent.key_file.empty();
  in.figures = n.figures();
  in.figures_fresh = n.report && now - n.report_time <= cfg.agent.max_age;
  in.active_connections = n.active;
  in.max_sessions = static_cast<uint32_t>(n.cfg.max_sessions);
  return health::deriveStatus(in, cfg.health);
}

std::shared_ptr<const sched::NodeSnapshot> NodeTable::snapshot(ServiceRef svc,
                                                               const conf::Config& cfg,
                                                               SteadyClock::time_point now) const {
  auto snap = std::make_shared<sched::NodeSnapshot>();
  for (const auto& n : nodes_) {
    if (n->removed || n->weight() <= 0) continue;
    health::NodeStatus st = statusFor(*n, svc, cfg, now);
    // A full node (max_sessions) is Busy here but the schedulers also check counts live.
    bool full = n->cfg.max_sessions > 0 && n->active >= static_cast<uint32_t>(n->cfg.max_sessions);
    if (!health::acceptsNew(st) && !(full && st == health::NodeStatus::kBusy)) continue;
    bool fresh = n->report && now - n->report_time <= cfg.agent.max_age;
    std::optional<health::Figures> fig = n->figures();
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
