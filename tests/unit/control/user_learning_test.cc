// UserLearning on a fake clock: agent-reported sshd connections matched to live forwarded
// connections by the 4-tuple the node sees, in transparent mode (the client's address and
// port) and without it (the director's own source address, told apart by port); then the
// whole learning -> user table -> bounce chain for a roaming user and two users behind a NAT.
#include "director/control/user_learning.h"

#include <gtest/gtest.h>

#include "sticky/user_table.h"

namespace tsd::director {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
const Clock::time_point kUp{std::chrono::hours(1000)};

UserLearning::Live live(uint64_t h, const char* id, NodeId node, Endpoint remote, Endpoint local,
                        Clock::time_point up = kUp) {
  return {h, sticky::Identity{id}, node, 0, std::move(remote), std::move(local), up, {}, false};
}

health::AgentConnection sshd(const char* user, const char* raddr, uint16_t rport, const char* laddr,
                             uint16_t lport) {
  return {user, raddr, rport, laddr, lport, 0};
}

TEST(CanonicalAddress, FoldsMappedAndRejectsJunk) {
  EXPECT_EQ(canonicalAddress("10.0.0.5"), "10.0.0.5");
  EXPECT_EQ(canonicalAddress("::ffff:10.0.0.5"), "10.0.0.5");
  EXPECT_EQ(canonicalAddress("2001:DB8::1"), "2001:db8::1");
  EXPECT_EQ(canonicalAddress("desk"), "");
  EXPECT_EQ(canonicalAddress(""), "");
}

TEST(UserLearning, TransparentModeMatchesTheClientsOwnTuple) {
  UserLearning l;
  l.opened(live(1, "198.51.100.7/32", 0, {"198.51.100.7", 50123}, {"10.0.0.11", 22}));
  l.opened(live(2, "198.51.100.8/32", 1, {"198.51.100.8", 40000}, {"10.0.0.12", 22}));
  auto c = l.correlate(0,
                       {sshd("alice", "::ffff:198.51.100.7", 50123, "10.0.0.11", 22),
                        sshd("root", "203.0.113.1", 999, "10.0.0.11", 22)},  // a direct login
                       kUp + seconds(1));
  ASSERT_EQ(c.learned.size(), 1u);
  EXPECT_EQ(c.learned[0].handle, 1u);
  EXPECT_EQ(c.learned[0].user, "alice");
  EXPECT_EQ(c.misses, 0u);
  EXPECT_EQ(l.find(1)->user, "alice");
  // Reported again: nothing new to learn.
  EXPECT_TRUE(
      l.correlate(0, {sshd("alice", "198.51.100.7", 50123, "10.0.0.11", 22)}, kUp + seconds(2))
          .learned.empty());
}

TEST(UserLearning, WithoutTransparentModeThePortTellsConnectionsApart) {
  UserLearning l;
  // Every connection comes from the director's 10.0.0.1; clients differ, ports differ.
  l.opened(live(1, "198.51.100.7/32", 0, {"10.0.0.1", 41000}, {"10.0.0.11", 22}));
  l.opened(live(2, "192.0.2.9/32", 0, {"10.0.0.1", 41001}, {"10.0.0.11", 22}));
  auto c = l.correlate(0,
                       {sshd("bob", "10.0.0.1", 41001, "10.0.0.11", 22),
                        sshd("alice", "10.0.0.1", 41000, "10.0.0.11", 22),
                        sshd("carol", "10.0.0.1", 41002, "10.0.0.11", 22)},  // closed already
                       kUp + seconds(1));
  ASSERT_EQ(c.learned.size(), 2u);
  EXPECT_EQ(l.find(1)->user, "alice");
  EXPECT_EQ(l.find(2)->user, "bob");
}

TEST(UserLearning, ReportsOfAnotherNodeOrBadRowsLearnNothing) {
  UserLearning l;
  l.opened(live(1, "198.51.100.7/32", 0, {"10.0.0.1", 41000}, {"10.0.0.11", 22}));
  EXPECT_TRUE(
      l.correlate(1, {sshd("alice", "10.0.0.1", 41000, "10.0.0.11", 22)}, kUp).learned.empty());
  EXPECT_TRUE(l.correlate(0,
                          {sshd("", "10.0.0.1", 41000, "10.0.0.11", 22),
                           sshd("alice", "junk", 41000, "10.0.0.11", 22),
                           sshd("alice", "10.0.0.1", 41000, "10.0.0.11", 2222)},
                          kUp)
                  .learned.empty());
}

TEST(UserLearning, ClosedConnectionsAreForgottenAndTuplesReused) {
  UserLearning l;
  l.opened(live(1, "198.51.100.7/32", 0, {"10.0.0.1", 41000}, {"10.0.0.11", 22}));
  l.closed(1);
  EXPECT_EQ(l.live(), 0u);
  EXPECT_EQ(l.find(1), nullptr);
  // The port is reused by a later connection of another client: only that one matches.
  l.opened(live(2, "192.0.2.9/32", 0, {"10.0.0.1", 41000}, {"10.0.0.11", 22}));
  auto c = l.correlate(0, {sshd("bob", "10.0.0.1", 41000, "10.0.0.11", 22)}, kUp);
  ASSERT_EQ(c.learned.size(), 1u);
  EXPECT_EQ(c.learned[0].handle, 2u);
  l.closed(99);  // unknown: nothing happens
  EXPECT_EQ(l.live(), 1u);
}

TEST(UserLearning, AConnectionNeverListedCountsAsOneMiss) {
  UserLearning l;
  l.opened(live(1, "198.51.100.7/32", 0, {"10.0.0.1", 41000}, {"10.0.0.11", 22}));
  l.opened(live(2, "198.51.100.8/32", 0, {"10.0.0.1", 41001}, {"10.0.0.11", 22}));
  // Snapshots younger than kMissAfter past the connect: sshd may still be authenticating.
  EXPECT_EQ(l.correlate(0, {}, kUp + seconds(3)).misses, 0u);
  auto later = kUp + UserLearning::kMissAfter;
  EXPECT_EQ(l.correlate(0, {sshd("bob", "10.0.0.1", 41001, "10.0.0.11", 22)}, later).misses, 1u);
  EXPECT_EQ(l.correlate(0, {}, later + seconds(5)).misses, 0u);  // once
  EXPECT_EQ(l.correlate(1, {}, later + seconds(5)).misses, 0u);  // another node's report
}

TEST(UserLearning, PendingWhileAFreshConnectionHasNoUser) {
  UserLearning l;
  EXPECT_FALSE(l.pending(0, kUp));
  l.opened(live(1, "198.51.100.7/32", 0, {"10.0.0.1", 41000}, {"10.0.0.11", 22}));
  EXPECT_TRUE(l.pending(0, kUp + seconds(1)));
  EXPECT_FALSE(l.pending(1, kUp + seconds(1)));                // another node
  EXPECT_FALSE(l.pending(0, kUp + UserLearning::kMissAfter));  // given up: too old
  l.correlate(0, {sshd("alice", "10.0.0.1", 41000, "10.0.0.11", 22)}, kUp + seconds(1));
  EXPECT_FALSE(l.pending(0, kUp + seconds(2)));  // learned
  l.opened(live(2, "198.51.100.8/32", 0, {"10.0.0.1", 41001}, {"10.0.0.11", 22}));
  l.closed(2);
  EXPECT_FALSE(l.pending(0, kUp + seconds(2)));  // closed
}

// The chain the director runs per matched connection, on a fake clock: learn the pair, find
// the home, decide. A roaming user is bounced once and pinned home; the retry consumes the pin.
struct Chain {
  sticky::UserTable users;
  UserLearning learning;
  sticky::UserTable::TimePoint now{std::chrono::hours(24 * 365 * 56)};
  sticky::BounceOutcome onMatch(const UserLearning::Match& m, const char* node, bool bounce,
                                Clock::duration age) {
    const auto* l = learning.find(m.handle);
    users.learn(l->identity, m.user, now);
    sticky::BounceInput in;
    in.bounce = bounce;
    in.current_node = node;
    in.home = users.home(m.user);
    in.home_usable = true;
    in.age = std::chrono::duration_cast<sticky::UserTable::Duration>(age);
    in.window = seconds(5);
    in.last_bounce = users.lastBounce(m.user);
    in.now = now;
    auto o = sticky::decideBounce(in);
    if (o == sticky::BounceOutcome::kBounced) {
      users.noteBounce(m.user, now);
      users.pin(l->identity, {m.user, in.home->node, in.home->tag, now + seconds(60)});
    }
    return o;
  }
};

TEST(UserLearningChain, TwoUsersBehindOneAddressEachGetTheirOwnHome) {
  Chain ch;
  // alice's desktop is suspended on a (id 0), bob's on b (id 1); both behind 192.0.2.1.
  ch.users.updateSessions("a", 0, {{"alice", "10.0.0.1", true, 100}});
  ch.users.updateSessions("b", 1, {{"bob", "10.0.0.1", true, 100}});
  sticky::Identity nat{"192.0.2.1/32"};
  // Both land on c (id 2) within the same second; the fast polls match them.
  ch.learning.opened(live(1, nat.key.c_str(), 2, {"10.0.0.1", 41000}, {"10.0.0.13", 22}));
  ch.learning.opened(live(2, nat.key.c_str(), 2, {"10.0.0.1", 41001}, {"10.0.0.13", 22}));
  auto c = ch.learning.correlate(2,
                                 {sshd("alice", "10.0.0.1", 41000, "10.0.0.13", 22),
                                  sshd("bob", "10.0.0.1", 41001, "10.0.0.13", 22)},
                                 kUp + seconds(1));
  ASSERT_EQ(c.learned.size(), 2u);
  for (const auto& m : c.learned) {
    EXPECT_EQ(ch.onMatch(m, "c", true, seconds(1)), sticky::BounceOutcome::kBounced) << m.user;
  }
  // Two users behind the identity: only the pins decide, in turn, each used once.
  EXPECT_EQ(ch.users.usersOf(nat).size(), 2u);
  auto first = ch.users.peekPin(nat, ch.now);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->node, "a");
  EXPECT_TRUE(ch.users.takePin(nat, "a", ch.now));
  EXPECT_EQ(ch.users.peekPin(nat, ch.now)->node, "b");
  EXPECT_TRUE(ch.users.takePin(nat, "b", ch.now));
  EXPECT_FALSE(ch.users.peekPin(nat, ch.now).has_value());
  // The retries: each at home now, and neither is bounced again within the window.
  ch.learning.opened(live(3, nat.key.c_str(), 0, {"10.0.0.1", 41002}, {"10.0.0.11", 22}));
  auto r = ch.learning.correlate(0, {sshd("alice", "10.0.0.1", 41002, "10.0.0.11", 22)},
                                 kUp + seconds(3));
  ASSERT_EQ(r.learned.size(), 1u);
  EXPECT_EQ(ch.onMatch(r.learned[0], "a", true, seconds(1)), sticky::BounceOutcome::kAtHome);
  // Had bob's retry landed on the wrong node again, he would be left alone (no loop).
  ch.learning.opened(live(4, nat.key.c_str(), 0, {"10.0.0.1", 41003}, {"10.0.0.11", 22}));
  auto b =
      ch.learning.correlate(0, {sshd("bob", "10.0.0.1", 41003, "10.0.0.11", 22)}, kUp + seconds(3));
  ASSERT_EQ(b.learned.size(), 1u);
  EXPECT_EQ(ch.onMatch(b.learned[0], "a", true, seconds(1)), sticky::BounceOutcome::kRepeat);
}

