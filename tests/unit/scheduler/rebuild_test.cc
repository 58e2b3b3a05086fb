// needsRebuild: which snapshot changes reset a scheduler, per algorithm.
#include <gtest/gtest.h>

#include "director/scheduler/scheduler.h"

namespace tsd::sched {
namespace {

using conf::Algorithm;

NodeSnapshot snap(std::vector<SchedNode> nodes) { return NodeSnapshot{std::move(nodes)}; }

SchedNode node(uint32_t id, double weight = 1, double load = -1, bool degraded = false) {
  SchedNode n{};
  n.id = id;
  n.name = "n";
  n.weight = weight;
  n.load = load;
  n.degraded = degraded;
  return n;
}

struct Case {
  const char* what;
  Algorithm alg;
  NodeSnapshot next;
  bool rebuild;
};

TEST(NeedsRebuild, Table) {
  const NodeSnapshot base = snap({node(1, 10, 0.5), node(2, 10, 0.5)});
  const Case cases[] = {
      {"same", Algorithm::kRoundRobin, base, false},
      {"order only", Algorithm::kLeastConn, snap({node(2, 10, 0.5), node(1, 10, 0.5)}), false},
      {"node left", Algorithm::kRoundRobin, snap({node(1, 10, 0.5)}), true},
      {"node swapped", Algorithm::kRoundRobin, snap({node(1, 10, 0.5), node(3, 10, 0.5)}), true},
      {"degraded", Algorithm::kLeastConn, snap({node(1, 10, 0.5), node(2, 10, 0.5, true)}), true},
      {"load, rr", Algorithm::kRoundRobin, snap({node(1, 10, 0.9), node(2, 10, 0.1)}), false},
      {"load, lc", Algorithm::kWeightedLeastConn, snap({node(1, 10, 0.9), node(2, 10, 0.1)}),
       false},
      {"load, least-load", Algorithm::kLeastLoad, snap({node(1, 10, 0.9), node(2, 10, 0.5)}), true},
      {"load, p2c", Algorithm::kP2c, snap({node(1, 10, 0.9), node(2, 10, 0.5)}), true},
      {"small weight move, wrr", Algorithm::kWeightedRoundRobin,
       snap({node(1, 9.5, 0.5), node(2, 10, 0.5)}), false},
      {"big weight move, wrr", Algorithm::kWeightedRoundRobin,
       snap({node(1, 5, 0.5), node(2, 10, 0.5)}), true},
      {"big weight move, hash", Algorithm::kHash, snap({node(1, 5, 0.5), node(2, 10, 0.5)}), true},
      {"big weight move, rr", Algorithm::kRoundRobin, snap({node(1, 5, 0.5), node(2, 10, 0.5)}),
       false},
      {"big weight move, lc", Algorithm::kLeastConn, snap({node(1, 5, 0.5), node(2, 10, 0.5)}),
       false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(needsRebuild(c.alg, base, c.next), c.rebuild) << c.what;
  }
}

TEST(NeedsRebuild, MaxSessionsMatters) {
  NodeSnapshot a = snap({node(1)});
  NodeSnapshot b = a;
  b.nodes[0].max_sessions = 5;
  EXPECT_TRUE(needsRebuild(Algorithm::kRoundRobin, a, b));
}

// The reason for the rule: a kept scheduler keeps rotating.
TEST(NeedsRebuild, KeptRoundRobinKeepsTakingTurns) {
  auto s = std::make_shared<const NodeSnapshot>(snap({node(1), node(2)}));
  auto rr = makeScheduler(Algorithm::kRoundRobin, s, 1);
  PickRequest r;
  auto first = rr->pick(r);
  ASSERT_FALSE(needsRebuild(Algorithm::kRoundRobin, *s, snap({node(1, 1, 0.7), node(2)})));
  EXPECT_NE(rr->pick(r), first);
}

}  // namespace
}  // namespace tsd::sched
