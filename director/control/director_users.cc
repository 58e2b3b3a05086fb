// The director's side of the user table: each forwarded connection registered by the 4-tuple
// the node sees, fast agent polls after it is up, reports matched to learn identity -> user,
// the wrong-node bounce, and the user rule's placement inputs.
#include <ifaddrs.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "conf/log.h"
#include "director/control/director.h"

namespace tsd::director {
namespace {

using sticky::BounceOutcome;
using UserClock = sticky::UserTable::Clock;

// The node socket's own end (what the node sees as its peer) or its peer (the node).
std::optional<Endpoint> endpointOf(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) return std::nullopt;
  auto a = SockAddr::fromSockaddr(sa, len);
  if (!a) return std::nullopt;
  std::string host = canonicalAddress(a->hostString());
  if (host.empty()) return std::nullopt;
  return Endpoint{std::move(host), a->port()};
}

std::vector<std::string> interfaceAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    LOG_WARN("getifaddrs: %s: sessions from this host may be filed by address", strerror(errno));
    return out;
  }
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    int fam = i->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    socklen_t len = fam == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (auto a = SockAddr::fromSockaddr(i->ifa_addr, len)) {
      if (auto c = canonicalAddress(a->hostString()); !c.empty()) out.push_back(std::move(c));
    }
  }
  freeifaddrs(list);
  return out;
}

uint64_t handleOf(const Connection& c) { return reinterpret_cast<uintptr_t>(&c); }

}  // namespace

void Director::refreshLocalAddresses() {
  if (interface_addresses_.empty()) interface_addresses_ = interfaceAddresses();
  std::vector<std::string> all = interface_addresses_;
  all.insert(all.end(), source_addresses_.begin(), source_addresses_.end());
  sessions_->setLocalAddresses(all);
}

bool Director::startLearning(Connection& c, SteadyClock::time_point opened) {
  // sticky_key = none: nothing to learn for; without agents nobody would ever resolve it.
  if (c.identity().empty() || !health_ || !health_->agentEnabled()) return false;
  auto remote = endpointOf(c.nodeFd(), false);
  auto local = endpointOf(c.nodeFd(), true);
  if (!remote || !local) return false;
  if (!c.params().transparent && std::find(source_addresses_.begin(), source_addresses_.end(),
                                           remote->address) == source_addresses_.end()) {
    source_addresses_.push_back(remote->address);  // rare: a new source address of ours
    refreshLocalAddresses();
  }
  learning_.opened(
      {handleOf(c), c.identity(), c.node(), c.service(), *remote, *local, opened, {}, false});
  return true;
}

void Director::userConnectionAdopted(Connection& c) {
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto age = std::chrono::milliseconds(std::max<int64_t>(0, now_ms - c.started_unix_ms));
  startLearning(c, SteadyClock::now() - age);
}

void Director::userConnectionUp(Connection& c) {
  if (!startLearning(c, SteadyClock::now())) return;
  const NodeRuntime* node = nodes_.byId(c.node());
  if (c.reason() == Reason::kUser &&
      sticky_.users().takePin(c.identity(), node->cfg.name, UserClock::now())) {
    ++user_counters_.pins_used;
  }
  // Fast learning: the login is seen within seconds, while a bounce can still help. Every
  // connection asks (not only scheduled ones): a second user behind a known address is new.
  for (auto d : {std::chrono::milliseconds(1000), std::chrono::milliseconds(3000)}) {
    if (health_->pollSoon(c.node(), d)) ++user_counters_.fast_polls_requested;
  }
}

void Director::userConnectionDown(const Connection& c) { learning_.closed(handleOf(c)); }

void Director::learnFromReport(const NodeRuntime& node, const health::AgentReport& report) {
  if (report.version < 2) return;  // an old agent gives no connections
  auto snapshot = SteadyClock::now() - std::chrono::milliseconds(report.age_ms);
  auto corr = learning_.correlate(node.id, report.connections, snapshot);
  if (!corr.learned.empty() || corr.misses > 0) {
    LOG_DEBUG(
        "agent of %s (snapshot %llu ms old): %zu sshd connections, %zu newly matched, "
        "%zu misses",
        node.cfg.name.c_str(), static_cast<unsigned long long>(report.age_ms),
        report.connections.size(), corr.learned.size(), corr.misses);
  }
  user_counters_.correlation_misses += corr.misses;
  std::vector<Connection*> bounce;
  for (const auto& m : corr.learned) {
    if (const auto* live = learning_.find(m.handle)) learned(*live, m.user, &bounce);
  }
  // After the loop: a reset closes the connection, which unregisters it.
  for (Connection* c : bounce) c->abort();
  // A snapshot older than a fresh login shows nothing yet: ask again while any is unknown.
  if (health_ && learning_.pending(node.id, SteadyClock::now()) &&
      health_->pollSoon(node.id, std::chrono::milliseconds(1000))) {
    ++user_counters_.fast_polls_requested;
  }
}

