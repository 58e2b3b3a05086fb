// Director lifecycle: start, reload (prepare, plan, then apply the difference), shutdown, and
// the admin actions that change runtime state.
#include "director/control/director.h"

#include "conf/log.h"
#include "director/control/reload_plan.h"

namespace tsd::director {
namespace {

// "1 service", "2 services": log and check-config lines read as sentences.
std::string counted(size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

Director::Director(event_base* base, std::string config_path)
    : base_(base), config_path_(std::move(config_path)), sticky_(base) {
  nodes_.onActiveChanged([this](NodeId id, uint32_t n) { services_.activeChanged(id, n); });
  reaper_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* a) { static_cast<Director*>(a)->dead_.clear(); }, this));
}

Director::~Director() {
  // Connections hold forwarders that use the data path and the loop: free them first.
  dead_.clear();
  conns_.clear();
}

Status Director::start(PreparedConfig next, Adopted* adopted) {
  auto dp = DataPath::create(base_, next.cfg->director.fast_path);
  if (!dp.ok()) return makeError(dp.error());
  data_path_ = std::move(dp).value();
  if (adopted) adoptListeners(*adopted);
  ListenerMap listeners;
  if (Status s = openListeners(*next.cfg, &listeners); !s.ok()) return s;
  const auto& sc = next.cfg->sticky;
  sessions_ = std::make_unique<sticky::SessionIndex>(sc.ipv4_prefix, sc.ipv6_prefix);
  health_ = std::make_unique<HealthMonitor>(base_, nodes_, static_cast<HealthEvents&>(*this));
  apply(next, std::move(listeners));
  sticky_.start(cfg_->director.state_dir);
  sticky_.load(nodes_);
  sticky_.loadAdmin(nodes_);
  if (adopted) {
    for (AdoptedPair& p : adopted->pairs) adoptConnection(p);
    LOG_INFO("hand-over: continuing %zu connections", adopted->pairs.size());
  }
  LOG_INFO("tsdirector started: %s, %s, data path %s",
           counted(cfg_->services.size(), "service").c_str(),
           counted(cfg_->nodes.size(), "node").c_str(),
           data_path_->fastPathActive() ? "ebpf" : "userspace");
  return {};
}

Status Director::openListeners(const conf::Config& cfg, ListenerMap* out) {
  auto take = [&](const SockAddr& a, std::string_view label, std::string_view key) -> Status {
    std::string addr = a.toString();
    if (auto it = listeners_.find(addr); it != listeners_.end()) {
      (*out)[addr] = std::move(it->second);  // keep the open socket
      listeners_.erase(it);
      return {};
    }
    auto fd = Listener::bindSocket(a);
    if (!fd.ok())
      return makeError(cfg.location(label, key) + ": " + std::string(key) + ": " + fd.error());
    (*out)[addr] = std::make_unique<Listener>(base_, a, std::move(fd).value(), nullptr);
    return {};
  };
  Status st;
  for (const auto& svc : cfg.services) {
    for (const auto& a : svc.listen) {
      if (st.ok()) st = take(a, "service " + svc.name, "listen");
    }
  }
  for (const auto& n : cfg.nodes) {
    if (n.manual_listen && st.ok()) st = take(*n.manual_listen, "node " + n.name, "manual_listen");
  }
  if (!st.ok()) {
    // Put the kept sockets back; the new ones close as `out` goes away.
    for (auto& [addr, l] : *out) {
      if (l && listeners_.count(addr) == 0) listeners_[addr] = std::move(l);
    }
    out->clear();
  }
  return st;
}

