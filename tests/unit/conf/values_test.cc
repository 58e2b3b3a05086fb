// Table tests for the value syntax: durations, sizes, booleans, enum names, names, addresses.
#include <gtest/gtest.h>

#include "conf/config.h"
#include "conf/parser_detail.h"

namespace tsd::conf {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDuration, Accepts) {
  const std::pair<const char*, Duration> cases[] = {
      {"0", Duration{0}},
      {"0s", Duration{0}},
      {"500ms", milliseconds(500)},
      {"2s", seconds(2)},
      {"90s", seconds(90)},
      {"5m", minutes(5)},
      {"8h", hours(8)},
      {"1d", hours(24)},
      {"1h30m", minutes(90)},
      {"1m30s250ms", milliseconds(90250)},
      {"007s", seconds(7)},
  };
  for (const auto& [text, want] : cases) {
    auto got = parseDuration(text);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_EQ(*got, want) << text;
  }
}

TEST(ParseDuration, Rejects) {
  for (const char* text :
       {"", "5", "30", "s", "2 s", " 2s", "2s ", "2S", "2sec", "1.5s", "-1s", "+1s", "2x", "1s1h",
        "1m1m", "ms", "99999999999999999999s", "36600d", "1d1d"}) {
    EXPECT_FALSE(parseDuration(text).has_value()) << text;
  }
}

TEST(ParseSize, AcceptsAndRejects) {
  const std::pair<const char*, uint64_t> ok[] = {
      {"0", 0},        {"1000", 1000},  {"64k", 64 << 10},  {"64K", 64 << 10},
      {"4M", 4 << 20}, {"4m", 4 << 20}, {"1G", 1ULL << 30}, {"16384", 16384},
  };
  for (const auto& [text, want] : ok) {
    auto got = parseSize(text);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_EQ(*got, want) << text;
  }
  for (const char* text : {"", "k", "4MB", "4 M", "1.5M", "-1", "4T", "2000G", "0x10"}) {
    EXPECT_FALSE(parseSize(text).has_value()) << text;
  }
}

TEST(ParseBool, Table) {
  for (const char* t : {"yes", "true", "on", "1", "YES", "True", "On"}) {
    EXPECT_EQ(detail::parseBool(t), std::optional<bool>(true)) << t;
  }
  for (const char* f : {"no", "false", "off", "0", "No", "OFF"}) {
    EXPECT_EQ(detail::parseBool(f), std::optional<bool>(false)) << f;
  }
  for (const char* bad : {"", "y", "n", "2", "enable", "yes please"}) {
    EXPECT_FALSE(detail::parseBool(bad).has_value()) << bad;
  }
}

TEST(Enums, RoundTripEveryValue) {
  for (auto a : {Algorithm::kRandom, Algorithm::kRoundRobin, Algorithm::kWeightedRoundRobin,
                 Algorithm::kLeastConn, Algorithm::kWeightedLeastConn, Algorithm::kLeastLoad,
                 Algorithm::kHash, Algorithm::kP2c}) {
    EXPECT_EQ(parseAlgorithm(toString(a)), a) << toString(a);
  }
  for (auto f : {FastPath::kAuto, FastPath::kEbpf, FastPath::kUserspace}) {
    EXPECT_EQ(parseFastPath(toString(f)), f);
  }
  for (auto c : {CheckKind::kNone, CheckKind::kTcp, CheckKind::kSsh, CheckKind::kAgent}) {
    EXPECT_EQ(parseCheckKind(toString(c)), c);
  }
  for (auto k : {StickyKey::kSrc, StickyKey::kSni, StickyKey::kNone}) {
    EXPECT_EQ(parseStickyKey(toString(k)), k);
  }
  for (auto s : {NodeState::kActive, NodeState::kDrain, NodeState::kMaint}) {
    EXPECT_EQ(parseNodeState(toString(s)), s);
  }
}

TEST(Enums, NamesAsWritten) {
  EXPECT_EQ(toString(Algorithm::kWeightedRoundRobin), "weighted-roundrobin");
  EXPECT_EQ(toString(Algorithm::kWeightedLeastConn), "weighted-least-conn");
  EXPECT_EQ(toString(Algorithm::kP2c), "p2c");
  EXPECT_EQ(toString(FastPath::kUserspace), "userspace");
  EXPECT_FALSE(parseAlgorithm("RoundRobin").has_value());
  EXPECT_FALSE(parseAlgorithm("").has_value());
  EXPECT_FALSE(parseNodeState("drained").has_value());
}

