// SessionIndex implementation: per-node inventories, and per identity a small vector of
// candidate nodes kept in ranking order so lookup() is a short scan.
#include "sticky/session_index.h"

#include <algorithm>
#include <tuple>

namespace tsd::sticky {

SessionIndex::SessionIndex(int ipv4_prefix, int ipv6_prefix)
    : ipv4_prefix_(ipv4_prefix), ipv6_prefix_(ipv6_prefix) {}

bool SessionIndex::better(const Candidate& a, const Candidate& b) {
  if (a.suspended != b.suspended) return a.suspended;
  if (a.since != b.since) return a.since > b.since;  // newest first
  return a.node < b.node;                            // determinism across directors
}

void SessionIndex::unindex(const std::string& node, const Inventory& inv) {
  for (size_t i = 0; i < inv.ids.size(); ++i) {
    const auto& id = inv.ids[i];
    if (!id || inv.local[i]) continue;
    auto it = index_.find(*id);
    if (it == index_.end()) continue;  // already removed via an earlier session of this id
    std::erase_if(it->second, [&](const Candidate& c) { return c.node == node; });
    if (it->second.empty()) index_.erase(it);
  }
}

void SessionIndex::index(const std::string& node, const Inventory& inv) {
  // Best session per identity on this node first, then one insertion per identity.
  std::unordered_map<Identity, Candidate, IdentityHash> best;
  for (size_t i = 0; i < inv.sessions.size(); ++i) {
    if (!inv.ids[i] || inv.local[i]) continue;
    const SessionRef& s = inv.sessions[i];
    Candidate c{node, inv.tag, s.suspended, s.since_unix, s.user};
    auto [it, inserted] = best.try_emplace(*inv.ids[i], c);
    if (!inserted && better(c, it->second)) it->second = std::move(c);
  }
  for (auto& [id, cand] : best) {
    auto& list = index_[id];
    list.insert(std::upper_bound(list.begin(), list.end(), cand, better), std::move(cand));
  }
}

void SessionIndex::update(std::string_view node, const std::vector<SessionRef>& sessions,
                          uint32_t tag) {
  std::string name(node);
  if (auto it = nodes_.find(name); it != nodes_.end()) unindex(name, it->second);
  Inventory inv;
  inv.tag = tag;
  inv.sessions = sessions;
  inv.ids.reserve(sessions.size());
  for (const SessionRef& s : sessions) {
    inv.ids.push_back(identityFromAddressString(s.client_address, ipv4_prefix_, ipv6_prefix_));
    bool local = inv.ids.back() && isLocalAddress(s.client_address);
    inv.local.push_back(local);
    if (!inv.ids.back()) ++inv.ignored;
    if (local) ++inv.local_count;
  }
  index(name, inv);
  nodes_.insert_or_assign(std::move(name), std::move(inv));
}

void SessionIndex::removeNode(std::string_view node) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  unindex(it->first, it->second);
  nodes_.erase(it);
}

void SessionIndex::setPrefixes(int ipv4_prefix, int ipv6_prefix) {
  ipv4_prefix_ = ipv4_prefix;
  ipv6_prefix_ = ipv6_prefix;
  reindexAll();
}

std::string SessionIndex::canonical(std::string_view ip) {
  // Full-length prefixes: the identity key is the address itself, v4-mapped folded to v4.
  auto id = identityFromAddressString(ip, 32, 128);
  return id ? id->key : std::string();
}

void SessionIndex::setLocalAddresses(const std::vector<std::string>& addresses) {
  std::vector<std::string> next;
  for (const auto& a : addresses) {
    if (auto c = canonical(a); !c.empty()) next.push_back(std::move(c));
  }
  std::sort(next.begin(), next.end());
  next.erase(std::unique(next.begin(), next.end()), next.end());
  if (next == local_addresses_) return;
  local_addresses_ = std::move(next);
  reindexAll();
}

bool SessionIndex::isLocalAddress(std::string_view ip) const {
  if (local_addresses_.empty()) return false;
  return std::binary_search(local_addresses_.begin(), local_addresses_.end(), canonical(ip));
}

void SessionIndex::reindexAll() {
  auto old = std::move(nodes_);
  nodes_.clear();
  index_.clear();
  for (const auto& [node, inv] : old) update(node, inv.sessions, inv.tag);
}

std::optional<SessionIndex::Match> SessionIndex::lookup(const Identity& id,
                                                        const Usable& usable) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  std::optional<Match> m;
  size_t count = 0;
  for (const Candidate& c : it->second) {
    if (usable && !usable(c.node, c.tag)) continue;
    if (count++ == 0) m = Match{c.node, c.tag, false, 0, c.user};
  }
  if (!m) return std::nullopt;
  m->candidates = count;
  m->ambiguous = count > 1;
  return m;
}

std::vector<SessionIndex::Row> SessionIndex::dump() const {
  std::vector<Row> rows;
  for (const auto& [node, inv] : nodes_) {
    for (size_t i = 0; i < inv.sessions.size(); ++i) {
      if (inv.ids[i]) rows.push_back(Row{*inv.ids[i], node, inv.sessions[i]});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.identity != b.identity) return a.identity < b.identity;
    const Candidate ca{a.node, 0, a.session.suspended, a.session.since_unix, {}};
    const Candidate cb{b.node, 0, b.session.suspended, b.session.since_unix, {}};
    if (better(ca, cb) || better(cb, ca)) return better(ca, cb);
    return a.session.user < b.session.user;
  });
  return rows;
}

size_t SessionIndex::sessions() const {
  size_t n = 0;
  for (const auto& [node, inv] : nodes_) n += inv.sessions.size() - inv.ignored;
  return n;
}

size_t SessionIndex::local() const {
  size_t n = 0;
  for (const auto& [node, inv] : nodes_) n += inv.local_count;
  return n;
}

size_t SessionIndex::ignored() const {
  size_t n = 0;
  for (const auto& [node, inv] : nodes_) n += inv.ignored;
  return n;
}

}  // namespace tsd::sticky
