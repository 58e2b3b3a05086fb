// The director's side of a live hand-over: quiesce and export (the running process), adopt
// (the process taking over). The exchange itself is the daemon's (director/app/takeover_*).
#include <sys/socket.h>

#include "conf/log.h"
#include "director/control/director.h"

namespace tsd::director {
namespace {

std::optional<Reason> parseReason(std::string_view s) {
  for (int i = 0; i < kReasonCount; ++i) {
    if (toString(static_cast<Reason>(i)) == s) return static_cast<Reason>(i);
  }
  return std::nullopt;
}

}  // namespace

void Director::beginHandOver() {
  handing_over_ = true;
  for (auto& [addr, l] : listeners_) l->pause();
  for (auto& c : conns_) {
    if (Forwarder* f = c.forwarder()) prepareExport(*f);
  }
}

bool Director::handOverReady() {
  for (auto& c : conns_) {
    Forwarder* f = c.forwarder();
    // Still peeking a hello or connecting: it finishes (or fails) first.
    if (f == nullptr) return false;
    prepareExport(*f);  // promoted since beginHandOver
    if (!exportReady(*f)) return false;
  }
  return true;
}

protocol::PairRecord Director::record(const Connection& c) const {
  protocol::PairRecord r;
  if (const ServiceRuntime* s = services_.byId(c.service())) r.service = s->name;
  if (const NodeRuntime* n = nodes_.byId(c.node())) r.node = n->cfg.name;
  r.peer = c.peer().toString();
  r.identity = c.identity().key;
  r.sni = c.sni();
  if (auto why = c.reason()) r.reason = std::string(toString(*why));
  if (!c.attempts().empty()) {
    r.ambiguous = c.attempts().back().ambiguous;
    r.sticky_replaced = c.attempts().back().sticky_replaced;
  }
  r.sticky_open = c.sticky_open;
  r.started_unix_ms = c.started_unix_ms;
  r.attempts = static_cast<uint8_t>(c.attempts().size());
  return r;
}

HandOverExport Director::captureHandOver() {
  HandOverExport ex;
  for (auto& [addr, l] : listeners_) ex.listeners.push_back({addr, l->fd()});
  ex.pairs.reserve(conns_.size());
  for (auto& c : conns_) {
    ExportedPair p;
    p.record = record(c);
    p.client_fd = c.clientFd();
    p.node_fd = c.nodeFd();
    p.state = exportPair(*c.forwarder());
    ex.pairs.push_back(std::move(p));
  }
  // The new process reads these files before it continues anything.
  sticky_.markDirty();
  sticky_.save();
  sticky_.saveAdmin(nodes_);
  return ex;
}

void Director::resumeAfterHandOver() {
  for (auto& c : conns_) resumePair(*c.forwarder());
  for (auto& [addr, l] : listeners_) l->resume();
  handing_over_ = false;
}

void Director::releaseHandedOver() {
  stopping_ = true;
  health_.reset();
  LOG_INFO("hand-over: %zu connections and %zu listeners now belong to the new process",
           conns_.size(), listeners_.size());
}

void Director::adoptListeners(Adopted& a) {
  for (auto& [addr, fd] : a.listeners) {
    auto parsed = SockAddr::parse(addr);
    if (!parsed.ok()) {
      LOG_WARN("hand-over: listener '%s' not understood; closed", addr.c_str());
      continue;
    }
    listeners_[addr] = std::make_unique<Listener>(base_, *parsed, std::move(fd), nullptr);
  }
  a.listeners.clear();
}

void Director::adoptConnection(AdoptedPair& p) {
  ServiceRuntime* svc = services_.find(p.record.service);
  if (svc == nullptr || svc->removed) {
    svc = services_.find(cfg_->services.front().name);
    LOG_WARN("hand-over: service '%s' is gone; its connection is counted under '%s'",
             p.record.service.c_str(), svc->name.c_str());
  }
  ConnectionParams params;
  params.service = svc->id;
  params.sticky_key = svc->cfg->sticky_key;
  params.ipv4_prefix = static_cast<uint8_t>(cfg_->sticky.ipv4_prefix);
  params.ipv6_prefix = static_cast<uint8_t>(cfg_->sticky.ipv6_prefix);
  params.connect_attempts = static_cast<uint8_t>(cfg_->director.connect_attempts);
  params.connect_timeout = cfg_->director.connect_timeout;
  params.transparent = cfg_->director.transparent;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  std::optional<SockAddr> peer;
  if (::getpeername(p.client.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    peer = SockAddr::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }
  if (!peer) {
    auto parsed = SockAddr::parse(p.record.peer);
    peer = parsed.ok() ? std::optional<SockAddr>(*parsed) : std::nullopt;
  }
  sink_.accepted(svc->id, false);
  Connection* c = &conns_.emplace_back(static_cast<ConnectionHost&>(*this), params,
                                       std::move(p.client), peer.value_or(SockAddr{}));
  c->position = std::prev(conns_.end());
  c->listed = true;
  c->started_unix_ms = p.record.started_unix_ms;
  NodeRuntime* node = nodes_.find(p.record.node);
  if (node != nullptr) nodes_.connectionStarted(*node);
  Attempt a{node ? node->id : kNoId, parseReason(p.record.reason).value_or(Reason::kScheduler),
            Attempt::Outcome::kConnected, p.record.ambiguous, p.record.sticky_replaced};
  sticky::Identity id{p.record.identity};
  if (p.record.sticky_open && !id.empty()) {
    sticky_.table().connectionOpened(id);
    c->sticky_open = true;
  }
  const PairState& state = p.state;
  c->adoptForwarding(std::move(p.node), id, p.record.sni, a, [&](Forwarder::Done done) {
    return adoptPair(*data_path_, c->clientFd(), c->nodeFd(), state, std::move(done));
  });
  userConnectionAdopted(*c);  // its user may still be unknown: learning goes on
  sink_.opened(*c, false);
}

}  // namespace tsd::director