TEST(Names, Table) {
  EXPECT_TRUE(detail::isValidName("a"));
  EXPECT_TRUE(detail::isValidName("node-01.lab_A"));
  EXPECT_TRUE(detail::isValidName(std::string(64, 'x')));
  EXPECT_FALSE(detail::isValidName(""));
  EXPECT_FALSE(detail::isValidName(std::string(65, 'x')));
  for (const char* bad : {"a b", "a/b", "a:b", "é", "a]"}) EXPECT_FALSE(detail::isValidName(bad));
  EXPECT_TRUE(detail::isValidUserName("tsdirector"));
  EXPECT_FALSE(detail::isValidUserName("-x"));
  EXPECT_FALSE(detail::isValidUserName("a b"));
}

TEST(Format, DurationAndSize) {
  EXPECT_EQ(detail::formatDuration(Duration{0}), "0");
  EXPECT_EQ(detail::formatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(detail::formatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(detail::formatDuration(hours(48)), "2d");
  EXPECT_EQ(detail::formatSize(16 << 10), "16k");
  EXPECT_EQ(detail::formatSize(4 << 20), "4M");
  EXPECT_EQ(detail::formatSize(1ULL << 30), "1G");
  EXPECT_EQ(detail::formatSize(1000), "1000");
}

struct HostPortCase {
  const char* text;
  const char* host;
  int port;  // -1: none
};

TEST(HostPort, Accepts) {
  const HostPortCase cases[] = {
      {"10.0.0.1", "10.0.0.1", -1},
      {"10.0.0.1:2201", "10.0.0.1", 2201},
      {"::1", "::1", -1},
      {"[::1]", "::1", -1},
      {"[::1]:22", "::1", 22},
      {"fd00::10:5", "fd00::10:5", -1},
      {"[fd00::10:5]:4000", "fd00::10:5", 4000},
  };
  for (const auto& c : cases) {
    auto hp = detail::parseHostPort(c.text);
    ASSERT_TRUE(hp.ok()) << c.text << ": " << hp.error();
    EXPECT_EQ(hp->host, c.host) << c.text;
    EXPECT_EQ(hp->port.has_value() ? int(*hp->port) : -1, c.port) << c.text;
  }
}

TEST(HostPort, Rejects) {
  for (const char* text :
       {"", "host.example", "host.example:22", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536",
        "10.0.0.1:x", "[::1", "[::1]x", "[::1]:", "[]:22", "300.1.1.1", "fe80::1%eth0", ":22"}) {
    EXPECT_FALSE(detail::parseHostPort(text).ok()) << text;
  }
}

TEST(SockAddrParse, RejectsEmbeddedNul) {
  EXPECT_FALSE(SockAddr::parse(std::string_view("1.2.3.4\0x:22", 12)).ok());
  EXPECT_FALSE(SockAddr::parseHost(std::string_view("::1\0", 4), 22).ok());
  EXPECT_TRUE(SockAddr::parse("1.2.3.4:22").ok());
}

TEST(ListenList, SeparatorsAndFamilies) {
  auto l = detail::parseListenList("0.0.0.0:22, [::]:22 127.0.0.1:2222,[::1]:2222");
  ASSERT_TRUE(l.ok()) << l.error();
  ASSERT_EQ(l->size(), 4u);
  EXPECT_EQ((*l)[0].toString(), "0.0.0.0:22");
  EXPECT_EQ((*l)[1].toString(), "[::]:22");
  EXPECT_TRUE((*l)[1].isV6());
  EXPECT_EQ((*l)[3].toString(), "[::1]:2222");
}

TEST(ListenList, Rejects) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "expected one or more ADDR:PORT"},
      {" , ", "expected one or more ADDR:PORT"},
      {"127.0.0.1", "'127.0.0.1' has no port"},
      {"::1", "has no port"},
      {"[::1]", "has no port"},
      {"127.0.0.1:22,127.0.0.1:22", "127.0.0.1:22 is listed twice"},
      {"localhost:22", "'localhost' is not an IPv4 or IPv6 address"},
  };
  for (const auto& [text, want] : cases) {
    auto l = detail::parseListenList(text);
    ASSERT_FALSE(l.ok()) << text;
    EXPECT_NE(l.error().find(want), std::string::npos) << text << " -> " << l.error();
  }
}

}  // namespace
}  // namespace tsd::conf
