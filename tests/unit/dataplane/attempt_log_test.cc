// AttemptLog: a connection's connect attempts, the first two inline, more on the heap.
#include <gtest/gtest.h>

#include <vector>

#include "director/dataplane/connection.h"

namespace tsd::director {
namespace {

Attempt at(NodeId node, Attempt::Outcome o = Attempt::Outcome::kPending) {
  Attempt a;
  a.node = node;
  a.outcome = o;
  return a;
}

std::vector<NodeId> nodes(const AttemptLog& log) {
  std::vector<NodeId> v;
  for (const Attempt& a : log.all()) v.push_back(a.node);
  return v;
}

TEST(AttemptLogTest, StartsEmpty) {
  AttemptLog log;
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(log.size(), 0u);
  EXPECT_TRUE(log.all().empty());
}

TEST(AttemptLogTest, KeepsOrderAcrossTheMoveToTheHeap) {
  AttemptLog log;
  for (NodeId n = 1; n <= 16; ++n) {
    log.push(at(n), 16);
    EXPECT_EQ(log.size(), n);
    EXPECT_EQ(log.back().node, n);
  }
  std::vector<NodeId> want;
  for (NodeId n = 1; n <= 16; ++n) want.push_back(n);
  EXPECT_EQ(nodes(log), want);
}

TEST(AttemptLogTest, BackIsWritable) {
  AttemptLog log;
  log.push(at(7), 3);
  log.back().outcome = Attempt::Outcome::kNodeFailed;
  log.push(at(8), 3);
  log.push(at(9), 3);  // the third: on the heap now
  log.back().outcome = Attempt::Outcome::kConnected;
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log.all()[0].outcome, Attempt::Outcome::kNodeFailed);
  EXPECT_EQ(log.all()[1].outcome, Attempt::Outcome::kPending);
  EXPECT_EQ(log.all()[2].outcome, Attempt::Outcome::kConnected);
}

TEST(AttemptLogTest, NeverWritesPastItsCapacity) {
  AttemptLog log;
  for (NodeId n = 1; n <= 5; ++n) log.push(at(n), 3);  // two more than connect_attempts
  EXPECT_EQ(nodes(log), (std::vector<NodeId>{1, 2, 5}));
}

TEST(AttemptLogTest, AssignOneReplacesEverything) {
  AttemptLog log;
  for (NodeId n = 1; n <= 4; ++n) log.push(at(n), 4);
  log.assignOne(at(42, Attempt::Outcome::kConnected));
  EXPECT_EQ(nodes(log), (std::vector<NodeId>{42}));
  EXPECT_EQ(log.back().outcome, Attempt::Outcome::kConnected);
  for (NodeId n = 43; n <= 45; ++n) log.push(at(n), 4);  // grows again from inline
  EXPECT_EQ(nodes(log), (std::vector<NodeId>{42, 43, 44, 45}));
}

}  // namespace
}  // namespace tsd::director