bool Director::bounceUsable(NodeId node, ServiceId service) const {
  const NodeRuntime* n = nodes_.byId(node);
  const ServiceRuntime* s = services_.byId(service);
  if (n == nullptr || s == nullptr || n->removed) return false;
  auto st = nodes_.statusFor(*n, s->ref(), *cfg_, SteadyClock::now());
  return health::acceptsReturning(st) && st != health::NodeStatus::kDrain;
}

void Director::learned(const UserLearning::Live& live, const std::string& user,
                       std::vector<Connection*>* bounce) {
  ++user_counters_.connections_matched;
  auto now = UserClock::now();
  sticky::UserTable& users = sticky_.users();
  if (users.learn(live.identity, user, now)) {
    ++user_counters_.identities_learned;
    LOG_INFO("user %s learned behind %s", user.c_str(), live.identity.key.c_str());
  }
  sticky_.markDirty();
  const ServiceRuntime* svc = services_.byId(live.service);
  const NodeRuntime* cur = nodes_.byId(live.node);
  if (svc == nullptr || svc->removed || cur == nullptr) return;
  sticky::BounceInput in;
  in.bounce = cfg_->wrongNodeFor(*svc->cfg) == conf::WrongNode::kBounce;
  in.current_node = cur->cfg.name;
  in.home = users.home(user);
  in.home_usable = in.home && bounceUsable(in.home->tag, live.service);
  in.age = std::chrono::duration_cast<UserClock::duration>(SteadyClock::now() - live.up);
  in.window = cfg_->sticky.bounce_window;
  in.last_bounce = users.lastBounce(user);
  in.now = now;
  BounceOutcome o = sticky::decideBounce(in);
  ++user_counters_.outcomes[static_cast<size_t>(o)];
  if (o == BounceOutcome::kAtHome || o == BounceOutcome::kHomeUnknown) return;
  if (o != BounceOutcome::kBounced) {
    LOG_DEBUG("user %s behind %s is on node %s, home %s: %s", user.c_str(),
              live.identity.key.c_str(), cur->cfg.name.c_str(), in.home->node.c_str(),
              std::string(toString(o)).c_str());
    return;
  }
  auto it = std::find_if(conns_.begin(), conns_.end(),
                         [&](const Connection& c) { return handleOf(c) == live.handle; });
  if (it == conns_.end()) return;  // gone meanwhile
  users.noteBounce(user, now);
  users.pin(live.identity, {user, in.home->node, in.home->tag, now + cfg_->sticky.bounce_ttl});
  LOG_INFO("bounce: user %s identity %s from node %s to node %s (connection %lld ms old)",
           user.c_str(), live.identity.key.c_str(), cur->cfg.name.c_str(), in.home->node.c_str(),
           static_cast<long long>(
               std::chrono::duration_cast<std::chrono::milliseconds>(in.age).count()));
  bounce->push_back(&*it);
}

std::optional<NodeId> Director::userPin(const sticky::Identity& id,
                                        const std::function<bool(NodeId)>& usable) const {
  auto p = sticky_.users().peekPin(id, UserClock::now(),
                                   [&](std::string_view, uint32_t tag) { return usable(tag); });
  if (!p) return std::nullopt;
  return p->tag;
}

std::vector<std::string> Director::users(const sticky::Identity& id) const {
  return sticky_.users().usersOf(id);
}

std::optional<NodeId> Director::home(std::string_view user,
                                     const std::function<bool(NodeId)>& usable) const {
  auto h = sticky_.users().home(user, [&](std::string_view, uint32_t tag) { return usable(tag); });
  if (!h) return std::nullopt;
  return h->tag;
}

}  // namespace tsd::director
