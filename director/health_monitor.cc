// Active checks and agent polls on per-task timers, with staggered starts and jittered intervals.
#include "director/health_monitor.h"

#include "conf/log.h"
#include "director/director.h"
#include "healthcheck/check_timing.h"

namespace tsd::director {

HealthMonitor::HealthMonitor(event_base* base, Director& director)
    : base_(base), director_(director), rng_(std::random_device{}()) {}

HealthMonitor::~HealthMonitor() = default;

void HealthMonitor::apply(const conf::Config& cfg) {
  cfg_ = director_.configPtr();
  key_.clear();
  if (!cfg.agent.key_file.empty()) {
    auto key = health::loadKey(cfg.agent.key_file);
    if (key.ok()) {
      key_ = *key;
    } else {
      LOG_ERROR("agent polls disabled: %s", key.error().c_str());
    }
  }
  tasks_.clear();
  std::vector<Task*> order;
  for (const auto& n : director_.nodes().all()) {
    if (n->removed) continue;
    for (const auto& svc : cfg.services) {
      if (svc.check == conf::CheckKind::kNone) continue;
      n->checks.try_emplace(svc.name, cfg.health);
      if (svc.check == conf::CheckKind::kAgent) continue;  // fed by the agent poll
      auto t = std::make_unique<Task>();
      t->node_id = n->id;
      t->service = svc.name;
      t->kind = svc.check;
      t->target = n->cfg.addressFor(svc);
      order.push_back(t.get());
      uint64_t id = next_id_++;
      t->id = id;
      tasks_[id] = std::move(t);
    }
    if (!key_.empty()) {
      auto t = std::make_unique<Task>();
      t->node_id = n->id;
      t->kind = conf::CheckKind::kAgent;
      auto addr = SockAddr::parseHost(n->cfg.host, cfg.agent.port);
      if (!addr.ok()) continue;
      t->target = *addr;
      order.push_back(t.get());
      uint64_t id = next_id_++;
      t->id = id;
      tasks_[id] = std::move(t);
    }
  }
  // Staggered first checks: a thousand nodes are not probed in one tick.
  for (size_t i = 0; i < order.size(); ++i) {
    Task* t = order[i];
    uint64_t id = t->id;
    t->timer = std::make_unique<Timer>(base_, [this, id] {
      if (Task* tk = task(id)) run(*tk);
    });
    conf::Duration interval = t->service.empty() ? cfg.agent.poll : cfg.health.interval;
    auto first = health::firstDelay(i, order.size(), interval);
    t->timer->arm(std::chrono::duration_cast<std::chrono::microseconds>(first));
  }
}

HealthMonitor::Task* HealthMonitor::task(uint64_t id) {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second.get();
}

void HealthMonitor::run(Task& t) {
  uint64_t id = t.id;
  if (t.service.empty()) {
    poller_.poll(base_, t.target, key_, cfg_->health.timeout,
                 [this, id](Result<health::AgentReport> r, std::chrono::microseconds lat) {
                   if (Task* tk = task(id)) onPoll(*tk, std::move(r), lat);
                 });
    return;
  }
  prober_.probe(base_, t.target, t.kind, cfg_->health.timeout,
                [this, id](bool ok, std::chrono::microseconds lat, std::string why) {
                  if (Task* tk = task(id)) onCheck(*tk, ok, lat, why);
                });
}

void HealthMonitor::schedule(Task& t, const health::HealthState* state) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  conf::Duration d;
  if (t.service.empty()) {
    d = cfg_->agent.poll;
  } else {
    d = health::nextDelay(cfg_->health, *state, u(rng_));
  }
  t.timer->arm(std::chrono::duration_cast<std::chrono::microseconds>(d));
}

void HealthMonitor::onCheck(Task& t, bool ok, std::chrono::microseconds latency,
                            const std::string& why) {
  NodeRuntime* n = director_.nodes().byId(t.node_id);
  if (n == nullptr) return;
  record(*n, t.service, ok, latency, why);
  schedule(t, &n->checks.at(t.service).state);
}

void HealthMonitor::record(NodeRuntime& n, const std::string& service, bool ok,
                           std::chrono::microseconds latency, const std::string& why) {
  auto it = n.checks.find(service);
  if (it == n.checks.end()) return;
  ServiceCheck& c = it->second;
  ok ? (++c.ok, ++counters_.checks_ok) : (++c.failed, ++counters_.checks_failed);
  if (ok) c.latency = latency;
  c.last_error = ok ? "" : why;
  health::Transition tr = c.state.onResult(ok);
  if (tr != health::Transition::kNone) logTransition(n, service, tr, why);
  // Latency changes can change Slow status, so snapshots follow every transition only.
}

void HealthMonitor::logTransition(const NodeRuntime& n, const std::string& service,
                                  health::Transition tr, const std::string& why) {
  ++counters_.transitions;
  NodeRuntime* rt = director_.nodes().byId(n.id);
  if (tr == health::Transition::kWentUp) {
    rt->up_since = SteadyClock::now();
    LOG_INFO("node %s is UP for %s", n.cfg.name.c_str(), service.c_str());
  } else {
    LOG_WARN("node %s is DOWN for %s: %s", n.cfg.name.c_str(), service.c_str(), why.c_str());
  }
  director_.nodesChanged();
}

void HealthMonitor::onPoll(Task& t, Result<health::AgentReport> r,
                           std::chrono::microseconds latency) {
  NodeRuntime* n = director_.nodes().byId(t.node_id);
  if (n == nullptr) return;
  bool ok = r.ok();
  if (ok) {
    ++counters_.polls_ok;
    ++n->polls_ok;
    n->report = std::move(r).value();
    n->report_time = SteadyClock::now();
    std::vector<sticky::SessionRef> refs;
    for (const auto& s : n->report->sessions) {
      refs.push_back({s.user, s.client_address, s.suspended, s.since_unix});
    }
    director_.sessionIndex().update(n->cfg.name, refs);
    director_.nodesChanged(false);  // figures move weights and statuses
  } else {
    bool rejected = AgentPoller::isRejection(r.error());
    ++(rejected ? counters_.polls_rejected : counters_.polls_failed);
    ++(rejected ? n->polls_rejected : n->polls_failed);
    LOG_DEBUG("agent poll of %s: %s", n->cfg.name.c_str(), r.error().c_str());
  }
  // Services checked by the agent take the poll as their health result.
  for (const auto& svc : cfg_->services) {
    if (svc.check == conf::CheckKind::kAgent) {
      record(*n, svc.name, ok, latency, ok ? "" : r.error());
    }
  }
  schedule(t, nullptr);
}

void HealthMonitor::passiveFailure(NodeRuntime& node, std::string_view service) {
  auto it = node.checks.find(service);
  if (it == node.checks.end()) return;  // no active check: passive alone cannot bring it back
  health::Transition tr = it->second.state.onPassiveFailure(cfg_->health.fall);
  if (tr != health::Transition::kNone) {
    logTransition(node, it->first, tr, "connect failures on live traffic");
  }
}

void HealthMonitor::passiveSuccess(NodeRuntime& node, std::string_view service) {
  auto it = node.checks.find(service);
  if (it != node.checks.end()) it->second.state.onPassiveSuccess();
}

}  // namespace tsd::director
