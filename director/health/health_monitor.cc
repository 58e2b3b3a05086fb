// Active checks and agent polls on per-task timers, with staggered starts and jittered intervals.
#include "director/health/health_monitor.h"

#include <algorithm>
#include <set>

#include "conf/log.h"
#include "healthcheck/check_timing.h"

namespace tsd::director {

HealthMonitor::HealthMonitor(event_base* base, NodeTable& nodes, HealthEvents& events)
    : base_(base), nodes_(nodes), events_(events), rng_(std::random_device{}()) {}

HealthMonitor::~HealthMonitor() = default;

std::vector<HealthMonitor::Wanted> HealthMonitor::wanted(
    const std::vector<CheckedService>& services) {
  std::vector<Wanted> out;
  size_t max_id = 0;
  for (const auto& s : services) max_id = std::max<size_t>(max_id, s.id + 1);
  for (const auto& n : nodes_.all()) {
    if (n->removed) continue;
    if (n->checks.size() < max_id) n->checks.resize(max_id);
    std::vector<bool> checked(n->checks.size(), false);
    for (const auto& s : services) {
      if (s.cfg->check == conf::CheckKind::kNone) continue;
      checked[s.id] = true;
      auto& c = n->checks[s.id];
      if (!c) c = std::make_unique<ServiceCheck>(cfg_->health);
      c->state.setThresholds(cfg_->health.rise, cfg_->health.fall);
      if (s.cfg->check == conf::CheckKind::kAgent) continue;  // fed by the agent poll
      out.push_back({{n->id, s.id}, s.cfg->check, n->cfg.addressFor(*s.cfg)});
    }
    // Services gone or no longer checked: their state goes.
    for (size_t i = 0; i < n->checks.size(); ++i) {
      if (!checked[i]) n->checks[i].reset();
    }
    if (!key_.empty()) {
      auto addr = SockAddr::parseHost(n->cfg.host, cfg_->agent.port);
      if (addr.ok()) out.push_back({{n->id, kNoId}, conf::CheckKind::kAgent, *addr});
    }
  }
  return out;
}

void HealthMonitor::apply(conf::ConfigPtr cfg, const std::vector<CheckedService>& services,
                          std::string agent_key) {
  cfg_ = std::move(cfg);
  services_ = services;
  key_ = std::move(agent_key);
  std::set<TaskKey> keep;
  std::vector<Task*> fresh;
  for (Wanted& w : wanted(services)) {
    keep.insert(w.key);
    auto it = tasks_.find(w.key);
    if (it != tasks_.end() && it->second->kind == w.kind && it->second->target == w.target) {
      continue;  // unchanged: keeps its timer and its place in the rotation of checks
    }
    auto t = std::make_unique<Task>();
    t->id = next_id_++;
    t->key = w.key;
    t->kind = w.kind;
    t->target = w.target;
    fresh.push_back(t.get());
    tasks_[w.key] = std::move(t);
  }
  std::erase_if(tasks_, [&](const auto& kv) { return keep.count(kv.first) == 0; });
  // Staggered first checks: a thousand new nodes are not probed in one tick.
  for (size_t i = 0; i < fresh.size(); ++i) {
    Task* t = fresh[i];
    TaskKey key = t->key;
    uint64_t id = t->id;
    t->timer = std::make_unique<Timer>(base_, [this, key, id] {
      if (Task* tk = task(key, id)) run(*tk);
    });
    bool poll = key.second == kNoId;
    conf::Duration interval = poll ? cfg_->agent.poll : cfg_->health.interval;
    auto first = health::firstDelay(i, fresh.size(), interval);
    t->timer->arm(std::chrono::duration_cast<std::chrono::microseconds>(first));
  }
}

HealthMonitor::Task* HealthMonitor::task(TaskKey key, uint64_t id) {
  auto it = tasks_.find(key);
  return it == tasks_.end() || it->second->id != id ? nullptr : it->second.get();
}

void HealthMonitor::run(Task& t) {
  TaskKey key = t.key;
  uint64_t id = t.id;
  if (key.second == kNoId) {
    const NodeRuntime* n = nodes_.byId(key.first);
    poller_.poll(
        base_, t.target, key_, cfg_->agent.pollTimeout(),
        [this, key, id](PollResult r, std::chrono::microseconds lat) {
          if (Task* tk = task(key, id)) onPoll(*tk, std::move(r), lat);
        },
        n ? n->cfg.name : std::string());
    return;
  }
  prober_.probe(base_, t.target, t.kind, cfg_->health.timeout,
                [this, key, id](bool ok, std::chrono::microseconds lat, std::string why) {
                  if (Task* tk = task(key, id)) onCheck(*tk, ok, lat, why);
                });
}

void HealthMonitor::schedule(Task& t, const health::HealthState* state) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  conf::Duration d =
      state == nullptr ? cfg_->agent.poll : health::nextDelay(cfg_->health, *state, u(rng_));
  t.timer->arm(std::chrono::duration_cast<std::chrono::microseconds>(d));
}

void HealthMonitor::onCheck(Task& t, bool ok, std::chrono::microseconds latency,
                            const std::string& why) {
  NodeRuntime* n = nodes_.byId(t.key.first);
  if (n == nullptr) return;
  record(*n, t.key.second, ok, latency, why);
  const ServiceCheck* c = n->check(t.key.second);
  if (c == nullptr) return;
  schedule(t, &c->state);
}

