// The randomised schedulers: weighted random (alias method, O(1)) and power of two choices.
// Both draw from their own seeded PRNG so tests and benchmarks replay exactly.
#include <vector>

#include "director/scheduler/sched_util.h"

namespace tsd::sched::detail {
namespace {

// Draws before giving up on rejection sampling and scanning for the possible nodes; rejection
// keeps picks O(1) while most nodes are possible, the scan bounds the rare all-full case.
constexpr int kDraws = 8;

// Weighted random: P(node) = weight / total, so uniform when weights are equal.
class WeightedRandom {
 public:
  WeightedRandom(std::vector<Node> nodes, uint64_t seed) : nodes_(std::move(nodes)), rng_(seed) {
    buildAlias();
  }

  std::optional<uint32_t> pick(const PickRequest& r) {
    if (nodes_.empty()) return std::nullopt;
    for (int i = 0; i < kDraws; ++i) {
      uint32_t k = rng_.below(static_cast<uint32_t>(nodes_.size()));
      if (rng_.unit() >= prob_[k]) k = alias_[k];
      if (possible(nodes_[k], r)) return nodes_[k].id;
    }
    return pickAmongPossible(r);
  }

 private:
  // Vose's alias method: each column k keeps prob_[k] of itself, the rest goes to alias_[k].
  void buildAlias() {
    size_t n = nodes_.size();
    prob_.assign(n, 1.0);
    alias_.resize(n);
    double total = 0;
    for (const Node& x : nodes_) total += x.weight;
    std::vector<double> scaled(n);
    std::vector<uint32_t> small, large;
    for (size_t k = 0; k < n; ++k) {
      alias_[k] = static_cast<uint32_t>(k);
      scaled[k] = nodes_[k].weight * static_cast<double>(n) / total;
      (scaled[k] < 1.0 ? small : large).push_back(static_cast<uint32_t>(k));
    }
    while (!small.empty() && !large.empty()) {
      uint32_t s = small.back(), l = large.back();
      small.pop_back();
      prob_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // Leftovers (rounding) keep probability 1 of themselves.
  }

  std::optional<uint32_t> pickAmongPossible(const PickRequest& r) {
    double total = 0;
    for (const Node& x : nodes_) {
      if (possible(x, r)) total += x.weight;
    }
    if (total <= 0) return std::nullopt;
    double target = rng_.unit() * total;
    const Node* last = nullptr;
    for (const Node& x : nodes_) {
      if (!possible(x, r)) continue;
      last = &x;
      if (target < x.weight) return x.id;
      target -= x.weight;
    }
    return last->id;  // rounding left a sliver past the end
  }

  std::vector<Node> nodes_;
  std::vector<double> prob_;
  std::vector<uint32_t> alias_;
  Prng rng_;
};

// Power of two choices: two distinct random possible nodes, the less busy one wins. Cheap,
// O(1), and it avoids the herd that "least" algorithms send to one node between updates.
class PowerOfTwo {
 public:
  PowerOfTwo(std::vector<Node> nodes, uint64_t seed) : nodes_(std::move(nodes)), rng_(seed) {}

  std::optional<uint32_t> pick(const PickRequest& r) {
    uint32_t n = static_cast<uint32_t>(nodes_.size());
    if (n == 0) return std::nullopt;
    std::optional<uint32_t> a = draw(r, n, n);
    if (!a) return scanPick(r);
    std::optional<uint32_t> b = n > 1 ? draw(r, n, *a) : std::nullopt;
    if (!b) b = nthPossible(r, *a);
    if (!b) return nodes_[*a].id;
    return nodes_[better(r, *a, *b) ? *a : *b].id;
  }

 private:
  // A random possible index other than `skip`, by rejection; nullopt after kDraws misses.
  std::optional<uint32_t> draw(const PickRequest& r, uint32_t n, uint32_t skip) {
    for (int i = 0; i < kDraws; ++i) {
      uint32_t k = rng_.below(n);
      if (k != skip && possible(nodes_[k], r)) return k;
    }
    return std::nullopt;
  }

  // Whether a is at least as good as b: lower load when both are known, else lower
  // active/weight.
  bool better(const PickRequest& r, uint32_t a, uint32_t b) const {
    const Node& x = nodes_[a];
    const Node& y = nodes_[b];
    if (x.load >= 0 && y.load >= 0 && x.load != y.load) return x.load < y.load;
    return activeOf(r, x.id) * x.inv_weight <= activeOf(r, y.id) * y.inv_weight;
  }

  // Rare path (most nodes impossible): uniform choice among the possible ones, then a rival.
  std::optional<uint32_t> scanPick(const PickRequest& r) {
    std::optional<uint32_t> a = nthPossible(r, nodes_.size());
    if (!a) return std::nullopt;
    std::optional<uint32_t> b = nthPossible(r, *a);
    if (!b) return nodes_[*a].id;
    return nodes_[better(r, *a, *b) ? *a : *b].id;
  }
  // A uniformly chosen possible index other than `skip` (skip >= size: none skipped).
  std::optional<uint32_t> nthPossible(const PickRequest& r, size_t skip) {
    uint32_t count = 0;
    for (size_t k = 0; k < nodes_.size(); ++k) count += k != skip && possible(nodes_[k], r);
    if (count == 0) return std::nullopt;
    uint32_t want = rng_.below(count);
    for (size_t k = 0; k < nodes_.size(); ++k) {
      if (k != skip && possible(nodes_[k], r) && want-- == 0) return static_cast<uint32_t>(k);
    }
    return std::nullopt;
  }

  std::vector<Node> nodes_;
  Prng rng_;
};

}  // namespace

std::unique_ptr<Scheduler> makeRandom(const NodeSnapshot& s, uint64_t seed) {
  return std::make_unique<Tiered<WeightedRandom>>(s, seed);
}

std::unique_ptr<Scheduler> makeP2c(const NodeSnapshot& s, uint64_t seed) {
  return std::make_unique<Tiered<PowerOfTwo>>(s, seed);
}

}  // namespace tsd::sched::detail
