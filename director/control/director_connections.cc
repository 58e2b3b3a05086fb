// The director's side of one connection's life: accept, reserve a node (the pure placement
// plus a reservation), attempt failures, forward, close. Also the inputs the placement reads
// and the health events that invalidate scheduler snapshots.
#include "conf/log.h"
#include "director/control/director.h"

namespace tsd::director {

void Director::accept(ServiceId sid, NodeId manual, UniqueFd fd, const SockAddr& peer) {
  if (stopping_) return;
  bool over = stats_.active >= static_cast<uint64_t>(cfg_->director.max_connections);
  sink_.accepted(sid, over);
  if (over) {
    LOG_DEBUG("%s refused: max_connections (%d) reached", peer.toString().c_str(),
              cfg_->director.max_connections);
    return;  // fd closes: the client sees a clean close
  }
  const ServiceRuntime& svc = *services_.byId(sid);
  ConnectionParams p;
  p.service = sid;
  p.manual = manual;
  p.sticky_key = svc.cfg->sticky_key;
  p.ipv4_prefix = static_cast<uint8_t>(cfg_->sticky.ipv4_prefix);
  p.ipv6_prefix = static_cast<uint8_t>(cfg_->sticky.ipv6_prefix);
  p.connect_attempts = static_cast<uint8_t>(cfg_->director.connect_attempts);
  p.connect_timeout = cfg_->director.connect_timeout;
  p.transparent = cfg_->director.transparent;
  Connection& c = conns_.emplace_back(static_cast<ConnectionHost&>(*this), p, std::move(fd), peer);
  c.position = std::prev(conns_.end());
  c.listed = true;
  c.start();
}

std::optional<Route> Director::reserve(const Connection& c) {
  const ServiceRuntime* svc = services_.byId(c.service());
  if (svc == nullptr || svc->removed) return std::nullopt;
  std::array<NodeId, 16> tried{};  // connect_attempts is at most 16
  size_t n = 0;
  for (const Attempt& a : c.attempts()) {
    if (n < tried.size()) tried[n++] = a.node;
  }
  PlacementRequest req;
  req.service = c.service();
  req.identity = &c.identity();
  req.returning = c.params().sticky_key != conf::StickyKey::kNone;
  req.manual = c.params().manual;
  if (req.manual == kNoId && !c.sni().empty()) {
    if (const NodeRuntime* named = nodes_.find(c.sni())) req.sni_node = named->id;
  }
  req.tried = std::span<const NodeId>(tried.data(), n);
  req.previous = c.reason();
  req.key_hash = sched::hashKey(c.identity().empty() ? c.peer().hostString() : c.identity().key);
  Placement p = decide(req, *this);
  NodeRuntime* node = nodes_.byId(p.node);
  if (node == nullptr || p.node >= svc->addresses.size()) return std::nullopt;
  nodes_.connectionStarted(*node);  // held until the attempt fails or the connection ends
  LOG_DEBUG("%s: %s identity=%s -> node %s (%s, attempt %zu)", svc->name.c_str(),
            c.peer().toString().c_str(), c.identity().key.c_str(), node->cfg.name.c_str(),
            std::string(toString(p.reason)).c_str(), n + 1);
  return Route{p.node, p.reason, p.ambiguous, p.sticky_replaced, svc->addresses[p.node]};
}

void Director::releaseNode(const Connection& c) {
  if (NodeRuntime* n = nodes_.byId(c.attempts().empty() ? kNoId : c.attempts().back().node)) {
    nodes_.connectionEnded(*n);
  }
}

void Director::attemptFailed(const Connection& c, const std::string& why) {
  const Attempt& a = c.attempts().back();
  releaseNode(c);
  NodeRuntime* node = nodes_.byId(a.node);
  if (node == nullptr) return;
  if (a.outcome == Attempt::Outcome::kLocalError) {
    LOG_WARN("%s: local error before reaching node %s: %s", c.peer().toString().c_str(),
             node->cfg.name.c_str(), why.c_str());
    return;
  }
  LOG_INFO("%s: node %s failed: %s", c.peer().toString().c_str(), node->cfg.name.c_str(),
           why.c_str());
  if (health_) health_->passiveFailure(*node, c.service());
}

std::unique_ptr<Forwarder> Director::forward(Connection& c, Forwarder::Done done) {
  NodeRuntime& node = *nodes_.byId(c.node());
  if (health_) health_->passiveSuccess(node, c.service());
  if (!c.identity().empty() && c.params().sticky_key != conf::StickyKey::kNone &&
      c.reason() != Reason::kManual) {
    auto now = StickyStore::Clock::now();
    sticky_.table().assign(c.identity(), node.cfg.name, now, node.id);
    sticky_.table().connectionOpened(c.identity());
    c.sticky_open = true;
    sticky_.markDirty();
  }
  userConnectionUp(c);  // before the data path: the node socket's tuple is read here
  bool kernel = false;
  auto f = data_path_->start(c.clientFd(), c.nodeFd(), std::move(done), c.forwarderSlot(), &kernel);
  sink_.opened(c, kernel);
  return f;
}

void Director::closed(Connection& c, const ConnectionEnd& end) {
  if (c.node() != kNoId) releaseNode(c);
  userConnectionDown(c);
  sink_.ended(c, end);
  if (c.sticky_open) {
    sticky_.table().connectionClosed(c.identity(), StickyStore::Clock::now());
    sticky_.markDirty();
  }
  if (end.refusal) {
    LOG_DEBUG("%s closed without a node (%s)", c.peer().toString().c_str(),
              *end.refusal == Refusal::kNoNode ? "no eligible node" : "refused");
  } else {
    LOG_DEBUG("%s closed: %llu bytes up, %llu down", c.peer().toString().c_str(),
              static_cast<unsigned long long>(end.bytes.up),
              static_cast<unsigned long long>(end.bytes.down));
  }
  if (!c.listed) return;
  c.listed = false;
  dead_.splice(dead_.end(), conns_, c.position);  // still alive: we may be in its callback
  event_active(reaper_.get(), 0, 0);
  if (drained_ && conns_.empty()) finishDrain();  // the last one of a graceful stop
}

bool Director::acceptsReturning(NodeId node, ServiceId service) const {
  const NodeRuntime* n = nodes_.byId(node);
  const ServiceRuntime* s = services_.byId(service);
  if (n == nullptr || s == nullptr || n->removed) return false;
  return health::acceptsReturning(nodes_.statusFor(*n, s->ref(), *cfg_, SteadyClock::now()));
}

std::optional<SessionHit> Director::session(const sticky::Identity& id,
                                            const std::function<bool(NodeId)>& usable) const {
  auto m = sessions_->lookup(id, [&](std::string_view, uint32_t tag) { return usable(tag); });
  if (!m) return std::nullopt;
  return SessionHit{m->tag, m->ambiguous};
}

std::optional<NodeId> Director::sticky(const sticky::Identity& id) const {
  auto hit = sticky_.table().peek(id, StickyStore::Clock::now());
  if (!hit || hit->tag == sticky::kNoTag) return std::nullopt;
  return hit->tag;
}

std::optional<NodeId> Director::schedule(ServiceId service, uint64_t key_hash,
                                         std::span<const NodeId> tried) {
  rebuildIfDue();
  return services_.pick(service, key_hash, tried, nodes_.activeCounts());
}

void Director::rebuildIfDue() {
  // Agent figures move weights only gradually, so those rebuilds are rate-limited: a hash
  // table over 1,000 nodes costs milliseconds to build.
  constexpr auto kFigureRebuildEvery = std::chrono::seconds(1);
  auto now = SteadyClock::now();
  if (!snapshots_dirty_ && !(figures_dirty_ && now - last_rebuild_ >= kFigureRebuildEvery)) {
    return;
  }
  services_.rebuild(*cfg_, nodes_, now);
  for (const auto& n : nodes_.all()) n->status = nodes_.statusFor(*n, std::nullopt, *cfg_, now);
  snapshots_dirty_ = false;
  figures_dirty_ = false;
  last_rebuild_ = now;
}

void Director::nodesChanged(bool urgent) {
  if (urgent) snapshots_dirty_ = true;
  figures_dirty_ = true;
}

void Director::inventory(const NodeRuntime& node, const health::AgentReport& report) {
  std::vector<sticky::SessionRef> refs;
  refs.reserve(report.sessions.size());
  for (const auto& s : report.sessions) {
    refs.push_back({s.user, s.client_address, s.suspended, s.since_unix});
  }
  sessions_->update(node.cfg.name, refs, node.id);
  sticky_.users().updateSessions(node.cfg.name, node.id, refs);
  learnFromReport(node, report);
}

}  // namespace tsd::director
