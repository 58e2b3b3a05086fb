// UserTable on a fake clock: homes ranked like the session index, learning (one user, NAT),
// bounce pins consumed once and in order, expiry and capacity; decideBounce, rule by rule.
#include "sticky/user_table.h"

#include <gtest/gtest.h>

namespace tsd::sticky {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using TP = UserTable::TimePoint;

const TP kT0{std::chrono::hours(24 * 365 * 56)};  // a fixed wall-clock instant
Identity ip(const char* a) { return *identityFromAddressString(a, 32, 64); }
SessionRef run(const char* user, int64_t since) { return {user, "10.9.9.9", false, since}; }
SessionRef susp(const char* user, int64_t since) { return {user, "10.9.9.9", true, since}; }

TEST(UserTableTest, HomeIsTheBestSessionSuspendedFirstThenNewest) {
  UserTable t;
  t.updateSessions("a", 0, {susp("alice", 100)});
  t.updateSessions("b", 1, {run("alice", 500), susp("bob", 10)});
  t.updateSessions("c", 2, {susp("bob", 20), run("carol", 5)});
  EXPECT_EQ(t.home("alice")->node, "a");  // suspended beats a newer running one
  EXPECT_EQ(t.home("alice")->tag, 0u);
  EXPECT_EQ(t.home("bob")->node, "c");  // both suspended: the newest
  EXPECT_EQ(t.home("carol")->node, "c");
  EXPECT_EQ(t.home("dave"), std::nullopt);
  // The usable filter skips a down home and takes the next best.
  auto not_a = [](std::string_view n, uint32_t) { return n != "a"; };
  EXPECT_EQ(t.home("alice", not_a)->node, "b");
}

TEST(UserTableTest, HomeTiesBreakOnNodeNameAndInventoriesReplace) {
  UserTable t;
  t.updateSessions("n2", 2, {susp("alice", 100)});
  t.updateSessions("n1", 1, {susp("alice", 100)});
  EXPECT_EQ(t.home("alice")->node, "n1");  // same rank on every director
  t.updateSessions("n1", 1, {});           // alice's session on n1 ended
  EXPECT_EQ(t.home("alice")->node, "n2");
  t.removeNode("n2");
  EXPECT_EQ(t.home("alice"), std::nullopt);
}

TEST(UserTableTest, LearnsUsersPerIdentityAndSharedAddresses) {
  UserTable t;
  EXPECT_TRUE(t.learn(ip("10.0.0.5"), "alice", kT0));
  EXPECT_FALSE(t.learn(ip("10.0.0.5"), "alice", kT0 + seconds(5)));  // seen again: not new
  EXPECT_EQ(t.usersOf(ip("10.0.0.5")), std::vector<std::string>{"alice"});
  EXPECT_TRUE(t.learn(ip("10.0.0.5"), "bob", kT0));  // a NAT: two users behind one address
  EXPECT_EQ(t.usersOf(ip("10.0.0.5")), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE(t.learn(ip("10.0.0.6"), "alice", kT0));
  EXPECT_EQ(t.users(), 2u);
  EXPECT_EQ(t.identities(), 2u);
  EXPECT_FALSE(t.learn(Identity{}, "alice", kT0));
  EXPECT_FALSE(t.learn(ip("10.0.0.7"), "", kT0));
}

TEST(UserTableTest, DumpListsUsersWithHomesIdentitiesAndLastSeen) {
  UserTable t;
  t.updateSessions("a", 0, {susp("alice", 100), run("carol", 1)});
  t.learn(ip("10.0.0.5"), "alice", kT0);
  t.learn(ip("10.0.0.6"), "alice", kT0 + seconds(9));
  t.learn(ip("10.0.0.5"), "bob", kT0);
  auto rows = t.dump();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].user, "alice");
  EXPECT_EQ(rows[0].home->node, "a");
  EXPECT_EQ(rows[0].identities, (std::vector<Identity>{ip("10.0.0.5"), ip("10.0.0.6")}));
  EXPECT_EQ(rows[0].last_seen, kT0 + seconds(9));
  EXPECT_EQ(rows[1].user, "bob");
  EXPECT_FALSE(rows[1].home.has_value());  // learned, but no session anywhere
  EXPECT_EQ(rows[2].user, "carol");        // a session, never learned behind an identity
  EXPECT_TRUE(rows[2].identities.empty());
  EXPECT_FALSE(rows[2].last_seen.has_value());
}

TEST(UserTableTest, ExpireForgetsPairsUnseenForTooLong) {
  UserTable t;
  t.learn(ip("10.0.0.5"), "alice", kT0);
  t.learn(ip("10.0.0.6"), "alice", kT0 + seconds(100));
  EXPECT_EQ(t.expire(kT0 + seconds(150), seconds(120)), 1u);
  EXPECT_TRUE(t.usersOf(ip("10.0.0.5")).empty());
  EXPECT_EQ(t.usersOf(ip("10.0.0.6")).size(), 1u);
  EXPECT_EQ(t.expire(kT0 + seconds(300), seconds(120)), 1u);
  EXPECT_EQ(t.users(), 0u);
}

TEST(UserTableTest, CapacityDropsTheLeastRecentlySeenPair) {
  UserTable t(2);
  t.learn(ip("10.0.0.1"), "a", kT0 + seconds(3));
  t.learn(ip("10.0.0.2"), "b", kT0 + seconds(1));
  t.learn(ip("10.0.0.3"), "c", kT0 + seconds(2));
  EXPECT_EQ(t.identities(), 2u);
  EXPECT_TRUE(t.usersOf(ip("10.0.0.2")).empty());
  t.setCapacity(1);
  EXPECT_EQ(t.usersOf(ip("10.0.0.1")), std::vector<std::string>{"a"});
}

