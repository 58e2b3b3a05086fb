// The incremental "least" schedulers: MinTree against a plain scan, and the tracking and
// per-request schedulers against the O(n) scan they replaced (the reference for every tie and
// every turn of the rotation), through count changes, full nodes, exclusions and tiers.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "director/scheduler/min_tree.h"
#include "director/scheduler/sched_util.h"
#include "tests/unit/scheduler/sched_test_util.h"

namespace tsd::sched {
namespace {

using namespace schedtest;
using detail::MinTree;
using detail::Prng;

TEST(MinTreeTest, FirstAtMostMatchesAScan) {
  Prng rng(5);
  for (size_t n : {1u, 2u, 3u, 7u, 8u, 9u, 100u}) {
    const int kFill = 1000;
    MinTree<int> tree(n, kFill);
    std::vector<int> v(n);
    for (auto& x : v) x = static_cast<int>(rng.below(4));
    tree.assign(v);
    for (int step = 0; step < 2000; ++step) {
      size_t k = rng.below(static_cast<uint32_t>(n));
      v[k] = rng.below(8) == 0 ? kFill : static_cast<int>(rng.below(4));
      tree.set(k, v[k]);
      int lo = kFill;
      for (int x : v) lo = std::min(lo, x);
      ASSERT_EQ(tree.min(), lo) << "n " << n << " step " << step;
      size_t from = rng.below(static_cast<uint32_t>(n + 1));
      int bound = static_cast<int>(rng.below(4));
      size_t expect = MinTree<int>::kNone;
      for (size_t i = from; i < n && expect == MinTree<int>::kNone; ++i) {
        if (v[i] <= bound) expect = i;
      }
      ASSERT_EQ(tree.firstAtMost(from, bound), expect) << "n " << n << " from " << from;
    }
  }
}

TEST(MinTreeTest, EmptyTreeFindsNothing) {
  MinTree<double> tree(0, 1.0 / 0.0);
  tree.assign({});
  EXPECT_EQ(tree.firstAtMost(0, 5.0), MinTree<double>::kNone);
}

// The O(n) scan least_conn.cc used before the tree (commit 2b24def), tier by tier: from a
// rotating cursor, keep the first strictly better possible node.
class ScanReference {
 public:
  ScanReference(Algorithm a, const std::vector<Spec>& specs) : alg_(a) {
    for (bool degraded : {false, true}) {
      Tier t;
      for (uint32_t id = 0; id < specs.size(); ++id) {
        if (specs[id].degraded == degraded) t.ids.push_back(id);
      }
      tiers_.push_back(t);
    }
    specs_ = specs;
  }
  std::optional<uint32_t> pick(const std::vector<uint32_t>& active,
                               const std::vector<uint32_t>& exclude) {
    for (Tier& t : tiers_) {
      if (auto id = pickIn(t, active, exclude)) return id;
    }
    return std::nullopt;
  }

 private:
  struct Tier {
    std::vector<uint32_t> ids;
    size_t cursor = 0;
  };
  std::optional<uint32_t> pickIn(Tier& t, const std::vector<uint32_t>& active,
                                 const std::vector<uint32_t>& exclude) {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    size_t n = t.ids.size(), best = n;
    double best_first = kInf, best_second = kInf;
    for (size_t step = 0; step < n; ++step) {
      size_t k = (t.cursor + step) % n;
      uint32_t id = t.ids[k];
      const Spec& s = specs_[id];
      bool full = s.max_sessions != 0 && active[id] >= s.max_sessions;
      bool out = std::find(exclude.begin(), exclude.end(), id) != exclude.end();
      if (full || out) continue;
      double inv = alg_ == Algorithm::kLeastConn ? 1.0 : 1.0 / s.weight;
      double per_weight = active[id] * inv;
      double first = alg_ == Algorithm::kLeastLoad
                         ? (s.load >= 0 ? s.load : std::numeric_limits<double>::max())
                         : per_weight;
      double second = alg_ == Algorithm::kLeastLoad ? per_weight : 0;
      if (first < best_first || (first == best_first && second < best_second)) {
        best = k;
        best_first = first;
        best_second = second;
      }
    }
    if (best == n) return std::nullopt;
    t.cursor = best + 1 < n ? best + 1 : 0;
    return t.ids[best];
  }