void HealthMonitor::record(NodeRuntime& n, ServiceId service, bool ok,
                           std::chrono::microseconds latency, const std::string& why) {
  ServiceCheck* c = n.check(service);
  if (c == nullptr) return;
  ok ? (++c->ok, ++counters_.checks_ok) : (++c->failed, ++counters_.checks_failed);
  if (ok) c->latency = latency;
  c->last_error = ok ? "" : why;
  health::Transition tr = c->state.onResult(ok);
  if (tr != health::Transition::kNone) logTransition(n, service, tr, why);
  // Latency changes can change Slow status, so snapshots follow every transition only.
}

std::string HealthMonitor::serviceName(ServiceId id) const {
  for (const auto& s : services_) {
    if (s.id == id) return s.cfg->name;  // logs only
  }
  return "?";
}

void HealthMonitor::logTransition(NodeRuntime& n, ServiceId service, health::Transition tr,
                                  const std::string& why) {
  ++counters_.transitions;
  std::string svc = serviceName(service);
  if (tr == health::Transition::kWentUp) {
    n.up_since = SteadyClock::now();
    LOG_INFO("node %s is UP for %s", n.cfg.name.c_str(), svc.c_str());
  } else {
    LOG_WARN("node %s is DOWN for %s: %s", n.cfg.name.c_str(), svc.c_str(), why.c_str());
  }
  events_.nodesChanged(true);
}

void HealthMonitor::onPoll(Task& t, PollResult r, std::chrono::microseconds latency) {
  NodeRuntime* n = nodes_.byId(t.key.first);
  if (n == nullptr) return;
  bool ok = r.ok();
  if (ok) {
    ++counters_.polls_ok;
    ++n->polls_ok;
    misnamed_.erase(n->id);
    n->report = std::move(r.report());
    // The figures are as old as the agent's snapshot: max_age counts from its collection.
    auto age = std::chrono::milliseconds(n->report->age_ms);
    n->report_time = SteadyClock::now() - std::chrono::duration_cast<SteadyClock::duration>(age);
    if (!n->report->warnings.empty()) {
      LOG_DEBUG("agent of %s warns: %s", n->cfg.name.c_str(), n->report->warnings[0].c_str());
    }
    events_.inventory(*n, *n->report);
    events_.nodesChanged(false);  // figures move weights and statuses
  } else if (r.kind() == PollError::kWrongNode) {
    ++counters_.polls_wrong_node;
    ++n->polls_wrong_node;
    // Once per node and misreported name: a misconfigured agent answers every poll.
    if (misnamed_[n->id] != r.error()) {
      LOG_WARN("agent poll of %s rejected: %s", n->cfg.name.c_str(), r.error().c_str());
      misnamed_[n->id] = r.error();
    }
  } else {
    bool rejected = r.kind() == PollError::kRejected;
    ++(rejected ? counters_.polls_rejected : counters_.polls_failed);
    ++(rejected ? n->polls_rejected : n->polls_failed);
    LOG_DEBUG("agent poll of %s: %s", n->cfg.name.c_str(), r.error().c_str());
  }
  // Services checked by the agent take the poll as their health result.
  for (const auto& svc : services_) {
    if (svc.cfg->check == conf::CheckKind::kAgent) {
      record(*n, svc.id, ok, latency, ok ? "" : r.error());
    }
  }
  schedule(t, nullptr);
}

bool HealthMonitor::pollSoon(NodeId node, std::chrono::milliseconds delay) {
  if (key_.empty() || tasks_.count({node, kNoId}) == 0) return false;
  auto at = SteadyClock::now() + delay;
  Soon& s = soon_[node];
  for (auto d : s.due) {
    if (d - at < kSoonSpacing && at - d < kSoonSpacing) return false;  // merged
  }
  if (s.due.size() >= kMaxSoon) return false;
  s.due.insert(std::upper_bound(s.due.begin(), s.due.end(), at), at);
  if (!s.timer) s.timer = std::make_unique<Timer>(base_, [this, node] { runSoon(node); });
  armSoon(node, s);
  return true;
}

void HealthMonitor::armSoon(NodeId, Soon& s) {
  if (s.due.empty()) return s.timer->cancel();
  auto wait = std::max(s.due.front() - SteadyClock::now(), SteadyClock::duration::zero());
  s.timer->arm(std::chrono::duration_cast<std::chrono::microseconds>(wait));
}

void HealthMonitor::runSoon(NodeId node) {
  auto it = soon_.find(node);
  if (it == soon_.end()) return;
  Soon& s = it->second;
  auto now = SteadyClock::now();
  size_t popped = 0;
  for (; !s.due.empty() && s.due.front() <= now; ++popped) s.due.erase(s.due.begin());
  armSoon(node, s);
  if (popped == 0) return;  // fired a hair early: the re-armed timer polls
  auto t = tasks_.find({node, kNoId});
  if (t == tasks_.end()) return;  // the node or its agent went away
  ++soon_polls_;
  run(*t->second);
}

void HealthMonitor::passiveFailure(NodeRuntime& node, ServiceId service) {
  ServiceCheck* c = node.check(service);
  if (c == nullptr) return;  // no active check: passive alone cannot bring it back
  health::Transition tr = c->state.onPassiveFailure(cfg_->health.fall);
  if (tr != health::Transition::kNone) {
    logTransition(node, service, tr, "connect failures on live traffic");
  }
}

void HealthMonitor::passiveSuccess(NodeRuntime& node, ServiceId service) {
  if (ServiceCheck* c = node.check(service)) c->state.onPassiveSuccess();
}

}  // namespace tsd::director
