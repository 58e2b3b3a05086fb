// The decision order (DESIGN.md): manual choice -> session index -> sticky table -> scheduler,
// and the connection callbacks that keep counts, stickiness and forwarders.
#include "conf/log.h"
#include "director/director.h"
#include "director/health_monitor.h"
#include "director/userspace_forwarder.h"
#ifdef TSD_HAVE_BPF
#include "director/fast_path.h"
#include "director/kernel_forwarder.h"
#endif

namespace tsd::director {
namespace {
bool contains(const std::vector<uint32_t>& v, uint32_t id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}
}  // namespace

void Director::rebuildSnapshots() {
  auto now = SteadyClock::now();
  for (const auto& svc : cfg_->services) {
    auto snap = nodes_.snapshot(svc, *cfg_, now);
    ServiceRuntime& rt = services_[svc.name];
    conf::Algorithm alg = cfg_->algorithmFor(svc);
    // Keep the scheduler (and its rotation) unless the change matters to its algorithm.
    if (rt.scheduler && rt.algorithm == alg && !sched::needsRebuild(alg, *rt.snapshot, *snap)) {
      continue;
    }
    rt.snapshot = snap;
    rt.algorithm = alg;
    rt.scheduler = sched::makeScheduler(alg, snap, ++seed_);
  }
  for (auto& n : nodes_.all()) {
    n->status = nodes_.statusFor(*n, nullptr, *cfg_, now);
  }
  snapshots_dirty_ = false;
  figures_dirty_ = false;
  last_rebuild_ = now;
}

bool Director::usableForReturning(const NodeRuntime& n, const conf::ServiceConfig& svc,
                                  const std::vector<uint32_t>& tried) {
  if (n.removed || contains(tried, n.id)) return false;
  return health::acceptsReturning(nodes_.statusFor(n, &svc, *cfg_, SteadyClock::now()));
}

Decision Director::pickReturning(Connection& c, const std::vector<uint32_t>& tried) {
  const conf::ServiceConfig* svc = cfg_->findService(c.service());
  if (c.identity().empty() || svc == nullptr) return {};
  auto usable = [&](std::string_view name) {
    NodeRuntime* n = nodes_.find(name);
    return n != nullptr && usableForReturning(*n, *svc, tried);
  };
  if (auto m = sessions_->lookup(c.identity(), usable)) {
    if (m->ambiguous) ++stats_.ambiguous_sessions;
    return {nodes_.find(m->node), Reason::kSession};
  }
  auto now = sticky::StickyTable::Clock::now();
  if (auto node = sticky_.lookup(c.identity(), now)) {
    if (usable(*node)) return {nodes_.find(*node), Reason::kSticky};
    // The home node is down or gone: the user is re-placed (and re-stuck once connected).
    ++stats_.sticky_replaced;
  }
  return {};
}

NodeRuntime* Director::schedule(Connection& c, const std::vector<uint32_t>& tried) {
  constexpr auto kFigureRebuildEvery = std::chrono::seconds(1);
  if (snapshots_dirty_ ||
      (figures_dirty_ && SteadyClock::now() - last_rebuild_ >= kFigureRebuildEvery)) {
    rebuildSnapshots();
  }
  auto it = services_.find(c.service());
  if (it == services_.end() || !it->second.scheduler) return nullptr;
  sched::PickRequest req;
  req.key_hash = sched::hashKey(c.identity().empty() ? c.peer().hostString() : c.identity().key);
  req.active = nodes_.activeCounts();
  req.exclude = tried;
  auto id = it->second.scheduler->pick(req);
  return id ? nodes_.byId(*id) : nullptr;
}

Decision Director::decide(Connection& c, const std::vector<uint32_t>& tried) {
  const conf::ServiceConfig* svc = cfg_->findService(c.service());
  if (svc == nullptr) return {};
  Decision d;
  NodeRuntime* manual = c.manualNode();
  if (manual == nullptr && !c.sni().empty()) manual = nodes_.find(c.sni());
  if (manual != nullptr) {
    // A user's explicit choice: that node or nothing.
    if (!manual->removed && !contains(tried, manual->id) &&
        health::acceptsReturning(nodes_.statusFor(*manual, svc, *cfg_, SteadyClock::now()))) {
      d = {manual, Reason::kManual};
    } else if (c.manualNode() != nullptr) {
      return {};
    }
  }
  if (d.node == nullptr && svc->sticky_key != conf::StickyKey::kNone) d = pickReturning(c, tried);
  if (d.node == nullptr) {
    bool home_failed =
        !tried.empty() && (c.reason() == Reason::kSession || c.reason() == Reason::kSticky);
    d = {schedule(c, tried), home_failed ? Reason::kFallback : Reason::kScheduler};
  }
  if (d.node == nullptr) return d;
  if (!tried.empty()) ++stats_.retries;
  ++stats_.decisions[static_cast<int>(d.reason)];
  ++stats_.nodes[d.node->cfg.name].connect_attempts;
  nodes_.connectionStarted(*d.node);
  LOG_DEBUG("%s: %s identity=%s -> node %s (%s, attempt %zu)", c.service().c_str(),
            c.peer().toString().c_str(), c.identity().key.c_str(), d.node->cfg.name.c_str(),
            std::string(toString(d.reason)).c_str(), tried.size() + 1);
  return d;
}

void Director::connectFailed(Connection& c, NodeRuntime& node, const std::string& why,
                             bool node_fault) {
  nodes_.connectionEnded(node);
  if (!node_fault) {
    LOG_WARN("%s: %s: local error before reaching node %s: %s", c.service().c_str(),
             c.peer().toString().c_str(), node.cfg.name.c_str(), why.c_str());
    return;
  }
  ++stats_.nodes[node.cfg.name].connect_failures;
  ++node.connect_failures;
  LOG_INFO("%s: %s: node %s failed: %s", c.service().c_str(), c.peer().toString().c_str(),
           node.cfg.name.c_str(), why.c_str());
  if (health_) health_->passiveFailure(node, c.service());
}

std::unique_ptr<Forwarder> Director::connected(Connection& c, Forwarder::Done done) {
  NodeRuntime& node = *c.node();
  ++stats_.nodes[node.cfg.name].connections;
  if (health_) health_->passiveSuccess(node, c.service());
  const conf::ServiceConfig* svc = cfg_->findService(c.service());
  if (!c.identity().empty() && svc != nullptr && svc->sticky_key != conf::StickyKey::kNone &&
      c.reason() != Reason::kManual) {
    sticky_.assign(c.identity(), node.cfg.name, sticky::StickyTable::Clock::now());
    sticky_.connectionOpened(c.identity());
    c.sticky_open = true;
    sticky_dirty_ = true;
  }
#ifdef TSD_HAVE_BPF
  if (fast_path_) {
    auto kf = KernelForwarder::start(*fast_path_, base_, c.clientFd(), c.nodeFd(),
                                     cfg_->director.demote_bytes, done);
    if (kf.ok()) {
      ++stats_.fast_path_connections;
      return std::move(kf).value();
    }
    LOG_WARN("fast path hand-off failed, using user space: %s", kf.error().c_str());
  }
#endif
  ++stats_.userspace_connections;
  return demoted(c, HalfState{}, std::move(done));
}

std::unique_ptr<Forwarder> Director::demoted(Connection& c, const HalfState& hs,
                                             Forwarder::Done done) {
  if (c.demotedOnce()) ++stats_.demoted_connections;
  UserspaceForwarder::Options o;
  o.buffer_size =
      static_cast<uint32_t>(std::min<size_t>(cfg_->director.buffer_size, scratch_.size()));
  o.idle_timeout = cfg_->director.idle_timeout;
  o.scratch = &scratch_;
  return std::make_unique<UserspaceForwarder>(base_, c.clientFd(), c.nodeFd(), o, hs,
                                              std::move(done));
}

void Director::refused(Connection& c, Refusal why) {
  if (NodeRuntime* n = c.node()) nodes_.connectionEnded(*n);
  ServiceStats& ss = stats_.services[c.service()];
  switch (why) {
    case Refusal::kNoNode:
      ++ss.refused_no_node;
      break;
    case Refusal::kManualDown:
      ++ss.refused_manual_down;
      break;
    case Refusal::kConnectFailed:
      ++ss.failed_connect;
      break;
    case Refusal::kBadHello:
      ++ss.bad_hello;
      break;
    case Refusal::kHelloTimeout:
      ++ss.hello_timeout;
      break;
  }
  LOG_DEBUG("%s: %s closed without a node (%s)", c.service().c_str(), c.peer().toString().c_str(),
            why == Refusal::kNoNode ? "no eligible node" : "refused");
  release(c);
}

void Director::finished(Connection& c, ForwardEnd end, const ForwardStats& st) {
  if (NodeRuntime* n = c.node()) {
    nodes_.connectionEnded(*n);
    NodeStats& ns = stats_.nodes[n->cfg.name];
    ns.bytes_up += st.up;
    ns.bytes_down += st.down;
    if (n->removed && n->active == 0) nodes_.collect();
  }
  closed_bytes_.up += st.up;
  closed_bytes_.down += st.down;
  if (end == ForwardEnd::kReset) ++stats_.resets;
  if (end == ForwardEnd::kIdle) ++stats_.idle_timeouts;
  if (c.sticky_open) {
    sticky_.connectionClosed(c.identity(), sticky::StickyTable::Clock::now());
    sticky_dirty_ = true;
  }
  LOG_DEBUG("%s: %s closed: %llu bytes up, %llu down", c.service().c_str(),
            c.peer().toString().c_str(), static_cast<unsigned long long>(st.up),
            static_cast<unsigned long long>(st.down));
  release(c);
}

}  // namespace tsd::director
