// makeScheduler, the identity hash and the node sanitising shared by every algorithm.
#include "director/scheduler/scheduler.h"

#include <algorithm>
#include <cmath>

#include "director/scheduler/sched_util.h"

namespace tsd::sched {
namespace detail {
namespace {

constexpr double kMinWeight = 1e-6;

uint64_t load64le(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

}  // namespace

uint64_t hashBytes(std::string_view s, uint64_t seed) {
  constexpr uint64_t kM1 = 0x9fb21c651e98df25ULL;
  constexpr uint64_t kM2 = 0xc2b2ae3d27d4eb4fULL;
  uint64_t h = mix64(seed ^ (s.size() * kM1));
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    h ^= mix64(load64le(s.data() + i, 8) + kM2);
    h = rotl(h, 29) * kM1;
  }
  // The tail is tagged with its length so "a" and "a\0" differ.
  uint64_t tail =
      load64le(s.data() + i, s.size() - i) | (static_cast<uint64_t>(s.size() - i) << 56);
  h ^= mix64(tail ^ kM2);
  return mix64(h);
}

Node toNode(const SchedNode& n) {
  double w = n.weight > kMinWeight ? n.weight : kMinWeight;  // also maps NaN to the minimum
  double load = n.load >= 0 && std::isfinite(n.load) ? n.load : -1;
  return Node{n.id, w, 1.0 / w, load, n.max_sessions, n.degraded};
}

std::vector<Node> compactNodes(const NodeSnapshot& s) {
  std::vector<Node> out;
  out.reserve(s.nodes.size());
  for (const SchedNode& n : s.nodes) out.push_back(toNode(n));
  std::sort(out.begin(), out.end(), [](const Node& a, const Node& b) { return a.id < b.id; });
  return out;
}

std::vector<Node> tierNodes(const NodeSnapshot& s, bool degraded) {
  std::vector<Node> all = compactNodes(s);
  std::erase_if(all, [degraded](const Node& n) { return n.degraded != degraded; });
  return all;
}

}  // namespace detail

namespace {

std::unique_ptr<Scheduler> build(conf::Algorithm a, const NodeSnapshot* snapshot, uint64_t seed,
                                 const detail::CountSource& counts) {
  static const NodeSnapshot kEmpty;
  const NodeSnapshot& s = snapshot ? *snapshot : kEmpty;
  switch (a) {
    case conf::Algorithm::kRandom:
      return detail::makeRandom(s, seed);
    case conf::Algorithm::kRoundRobin:
      return detail::makeRoundRobin(s);
    case conf::Algorithm::kWeightedRoundRobin:
      return detail::makeSmoothWrr(s);
    case conf::Algorithm::kLeastConn:
      return detail::makeLeastConn(s, counts);
    case conf::Algorithm::kWeightedLeastConn:
      return detail::makeWeightedLeastConn(s, counts);
    case conf::Algorithm::kLeastLoad:
      return detail::makeLeastLoad(s, counts);
    case conf::Algorithm::kHash:
      return detail::makeConsistentHash(s);
    case conf::Algorithm::kP2c:
      return detail::makeP2c(s, seed);
  }
  return detail::makeWeightedLeastConn(s, counts);  // unreachable for valid enum values
}

}  // namespace

std::unique_ptr<Scheduler> makeScheduler(conf::Algorithm a,
                                         std::shared_ptr<const NodeSnapshot> snapshot,
                                         uint64_t seed) {
  return build(a, snapshot.get(), seed, detail::CountSource{});
}

std::unique_ptr<Scheduler> makeTrackingScheduler(conf::Algorithm a,
                                                 std::shared_ptr<const NodeSnapshot> snapshot,
                                                 uint64_t seed, std::span<const uint32_t> active) {
  return build(a, snapshot.get(), seed, detail::CountSource{true, active});
}

uint64_t hashKey(std::string_view identity) { return detail::hashBytes(identity, 0); }

namespace {

bool usesLoad(conf::Algorithm a) {
  return a == conf::Algorithm::kLeastLoad || a == conf::Algorithm::kP2c;
}

bool usesWeight(conf::Algorithm a) {
  return a != conf::Algorithm::kRoundRobin && a != conf::Algorithm::kLeastConn &&
         a != conf::Algorithm::kLeastLoad;
}

bool weightMoved(double a, double b) {
  double hi = std::max(std::abs(a), std::abs(b));
  return hi > 0 && std::abs(a - b) > kWeightTolerance * hi;
}

}  // namespace

bool needsRebuild(conf::Algorithm a, const NodeSnapshot& old, const NodeSnapshot& next) {
  if (old.nodes.size() != next.nodes.size()) return true;
  auto byId = [](const NodeSnapshot& s) {
    std::vector<const SchedNode*> v;
    for (const auto& n : s.nodes) v.push_back(&n);
    std::sort(v.begin(), v.end(), [](auto* x, auto* y) { return x->id < y->id; });
    return v;
  };
  auto x = byId(old), y = byId(next);
  for (size_t i = 0; i < x.size(); ++i) {
    const SchedNode& o = *x[i];
    const SchedNode& n = *y[i];
    if (o.id != n.id || o.degraded != n.degraded || o.max_sessions != n.max_sessions) return true;
    if (usesLoad(a) && o.load != n.load) return true;
    if (usesWeight(a) && weightMoved(o.weight, n.weight)) return true;
  }
  return false;
}

}  // namespace tsd::sched
