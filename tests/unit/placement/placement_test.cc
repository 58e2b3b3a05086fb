// The decision order as a table: manual choice -> session index -> sticky table -> scheduler,
// with drained, down, tried and fallback cases, over fake inputs (no sockets, no clock).
#include "director/placement/placement.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

namespace tsd::director {
namespace {

// Nodes 0..4. `down` nodes refuse returning users; draining ones still take them (the fake
// scheduler never offers a node in `no_new`, as a drained node's snapshot would not hold it).
struct FakeInputs : PlacementInputs {
  std::set<NodeId> down;
  std::set<NodeId> no_new;
  std::vector<NodeId> sessions;  // ranked session nodes of the identity
  std::optional<NodeId> sticky_node;
  std::vector<NodeId> rotation{0, 1, 2, 3, 4};
  mutable int schedule_calls = 0;

  bool acceptsReturning(NodeId n, ServiceId) const override { return !down.count(n); }
  std::optional<SessionHit> session(const sticky::Identity&,
                                    const std::function<bool(NodeId)>& usable) const override {
    std::optional<SessionHit> hit;
    int usable_count = 0;
    for (NodeId n : sessions) {
      if (!usable(n)) continue;
      if (usable_count++ == 0) hit = SessionHit{n, false};
    }
    if (hit) hit->ambiguous = usable_count > 1;
    return hit;
  }
  std::optional<NodeId> sticky(const sticky::Identity&) const override { return sticky_node; }
  std::optional<NodeId> schedule(ServiceId, uint64_t, std::span<const NodeId> tried) override {
    ++schedule_calls;
    for (NodeId n : rotation) {
      bool was_tried = std::find(tried.begin(), tried.end(), n) != tried.end();
      if (!was_tried && !down.count(n) && !no_new.count(n)) return n;
    }
    return std::nullopt;
  }
};

struct Case {
  const char* name;
  // inputs
  std::set<NodeId> down, no_new;
  std::vector<NodeId> sessions;
  std::optional<NodeId> sticky;
  NodeId manual = kNoId, sni = kNoId;
  std::vector<NodeId> tried;
  std::optional<Reason> previous;
  bool identity = true, returning = true;
  // expected
  NodeId node;
  Reason reason;
  bool ambiguous = false, replaced = false;
};

const Case kCases[] = {
    {"scheduler when nothing is known",
     {},
     {},
     {},
     {},
     kNoId,
     kNoId,
     {},
     {},
     true,
     true,
     0,
     Reason::kScheduler},
    {"manual listener wins over everything",
     {},
     {},
     {1},
     2,
     3,
     kNoId,
     {},
     {},
     true,
     true,
     3,
     Reason::kManual},
    {"manual listener node down: nothing",
     {3},
     {},
     {1},
     2,
     3,
     kNoId,
     {},
     {},
     true,
     true,
     kNoId,
     Reason::kScheduler},
    {"manual listener node already tried: nothing",
     {},
     {},
     {},
     {},
     3,
     kNoId,
     {3},
     Reason::kManual,
     true,
     true,
     kNoId,
     Reason::kScheduler},
    {"sni names a node", {}, {}, {1}, 2, kNoId, 4, {}, {}, true, true, 4, Reason::kManual},
    {"sni node down: the usual order",
     {4},
     {},
     {1},
     2,
     kNoId,
     4,
     {},
     {},
     true,
     true,
     1,
     Reason::kSession},
    {"session index before sticky",
     {},
     {},
     {1},
     2,
     kNoId,
     kNoId,
     {},
     {},
     true,
     true,
     1,
     Reason::kSession},
    {"two usable session nodes: ambiguous, best first",
     {},
     {},
     {2, 1},
     {},
     kNoId,
     kNoId,
     {},
     {},
     true,
     true,
     2,
     Reason::kSession,
     true},
    {"session node down: the next session node",
     {2},
     {},
     {2, 1},
     {},
     kNoId,
     kNoId,
     {},
     {},
     true,
     true,
     1,
     Reason::kSession},
    {"draining node still takes its returning user",
     {},
     {1},
     {1},
     {},
     kNoId,
     kNoId,
     {},
     {},
     true,
     true,
     1,
     Reason::kSession},
    {"sticky when no session", {}, {}, {}, 2, kNoId, kNoId, {}, {}, true, true, 2, Reason::kSticky},
    {"draining sticky node still takes its user",
     {},
     {2},
     {},
     2,
     kNoId,
     kNoId,
     {},
     {},
     true,
     true,
     2,
     Reason::kSticky},
    {"sticky node down: re-placed by the scheduler",
     {2},
     {},
     {},
     2,
     kNoId,
     kNoId,
     {},
     {},
     true,
     true,
     0,
     Reason::kScheduler,
     false,
     true},
    {"session home failed to connect: fallback",
     {},
     {},
     {1},
     {},
     kNoId,
     kNoId,
     {1},
     Reason::kSession,
     true,
     true,
     0,
     Reason::kFallback},
    {"sticky home failed to connect: fallback",
     {},
     {},
     {},
     0,
     kNoId,
     kNoId,
     {0},
     Reason::kSticky,
     true,
     true,
     1,
     Reason::kFallback,
     false,
     true},
    {"scheduler retry is not a fallback",
     {},
     {},
     {},
     {},
     kNoId,
     kNoId,
     {0},
     Reason::kScheduler,
     true,
     true,
     1,
     Reason::kScheduler},
    {"sticky_key none ignores sessions and sticky",
     {},
     {},
     {1},
     2,
     kNoId,
     kNoId,
     {},
     {},
     true,
     false,
     0,
     Reason::kScheduler},
    {"no identity ignores sessions and sticky",
     {},
     {},
     {1},
     2,
     kNoId,
     kNoId,
     {},
     {},
     false,
     true,
     0,
     Reason::kScheduler},
    {"down nodes are never scheduled",
     {0, 1},
     {},
     {},
     {},
     kNoId,
     kNoId,
     {},
     {},
     true,
     true,
     2,
     Reason::kScheduler},
    {"everything down or tried: nothing",
     {0, 1, 2},
     {3},
     {},
     {},
     kNoId,
     kNoId,
     {4},
     Reason::kScheduler,
     true,
     true,
     kNoId,
     Reason::kScheduler},
};

TEST(PlacementTest, DecisionOrderTable) {
  sticky::Identity who{"10.0.0.7/32"};
  sticky::Identity none;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    FakeInputs in;
    in.down = c.down;
    in.no_new = c.no_new;
    in.sessions = c.sessions;
    in.sticky_node = c.sticky;
    PlacementRequest req;
    req.service = 0;
    req.identity = c.identity ? &who : &none;
    req.returning = c.returning;
    req.manual = c.manual;
    req.sni_node = c.sni;
    req.tried = c.tried;
    req.previous = c.previous;
    Placement p = decide(req, in);
    EXPECT_EQ(p.node, c.node);
    if (c.node != kNoId) {
      EXPECT_EQ(p.reason, c.reason);
    }
    EXPECT_EQ(p.ambiguous, c.ambiguous);
    EXPECT_EQ(p.sticky_replaced, c.replaced);
  }
}

TEST(PlacementTest, DecidingTwiceGivesTheSameAnswerAndChangesNothing) {
  sticky::Identity who{"10.0.0.7/32"};
  FakeInputs in;
  in.sessions = {3};
  in.sticky_node = 2;
  PlacementRequest req;
  req.identity = &who;
  Placement a = decide(req, in);
  Placement b = decide(req, in);
  EXPECT_EQ(a.node, 3u);
  EXPECT_EQ(b.node, 3u);
  EXPECT_EQ(in.schedule_calls, 0);  // a returning user never consults the scheduler
}

TEST(PlacementTest, ManualListenerNeverFallsBackToOtherNodes) {
  FakeInputs in;
  in.down = {1};
  PlacementRequest req;
  req.manual = 1;
  EXPECT_FALSE(decide(req, in).found());
  EXPECT_EQ(in.schedule_calls, 0);
}

}  // namespace
}  // namespace tsd::director
