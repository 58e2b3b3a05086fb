// Consistent hashing of client identities: the stable Maglev-style table and the kHash
// scheduler that looks keys up in it and walks on deterministically past impossible nodes.
#include "director/scheduler/consistent_hash.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "director/scheduler/sched_util.h"

namespace tsd::sched {
namespace {

// Fixed seeds: every director must derive the same table from the same names.
constexpr uint64_t kOffsetSeed = 0x6d61676c65762d6fULL;  // "maglev-o"
constexpr uint64_t kSkipSeed = 0x6d61676c65762d73ULL;    // "maglev-s"
constexpr uint64_t kFallbackSeed = 0x6d61676c65762d66ULL;
constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kSizes[] = {65537, 131071, 262139, 524287, 1048573};

// One node's walk along its permutation, in rank order.
struct Walker {
  uint32_t pos;   // slot of rank `next`
  uint32_t skip;  // permutation stride, 1..size-1
  uint32_t next;  // next rank to claim
  double inv_weight;
};

// The best claim on each slot so far: the lowest score, then the lowest node index.
class Claims {
 public:
  explicit Claims(uint32_t size) : owner_(size, kNone), best_(size) {}
  bool full() const { return filled_ == owner_.size(); }
  void claim(uint32_t slot, uint32_t node, double score) {
    uint32_t& o = owner_[slot];
    if (o == kNone) ++filled_;
    if (o == kNone || score < best_[slot] || (score == best_[slot] && node < o)) {
      o = node;
      best_[slot] = score;
    }
  }
  std::vector<uint32_t> owners() && { return std::move(owner_); }

 private:
  std::vector<uint32_t> owner_;
  std::vector<double> best_;
  size_t filled_ = 0;
};

// -ln(1 - k/size) for every rank k: the exponential order statistic that turns a rank into a
// score. Computed once per table size (a few sizes exist) and kept: it is most of a small
// table's build time.
const std::vector<double>& rankScores(uint32_t size) {
  static std::mutex mu;
  static std::map<uint32_t, std::vector<double>> cache;
  std::lock_guard lock(mu);
  std::vector<double>& v = cache[size];
  if (v.empty()) {
    v.resize(size);
    for (uint32_t k = 0; k < size; ++k) v[k] = -std::log1p(-static_cast<double>(k) / size);
  }
  return v;
}

}  // namespace

uint32_t hashTableSize(size_t nodes) {
  for (uint32_t s : kSizes) {
    if (s >= nodes * 100) return s;
  }
  return kSizes[std::size(kSizes) - 1];
}

std::vector<uint32_t> buildHashTable(std::span<const HashNode> nodes, uint32_t size) {
  if (nodes.empty() || size < 3) return {};
  const std::vector<double>& rank_score = rankScores(size);
  std::vector<Walker> walkers;
  double total = 0;
  for (const HashNode& n : nodes) {
    uint32_t offset = detail::hashBytes(n.name, kOffsetSeed) % size;
    uint32_t skip = detail::hashBytes(n.name, kSkipSeed) % (size - 1) + 1;
    walkers.push_back(Walker{offset, skip, 0, 1.0 / n.weight});
    total += n.weight;
  }
  Claims claims(size);
  // Claim in rounds of rising score thresholds. Each round every node claims all its ranks
  // scoring <= the threshold, so once the table is full after a round, each slot holds the
  // best claim there is: the result does not depend on the rounds or on node order.
  for (uint64_t round = 1; !claims.full(); ++round) {
    double threshold = static_cast<double>(round) / total;
    for (uint32_t i = 0; i < walkers.size(); ++i) {
      Walker& w = walkers[i];
      while (w.next < size && rank_score[w.next] * w.inv_weight <= threshold) {
        claims.claim(w.pos, i, rank_score[w.next] * w.inv_weight);
        ++w.next;
        w.pos = w.pos + w.skip >= size ? w.pos + w.skip - size : w.pos + w.skip;
      }
    }
  }
  return std::move(claims).owners();
}

namespace detail {
namespace {

// Past this many slots the walk gives up and ranks the possible nodes directly (rare: most
// nodes full or excluded).
constexpr int kMaxWalk = 64;

class ConsistentHash final : public Scheduler {
 public:
  explicit ConsistentHash(const NodeSnapshot& s) {
    std::vector<std::pair<std::string_view, Node>> named;
    for (const SchedNode& n : s.nodes) named.emplace_back(n.name, toNode(n));
    std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) {
      return a.first < b.first || (a.first == b.first && a.second.id < b.second.id);
    });
    std::vector<HashNode> keys;
    for (const auto& [name, node] : named) {
      nodes_.push_back(node);
      name_hash_.push_back(hashBytes(name, kFallbackSeed));
      keys.push_back(HashNode{name, node.weight});
    }
    table_ = buildHashTable(keys, hashTableSize(keys.size()));
  }

  std::optional<uint32_t> pick(const PickRequest& r) override {
    if (nodes_.empty()) return std::nullopt;
    uint32_t size = static_cast<uint32_t>(table_.size());
    uint32_t slot = scaleTo(mix64(r.key_hash), size);
    std::optional<uint32_t> first_degraded;
    for (int i = 0; i < kMaxWalk; ++i) {
      const Node& x = nodes_[table_[slot]];
      if (possible(x, r)) {
        if (!x.degraded) return x.id;
        if (!first_degraded) first_degraded = x.id;
      }
      slot = slot + 1 < size ? slot + 1 : 0;
    }
    if (auto id = highestRandomWeight(r, false)) return id;
    if (first_degraded) return first_degraded;
    return highestRandomWeight(r, true);
  }

 private:
  // Rendezvous choice among possible nodes of one tier: deterministic per key, O(n).
  std::optional<uint32_t> highestRandomWeight(const PickRequest& r, bool degraded) const {
    std::optional<uint32_t> best;
    uint64_t best_score = 0;
    for (size_t k = 0; k < nodes_.size(); ++k) {
      const Node& x = nodes_[k];
      if (x.degraded != degraded || !possible(x, r)) continue;
      uint64_t score = mix64(r.key_hash ^ name_hash_[k]);
      if (!best || score > best_score) {
        best = x.id;
        best_score = score;
      }
    }
    return best;
  }

  std::vector<Node> nodes_;  // sorted by name; table_ holds indexes into it
  std::vector<uint64_t> name_hash_;
  std::vector<uint32_t> table_;
};

}  // namespace

std::unique_ptr<Scheduler> makeConsistentHash(const NodeSnapshot& s) {
  return std::make_unique<ConsistentHash>(s);
}

}  // namespace detail
}  // namespace tsd::sched