void Director::wireListeners() {
  for (const auto& svc : cfg_->services) {
    ServiceId sid = services_.find(svc.name)->id;
    for (const auto& a : svc.listen) {
      listeners_.at(a.toString())->setCallback([this, sid](UniqueFd fd, const SockAddr& peer) {
        accept(sid, kNoId, std::move(fd), peer);
      });
    }
  }
  // A manual listener serves the node's first service (its port, check and stats).
  ServiceId first = services_.find(cfg_->services.front().name)->id;
  for (const auto& n : cfg_->nodes) {
    if (!n.manual_listen) continue;
    NodeId node = nodes_.find(n.name)->id;
    listeners_.at(n.manual_listen->toString())
        ->setCallback([this, first, node](UniqueFd fd, const SockAddr& peer) {
          accept(first, node, std::move(fd), peer);
        });
  }
}

void Director::apply(const PreparedConfig& next, ListenerMap listeners) {
  conf::ConfigPtr old = cfg_;
  cfg_ = next.cfg;
  NodeChanges nodes = nodes_.apply(*cfg_);
  std::vector<std::string> log;
  for (NodeId id : nodes.added) log.push_back("node " + nodes_.byId(id)->cfg.name + " added");
  for (NodeId id : nodes.removed) {
    const std::string& name = nodes_.byId(id)->cfg.name;
    size_t dropped = sticky_.table().eraseNode(name);
    sessions_->removeNode(name);
    sticky_.users().removeNode(name);
    log.push_back("node " + name + " removed (" + std::to_string(dropped) +
                  " sticky entries dropped; live sessions stay until they end)");
  }
  for (auto& c : nodes.changed) log.push_back("node " + c);
  for (auto& l : services_.apply(*cfg_, nodes_)) log.push_back(std::move(l));
  sticky_.setLimits(cfg_->sticky);
  if (!old || old->sticky.ipv4_prefix != cfg_->sticky.ipv4_prefix ||
      old->sticky.ipv6_prefix != cfg_->sticky.ipv6_prefix) {
    sessions_->setPrefixes(cfg_->sticky.ipv4_prefix, cfg_->sticky.ipv6_prefix);
  }
  interface_addresses_.clear();  // re-read: interfaces may have changed since
  refreshLocalAddresses();
  listeners_ = std::move(listeners);  // listeners no longer configured close here
  wireListeners();
  data_path_->configure(cfg_->director);
  std::vector<CheckedService> checked;
  for (const auto& svc : cfg_->services) checked.push_back({services_.find(svc.name)->id, &svc});
  health_->apply(cfg_, checked, next.agent_key);
  snapshots_dirty_ = true;
  if (!old) return;
  for (auto& l : listenerChanges(*old, *cfg_)) log.push_back(std::move(l));
  LOG_INFO("reload changed: %s",
           log.empty() ? "nothing that matters to traffic" : join(log).c_str());
  for (const auto& o : nodes.overrides_dropped) LOG_WARN("reload: node %s", o.c_str());
}

Status Director::reload() {
  // The loop does nothing else meanwhile: how long a reload blocks it is logged.
  auto t0 = SteadyClock::now();
  auto next = prepareFile(config_path_);
  std::string refuse = next.ok() ? restartOnlyChange(*cfg_, *next->cfg) : next.error();
  if (refuse.empty() && next->cfg->director.buffer_size > data_path_->scratchSize() &&
      !conns_.empty()) {
    refuse = next->cfg->location("director", "buffer_size") +
             ": buffer_size: can grow only on restart while connections are live";
  }
  ListenerMap listeners;
  if (refuse.empty()) {
    if (Status s = openListeners(*next->cfg, &listeners); !s.ok()) refuse = s.error();
  }
  if (!refuse.empty()) {
    sink_.reload(false);
    LOG_ERROR("reload of %s failed, configuration unchanged: %s", config_path_.c_str(),
              refuse.c_str());
    return makeError(refuse);
  }
  apply(*next, std::move(listeners));
  sink_.reload(true);
  sticky_.saveAdmin(nodes_);  // overrides the file now overrides are gone for good
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0);
  LOG_INFO("reloaded %s: generation %llu, %s, %s, %lld us with %zu live connections",
           config_path_.c_str(), static_cast<unsigned long long>(stats_.config_generation),
           counted(cfg_->services.size(), "service").c_str(),
           counted(cfg_->nodes.size(), "node").c_str(), static_cast<long long>(us.count()),
           conns_.size());
  return {};
}

