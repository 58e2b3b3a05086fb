// The "least" schedulers: least-conn, weighted-least-conn and least-load. Each tier keeps its
// nodes' scores in a MinTree by position (nodes sorted by id), so a pick is the lowest score's
// first position at or after a rotating cursor, in O(log n): nodes with equal scores take
// turns exactly as a scan from the cursor keeping the first strictly-better node would.
// Counts come either pushed (setActive, a tracking scheduler) or from each request (compared
// with the last ones seen: O(n), for callers that cannot push).
#include <algorithm>
#include <cassert>
#include <limits>
#include <vector>

#include "director/scheduler/min_tree.h"
#include "director/scheduler/sched_util.h"

namespace tsd::sched::detail {
namespace {

enum class Rank { kConn, kWeightedConn, kLoad };

constexpr double kInf = std::numeric_limits<double>::infinity();

// least-load's score: agent load first, then sessions per weight.
struct LoadScore {
  double load;
  double per_weight;
  friend bool operator<(const LoadScore& a, const LoadScore& b) {
    return a.load < b.load || (a.load == b.load && a.per_weight < b.per_weight);
  }
};

template <Rank kRank>
using ScoreOf = std::conditional_t<kRank == Rank::kLoad, LoadScore, double>;

// A full or excluded node: ranks after every possible one, and the tree's padding.
template <Rank kRank>
constexpr ScoreOf<kRank> kOut = [] {
  if constexpr (kRank == Rank::kLoad) {
    return LoadScore{kInf, kInf};
  } else {
    return kInf;
  }
}();

template <Rank kRank>
class LeastScheduler {
 public:
  using Score = ScoreOf<kRank>;

  LeastScheduler(std::vector<Node> nodes, const CountSource& counts)
      : tracked_(counts.tracked), tree_(nodes.size(), kOut<kRank>) {
    uint32_t max_id = 0;
    for (const Node& x : nodes) max_id = std::max(max_id, x.id);
    position_.assign(nodes.empty() ? 0 : max_id + 1, kAbsent);
    std::vector<Score> scores;
    for (const Node& x : nodes) {
      position_[x.id] = static_cast<uint32_t>(ids_.size());
      ids_.push_back(x.id);
      caps_.push_back(x.max_sessions != 0 ? x.max_sessions : kNoCap);
      inv_weight_.push_back(kRank == Rank::kConn ? 1.0 : x.inv_weight);
      // Unknown loads rank after every known one: a score no real load per CPU reaches.
      load_.push_back(x.load >= 0 ? x.load : std::numeric_limits<double>::max());
      active_.push_back(x.id < counts.initial.size() ? counts.initial[x.id] : 0);
      scores.push_back(score(ids_.size() - 1));
    }
    tree_.assign(scores);
  }

  std::optional<uint32_t> pick(const PickRequest& r) {
    size_t n = ids_.size();
    if (n == 0) return std::nullopt;
    if (!tracked_) syncFrom(r);
    // Excluded nodes sit this pick out; exclusion lists are short (connect_attempts <= 16).
    for (uint32_t id : r.exclude) {
      if (size_t k = positionOf(id); k != kNone) tree_.set(k, kOut<kRank>);
    }
    std::optional<uint32_t> out;
    const Score best = tree_.min();
    if (best < kOut<kRank>) {
      size_t k = tree_.firstAtMost(cursor_, best);
      if (k == kNone) k = tree_.firstAtMost(0, best);
      cursor_ = k + 1 < n ? k + 1 : 0;
      out = ids_[k];
      // A tracking scheduler's counts must be the caller's: a missed setActive shows here.
      assert(!tracked_ || ids_[k] >= r.active.size() || r.active[ids_[k]] == active_[k]);
    }
    for (uint32_t id : r.exclude) {
      if (size_t k = positionOf(id); k != kNone) tree_.set(k, score(k));
    }
    return out;
  }

  void setActive(uint32_t id, uint32_t active) {
    size_t k = positionOf(id);
    if (k == kNone || active_[k] == active) return;
    active_[k] = active;
    tree_.set(k, score(k));
  }

 private:
  static constexpr uint32_t kNoCap = std::numeric_limits<uint32_t>::max();
  static constexpr uint32_t kAbsent = std::numeric_limits<uint32_t>::max();
  static constexpr size_t kNone = MinTree<Score>::kNone;

  // The same arithmetic as the O(n) scan this replaced, so equal scores are equal here too.
  Score score(size_t k) const {
    if (active_[k] >= caps_[k]) return kOut<kRank>;
    double per_weight = active_[k] * inv_weight_[k];
    if constexpr (kRank == Rank::kLoad) {
      return LoadScore{load_[k], per_weight};
    } else {
      return per_weight;
    }
  }

  size_t positionOf(uint32_t id) const {
    return id < position_.size() && position_[id] != kAbsent ? position_[id] : kNone;
  }

  // Counts from the request: only the nodes whose count moved touch the tree.
  void syncFrom(const PickRequest& r) {
    for (size_t k = 0; k < ids_.size(); ++k) {
      uint32_t a = activeOf(r, ids_[k]);
      if (a != active_[k]) {
        active_[k] = a;
        tree_.set(k, score(k));
      }
    }
  }

  bool tracked_;
  std::vector<uint32_t> ids_;  // by position: sorted by id
  std::vector<uint32_t> caps_;
  std::vector<double> inv_weight_;
  std::vector<double> load_;
  std::vector<uint32_t> active_;
  std::vector<uint32_t> position_;  // by id: position, or kAbsent
  MinTree<Score> tree_;
  size_t cursor_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> makeLeastConn(const NodeSnapshot& s, const CountSource& c) {
  return std::make_unique<Tiered<LeastScheduler<Rank::kConn>>>(s, c, c);
}

std::unique_ptr<Scheduler> makeWeightedLeastConn(const NodeSnapshot& s, const CountSource& c) {
  return std::make_unique<Tiered<LeastScheduler<Rank::kWeightedConn>>>(s, c, c);
}

std::unique_ptr<Scheduler> makeLeastLoad(const NodeSnapshot& s, const CountSource& c) {
  return std::make_unique<Tiered<LeastScheduler<Rank::kLoad>>>(s, c, c);
}

}  // namespace tsd::sched::detail
