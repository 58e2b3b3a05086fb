// StickyTable with a fake clock: TTL from last use / last close, LRU eviction, capacity,
// eraseNode, pins, and open/close accounting.
#include "sticky/sticky_table.h"

#include <gtest/gtest.h>

namespace tsd::sticky {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using TimePoint = StickyTable::TimePoint;

const TimePoint t0 = TimePoint(hours(24 * 365 * 56));  // 2026-ish
const auto kTtl = hours(8);

Identity id(const std::string& s) { return Identity{s}; }

TEST(StickyTableTest, AssignAndLookup) {
  StickyTable t(10, kTtl);
  EXPECT_EQ(t.lookup(id("a"), t0), std::nullopt);
  t.assign(id("a"), "n1", t0);
  EXPECT_EQ(t.lookup(id("a"), t0 + minutes(1)), "n1");
  t.assign(id("a"), "n2", t0 + minutes(2));  // re-stuck elsewhere
  EXPECT_EQ(t.lookup(id("a"), t0 + minutes(3)), "n2");
  EXPECT_EQ(t.size(), 1u);
}

TEST(StickyTableTest, ExpiresAfterTtlAndIsErased) {
  StickyTable t(10, kTtl);
  t.assign(id("a"), "n1", t0);
  t.assign(id("b"), "n1", t0);
  EXPECT_EQ(t.lookup(id("a"), t0 + kTtl - milliseconds(1)), "n1");
  EXPECT_EQ(t.lookup(id("b"), t0 + kTtl), std::nullopt);
  EXPECT_FALSE(t.contains(id("b")));
  EXPECT_EQ(t.size(), 1u);
}

TEST(StickyTableTest, LookupHitRestartsTheTtl) {
  StickyTable t(10, kTtl);
  t.assign(id("a"), "n1", t0);
  ASSERT_EQ(t.lookup(id("a"), t0 + hours(7)), "n1");
  EXPECT_EQ(t.lookup(id("a"), t0 + hours(14)), "n1");
  EXPECT_EQ(t.lookup(id("a"), t0 + hours(22)), std::nullopt);
}

TEST(StickyTableTest, NoExpiryWhileConnectionsLiveThenCountedFromLastClose) {
  StickyTable t(10, kTtl);
  for (const char* name : {"a", "b"}) {
    t.assign(id(name), "n1", t0);
    t.connectionOpened(id(name));
    t.connectionOpened(id(name));
    t.connectionClosed(id(name), t0 + hours(30));  // one of two closes: still live
    t.connectionClosed(id(name), t0 + hours(50));  // the last close starts the TTL
  }
  // Still there long after assign + ttl, because connections were live until hour 50.
  EXPECT_EQ(t.lookup(id("a"), t0 + hours(50) + kTtl - milliseconds(1)), "n1");
  EXPECT_EQ(t.lookup(id("b"), t0 + hours(50) + kTtl), std::nullopt);
}

TEST(StickyTableTest, LiveEntryNeverExpires) {
  StickyTable t(10, kTtl);
  t.assign(id("a"), "n1", t0);
  t.connectionOpened(id("a"));
  EXPECT_EQ(t.lookup(id("a"), t0 + hours(1000)), "n1");
  EXPECT_EQ(t.expire(t0 + hours(2000)), 0u);
  auto e = t.entries(t0 + hours(2000));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].connections, 1u);
  EXPECT_EQ(e[0].expires, std::nullopt);
}

TEST(StickyTableTest, LruEvictionOrder) {
  StickyTable t(3, kTtl);
  t.assign(id("a"), "n1", t0);
  t.assign(id("b"), "n1", t0 + minutes(1));
  t.assign(id("c"), "n1", t0 + minutes(2));
  ASSERT_TRUE(t.lookup(id("a"), t0 + minutes(3)));  // a is now the most recent
  t.assign(id("d"), "n1", t0 + minutes(4));         // evicts b, the least recent
  EXPECT_FALSE(t.contains(id("b")));
  EXPECT_TRUE(t.contains(id("a")));
  t.assign(id("e"), "n1", t0 + minutes(5));  // evicts c
  EXPECT_FALSE(t.contains(id("c")));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.evictions(), 2u);
  t.assign(id("a"), "n2", t0 + minutes(6));  // an existing identity evicts nothing
  EXPECT_EQ(t.evictions(), 2u);
}

TEST(StickyTableTest, LiveAndPinnedEntriesAreNotEvicted) {
  StickyTable t(2, kTtl);
  t.assign(id("live"), "n1", t0);
  t.connectionOpened(id("live"));
  t.pin(id("pinned"), "n2", std::nullopt);
  t.assign(id("x"), "n1", t0 + minutes(1));  // nothing evictable: the table grows
  EXPECT_EQ(t.size(), 3u);
  t.assign(id("y"), "n1", t0 + minutes(2));  // x is the only idle entry
  EXPECT_FALSE(t.contains(id("x")));
  EXPECT_TRUE(t.contains(id("live")));
  EXPECT_TRUE(t.contains(id("pinned")));
  // When the live entry closes, the table shrinks back towards capacity, oldest idle first.
  t.connectionClosed(id("live"), t0 + minutes(3));
  EXPECT_FALSE(t.contains(id("y")));
  EXPECT_TRUE(t.contains(id("live")));
  EXPECT_EQ(t.size(), 2u);
}

