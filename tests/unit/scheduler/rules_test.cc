// Rules every algorithm obeys: exclusions, max_sessions, degraded-only fallback, nothing
// possible -> nullopt, determinism, and independence from the snapshot's order.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/unit/scheduler/sched_test_util.h"

namespace tsd::sched {
namespace {

using namespace schedtest;

class RulesTest : public ::testing::TestWithParam<Algorithm> {
 protected:
  // Picks `count` times with keys 0..count-1 and returns the set of ids seen (-1 = none).
  std::set<int64_t> seen(Scheduler& s, std::span<const uint32_t> active,
                         std::span<const uint32_t> exclude, int count = 2000) {
    std::set<int64_t> ids;
    for (int i = 0; i < count; ++i) {
      auto id = s.pick(request(active, exclude, clientKey(i)));
      ids.insert(id ? static_cast<int64_t>(*id) : -1);
    }
    return ids;
  }
};

TEST_P(RulesTest, EmptySnapshotGivesNothing) {
  std::vector<uint32_t> none;
  EXPECT_EQ(make(GetParam(), {})->pick(request(none)), std::nullopt);
  EXPECT_EQ(makeScheduler(GetParam(), nullptr, 1)->pick(request(none)), std::nullopt);
}

TEST_P(RulesTest, NeverReturnsAnExcludedNode) {
  auto s = make(GetParam(), weighted({1, 5, 1, 5, 1}));
  std::vector<uint32_t> active(5, 0), exclude = {1, 3};
  EXPECT_EQ(seen(*s, active, exclude), (std::set<int64_t>{0, 2, 4}));
}

TEST_P(RulesTest, AllExcludedGivesNothing) {
  auto s = make(GetParam(), weighted({1, 2, 3}));
  std::vector<uint32_t> active(3, 0), exclude = {2, 0, 1};
  EXPECT_EQ(seen(*s, active, exclude, 50), (std::set<int64_t>{-1}));
}

TEST_P(RulesTest, NeverReturnsAFullNode) {
  // Nodes 0 and 2 are at max_sessions; 1 is unlimited; 3 has one seat left.
  std::vector<Spec> specs = {{.max_sessions = 2}, {}, {.max_sessions = 1}, {.max_sessions = 4}};
  auto s = make(GetParam(), specs);
  std::vector<uint32_t> active = {2, 3, 1, 3};
  EXPECT_EQ(seen(*s, active, {}), (std::set<int64_t>{1, 3}));
  std::vector<uint32_t> exclude = {1, 3};
  EXPECT_EQ(seen(*s, active, exclude, 50), (std::set<int64_t>{-1}));
}

TEST_P(RulesTest, DegradedNodesOnlyWhenNothingElseIsPossible) {
  std::vector<Spec> specs = {{.degraded = true}, {.max_sessions = 3}, {.degraded = true}, {}};
  auto s = make(GetParam(), specs);
  std::vector<uint32_t> active = {0, 0, 0, 0};
  EXPECT_EQ(seen(*s, active, {}), (std::set<int64_t>{1, 3}));
  std::vector<uint32_t> exclude3 = {3};
  EXPECT_EQ(seen(*s, active, exclude3), (std::set<int64_t>{1}));
  std::vector<uint32_t> node1_full = {0, 3, 0, 0};
  EXPECT_EQ(seen(*s, node1_full, exclude3), (std::set<int64_t>{0, 2}));
  std::vector<uint32_t> exclude02 = {0, 2, 3};
  EXPECT_EQ(seen(*s, node1_full, exclude02, 50), (std::set<int64_t>{-1}));
}

TEST_P(RulesTest, MissingActiveCountsAreZero) {
  std::vector<Spec> specs(6, Spec{.max_sessions = 1});
  auto s = make(GetParam(), specs);
  std::vector<uint32_t> active = {1, 1, 1};  // ids 3..5 have no entry: 0 sessions
  EXPECT_EQ(seen(*s, active, {}), (std::set<int64_t>{3, 4, 5}));
}

// The connect retry: excluding each failed node in turn visits every node once, then stops.
TEST_P(RulesTest, RetriesVisitEveryNodeOnceThenStop) {
  auto s = make(GetParam(), weighted({1, 2, 3, 4, 5, 6, 7}));
  std::vector<uint32_t> active(7, 0);
  for (uint64_t key = 0; key < 20; ++key) {
    std::vector<uint32_t> tried;
    while (auto id = s->pick(request(active, tried, clientKey(key)))) {
      ASSERT_EQ(std::count(tried.begin(), tried.end(), *id), 0);
      tried.push_back(*id);
      ASSERT_LE(tried.size(), 7u);
    }
    EXPECT_EQ(tried.size(), 7u);
  }
}

TEST_P(RulesTest, SameSeedSameSequenceWhateverTheSnapshotOrder) {
  std::vector<Spec> specs = weighted({3, 1, 2, 5, 4, 1});
  auto a = make(GetParam(), specs, 42);
  auto shuffled = std::make_shared<NodeSnapshot>(*snapshotOf(specs));
  std::reverse(shuffled->nodes.begin(), shuffled->nodes.end());
  std::swap(shuffled->nodes[1], shuffled->nodes[4]);
  auto b = makeScheduler(GetParam(), shuffled, 42);
  std::vector<uint32_t> active = {1, 0, 2, 0, 3, 1};
  for (int i = 0; i < 500; ++i) {
    auto r = request(active, {}, clientKey(i));
    auto x = a->pick(r);
    ASSERT_EQ(x, b->pick(r)) << "pick " << i;
    ASSERT_TRUE(x.has_value());
    ++active[*x];
  }
}

TEST_P(RulesTest, OddWeightsAndLoadsAreTolerated) {
  std::vector<Spec> specs = {
      {.weight = 0}, {.weight = -3, .load = -0.0}, {.weight = 1e9, .load = 1e300}};
  auto s = make(GetParam(), specs);
  std::vector<uint32_t> active = {0, 0, 0};
  std::set<int64_t> ids = seen(*s, active, {}, 200);
  EXPECT_EQ(ids.count(-1), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, RulesTest, ::testing::ValuesIn(kAllAlgorithms),
                         [](const auto& info) { return algorithmName(info.param); });

}  // namespace
}  // namespace tsd::sched
