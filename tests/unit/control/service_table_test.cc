// ServiceTable with a real NodeTable, wired as the Director wires them: live counts reach the
// tracking schedulers through NodeTable::onActiveChanged, and a reload (apply + rebuild)
// builds schedulers that start from the live counts, not from zero.
#include "director/control/service_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tsd::director {
namespace {

std::string configText(const std::string& algorithm, const std::string& nodes) {
  return "[director]\nalgorithm = " + algorithm +
         "\nfast_path = userspace\n[metrics]\nlisten = off\n[admin]\nsocket = off\n"
         "[service s]\nsticky_key = none\ncheck = none\nlisten = 127.0.0.1:1\n" +
         nodes;
}

// Nodes need distinct addresses; none is ever connected to (check = none).
std::string node(const std::string& name, int weight = 1, int max_sessions = 0) {
  return "[node " + name + "]\naddress = 127.0.0." + std::to_string(name[0] - 'a' + 2) +
         ":2\nweight = " + std::to_string(weight) +
         "\nmax_sessions = " + std::to_string(max_sessions) + "\n";
}

class ServiceTableTest : public ::testing::Test {
 protected:
  ServiceTableTest() {
    nodes_.onActiveChanged([this](NodeId id, uint32_t n) { services_.activeChanged(id, n); });
  }
  void load(const std::string& text) {
    auto c = conf::parseConfig(text, "test.ini");
    ASSERT_TRUE(c.ok()) << c.error();
    cfg_ = std::move(c).value();
    nodes_.apply(*cfg_);
    services_.apply(*cfg_, nodes_);
    services_.rebuild(*cfg_, nodes_, SteadyClock::now());
  }
  NodeRuntime& byName(const std::string& name) { return *nodes_.find(name); }
  std::optional<std::string> pick(std::span<const NodeId> tried = {}) {
    auto id = services_.pick(0, 0, tried, nodes_.activeCounts());
    if (!id) return std::nullopt;
    return nodes_.byId(*id)->cfg.name;
  }
  void start(const std::string& name, int times = 1) {
    for (int i = 0; i < times; ++i) nodes_.connectionStarted(byName(name));
  }
  void end(const std::string& name) { nodes_.connectionEnded(byName(name)); }

  conf::ConfigPtr cfg_;
  NodeTable nodes_;
  ServiceTable services_;
};

TEST_F(ServiceTableTest, PushedCountsDecideLeastConn) {
  load(configText("least-conn", node("a") + node("b") + node("c")));
  start("a", 2);
  start("b", 1);
  start("c", 3);
  EXPECT_EQ(pick(), "b");
  start("b", 2);  // b 3: a is alone at the bottom
  EXPECT_EQ(pick(), "a");
  end("c");
  end("c");  // c 1
  EXPECT_EQ(pick(), "c");
}

TEST_F(ServiceTableTest, ReloadStartsFromTheLiveCounts) {
  load(configText("weighted-least-conn", node("a", 2) + node("b", 1)));
  start("a", 4);  // 2 per weight
  start("b", 1);  // 1 per weight
  EXPECT_EQ(pick(), "b");
  // Weight 10 for a: a fresh scheduler (the move is past the tolerance) sees 4/10 < 1/1.
  load(configText("weighted-least-conn", node("a", 10) + node("b", 1)));
  EXPECT_EQ(pick(), "a");
  // A node added by a reload starts empty; the others keep their counts.
  load(configText("weighted-least-conn", node("a", 10) + node("b", 1) + node("c", 1)));
  EXPECT_EQ(pick(), "c");
  start("c", 5);
  EXPECT_EQ(pick(), "a");
  // An algorithm switch builds from the live counts too: fewest sessions is b.
  load(configText("least-conn", node("a", 10) + node("b", 1) + node("c", 1)));
  EXPECT_EQ(pick(), "b");
}

TEST_F(ServiceTableTest, AFullNodeIsSkippedUntilASessionEnds) {
  load(configText("least-conn", node("a", 1, 2) + node("b")));
  start("b", 5);
  start("a", 2);  // full: b although it has more sessions
  EXPECT_EQ(pick(), "b");
  end("a");
  EXPECT_EQ(pick(), "a");
}

TEST_F(ServiceTableTest, TriedNodesAreSkippedAndKeepTheirPlace) {
  load(configText("least-load", node("a") + node("b") + node("c")));  // no agents: by sessions
  start("b", 1);
  start("c", 2);
  std::vector<NodeId> tried = {byName("a").id};
  EXPECT_EQ(pick(tried), "b");
  EXPECT_EQ(pick(), "a");  // excluded for one pick only
}

}  // namespace
}  // namespace tsd::director
