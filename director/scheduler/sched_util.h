// Internal helpers shared by the scheduler implementations: the compact node record, the
// eligibility rules every algorithm obeys, a seeded PRNG and the degraded-tier wrapper.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "director/scheduler/scheduler.h"

namespace tsd::sched::detail {

// The splitmix64 finalizer: a full-avalanche 64-bit mixer.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// floor(x * n / 2^64): maps a uniform 64-bit value onto [0, n) without a division.
inline uint32_t scaleTo(uint64_t x, uint32_t n) {
  return static_cast<uint32_t>((static_cast<unsigned __int128>(x) * n) >> 64);
}

// Seeded bytes hash, stable across builds and platforms (explicit little-endian reads).
uint64_t hashBytes(std::string_view s, uint64_t seed);

// splitmix64: tiny, fast, and good enough to spread sessions; never the global rand().
class Prng {
 public:
  explicit Prng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  // Uniform in [0, n) for n > 0; the bias of the multiply-shift (n / 2^64) is negligible.
  uint32_t below(uint32_t n) { return scaleTo(next(), n); }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

struct Node {
  uint32_t id;
  double weight;
  double inv_weight;
  double load;  // < 0: unknown
  uint32_t max_sessions;
  bool degraded;
};

inline uint32_t activeOf(const PickRequest& r, uint32_t id) {
  return id < r.active.size() ? r.active[id] : 0;
}
inline bool excluded(const PickRequest& r, uint32_t id) {
  for (uint32_t e : r.exclude) {
    if (e == id) return true;
  }
  return false;
}
inline bool full(const Node& n, const PickRequest& r) {
  return n.max_sessions != 0 && activeOf(r, n.id) >= n.max_sessions;
}
inline bool possible(const Node& n, const PickRequest& r) {
  return !full(n, r) && !excluded(r, n.id);
}

// A sanitised copy: a non-positive or NaN weight becomes tiny, a NaN or negative load unknown.
Node toNode(const SchedNode& n);
// Sanitised copies of the snapshot nodes, sorted by id so a run does not depend on the
// snapshot's order.
std::vector<Node> compactNodes(const NodeSnapshot& s);
// The nodes of one tier (degraded or not), sorted by id.
std::vector<Node> tierNodes(const NodeSnapshot& s, bool degraded);

// How the "least" schedulers learn live session counts: `tracked`, the caller pushes every
// change with setActive() after building with `initial`; otherwise each request's `active`.
struct CountSource {
  bool tracked = false;
  std::span<const uint32_t> initial;  // by node id; missing = 0
};

// Runs a per-tier policy on the non-degraded nodes first, then on the degraded ones, so every
// algorithm gets "Busy/Swapped/Slow only when nothing else is possible" for free.
template <class Policy>
class Tiered final : public Scheduler {
 public:
  Tiered(const NodeSnapshot& s, uint64_t seed)
      : normal_(tierNodes(s, false), seed), degraded_(tierNodes(s, true), mix64(seed + 1)) {}
  Tiered(const NodeSnapshot& s, const CountSource& normal, const CountSource& degraded)
      : normal_(tierNodes(s, false), normal), degraded_(tierNodes(s, true), degraded) {}
  std::optional<uint32_t> pick(const PickRequest& r) override {
    if (auto id = normal_.pick(r)) return id;
    return degraded_.pick(r);
  }
  void setActive(uint32_t id, uint32_t active) override {
    if constexpr (requires(Policy & p) { p.setActive(id, active); }) {
      normal_.setActive(id, active);
      degraded_.setActive(id, active);
    }
  }

 private:
  Policy normal_;
  Policy degraded_;
};

std::unique_ptr<Scheduler> makeRandom(const NodeSnapshot& s, uint64_t seed);
std::unique_ptr<Scheduler> makeRoundRobin(const NodeSnapshot& s);
std::unique_ptr<Scheduler> makeSmoothWrr(const NodeSnapshot& s);
std::unique_ptr<Scheduler> makeLeastConn(const NodeSnapshot& s, const CountSource& c);
std::unique_ptr<Scheduler> makeWeightedLeastConn(const NodeSnapshot& s, const CountSource& c);
std::unique_ptr<Scheduler> makeLeastLoad(const NodeSnapshot& s, const CountSource& c);
std::unique_ptr<Scheduler> makeP2c(const NodeSnapshot& s, uint64_t seed);
std::unique_ptr<Scheduler> makeConsistentHash(const NodeSnapshot& s);

}  // namespace tsd::sched::detail
