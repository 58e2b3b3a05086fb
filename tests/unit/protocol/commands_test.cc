// The command table (every command's arity, as both the daemon and the CLI enforce it) and the
// argument parsers moved from the daemon, with their exact messages.
#include "director/protocol/commands.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace tsd::protocol {
namespace {

using namespace std::chrono_literals;

struct Arity {
  const char* name;
  size_t min, max;
  const char* usage;
};
const Arity kArity[] = {
    {"nodes", 0, 0, "nodes"},
    {"sessions", 0, 0, "sessions"},
    {"sticky", 0, 1, "sticky [IDENTITY]"},
    {"users", 0, 0, "users"},
    {"drain", 1, 1, "drain NODE"},
    {"maint", 1, 1, "maint NODE"},
    {"ready", 1, 1, "ready NODE"},
    {"weight", 2, 2, "weight NODE N"},
    {"pin", 2, 3, "pin IDENTITY NODE [TTL]"},
    {"unpin", 1, 1, "unpin IDENTITY"},
    {"reload", 0, 0, "reload"},
};

TEST(Commands, TableHasEveryCommandOnce) {
  ASSERT_EQ(commands().size(), std::size(kArity));
  std::set<std::string_view> names;
  for (const auto& c : commands()) names.insert(c.name);
  EXPECT_EQ(names.size(), commands().size());
  EXPECT_EQ(findCommand("frobnicate"), nullptr);
  EXPECT_EQ(findCommand(""), nullptr);
  EXPECT_EQ(findCommand("NODES"), nullptr);  // commands are case-sensitive
}

TEST(Commands, EveryCommandsArity) {
  for (const auto& a : kArity) {
    const CommandSpec* c = findCommand(a.name);
    ASSERT_NE(c, nullptr) << a.name;
    EXPECT_EQ(c->min_args, a.min) << a.name;
    EXPECT_EQ(c->max_args, a.max) << a.name;
    EXPECT_EQ(c->usage, a.usage) << a.name;
    for (size_t n = 0; n <= a.max + 2; ++n) {
      Status s = checkArity(a.name, n);
      if (n >= a.min && n <= a.max) {
        EXPECT_TRUE(s.ok()) << a.name << " with " << n << ": " << s.error();
      } else {
        ASSERT_FALSE(s.ok()) << a.name << " with " << n;
        EXPECT_EQ(s.error(), std::string("usage: ") + a.usage);
      }
    }
  }
}

TEST(Commands, CheckArityOnWords) {
  EXPECT_TRUE(checkArity(std::vector<std::string>{"pin", "10.0.0.5", "ws01", "8h"}).ok());
  EXPECT_EQ(checkArity(std::vector<std::string>{"pin", "10.0.0.5"}).error(),
            "usage: pin IDENTITY NODE [TTL]");
  EXPECT_EQ(checkArity(std::vector<std::string>{}).error(),
            "empty request; commands: " + commandList());
  EXPECT_EQ(checkArity(std::vector<std::string>{"frobnicate", "x"}).error(),
            "unknown command 'frobnicate'; commands: " + commandList());
}

TEST(Commands, HintsOnlyWhereAnArgumentHasAFormat) {
  EXPECT_EQ(findCommand("weight")->hint, "N: 0..1000");
  EXPECT_EQ(findCommand("pin")->hint, "TTL like 30m, 8h, 2d");
  EXPECT_TRUE(findCommand("drain")->hint.empty());
}

TEST(ParseWeight, Accepts0To1000) {
  const std::pair<const char*, int> ok[] = {
      {"0", 0}, {"1", 1}, {"1000", 1000}, {"007", 7}, {"-0", 0}};  // from_chars reads "-0" as 0
  for (const auto& [text, v] : ok) {
    auto r = parseWeight(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.error();
    EXPECT_EQ(*r, v) << text;
  }
}

TEST(ParseWeight, RefusesAnythingElse) {
  for (const char* text :
       {"", "-1", "1001", "99999999999", "x", "5x", " 5", "5 ", "+5", "1.5", "0x10", "1e3"}) {
    auto r = parseWeight(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error(), "bad weight '" + std::string(text) + "': expected an integer 0..1000");
  }
}

TEST(ParseTtl, AcceptsPositiveDurations) {
  const std::pair<const char*, conf::Duration> ok[] = {
      {"30m", 30min}, {"8h", 8h}, {"2d", 48h}, {"1h30m", 90min}, {"1ms", 1ms}, {"500ms", 500ms}};
  for (const auto& [text, d] : ok) {
    auto r = parseTtl(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.error();
    EXPECT_EQ(*r, d) << text;
  }
}

TEST(ParseTtl, RefusesZeroMalformedAndHuge) {
  for (const char* text :
       {"", "0", "0s", "0h0m", "soon", "30", "-5m", "5 m", "30m1h", "1y", "999999999d"}) {
    auto r = parseTtl(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error(),
              "bad TTL '" + std::string(text) + "': expected a duration like 30m, 8h or 2d");
  }
}

}  // namespace
}  // namespace tsd::protocol