TEST(StickyTableTest, SetLimitsShrinksAndChangesTtl) {
  StickyTable t(10, kTtl);
  for (int i = 0; i < 5; ++i) t.assign(id("k" + std::to_string(i)), "n1", t0 + minutes(i));
  t.setLimits(2, hours(1));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.evictions(), 3u);
  EXPECT_TRUE(t.contains(id("k3")));
  EXPECT_TRUE(t.contains(id("k4")));
  EXPECT_EQ(t.lookup(id("k3"), t0 + minutes(3) + hours(1)), std::nullopt);  // new ttl applies
  t.setLimits(0, kTtl);                                                     // treated as 1
  EXPECT_EQ(t.capacity(), 1u);
}

TEST(StickyTableTest, EraseNode) {
  StickyTable t(10, kTtl);
  t.assign(id("a"), "n1", t0);
  t.assign(id("b"), "n1", t0);
  t.assign(id("c"), "n2", t0);
  t.pin(id("p"), "n1", std::nullopt);
  EXPECT_EQ(t.eraseNode("n1", /*include_pinned=*/false), 2u);
  EXPECT_EQ(t.lookup(id("a"), t0), std::nullopt);
  EXPECT_EQ(t.lookup(id("p"), t0), "n1");
  EXPECT_EQ(t.lookup(id("c"), t0), "n2");
  EXPECT_EQ(t.eraseNode("n1"), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.eraseNode("nope"), 0u);
}

TEST(StickyTableTest, EraseKeepsConnectionCountsBalanced) {
  StickyTable t(10, kTtl);
  t.assign(id("a"), "down", t0);
  t.connectionOpened(id("a"));
  EXPECT_TRUE(t.erase(id("a")));  // node went down
  EXPECT_EQ(t.lookup(id("a"), t0), std::nullopt);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.erase(id("a")));
  t.assign(id("a"), "up", t0 + minutes(1));  // re-placed and re-stuck
  t.connectionOpened(id("a"));
  t.connectionClosed(id("a"), t0 + minutes(2));  // the old connection dies
  auto e = t.entries(t0 + minutes(2));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].node, "up");
  EXPECT_EQ(e[0].connections, 1u);  // the new one is still live
  t.connectionClosed(id("a"), t0 + minutes(3));
  t.connectionClosed(id("a"), t0 + minutes(3));  // an extra close is ignored
  EXPECT_EQ(t.lookup(id("a"), t0 + minutes(3) + kTtl), std::nullopt);
}

TEST(StickyTableTest, ConnectionWithoutEntryLeavesNoEntry) {
  StickyTable t(10, kTtl);
  t.connectionOpened(id("a"));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(t.entries(t0).empty());
  t.connectionClosed(id("a"), t0);
  t.connectionClosed(id("zzz"), t0);
  EXPECT_EQ(t.size(), 0u);
  t.assign(Identity{}, "n1", t0);  // sticky_key = none or an unknown client
  t.assign(id("b"), "", t0);
  EXPECT_EQ(t.size(), 0u);
}

TEST(StickyTableTest, PinBeatsAssignAndLru) {
  StickyTable t(1, kTtl);
  t.pin(id("p"), "n1", std::nullopt);
  t.assign(id("p"), "n2", t0);
  EXPECT_EQ(t.lookup(id("p"), t0 + hours(1000)), "n1");
  t.assign(id("a"), "n2", t0);
  t.assign(id("b"), "n2", t0);
  EXPECT_TRUE(t.contains(id("p")));
  EXPECT_FALSE(t.contains(id("a")));
  t.pin(id("b"), "n3", std::nullopt);  // pinning an existing entry moves it
  EXPECT_EQ(t.lookup(id("b"), t0), "n3");
}

TEST(StickyTableTest, PinWithEndLapsesIntoOrdinaryEntry) {
  StickyTable t(10, kTtl);
  const TimePoint until = t0 + hours(2);
  t.pin(id("a"), "n1", until);
  t.pin(id("b"), "n1", until);
  auto e = t.entries(t0);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_TRUE(e[0].pinned);
  EXPECT_EQ(e[0].pinned_until, until);
  // After the pin ends the entry counts as last used at `until`.
  EXPECT_EQ(t.lookup(id("a"), until + kTtl - milliseconds(1)), "n1");
  EXPECT_EQ(t.lookup(id("b"), until + kTtl), std::nullopt);
  t.assign(id("a"), "n2", until + kTtl);  // no longer pinned: assign wins
  EXPECT_EQ(t.lookup(id("a"), until + kTtl), "n2");
}