TEST(UserTableTest, PassingTheCapacityFreesOnePercentOldestFirst) {
  UserTable t(200);
  for (int i = 0; i < 201; ++i) {
    t.learn(Identity{"10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "/32"},
            "u", kT0 + seconds(i));
  }
  EXPECT_EQ(t.identities(), 198u);
  EXPECT_TRUE(t.usersOf(Identity{"10.0.0.2/32"}).empty());
  EXPECT_EQ(t.usersOf(Identity{"10.0.0.3/32"}).size(), 1u);
  EXPECT_EQ(t.usersOf(Identity{"10.0.0.200/32"}).size(), 1u);  // the newest stays
}

TEST(UserTableTest, PinsAreConsumedOnceAndInTurn) {
  UserTable t;
  Identity nat = ip("192.0.2.1");
  t.pin(nat, {"alice", "a", 0, kT0 + seconds(60)});
  t.pin(nat, {"bob", "b", 1, kT0 + seconds(60)});
  EXPECT_EQ(t.pins(), 2u);
  EXPECT_EQ(t.peekPin(nat, kT0)->node, "a");
  EXPECT_EQ(t.peekPin(nat, kT0)->node, "a");  // peeking consumes nothing
  EXPECT_TRUE(t.takePin(nat, "a", kT0));      // alice's retry used it
  EXPECT_EQ(t.peekPin(nat, kT0)->node, "b");  // bob's turn
  EXPECT_FALSE(t.takePin(nat, "a", kT0));     // only once
  EXPECT_TRUE(t.takePin(nat, "b", kT0));
  EXPECT_EQ(t.peekPin(nat, kT0), std::nullopt);
  EXPECT_EQ(t.pins(), 0u);
}

TEST(UserTableTest, PinsExpireAndSkipUnusableNodes) {
  UserTable t;
  Identity id = ip("192.0.2.1");
  t.pin(id, {"alice", "a", 0, kT0 + seconds(10)});
  t.pin(id, {"bob", "b", 1, kT0 + seconds(60)});
  auto not_a = [](std::string_view n, uint32_t) { return n != "a"; };
  EXPECT_EQ(t.peekPin(id, kT0, not_a)->node, "b");
  EXPECT_EQ(t.peekPin(id, kT0 + seconds(10))->node, "b");  // alice's lapsed
  EXPECT_FALSE(t.takePin(id, "a", kT0 + seconds(11)));
  EXPECT_EQ(t.pins(), 1u);
  EXPECT_EQ(t.peekPin(id, kT0 + seconds(61)), std::nullopt);
}

TEST(UserTableTest, LastBounceIsKeptPerUser) {
  UserTable t;
  EXPECT_EQ(t.lastBounce("alice"), std::nullopt);
  t.noteBounce("alice", kT0);
  EXPECT_EQ(t.lastBounce("alice"), kT0);
  EXPECT_EQ(t.lastBounce("bob"), std::nullopt);
}

// decideBounce, one rule per row: every rule of docs/sticky.md "wrong node".
struct BounceCase {
  const char* name;
  bool bounce = true;
  const char* current = "c";
  std::optional<const char*> home = "a";
  bool home_usable = true;
  milliseconds age{1000};
  std::optional<milliseconds> last_bounce_ago{};
  BounceOutcome want;
};

class Bounce : public testing::TestWithParam<BounceCase> {};

TEST_P(Bounce, Rule) {
  const BounceCase& c = GetParam();
  BounceInput in;
  in.bounce = c.bounce;
  in.current_node = c.current;
  if (c.home) in.home = UserTable::Home{*c.home, 0, true};
  in.home_usable = c.home_usable;
  in.age = c.age;
  in.window = seconds(5);
  in.now = kT0;
  if (c.last_bounce_ago) in.last_bounce = kT0 - *c.last_bounce_ago;
  EXPECT_EQ(decideBounce(in), c.want) << toString(decideBounce(in));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, Bounce,
    testing::Values(
        BounceCase{.name = "young_wrong_node", .want = BounceOutcome::kBounced},
        BounceCase{.name = "at_home", .current = "a", .want = BounceOutcome::kAtHome},
        BounceCase{
            .name = "no_home_never", .home = std::nullopt, .want = BounceOutcome::kHomeUnknown},
        BounceCase{.name = "keep_mode", .bounce = false, .want = BounceOutcome::kKept},
        BounceCase{
            .name = "older_than_window", .age = milliseconds(5001), .want = BounceOutcome::kTooOld},
        BounceCase{
            .name = "at_the_window", .age = milliseconds(5000), .want = BounceOutcome::kBounced},
        BounceCase{.name = "home_down_maint_or_drain",
                   .home_usable = false,
                   .want = BounceOutcome::kHomeUnusable},
        BounceCase{.name = "bounced_within_window",
                   .last_bounce_ago = milliseconds(4999),
                   .want = BounceOutcome::kRepeat},
        BounceCase{.name = "bounced_before_the_window",
                   .last_bounce_ago = milliseconds(5000),
                   .want = BounceOutcome::kBounced},
        BounceCase{.name = "keep_mode_old_and_repeat_still_kept",
                   .bounce = false,
                   .age = milliseconds(9000),
                   .last_bounce_ago = milliseconds(1),
                   .want = BounceOutcome::kKept}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tsd::sticky
