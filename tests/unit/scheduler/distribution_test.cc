// Statistical but seeded (so it cannot flake) distribution checks: each algorithm's share of
// 100k picks per node, with equal and unequal weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "tests/unit/scheduler/sched_test_util.h"

namespace tsd::sched {
namespace {

using namespace schedtest;

constexpr int kPicks = 100000;

struct Case {
  const char* name;
  Algorithm algorithm;
  std::vector<double> weights;
  // Sessions accumulate (each pick adds one to its node, none ends), which is what drives the
  // "least" algorithms and p2c towards their target shares.
  bool accumulate;
  bool weighted_share;  // expected share: weight / total, else 1 / n
  double tolerance;     // allowed |share - expected| / expected
};

const Case kCases[] = {
    {"random_equal", Algorithm::kRandom, {1, 1, 1, 1, 1}, false, true, 0.03},
    {"random_unequal", Algorithm::kRandom, {1, 2, 3, 4}, false, true, 0.03},
    {"rr_equal", Algorithm::kRoundRobin, {1, 1, 1, 1, 1}, false, false, 0.001},
    {"rr_ignores_weights", Algorithm::kRoundRobin, {1, 2, 3, 4}, false, false, 0.001},
    {"wrr_equal", Algorithm::kWeightedRoundRobin, {1, 1, 1, 1, 1}, false, true, 0.001},
    {"wrr_unequal", Algorithm::kWeightedRoundRobin, {1, 2, 3, 4}, false, true, 0.001},
    {"wrr_fractional", Algorithm::kWeightedRoundRobin, {0.5, 1.25, 2.75}, false, true, 0.001},
    {"leastconn_equal", Algorithm::kLeastConn, {1, 1, 1, 1}, true, false, 0.001},
    {"leastconn_ignores_weights", Algorithm::kLeastConn, {1, 2, 3, 4}, true, false, 0.001},
    {"wlc_equal", Algorithm::kWeightedLeastConn, {1, 1, 1, 1}, true, true, 0.001},
    {"wlc_unequal", Algorithm::kWeightedLeastConn, {1, 2, 3, 4}, true, true, 0.001},
    {"leastload_unknown_is_wlc", Algorithm::kLeastLoad, {1, 2, 3, 4}, true, true, 0.001},
    {"hash_equal", Algorithm::kHash, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, false, true, 0.06},
    {"hash_unequal", Algorithm::kHash, {1, 2, 3, 4}, false, true, 0.06},
    {"p2c_equal", Algorithm::kP2c, {1, 1, 1, 1, 1}, true, true, 0.02},
    {"p2c_unequal", Algorithm::kP2c, {1, 2, 3, 4}, true, true, 0.05},
};

class DistributionTest : public ::testing::TestWithParam<Case> {};

TEST_P(DistributionTest, SharesWithinTolerance) {
  const Case& c = GetParam();
  auto s = make(c.algorithm, weighted(c.weights), 7);
  std::vector<uint32_t> active(c.weights.size(), 0);
  std::vector<uint64_t> count(c.weights.size(), 0);
  for (int i = 0; i < kPicks; ++i) {
    auto id = s->pick(request(active, {}, clientKey(i)));
    ASSERT_TRUE(id.has_value());
    ++count[*id];
    if (c.accumulate) ++active[*id];
  }
  double total = std::accumulate(c.weights.begin(), c.weights.end(), 0.0);
  for (size_t k = 0; k < c.weights.size(); ++k) {
    double expected = c.weighted_share ? c.weights[k] / total : 1.0 / c.weights.size();
    double share = static_cast<double>(count[k]) / kPicks;
    EXPECT_NEAR(share, expected, expected * c.tolerance) << "node " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, DistributionTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Sessions also end: with a steady population the "least" algorithms keep nodes level.
TEST(DistributionTest, LeastConnKeepsNodesLevelWhileSessionsEnd) {
  auto s = make(Algorithm::kLeastConn, weighted({1, 1, 1, 1, 1, 1}));
  std::vector<uint32_t> active = {9, 0, 4, 2, 7, 1};
  for (int i = 0; i < 1000; ++i) {
    auto id = s->pick(request(active));
    ASSERT_TRUE(id.has_value());
    ++active[*id];
    if (active[i % 6] > 0) --active[i % 6];  // sessions end in rotation
  }
  uint32_t lo = *std::min_element(active.begin(), active.end());
  uint32_t hi = *std::max_element(active.begin(), active.end());
  EXPECT_LE(hi - lo, 2u);
}

}  // namespace
}  // namespace tsd::sched
