// SessionIndex: merging inventories, ranking (suspended > running, newest, node name),
// ambiguity, the usable filter, replacement and removal of a node's inventory.
#include "sticky/session_index.h"

#include <gtest/gtest.h>

#include <map>

namespace tsd::sticky {
namespace {

SessionRef running(const char* user, const char* addr, int64_t since) {
  return {user, addr, false, since};
}
SessionRef suspended(const char* user, const char* addr, int64_t since) {
  return {user, addr, true, since};
}
Identity ip(const char* a) { return *identityFromAddressString(a, 32, 64); }

TEST(SessionIndexTest, EmptyIndexFindsNothing) {
  SessionIndex idx(32, 64);
  EXPECT_EQ(idx.lookup(ip("10.0.0.1")), std::nullopt);
  EXPECT_EQ(idx.identities(), 0u);
}

TEST(SessionIndexTest, MergesNodes) {
  SessionIndex idx(32, 64);
  idx.update("n1", {running("alice", "10.0.0.1", 100)});
  idx.update("n2", {running("bob", "10.0.0.2", 100), running("carol", "2001:db8::5", 50)});
  EXPECT_EQ(idx.lookup(ip("10.0.0.1"))->node, "n1");
  EXPECT_EQ(idx.lookup(ip("10.0.0.2"))->node, "n2");
  EXPECT_EQ(idx.lookup(ip("2001:db8::77"))->node, "n2");  // same /64
  EXPECT_EQ(idx.lookup(ip("10.0.0.3")), std::nullopt);
  EXPECT_EQ(idx.identities(), 3u);
  EXPECT_EQ(idx.sessions(), 3u);
  auto m = *idx.lookup(ip("10.0.0.1"));
  EXPECT_FALSE(m.ambiguous);
  EXPECT_EQ(m.candidates, 1u);
  EXPECT_EQ(m.user, "alice");
}

struct RankCase {
  const char* what;
  std::vector<std::pair<std::string, SessionRef>> sessions;  // node, session
  const char* expect;
};

TEST(SessionIndexTest, Ranking) {
  const char* a = "10.0.0.1";
  const RankCase cases[] = {
      {"suspended beats a newer running session",
       {{"n1", running("u", a, 900)}, {"n2", suspended("u", a, 100)}},
       "n2"},
      {"most recent suspended first",
       {{"n1", suspended("u", a, 100)},
        {"n2", suspended("u", a, 300)},
        {"n3", suspended("u", a, 200)}},
       "n2"},
      {"most recent running first",
       {{"n1", running("u", a, 300)}, {"n2", running("u", a, 100)}},
       "n1"},
      {"tie broken by node name",
       {{"nb", suspended("u", a, 100)}, {"na", suspended("u", a, 100)}},
       "na"},
      {"a node's best session counts",
       {{"n1", running("u", a, 500)}, {"n1", suspended("u", a, 10)}, {"n2", running("u", a, 900)}},
       "n1"},
  };
  for (const auto& c : cases) {
    SessionIndex idx(32, 64);
    std::map<std::string, std::vector<SessionRef>> per_node;
    for (const auto& [node, s] : c.sessions) per_node[node].push_back(s);
    // Insert in reverse name order too: the result must not depend on update order.
    for (auto it = per_node.rbegin(); it != per_node.rend(); ++it)
      idx.update(it->first, it->second);
    auto m = idx.lookup(ip(a));
    ASSERT_TRUE(m.has_value()) << c.what;
    EXPECT_EQ(m->node, c.expect) << c.what;
  }
}

TEST(SessionIndexTest, AmbiguityCountsNodesNotSessions) {
  SessionIndex idx(32, 64);
  idx.update("n1", {running("alice", "10.0.0.1", 1), suspended("bob", "10.0.0.1", 2)});
  auto one = *idx.lookup(ip("10.0.0.1"));
  EXPECT_FALSE(one.ambiguous);  // two users behind one NAT address, but on one node
  EXPECT_EQ(one.candidates, 1u);
  EXPECT_EQ(one.user, "bob");
  idx.update("n2", {running("carol", "10.0.0.1", 3)});
  idx.update("n3", {running("dave", "10.0.0.1", 4)});
  auto three = *idx.lookup(ip("10.0.0.1"));
  EXPECT_TRUE(three.ambiguous);
  EXPECT_EQ(three.candidates, 3u);
  EXPECT_EQ(three.node, "n1");
}

TEST(SessionIndexTest, UsableFilterSkipsDownNodes) {
  SessionIndex idx(32, 64);
  idx.update("n1", {suspended("alice", "10.0.0.1", 200)});
  idx.update("n2", {running("alice", "10.0.0.1", 100)});
  auto not_n1 = [](std::string_view node, uint32_t) { return node != "n1"; };
  auto m = *idx.lookup(ip("10.0.0.1"), not_n1);
  EXPECT_EQ(m.node, "n2");
  EXPECT_FALSE(m.ambiguous);  // only one usable node
  EXPECT_EQ(m.candidates, 1u);
  EXPECT_EQ(idx.lookup(ip("10.0.0.1"), [](std::string_view, uint32_t) { return false; }),
            std::nullopt);
  EXPECT_TRUE(idx.lookup(ip("10.0.0.1"))->ambiguous);
}

TEST(SessionIndexTest, UpdateReplacesAndRemoveNodeForgets) {
  SessionIndex idx(32, 64);
  idx.update("n1", {suspended("alice", "10.0.0.1", 1), running("bob", "10.0.0.2", 1)});
  idx.update("n2", {running("alice", "10.0.0.1", 5)});
  idx.update("n1", {running("bob", "10.0.0.2", 1)});  // alice's suspended session ended
  EXPECT_EQ(idx.lookup(ip("10.0.0.1"))->node, "n2");
  EXPECT_FALSE(idx.lookup(ip("10.0.0.1"))->ambiguous);
  idx.removeNode("n2");
  EXPECT_EQ(idx.lookup(ip("10.0.0.1")), std::nullopt);
  EXPECT_EQ(idx.identities(), 1u);
  idx.update("n1", {});
  EXPECT_EQ(idx.identities(), 0u);
  EXPECT_EQ(idx.sessions(), 0u);
  idx.removeNode("never-seen");
}

TEST(SessionIndexTest, UnparsableAddressesAreIgnoredAndCounted) {
  SessionIndex idx(32, 64);
  idx.update("n1", {running("a", "", 1), running("b", "localhost", 1),
                    running("c", "10.0.0.1:22", 1), running("d", "10.0.0.1", 1)});
  idx.update("n2", {running("e", "tty1", 1)});
  EXPECT_EQ(idx.ignored(), 4u);
  EXPECT_EQ(idx.sessions(), 1u);
  EXPECT_EQ(idx.identities(), 1u);
  idx.removeNode("n2");
  EXPECT_EQ(idx.ignored(), 3u);
}

TEST(SessionIndexTest, PrefixesAndV4MappedAddresses) {
  SessionIndex idx(24, 48);
  idx.update("n1", {suspended("alice", "::ffff:10.0.0.5", 1)});
  idx.update("n2", {suspended("bob", "2001:db8:1:2::9", 1)});
  EXPECT_EQ(idx.lookup(identityFromAddressString("10.0.0.200", 24, 48).value())->node, "n1");
  EXPECT_EQ(idx.lookup(identityFromAddressString("2001:db8:1:ff::1", 24, 48).value())->node, "n2");
  idx.setPrefixes(32, 128);  // reload: identities derived again
  EXPECT_EQ(idx.lookup(ip("10.0.0.5"))->node, "n1");
  EXPECT_EQ(idx.lookup(ip("10.0.0.200")), std::nullopt);
  EXPECT_EQ(idx.identities(), 2u);
}

TEST(SessionIndexTest, DumpIsOrderedByIdentityThenRank) {
  SessionIndex idx(32, 64);
  idx.update("n2", {running("bob", "10.0.0.2", 5), suspended("alice", "10.0.0.1", 1)});
  idx.update("n1", {running("alice", "10.0.0.1", 9), running("zed", "nowhere", 1)});
  auto rows = idx.dump();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].identity.key, "10.0.0.1/32");
  EXPECT_EQ(rows[0].node, "n2");  // suspended first
  EXPECT_EQ(rows[1].node, "n1");
  EXPECT_EQ(rows[1].session.user, "alice");
  EXPECT_EQ(rows[2].session.user, "bob");
}

