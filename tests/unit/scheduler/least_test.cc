// least-conn, weighted-least-conn, least-load and p2c: who wins for given counts and loads,
// how ties rotate, and that p2c never picks a full node.
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/scheduler/sched_test_util.h"

namespace tsd::sched {
namespace {

using namespace schedtest;

struct WinnerCase {
  const char* name;
  Algorithm algorithm;
  std::vector<Spec> nodes;
  std::vector<uint32_t> active;
  std::vector<uint32_t> winners;  // successive picks with the same counts
};

const WinnerCase kWinnerCases[] = {
    {"leastconn_lowest", Algorithm::kLeastConn, std::vector<Spec>(4), {5, 2, 7, 3}, {1, 1}},
    {"leastconn_ties_rotate",
     Algorithm::kLeastConn,
     std::vector<Spec>(4),
     {5, 2, 7, 2},
     {1, 3, 1, 3}},
    {"leastconn_ignores_weight", Algorithm::kLeastConn, weighted({1, 10}), {1, 2}, {0}},
    {"wlc_per_weight", Algorithm::kWeightedLeastConn, weighted({1, 4}), {1, 3}, {1}},
    {"wlc_ties_rotate",
     Algorithm::kWeightedLeastConn,
     weighted({1, 2, 2}),
     {1, 2, 2},
     {0, 1, 2, 0}},
    {"wlc_skips_full",
     Algorithm::kWeightedLeastConn,
     {{.max_sessions = 1}, {.weight = 1}},
     {1, 5},
     {1}},
    {"leastload_lowest_load",
     Algorithm::kLeastLoad,
     {{.load = 0.5}, {.load = -1}, {.load = 0.2}, {.load = 0.9}},
     {0, 0, 9, 0},
     {2, 2}},
    {"leastload_unknown_after_known",
     Algorithm::kLeastLoad,
     {{.load = -1}, {.load = 1.9}},
     {0, 40},
     {1}},
    {"leastload_equal_load_by_sessions",
     Algorithm::kLeastLoad,
     {{.load = 0.3}, {.load = 0.3}, {.load = 0.3}},
     {4, 1, 2},
     {1}},
    {"leastload_all_unknown_is_wlc", Algorithm::kLeastLoad, weighted({1, 4, 2}), {1, 3, 1}, {2}},
    {"leastload_full_known_then_unknown",
     Algorithm::kLeastLoad,
     {{.load = 0.1, .max_sessions = 2}, {.load = -1}},
     {2, 10},
     {1}},
    {"p2c_two_nodes_lower_per_weight",
     Algorithm::kP2c,
     weighted({1, 3}),
     {2, 5},
     {1, 1, 1, 1, 1, 1}},
    {"p2c_known_loads_beat_counts",
     Algorithm::kP2c,
     {{.load = 0.1}, {.load = 1.5}},
     {20, 0},
     {0, 0, 0, 0}},
    {"p2c_one_unknown_load_uses_counts",
     Algorithm::kP2c,
     {{.load = 0.1}, {.load = -1}},
     {20, 0},
     {1, 1, 1, 1}},
};

class WinnerTest : public ::testing::TestWithParam<WinnerCase> {};

TEST_P(WinnerTest, PicksTheExpectedNodes) {
  const WinnerCase& c = GetParam();
  auto s = make(c.algorithm, c.nodes);
  for (size_t i = 0; i < c.winners.size(); ++i) {
    EXPECT_EQ(s->pick(request(c.active)), c.winners[i]) << "pick " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, WinnerTest, ::testing::ValuesIn(kWinnerCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Half the farm full, every other count random-ish: p2c must never pick a full node.
TEST(P2cTest, NeverPicksAFullNode) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    std::vector<Spec> specs(100, Spec{.max_sessions = 10});
    std::vector<uint32_t> active(100);
    for (uint32_t k = 0; k < 100; ++k) active[k] = k % 2 == 0 ? 10 : (k * 7) % 10;
    auto s = make(Algorithm::kP2c, specs, seed);
    for (int i = 0; i < 20000; ++i) {
      auto id = s->pick(request(active));
      ASSERT_TRUE(id.has_value());
      ASSERT_LT(active[*id], 10u) << "node " << *id << " is full";
    }
  }
}

// Only one node left with a seat: p2c finds it (scan path) instead of giving up.
TEST(P2cTest, FindsTheLastSeat) {
  std::vector<Spec> specs(1000, Spec{.max_sessions = 3});
  std::vector<uint32_t> active(1000, 3);
  active[613] = 2;
  auto s = make(Algorithm::kP2c, specs);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s->pick(request(active)), 613u);
}

// The less busy of the two candidates wins, so a very busy node is rarely chosen.
TEST(P2cTest, AvoidsTheBusiestNodes) {
  std::vector<Spec> specs(10);
  std::vector<uint32_t> active = {50, 0, 0, 0, 0, 0, 0, 0, 0, 50};
  auto s = make(Algorithm::kP2c, specs, 3);
  int busy = 0;
  for (int i = 0; i < 10000; ++i) {
    uint32_t id = *s->pick(request(active));
    busy += id == 0 || id == 9;
  }
  // Both candidates must be busy nodes: 2 * (2/10 * 1/9) of the picks, about 4.4%.
  EXPECT_LT(busy, 700);
}

TEST(RandomTest, SeedsGiveDifferentButRepeatableSequences) {
  std::vector<uint32_t> active(16, 0);
  auto run = [&](Algorithm a, uint64_t seed) {
    auto s = make(a, std::vector<Spec>(16), seed);
    std::vector<uint32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(*s->pick(request(active)));
    return out;
  };
  for (Algorithm a : {Algorithm::kRandom, Algorithm::kP2c}) {
    EXPECT_EQ(run(a, 9), run(a, 9));
    EXPECT_NE(run(a, 9), run(a, 10));
  }
}

}  // namespace
}  // namespace tsd::sched