TEST(StickyTableTest, Unpin) {
  StickyTable t(10, kTtl);
  t.pin(id("a"), "n1", std::nullopt);
  t.pin(id("b"), "n1", std::nullopt);
  t.connectionOpened(id("b"));
  t.assign(id("c"), "n1", t0);
  EXPECT_TRUE(t.unpin(id("a")));
  EXPECT_FALSE(t.contains(id("a")));  // no connections: gone
  EXPECT_TRUE(t.unpin(id("b")));
  EXPECT_EQ(t.lookup(id("b"), t0), "n1");  // live: stays as an ordinary entry
  EXPECT_FALSE(t.unpin(id("c")));
  EXPECT_FALSE(t.unpin(id("zzz")));
}

TEST(StickyTableTest, EntriesForTheAdminCli) {
  StickyTable t(10, kTtl);
  t.assign(id("b"), "n2", t0);
  t.assign(id("a"), "n1", t0 + minutes(1));
  t.connectionOpened(id("a"));
  t.pin(id("c"), "n3", std::nullopt);
  t.assign(id("old"), "n1", t0 - kTtl);  // already expired: not listed
  auto e = t.entries(t0 + minutes(2));
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].identity.key, "a");
  EXPECT_EQ(e[0].connections, 1u);
  EXPECT_EQ(e[0].expires, std::nullopt);
  EXPECT_EQ(e[1].identity.key, "b");
  EXPECT_EQ(e[1].expires, t0 + kTtl);
  EXPECT_FALSE(e[1].pinned);
  EXPECT_EQ(e[2].identity.key, "c");
  EXPECT_TRUE(e[2].pinned);
  EXPECT_EQ(e[2].expires, std::nullopt);
}

TEST(StickyTableTest, ExpireDropsOnlyExpired) {
  StickyTable t(10, kTtl);
  t.assign(id("a"), "n1", t0);
  t.assign(id("b"), "n1", t0 + hours(1));
  t.assign(id("c"), "n1", t0 + hours(2));
  t.pin(id("p"), "n1", t0);                          // ends at t0; lapsed and expired by t0 + ttl
  EXPECT_EQ(t.expire(t0 + kTtl + minutes(30)), 2u);  // a and p
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.expire(t0 + kTtl + hours(3)), 2u);
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace tsd::sticky

namespace tsd::sticky {
namespace {

// peek() is what a decision reads: the same answer as lookup() for live, expired, pinned and
// lapsed-pin entries, but it changes nothing (no TTL restart, no erase).
TEST(StickyTablePeekTest, AnswersLikeLookupWithoutTouching) {
  StickyTable t(10, kTtl);
  t.assign(id("a"), "n1", t0, 7);
  auto hit = t.peek(id("a"), t0 + hours(7));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->node, "n1");
  EXPECT_EQ(hit->tag, 7u);
  // No TTL restart: at t0 + 8h the entry is expired for peek and for lookup alike.
  EXPECT_FALSE(t.peek(id("a"), t0 + kTtl));
  EXPECT_TRUE(t.contains(id("a")));  // peek did not erase it
  EXPECT_EQ(t.lookup(id("a"), t0 + kTtl), std::nullopt);
  EXPECT_FALSE(t.peek(id("missing"), t0));

  t.pin(id("p"), "n2", t0 + hours(1), 3);
  ASSERT_TRUE(t.peek(id("p"), t0 + minutes(30)));
  EXPECT_EQ(t.peek(id("p"), t0 + minutes(30))->tag, 3u);
  // A lapsed pin counts as an ordinary entry last used when the pin ended.
  EXPECT_TRUE(t.peek(id("p"), t0 + hours(1) + kTtl - minutes(1)));
  EXPECT_FALSE(t.peek(id("p"), t0 + hours(1) + kTtl));
  EXPECT_EQ(t.lookup(id("p"), t0 + hours(1) + kTtl - minutes(1)), "n2");
}

TEST(StickyTablePeekTest, RetagSetsTagsByNodeName) {
  StickyTable t(10, kTtl);
  t.assign(id("a"), "n1", t0);
  t.assign(id("b"), "n2", t0);
  EXPECT_EQ(t.peek(id("a"), t0)->tag, kNoTag);  // restored entries have no tag yet
  t.retag([](std::string_view node) { return node == "n1" ? 4u : 9u; });
  EXPECT_EQ(t.peek(id("a"), t0)->tag, 4u);
  EXPECT_EQ(t.peek(id("b"), t0)->tag, 9u);
  t.assign(id("a"), "n2", t0, 9);  // a new assignment carries its own tag
  EXPECT_EQ(t.peek(id("a"), t0)->tag, 9u);
}

}  // namespace
}  // namespace tsd::sticky