TEST(UserLearningChain, KeepModeLeavesTheConnectionAndTheNextGoesHome) {
  Chain ch;
  ch.users.updateSessions("a", 0, {{"alice", "198.51.100.7", true, 100}});
  sticky::Identity roaming{"203.0.113.50/32"};  // an address never seen before
  ch.learning.opened(live(1, roaming.key.c_str(), 2, {"203.0.113.50", 50000}, {"10.0.0.13", 22}));
  auto c = ch.learning.correlate(2, {sshd("alice", "203.0.113.50", 50000, "10.0.0.13", 22)},
                                 kUp + seconds(1));
  ASSERT_EQ(c.learned.size(), 1u);
  EXPECT_EQ(ch.onMatch(c.learned[0], "c", false, seconds(1)), sticky::BounceOutcome::kKept);
  EXPECT_EQ(ch.users.pins(), 0u);
  // The placement's user rule now has exactly one user with a home for this identity.
  EXPECT_EQ(ch.users.usersOf(roaming), std::vector<std::string>{"alice"});
  EXPECT_EQ(ch.users.home("alice")->node, "a");
}

TEST(UserLearningChain, AUserWithoutADesktopIsNeverBounced) {
  Chain ch;
  ch.learning.opened(live(1, "203.0.113.50/32", 2, {"203.0.113.50", 50000}, {"10.0.0.13", 22}));
  auto c = ch.learning.correlate(2, {sshd("dave", "203.0.113.50", 50000, "10.0.0.13", 22)},
                                 kUp + seconds(1));
  ASSERT_EQ(c.learned.size(), 1u);
  EXPECT_EQ(ch.onMatch(c.learned[0], "c", true, seconds(1)), sticky::BounceOutcome::kHomeUnknown);
  // Once his own login shows up in c's inventory, c is his home: still nothing to do.
  ch.users.updateSessions("c", 2, {{"dave", "203.0.113.50", false, 200}});
  ch.learning.opened(live(2, "203.0.113.50/32", 2, {"203.0.113.50", 50001}, {"10.0.0.13", 22}));
  auto d = ch.learning.correlate(2, {sshd("dave", "203.0.113.50", 50001, "10.0.0.13", 22)},
                                 kUp + seconds(2));
  ASSERT_EQ(d.learned.size(), 1u);
  EXPECT_EQ(ch.onMatch(d.learned[0], "c", true, seconds(1)), sticky::BounceOutcome::kAtHome);
}

}  // namespace
}  // namespace tsd::director