// The tag given with a node's inventory comes back with every match and is what the usable
// filter sees, so the director resolves a session to a node id without a name lookup.
TEST(SessionIndexTest, TagsComeBackWithMatchesAndSurvivePrefixChanges) {
  SessionIndex idx(32, 64);
  idx.update("n1", {running("alice", "10.0.0.1", 100)}, 11);
  idx.update("n2", {running("alice", "10.0.0.1", 200)}, 22);
  auto m = idx.lookup(ip("10.0.0.1"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->node, "n2");
  EXPECT_EQ(m->tag, 22u);
  auto not_22 = [](std::string_view, uint32_t tag) { return tag != 22; };
  EXPECT_EQ(idx.lookup(ip("10.0.0.1"), not_22)->tag, 11u);
  idx.setPrefixes(24, 64);
  EXPECT_EQ(idx.lookup(*identityFromAddressString("10.0.0.9", 24, 64))->tag, 22u);
}

}  // namespace
}  // namespace tsd::sticky

namespace tsd::sticky {
namespace {

// Without transparent mode every session a node sees carries the director's own address:
// such sessions are never filed by address (dump() still shows them).
TEST(SessionIndexTest, DirectorOwnAddressesAreNeverFiled) {
  SessionIndex idx(24, 64);
  const Identity net24 = *identityFromAddressString("10.0.0.9", 24, 64);
  idx.setLocalAddresses({"10.0.0.1", "::ffff:10.0.0.2", "not-an-ip"});
  EXPECT_TRUE(idx.isLocalAddress("10.0.0.2"));
  EXPECT_TRUE(idx.isLocalAddress("::ffff:10.0.0.1"));
  EXPECT_FALSE(idx.isLocalAddress("10.0.0.3"));
  idx.update("n1", {running("alice", "10.0.0.1", 100), running("bob", "10.0.0.3", 100)});
  idx.update("n2", {suspended("carol", "10.0.0.2", 200)});
  // 10.0.0.0/24 is one identity: only bob's session (a real client address) files it.
  auto m = idx.lookup(net24);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->node, "n1");
  EXPECT_EQ(m->user, "bob");
  EXPECT_FALSE(m->ambiguous);
  EXPECT_EQ(idx.local(), 2u);
  EXPECT_EQ(idx.dump().size(), 3u);
  // Learning a new own address later re-files what is already there.
  idx.setLocalAddresses({"10.0.0.1", "10.0.0.2", "10.0.0.3"});
  EXPECT_EQ(idx.lookup(net24), std::nullopt);
  idx.setLocalAddresses({});
  EXPECT_EQ(idx.lookup(net24)->node, "n2");  // carol's suspended session ranks first
}

}  // namespace
}  // namespace tsd::sticky
