// The "least" schedulers: least-conn, weighted-least-conn and least-load. Live counts arrive
// with every request, so each pick is one tight O(n) scan; the scan starts at a rotating
// cursor so nodes with equal scores take turns instead of the lowest id taking everything.
#include <algorithm>
#include <limits>
#include <vector>

#include "director/scheduler/sched_util.h"

namespace tsd::sched::detail {
namespace {

enum class Rank { kConn, kWeightedConn, kLoad };

// Columns instead of Node records, and branch-free scoring, keep the scan near 1 ns a node.
template <Rank kRank>
class LeastScheduler {
 public:
  LeastScheduler(std::vector<Node> nodes, uint64_t /*seed*/) {
    for (const Node& x : nodes) {
      ids_.push_back(x.id);
      caps_.push_back(x.max_sessions != 0 ? x.max_sessions : kNoCap);
      inv_weight_.push_back(kRank == Rank::kConn ? 1.0 : x.inv_weight);
      load_.push_back(x.load >= 0 ? x.load : kUnknownLoad);
      max_id_ = std::max(max_id_, x.id);
    }
  }

  std::optional<uint32_t> pick(const PickRequest& r) {
    size_t n = ids_.size();
    if (n == 0) return std::nullopt;
    Best best;
    // Strictly-better comparisons: among equal scores the first one after the cursor wins.
    if (r.active.size() > max_id_) {
      scan<true>(r, cursor_, n, best);
      scan<true>(r, 0, cursor_, best);
    } else {
      scan<false>(r, cursor_, n, best);
      scan<false>(r, 0, cursor_, best);
    }
    if (best.index == kNone) return std::nullopt;
    cursor_ = best.index + 1 < n ? best.index + 1 : 0;
    return ids_[best.index];
  }

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  // Unknown loads rank after every known one: a score no real load per CPU reaches.
  static constexpr double kUnknownLoad = std::numeric_limits<double>::max();
  static constexpr uint32_t kNoCap = std::numeric_limits<uint32_t>::max();
  static constexpr size_t kNone = std::numeric_limits<size_t>::max();

  struct Best {
    size_t index = kNone;
    double first = kInf;   // load (kLoad) or sessions per weight (full nodes: kInf)
    double second = kInf;  // kLoad only: sessions per weight
  };

  // kAllCounted: every id has an entry in r.active, so the bounds check can go.
  template <bool kAllCounted>
  void scan(const PickRequest& r, size_t from, size_t to, Best& best) const {
    for (size_t k = from; k < to; ++k) {
      uint32_t id = ids_[k];
      uint32_t active = kAllCounted ? r.active[id] : activeOf(r, id);
      double per_weight = active * inv_weight_[k];
      bool is_full = active >= caps_[k];
      if constexpr (kRank == Rank::kLoad) {
        double first = load_[k];
        if (!is_full && (first < best.first || (first == best.first && per_weight < best.second)) &&
            !excluded(r, id)) {
          best = Best{k, first, per_weight};
        }
      } else {
        double first = is_full ? kInf : per_weight;
        if (first < best.first && !excluded(r, id)) best = Best{k, first, 0};
      }
    }
  }

  std::vector<uint32_t> ids_;
  std::vector<uint32_t> caps_;
  std::vector<double> inv_weight_;
  std::vector<double> load_;
  uint32_t max_id_ = 0;
  size_t cursor_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> makeLeastConn(const NodeSnapshot& s) {
  return std::make_unique<Tiered<LeastScheduler<Rank::kConn>>>(s, 0);
}

std::unique_ptr<Scheduler> makeWeightedLeastConn(const NodeSnapshot& s) {
  return std::make_unique<Tiered<LeastScheduler<Rank::kWeightedConn>>>(s, 0);
}

std::unique_ptr<Scheduler> makeLeastLoad(const NodeSnapshot& s) {
  return std::make_unique<Tiered<LeastScheduler<Rank::kLoad>>>(s, 0);
}

}  // namespace tsd::sched::detail
