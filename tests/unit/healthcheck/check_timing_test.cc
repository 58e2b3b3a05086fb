// Interval choice by state, jitter bounds and the staggered first round.
#include "healthcheck/check_timing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace tsd::health {
namespace {

using std::chrono::milliseconds;

conf::HealthConfig config() {
  conf::HealthConfig c;
  c.interval = milliseconds(2000);
  c.fast_interval = milliseconds(500);
  c.down_interval = milliseconds(5000);
  c.rise = 2;
  c.fall = 3;
  return c;
}

HealthState stateFrom(const std::string& seq) {
  HealthState h(2, 3);
  for (char c : seq) (void)h.onResult(c == 'u');
  return h;
}

struct DelayCase {
  const char* name;
  const char* seq;  // results fed to a rise=2 fall=3 state
  int64_t base_ms;
};

class NextDelayTest : public ::testing::TestWithParam<DelayCase> {};

TEST_P(NextDelayTest, BaseAndJitterBounds) {
  const DelayCase& c = GetParam();
  const HealthState h = stateFrom(c.seq);
  const conf::HealthConfig cfg = config();
  EXPECT_EQ(nextDelay(cfg, h, 0.5).count(), c.base_ms);
  const int64_t lo = nextDelay(cfg, h, 0.0).count();
  const int64_t hi = nextDelay(cfg, h, 0.999999).count();
  EXPECT_EQ(lo, c.base_ms * 9 / 10);
  EXPECT_GT(hi, c.base_ms);
  EXPECT_LE(hi, c.base_ms * 11 / 10);
  for (double u = 0; u < 1.0; u += 0.01) {
    const int64_t d = nextDelay(cfg, h, u).count();
    EXPECT_GE(d, lo);
    EXPECT_LE(d, hi);
  }
}

INSTANTIATE_TEST_SUITE_P(
    States, NextDelayTest,
    ::testing::Values(DelayCase{"Unknown", "", 500}, DelayCase{"StableUp", "uu", 2000},
                      DelayCase{"PendingDown", "ud", 500}, DelayCase{"StableDown", "dd", 5000},
                      DelayCase{"PendingUp", "du", 500}, DelayCase{"BackUp", "duu", 2000}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(NextDelayTest, FastNeverSlowerThanStable) {
  conf::HealthConfig cfg = config();
  cfg.fast_interval = milliseconds(9000);
  EXPECT_EQ(nextDelay(cfg, stateFrom("ud"), 0.5).count(), 2000);
  EXPECT_EQ(nextDelay(cfg, stateFrom("du"), 0.5).count(), 5000);
}

TEST(NextDelayTest, OutOfRangeRandomIsClamped) {
  const conf::HealthConfig cfg = config();
  const HealthState h = stateFrom("uu");
  EXPECT_EQ(nextDelay(cfg, h, -3).count(), 1800);
  EXPECT_EQ(nextDelay(cfg, h, 7).count(), 2200);
  EXPECT_EQ(nextDelay(cfg, h, std::nan("")).count(), 2000);
}

TEST(NextDelayTest, NeverZero) {
  conf::HealthConfig cfg = config();
  cfg.interval = milliseconds(0);
  EXPECT_EQ(nextDelay(cfg, stateFrom("uu"), 0.0).count(), 1);
}

TEST(FirstDelayTest, SpreadsThousandNodesOverOneInterval) {
  constexpr size_t kNodes = 1000;
  const milliseconds interval(2000);
  std::vector<int64_t> d;
  for (size_t i = 0; i < kNodes; ++i) d.push_back(firstDelay(i, kNodes, interval).count());
  EXPECT_EQ(d.front(), 0);
  EXPECT_LT(d.back(), 2000);
  for (size_t i = 1; i < kNodes; ++i) EXPECT_EQ(d[i] - d[i - 1], 2) << i;  // evenly spaced
  // No single 10 ms tick holds more than its share (5 nodes per 10 ms here).
  std::vector<int> per_tick(200, 0);
  for (int64_t v : d) ++per_tick[v / 10];
  for (int n : per_tick) EXPECT_EQ(n, 5);
}

TEST(FirstDelayTest, MoreNodesThanMilliseconds) {
  const milliseconds interval(100);
  std::set<int64_t> distinct;
  for (size_t i = 0; i < 1000; ++i) {
    const int64_t v = firstDelay(i, 1000, interval).count();
    EXPECT_GE(v, 0);
    EXPECT_LT(v, 100);
    distinct.insert(v);
  }
  EXPECT_EQ(distinct.size(), 100u);  // every millisecond used
}

TEST(FirstDelayTest, EdgeCases) {
  EXPECT_EQ(firstDelay(0, 0, milliseconds(2000)).count(), 0);
  EXPECT_EQ(firstDelay(0, 1, milliseconds(2000)).count(), 0);
  EXPECT_EQ(firstDelay(1, 2, milliseconds(2000)).count(), 1000);
  EXPECT_EQ(firstDelay(5, 2, milliseconds(2000)).count(), 1000);  // index clamped
  EXPECT_EQ(firstDelay(3, 4, milliseconds(0)).count(), 0);
}

}  // namespace
}  // namespace tsd::health
