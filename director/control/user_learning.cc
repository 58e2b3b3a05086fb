// Correlation of agent-reported sshd connections with the director's own, by exact 4-tuple.
#include "director/control/user_learning.h"

#include "sticky/identity.h"

namespace tsd::director {

std::string canonicalAddress(std::string_view ip) {
  // Full-length prefixes keep the whole address; the identity code folds v4-mapped to IPv4.
  auto id = sticky::identityFromAddressString(ip, 32, 128);
  if (!id) return {};
  std::string k = std::move(id->key);
  return k.substr(0, k.rfind('/'));
}

std::string UserLearning::key(const Endpoint& remote, const Endpoint& local) {
  return remote.address + ' ' + std::to_string(remote.port) + ' ' + local.address + ' ' +
         std::to_string(local.port);
}

void UserLearning::opened(Live live) {
  closed(live.handle);
  std::string k = key(live.remote, live.local);
  if (auto it = by_tuple_.find(k); it != by_tuple_.end()) closed(it->second);
  by_tuple_[k] = live.handle;
  uint64_t h = live.handle;
  awaiting_[live.node].push_back(h);
  by_handle_.emplace(h, std::move(live));
}

void UserLearning::closed(uint64_t handle) {
  auto it = by_handle_.find(handle);
  if (it == by_handle_.end()) return;
  by_tuple_.erase(key(it->second.remote, it->second.local));
  by_handle_.erase(it);
}

const UserLearning::Live* UserLearning::find(uint64_t handle) const {
  auto it = by_handle_.find(handle);
  return it == by_handle_.end() ? nullptr : &it->second;
}

bool UserLearning::pending(NodeId node, TimePoint now) const {
  auto it = awaiting_.find(node);
  if (it == awaiting_.end()) return false;
  for (uint64_t h : it->second) {
    const Live* l = find(h);
    if (l != nullptr && l->node == node && l->user.empty() && now - l->up < kMissAfter) {
      return true;
    }
  }
  return false;
}

UserLearning::Correlation UserLearning::correlate(
    NodeId node, const std::vector<health::AgentConnection>& reported, TimePoint snapshot) {
  Correlation out;
  for (const auto& rc : reported) {
    Endpoint remote{canonicalAddress(rc.remote_address), rc.remote_port};
    Endpoint local{canonicalAddress(rc.local_address), rc.local_port};
    if (remote.address.empty() || local.address.empty() || rc.user.empty()) continue;
    auto t = by_tuple_.find(key(remote, local));
    if (t == by_tuple_.end()) continue;  // not ours (a direct login) or already closed
    Live& live = by_handle_.at(t->second);
    if (live.node != node) continue;  // another node's agent cannot see our connection
    if (live.user == rc.user) continue;
    live.user = rc.user;
    out.learned.push_back({live.handle, rc.user});
  }
  auto it = awaiting_.find(node);
  if (it == awaiting_.end()) return out;
  std::erase_if(it->second, [&](uint64_t h) {
    auto l = by_handle_.find(h);
    if (l == by_handle_.end() || l->second.node != node || !l->second.user.empty()) return true;
    if (snapshot - l->second.up < kMissAfter) return false;
    l->second.missed = true;
    ++out.misses;
    return true;
  });
  if (it->second.empty()) awaiting_.erase(it);
  return out;
}

}  // namespace tsd::director
