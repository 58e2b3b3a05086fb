// users.state: round trip, all-or-nothing refusal of bad files (line numbers), age filter.
#include "sticky/user_state.h"

#include <gtest/gtest.h>

namespace tsd::sticky {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
const UserTable::TimePoint kT0{std::chrono::milliseconds(1767225600000)};

TEST(UserStateTest, RoundTripKeepsEveryPair) {
  UserTable t;
  t.learn(Identity{"10.0.0.5/32"}, "alice", kT0);
  t.learn(Identity{"10.0.0.5/32"}, "bob", kT0 + seconds(1));
  t.learn(Identity{"sni:desk.example.org"}, "user with%odd name", kT0 + seconds(2));
  std::string text = serializeUsers(t);
  EXPECT_EQ(text.substr(0, 19), "tsdirector-users 1\n");
  EXPECT_NE(text.find("user%20with%25odd%20name"), std::string::npos);
  UserTable back;
  auto n = restoreUsers(back, text, kT0 + seconds(3), hours(24));
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(serializeUsers(back), text);
  EXPECT_EQ(back.usersOf(Identity{"10.0.0.5/32"}), (std::vector<std::string>{"alice", "bob"}));
}

TEST(UserStateTest, OldPairsAreSkipped) {
  UserTable t;
  t.learn(Identity{"10.0.0.5/32"}, "alice", kT0);
  t.learn(Identity{"10.0.0.6/32"}, "bob", kT0 + hours(20));
  UserTable back;
  auto n = restoreUsers(back, serializeUsers(t), kT0 + hours(25), hours(24));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(back.usersOf(Identity{"10.0.0.5/32"}).empty());
}

TEST(UserStateTest, BadFilesChangeNothing) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "users state is empty"},
      {"tsdirector-users 1\nend 0", "truncated (no final newline)"},
      {"tsdirector-sticky 1\nend 0\n", "not a tsdirector users state file"},
      {"tsdirector-users 2\nend 0\n", "format version 2 is newer"},
      {"tsdirector-users 1\n10.0.0.5/32 alice\nend 1\n", "line 2: expected 3 fields, got 2"},
      {"tsdirector-users 1\n10.0.0.5 alice 1\nend 1\n", "line 2: bad identity"},
      {"tsdirector-users 1\n10.0.0.5/32 %zz 1\nend 1\n", "line 2: bad user"},
      {"tsdirector-users 1\n10.0.0.5/32 alice -1\nend 1\n", "line 2: bad last-seen time"},
      {"tsdirector-users 1\n10.0.0.5/32 alice 1\nend 2\n", "line 3: entry count does not match"},
      {"tsdirector-users 1\n10.0.0.5/32 alice 1\n", "truncated (no end line)"},
      {"tsdirector-users 1\nend 0\nx\n", "line 2: data after the end line"},
      {"tsdirector-users 1\n10.0.0.5/32 a 1\n10.0.0.5/32 a 2\nend 2\n", "a pair twice"},
  };
  for (const auto& [text, want] : cases) {
    UserTable t;
    t.learn(Identity{"10.9.9.9/32"}, "keep", kT0);
    const std::string before = serializeUsers(t);
    auto r = restoreUsers(t, text, kT0, hours(24));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().find(want), std::string::npos) << r.error();
    EXPECT_EQ(serializeUsers(t), before);
  }
}

}  // namespace
}  // namespace tsd::sticky