void Director::drainThenShutdown(conf::Duration grace, std::function<void()> done) {
  if (stopping_ || grace.count() <= 0 || conns_.empty()) {
    shutdown();
    return done();
  }
  stopping_ = true;
  listeners_.clear();  // no new connections; the live ones carry on
  health_.reset();
  drained_ = std::move(done);
  LOG_INFO("stopping: %zu live connections may finish within %lld ms", conns_.size(),
           static_cast<long long>(grace.count()));
  grace_timer_.reset(evtimer_new(
      base_,
      [](evutil_socket_t, short, void* a) {
        auto* d = static_cast<Director*>(a);
        LOG_INFO("stop_grace over: resetting %zu connections", d->conns_.size());
        d->finishDrain();
      },
      this));
  timeval tv = toTimeval(grace);
  evtimer_add(grace_timer_.get(), &tv);
}

void Director::finishDrain() {
  if (!drained_) return;
  auto done = std::move(drained_);
  drained_ = nullptr;
  grace_timer_.reset();
  stopping_ = false;  // let shutdown() run its course
  shutdown();
  done();
}

void Director::shutdown() {
  if (drained_) return finishDrain();  // a second stop during the grace time: now
  if (stopping_) return;
  stopping_ = true;
  listeners_.clear();
  health_.reset();
  // Connections end with the process; a reset tells both sides at once.
  std::vector<Connection*> live;
  for (auto& c : conns_) live.push_back(&c);
  for (auto* c : live) c->abort();
  sticky_.stop();
}

HealthCounters Director::healthCounters() const {
  return health_ ? health_->counters() : HealthCounters{};
}

ForwardStats Director::bytes() const {
  ForwardStats s = stats_.closed_bytes;
  for (const auto& c : conns_) {
    ForwardStats f = c.stats();
    s.up += f.up;
    s.down += f.down;
  }
  return s;
}

Result<const NodeRuntime*> Director::setNodeState(std::string_view node, conf::NodeState st) {
  NodeRuntime* n = nodes_.find(node);
  if (n == nullptr) return makeError("unknown node '" + std::string(node) + "'");
  if (st == n->cfg.state) {
    n->admin_state.reset();
  } else {
    n->admin_state = st;
  }
  nodesChanged(true);
  sticky_.saveAdmin(nodes_);
  LOG_INFO("admin: node %s is now %s%s", n->cfg.name.c_str(), std::string(toString(st)).c_str(),
           n->admin_state ? " (runtime)" : "");
  return n;
}

Result<const NodeRuntime*> Director::setNodeWeight(std::string_view node, int weight) {
  NodeRuntime* n = nodes_.find(node);
  if (n == nullptr) return makeError("unknown node '" + std::string(node) + "'");
  if (weight == n->cfg.weight) {
    n->admin_weight.reset();
  } else {
    n->admin_weight = weight;
  }
  nodesChanged(true);
  sticky_.saveAdmin(nodes_);
  LOG_INFO("admin: node %s weight %d%s", n->cfg.name.c_str(), weight,
           n->admin_weight ? " (runtime)" : "");
  return n;
}

Status Director::pin(const sticky::Identity& id, std::string_view node,
                     std::optional<sticky::StickyTable::TimePoint> until) {
  NodeRuntime* n = nodes_.find(node);
  if (n == nullptr) return makeError("unknown node '" + std::string(node) + "'");
  sticky_.table().pin(id, n->cfg.name, until, n->id);
  sticky_.save();
  LOG_INFO("admin: %s pinned to node %s", id.key.c_str(), n->cfg.name.c_str());
  return {};
}

bool Director::unpin(const sticky::Identity& id) {
  if (!sticky_.table().unpin(id)) return false;
  sticky_.save();
  LOG_INFO("admin: %s unpinned", id.key.c_str());
  return true;
}

}  // namespace tsd::director
