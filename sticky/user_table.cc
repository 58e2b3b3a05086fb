// UserTable implementation: homes kept per user in ranking order, learned pairs indexed both
// ways, pins as short per-identity queues, and the bounce rules as one pure function.
#include "sticky/user_table.h"

#include <algorithm>

namespace tsd::sticky {

bool UserTable::better(const Candidate& a, const Candidate& b) {
  if (a.suspended != b.suspended) return a.suspended;
  if (a.since != b.since) return a.since > b.since;  // newest first
  return a.node < b.node;                            // determinism across directors
}

void UserTable::setCapacity(size_t capacity) {
  capacity_ = capacity;
  shrinkTo(capacity_);
}

void UserTable::shrinkTo(size_t target) {
  if (pairs_ <= target) return;
  auto all = learned();  // oldest first
  for (size_t i = 0; i < all.size() && pairs_ > target; ++i) {
    forget(all[i].identity, all[i].user);
  }
}

void UserTable::reindexUser(const std::string& user) {
  std::vector<Candidate> list;
  for (const auto& [node, users] : nodes_) {
    if (auto it = users.find(user); it != users.end()) list.push_back(it->second);
  }
  std::sort(list.begin(), list.end(), better);
  if (list.empty()) {
    homes_.erase(user);
  } else {
    homes_[user] = std::move(list);
  }
}

void UserTable::updateSessions(std::string_view node, uint32_t tag,
                               const std::vector<SessionRef>& sessions) {
  std::map<std::string, Candidate, std::less<>> best;
  for (const SessionRef& s : sessions) {
    if (s.user.empty()) continue;
    Candidate c{std::string(node), tag, s.suspended, s.since_unix};
    auto [it, inserted] = best.try_emplace(s.user, c);
    if (!inserted && better(c, it->second)) it->second = std::move(c);
  }
  std::set<std::string> touched;
  if (auto it = nodes_.find(node); it != nodes_.end()) {
    for (const auto& [user, c] : it->second) touched.insert(user);
  }
  for (const auto& [user, c] : best) touched.insert(user);
  if (best.empty()) {
    if (auto it = nodes_.find(node); it != nodes_.end()) nodes_.erase(it);
  } else {
    nodes_.insert_or_assign(std::string(node), std::move(best));
  }
  for (const std::string& user : touched) reindexUser(user);
}

void UserTable::removeNode(std::string_view node) { updateSessions(node, 0, {}); }

std::optional<UserTable::Home> UserTable::home(std::string_view user, const Usable& usable) const {
  auto it = homes_.find(user);
  if (it == homes_.end()) return std::nullopt;
  for (const Candidate& c : it->second) {
    if (!usable || usable(c.node, c.tag)) return Home{c.node, c.tag, c.suspended};
  }
  return std::nullopt;
}

bool UserTable::learn(const Identity& id, std::string_view user, TimePoint now) {
  if (id.empty() || user.empty()) return false;
  auto& users = by_identity_[id];
  auto [it, inserted] = users.try_emplace(std::string(user), now);
  if (!inserted) {
    it->second = std::max(it->second, now);
    return false;
  }
  by_user_[std::string(user)].insert(id);
  ++pairs_;
  // At capacity a sorted pass frees 1% at once, so the cost is paid once per many learns.
  if (pairs_ > capacity_) shrinkTo(capacity_ - std::min(capacity_ - 1, capacity_ / 100));
  return true;
}

void UserTable::forget(const Identity& id, const std::string& user) {
  auto it = by_identity_.find(id);
  if (it == by_identity_.end() || it->second.erase(user) == 0) return;
  --pairs_;
  if (it->second.empty()) by_identity_.erase(it);
  auto u = by_user_.find(user);
  if (u != by_user_.end()) {
    u->second.erase(id);
    if (u->second.empty()) by_user_.erase(u);
  }
}

std::vector<std::string> UserTable::usersOf(const Identity& id) const {
  std::vector<std::string> out;
  auto it = by_identity_.find(id);
  if (it == by_identity_.end()) return out;
  for (const auto& [user, seen] : it->second) out.push_back(user);
  return out;  // std::map: sorted
}

size_t UserTable::expire(TimePoint now, Duration max_age) {
  size_t n = 0;
  for (const Learned& l : learned()) {
    if (l.last_seen + max_age > now) break;  // oldest first
    forget(l.identity, l.user);
    ++n;
  }
  std::erase_if(bounced_, [&](const auto& kv) { return kv.second + max_age <= now; });
  for (auto it = pins_.begin(); it != pins_.end();) {
    std::erase_if(it->second, [&](const Pin& p) { return p.until <= now; });
    it = it->second.empty() ? pins_.erase(it) : std::next(it);
  }
  return n;
}

void UserTable::pin(const Identity& id, Pin p) {
  constexpr size_t kMaxPinsPerIdentity = 16;  // a NAT of many bouncing users, bounded
  auto& q = pins_[id];
  if (q.size() >= kMaxPinsPerIdentity) q.pop_front();
  q.push_back(std::move(p));
}

std::optional<UserTable::Pin> UserTable::peekPin(const Identity& id, TimePoint now,
                                                 const Usable& usable) const {
  auto it = pins_.find(id);
  if (it == pins_.end()) return std::nullopt;
  for (const Pin& p : it->second) {
    if (p.until > now && (!usable || usable(p.node, p.tag))) return p;
  }
  return std::nullopt;
}

bool UserTable::takePin(const Identity& id, std::string_view node, TimePoint now) {
  auto it = pins_.find(id);
  if (it == pins_.end()) return false;
  auto& q = it->second;
  std::erase_if(q, [&](const Pin& p) { return p.until <= now; });
  auto p = std::find_if(q.begin(), q.end(), [&](const Pin& x) { return x.node == node; });
  bool taken = p != q.end();
  if (taken) q.erase(p);
  if (q.empty()) pins_.erase(it);
  return taken;
}

size_t UserTable::pins() const {
  size_t n = 0;
  for (const auto& [id, q] : pins_) n += q.size();
  return n;
}

std::optional<UserTable::TimePoint> UserTable::lastBounce(std::string_view user) const {
  auto it = bounced_.find(user);
  if (it == bounced_.end()) return std::nullopt;
  return it->second;
}

std::vector<UserTable::UserRow> UserTable::dump() const {
  std::map<std::string, UserRow, std::less<>> rows;
  for (const auto& [user, list] : homes_) {
    const Candidate& c = list.front();
    rows[user].home = Home{c.node, c.tag, c.suspended};
  }
  for (const auto& [user, ids] : by_user_) {
    UserRow& r = rows[user];
    r.identities.assign(ids.begin(), ids.end());
    for (const Identity& id : ids) {
      TimePoint seen = by_identity_.at(id).find(user)->second;
      if (!r.last_seen || seen > *r.last_seen) r.last_seen = seen;
    }
  }
  std::vector<UserRow> out;
  out.reserve(rows.size());
  for (auto& [user, r] : rows) {
    r.user = user;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<UserTable::Learned> UserTable::learned() const {
  std::vector<Learned> out;
  out.reserve(pairs_);
  for (const auto& [id, users] : by_identity_) {
    for (const auto& [user, seen] : users) out.push_back({id, user, seen});
  }
  std::sort(out.begin(), out.end(), [](const Learned& a, const Learned& b) {
    if (a.last_seen != b.last_seen) return a.last_seen < b.last_seen;
    if (a.identity != b.identity) return a.identity < b.identity;
    return a.user < b.user;
  });
  return out;
}

std::string_view toString(BounceOutcome o) {
  switch (o) {
    case BounceOutcome::kAtHome:
      return "at_home";
    case BounceOutcome::kHomeUnknown:
      return "home_unknown";
    case BounceOutcome::kBounced:
      return "bounced";
    case BounceOutcome::kKept:
      return "kept";
    case BounceOutcome::kTooOld:
      return "too_old";
    case BounceOutcome::kHomeUnusable:
      return "home_unusable";
    case BounceOutcome::kRepeat:
      return "repeat";
  }
  return "?";
}

BounceOutcome decideBounce(const BounceInput& in) {
  if (!in.home) return BounceOutcome::kHomeUnknown;
  if (in.home->node == in.current_node) return BounceOutcome::kAtHome;
  if (!in.bounce) return BounceOutcome::kKept;
  if (in.age > in.window) return BounceOutcome::kTooOld;
  if (!in.home_usable) return BounceOutcome::kHomeUnusable;
  if (in.last_bounce && in.now - *in.last_bounce < in.window) return BounceOutcome::kRepeat;
  return BounceOutcome::kBounced;
}

}  // namespace tsd::sticky