  Algorithm alg_;
  std::vector<Spec> specs_;
  std::vector<Tier> tiers_;
};

// A farm with many ties: few distinct weights, loads and counts.
std::vector<Spec> tieFarm(Prng& rng, size_t n) {
  const double kWeights[] = {1, 2, 0.5, 4};
  const double kLoads[] = {-1, 0.25, 0.5, 1.5};
  std::vector<Spec> specs(n);
  for (Spec& s : specs) {
    s.weight = kWeights[rng.below(4)];
    s.load = kLoads[rng.below(4)];
    s.max_sessions = rng.below(3) == 0 ? 1 + rng.below(4) : 0;
    s.degraded = rng.below(6) == 0;
  }
  return specs;
}

constexpr Algorithm kLeast[] = {Algorithm::kLeastConn, Algorithm::kWeightedLeastConn,
                                Algorithm::kLeastLoad};

// Counts move between picks (sessions start, end, nodes fill up and free a seat), picks carry
// exclusions: the tracking scheduler, told each change, and the per-request one, given the
// counts, pick exactly what the scan picks.
TEST(TrackingTest, SamePicksAsTheScanThroughRandomChanges) {
  for (Algorithm a : kLeast) {
    for (uint64_t seed = 1; seed <= 6; ++seed) {
      Prng rng(seed);
      size_t n = 1 + rng.below(40);
      std::vector<Spec> specs = tieFarm(rng, n);
      std::vector<uint32_t> active(n);
      for (auto& x : active) x = rng.below(4);
      ScanReference scan(a, specs);
      auto tracked = makeTrackingScheduler(a, snapshotOf(specs), 1, active);
      auto per_request = make(a, specs);
      for (int step = 0; step < 3000; ++step) {
        uint32_t id = rng.below(static_cast<uint32_t>(n));
        uint32_t r = rng.below(8);
        active[id] = r < 3 ? active[id] + 1 : r < 6 ? (active[id] > 0 ? active[id] - 1 : 0) : r;
        tracked->setActive(id, active[id]);
        std::vector<uint32_t> exclude;
        if (rng.below(4) == 0) {
          for (uint32_t e = rng.below(4); e > 0; --e) exclude.push_back(rng.below(n + 2u));
        }
        auto expect = scan.pick(active, exclude);
        ASSERT_EQ(tracked->pick(request(active, exclude)), expect)
            << algorithmName(a) << " seed " << seed << " step " << step;
        ASSERT_EQ(per_request->pick(request(active, exclude)), expect)
            << algorithmName(a) << " seed " << seed << " step " << step;
        if (expect) {
          ++active[*expect];  // the director counts the new session
          tracked->setActive(*expect, active[*expect]);
        }
      }
    }
  }
}

// Ties rotate in id order and the rotation survives count changes of other nodes.
TEST(TrackingTest, TiesRotateAsTheScanDid) {
  std::vector<uint32_t> active = {1, 1, 1, 1};
  auto s =
      makeTrackingScheduler(Algorithm::kLeastConn, snapshotOf(std::vector<Spec>(4)), 1, active);
  EXPECT_EQ(s->pick(request(active)), 0u);
  EXPECT_EQ(s->pick(request(active)), 1u);
  active[3] = 5;  // 3 drops out of the tie; the cursor stays after 1
  s->setActive(3, 5);
  EXPECT_EQ(s->pick(request(active)), 2u);
  EXPECT_EQ(s->pick(request(active)), 0u);  // wraps past 3
  active[3] = 1;
  s->setActive(3, 1);
  EXPECT_EQ(s->pick(request(active)), 1u);
  EXPECT_EQ(s->pick(request(active)), 2u);
  EXPECT_EQ(s->pick(request(active)), 3u);
}

// A tracking scheduler decides by what it was told, not by the request's counts.
TEST(TrackingTest, PushedCountsDecideNotTheRequest) {
  std::vector<uint32_t> at_build = {3, 0, 5};
  auto s = makeTrackingScheduler(Algorithm::kWeightedLeastConn, snapshotOf(weighted({1, 1, 1})), 1,
                                 at_build);
  std::vector<uint32_t> none;
  EXPECT_EQ(s->pick(request(none)), 1u);
  s->setActive(1, 9);
  s->setActive(0, 1);
  EXPECT_EQ(s->pick(request(none)), 0u);
  s->setActive(77, 0);  // not in the snapshot: ignored
  s->setActive(0, 1);   // unchanged
  EXPECT_EQ(s->pick(request(none)), 0u);
}

TEST(TrackingTest, AFullNodeComesBackWhenASeatFrees) {
  std::vector<uint32_t> active = {0, 4};
  auto s = makeTrackingScheduler(Algorithm::kLeastLoad,
                                 snapshotOf({{.load = 0.1, .max_sessions = 2}, {.load = 0.9}}), 1,
                                 active);
  std::vector<uint32_t> none;  // pushed counts only (setActive)
  EXPECT_EQ(s->pick(request(none)), 0u);
  s->setActive(0, 2);  // full
  EXPECT_EQ(s->pick(request(none)), 1u);
  s->setActive(1, 0);
  EXPECT_EQ(s->pick(request(none)), 1u);
  s->setActive(0, 1);  // a seat again: its lower load wins
  EXPECT_EQ(s->pick(request(none)), 0u);
}

// Degraded nodes take sessions only when the normal tier has none possible, with counts
// pushed to both tiers.
TEST(TrackingTest, DegradedTierOnlyWhenTheNormalOneIsFull) {
  std::vector<Spec> specs = {{.max_sessions = 1}, {.degraded = true}, {.degraded = true}};
  std::vector<uint32_t> active = {0, 3, 2};
  auto s = makeTrackingScheduler(Algorithm::kLeastConn, snapshotOf(specs), 1, active);
  std::vector<uint32_t> none;  // pushed counts only (setActive)
  EXPECT_EQ(s->pick(request(none)), 0u);
  s->setActive(0, 1);
  EXPECT_EQ(s->pick(request(none)), 2u);
  s->setActive(2, 4);
  EXPECT_EQ(s->pick(request(none)), 1u);
  s->setActive(0, 0);
  EXPECT_EQ(s->pick(request(none)), 0u);
}

// A weight change rebuilds the scheduler (needsRebuild) from the live counts: the new weights
// decide at once.
TEST(TrackingTest, RebuiltWithNewWeightsFromLiveCounts) {
  std::vector<uint32_t> active = {4, 1};
  auto before =
      makeTrackingScheduler(Algorithm::kWeightedLeastConn, snapshotOf(weighted({2, 1})), 1, active);
  EXPECT_EQ(before->pick(request(active)), 1u);  // 2 vs 1 per weight
  auto next = snapshotOf(weighted({10, 1}));
  ASSERT_TRUE(needsRebuild(Algorithm::kWeightedLeastConn, *snapshotOf(weighted({2, 1})), *next));
  auto after = makeTrackingScheduler(Algorithm::kWeightedLeastConn, next, 1, active);
  EXPECT_EQ(after->pick(request(active)), 0u);  // 0.4 vs 1 per weight
}

// Algorithms that do not track ignore setActive and keep reading the request.
TEST(TrackingTest, OtherAlgorithmsStillReadTheRequest) {
  for (Algorithm a : kAllAlgorithms) {
    if (a == Algorithm::kLeastConn || a == Algorithm::kWeightedLeastConn ||
        a == Algorithm::kLeastLoad) {
      continue;
    }
    std::vector<Spec> specs = {{.max_sessions = 1}, {}};
    std::vector<uint32_t> active = {1, 0};
    auto s = makeTrackingScheduler(a, snapshotOf(specs), 1, active);
    s->setActive(0, 0);  // not what the request says
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(s->pick(request(active, {}, clientKey(i))), 1u) << algorithmName(a);
    }
  }
}

}  // namespace
}  // namespace tsd::sched
