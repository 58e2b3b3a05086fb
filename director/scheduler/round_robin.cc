// Round robin and smooth weighted round robin. Both are deterministic: the same snapshot and
// the same requests give the same sequence, which the tests check exactly.
#include <algorithm>
#include <vector>

#include "director/scheduler/sched_util.h"

namespace tsd::sched::detail {
namespace {

// Plain rotation over the nodes in id order, skipping impossible ones; weights are ignored.
class RoundRobin {
 public:
  RoundRobin(std::vector<Node> nodes, uint64_t /*seed*/) : nodes_(std::move(nodes)) {}

  std::optional<uint32_t> pick(const PickRequest& r) {
    size_t n = nodes_.size();
    for (size_t i = 0; i < n; ++i) {
      size_t k = cursor_ + i < n ? cursor_ + i : cursor_ + i - n;
      if (possible(nodes_[k], r)) {
        cursor_ = k + 1 < n ? k + 1 : 0;
        return nodes_[k].id;
      }
    }
    return std::nullopt;
  }

 private:
  std::vector<Node> nodes_;
  size_t cursor_ = 0;
};

// Smooth weighted round robin as virtual-time scheduling: node i's k-th turn (k = 0, 1, ...)
// is due at (k + 1/2) / weight_i and the earliest due turn goes next (ties: lower id). Every
// window of W = sum(weights) picks gives node i exactly weight_i of them, interleaved, as in
// nginx's algorithm; unlike nginx's O(n) scan, a min-heap makes a pick O(log n).
// Impossible nodes: an excluded node is skipped without losing its turn (it was just tried for
// this connection only); a full node forfeits its turn, so it cannot bank turns while full and
// burst when a session ends.
class SmoothWrr {
 public:
  SmoothWrr(std::vector<Node> nodes, uint64_t /*seed*/)
      : nodes_(std::move(nodes)), turns_(nodes_.size(), 0) {
    for (uint32_t k = 0; k < nodes_.size(); ++k) heap_.push_back(Due{due(k), k});
    std::make_heap(heap_.begin(), heap_.end(), Later{});
  }

  std::optional<uint32_t> pick(const PickRequest& r) {
    std::optional<uint32_t> chosen;
    int forfeits = 0;
    while (!heap_.empty() && forfeits < kMaxForfeits) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      Due top = heap_.back();
      const Node& x = nodes_[top.index];
      if (excluded(r, x.id)) {
        heap_.pop_back();
        aside_.push_back(top);
        continue;
      }
      ++turns_[top.index];
      heap_.back().due = due(top.index);
      std::push_heap(heap_.begin(), heap_.end(), Later{});
      if (!full(x, r)) {
        chosen = x.id;
        break;
      }
      ++forfeits;
    }
    for (const Due& d : aside_) {
      heap_.push_back(d);
      std::push_heap(heap_.begin(), heap_.end(), Later{});
    }
    aside_.clear();
    if (chosen || forfeits < kMaxForfeits) return chosen;
    return pickByScan(r);
  }

 private:
  // Forfeits per pick before scanning instead (most nodes full: keeps a pick O(n) at worst).
  static constexpr int kMaxForfeits = 32;

  struct Due {
    double due;
    uint32_t index;
  };
  struct Later {  // heap order: the earliest due (then the lowest index) on top
    bool operator()(const Due& a, const Due& b) const {
      return a.due > b.due || (a.due == b.due && a.index > b.index);
    }
  };

  // Computed afresh from the turn count (not accumulated) so equal due times compare equal.
  double due(uint32_t k) const { return (static_cast<double>(turns_[k]) + 0.5) / nodes_[k].weight; }

  std::optional<uint32_t> pickByScan(const PickRequest& r) {
    size_t best = heap_.size();
    for (size_t h = 0; h < heap_.size(); ++h) {
      if (!possible(nodes_[heap_[h].index], r)) continue;
      if (best == heap_.size() || Later{}(heap_[best], heap_[h])) best = h;
    }
    if (best == heap_.size()) return std::nullopt;
    uint32_t k = heap_[best].index;
    ++turns_[k];
    heap_[best].due = due(k);
    std::make_heap(heap_.begin(), heap_.end(), Later{});
    return nodes_[k].id;
  }

  std::vector<Node> nodes_;
  std::vector<uint64_t> turns_;
  std::vector<Due> heap_;
  std::vector<Due> aside_;  // excluded entries during one pick; reused to avoid allocating
};

}  // namespace

std::unique_ptr<Scheduler> makeRoundRobin(const NodeSnapshot& s) {
  return std::make_unique<Tiered<RoundRobin>>(s, 0);
}

std::unique_ptr<Scheduler> makeSmoothWrr(const NodeSnapshot& s) {
  return std::make_unique<Tiered<SmoothWrr>>(s, 0);
}

}  // namespace tsd::sched::detail
