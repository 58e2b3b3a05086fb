// Agent protocol version 2: connection lines, their strict parsing, the encoder's caps, and
// both directions of compatibility with version-1 peers.
#include <gtest/gtest.h>

#include <string>

#include "healthcheck/agent_protocol.h"

namespace tsd::health {
namespace {

const std::string kKey = "0123456789abcdef-test-key";
const std::string kNonce = "00112233445566778899aabbccddeeff";

AgentReport v2Report() {
  AgentReport r;
  r.node = "node-1";
  r.version = 2;
  r.load_per_cpu = 0.25;
  r.mem_available_kib = 1000;
  r.sessions = {{"alice", SessionKind::kTmux, true, "10.0.0.5", 1700000000}};
  r.sessions_suspended = 1;
  r.connections = {
      {"alice", "10.0.0.5", 50123, "10.1.0.2", 22, 1700000300},
      {"bob", "2001:db8::7", 40000, "2001:db8:1::2", 22, 0},
      {"bob", "10.0.0.5", 50124, "10.1.0.2", 22, 1700000301},
  };
  return r;
}

// A version-1 body as agents before version 2 write it.
std::string v1Body() {
  return "TSDAGENT/1 reply " + kNonce +
         "\nnode n1\nload_per_cpu 0.5\nmem_available_kib 1000\nswap_in_per_s 0\n"
         "sessions_running 1\nsessions_suspended 0\nsession bob ssh running 10.0.0.5 0\n";
}

std::string v2Body(const std::string& conn = "conn bob 10.0.0.5 50124 10.1.0.2 22 1700000301\n") {
  return v1Body() + "version 2\n" + conn;
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

Result<AgentReport> parseSigned(const std::string& body) {
  return verifyAndParseReply(kKey, kNonce, signBody(kKey, kNonce, body));
}

TEST(AgentProtocolV2, RoundTripWithConnections) {
  AgentReport r = v2Report();
  std::string reply = encodeReply(kKey, kNonce, r);
  EXPECT_NE(reply.find("\nversion 2\n"), std::string::npos);
  EXPECT_NE(reply.find("\nconn alice 10.0.0.5 50123 10.1.0.2 22 1700000300\n"), std::string::npos)
      << reply;
  auto parsed = verifyAndParseReply(kKey, kNonce, reply);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(*parsed, r);
}

TEST(AgentProtocolV2, VersionTwoWithNoConnectionsIsNotVersionOne) {
  AgentReport r = v2Report();
  r.connections.clear();
  auto parsed = verifyAndParseReply(kKey, kNonce, encodeReply(kKey, kNonce, r));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->version, 2u);
  EXPECT_TRUE(parsed->connections.empty());
}

TEST(AgentProtocolV2, AnOldAgentsReplyIsVersionOneWithoutConnections) {
  auto parsed = parseSigned(v1Body());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->version, 1u);
  EXPECT_TRUE(parsed->connections.empty());
  ASSERT_EQ(parsed->sessions.size(), 1u);
}

TEST(AgentProtocolV2, AVersionOneReportIsWrittenAsVersionOne) {
  AgentReport r = v2Report();
  r.version = 1;
  std::string reply = encodeReply(kKey, kNonce, r);
  EXPECT_EQ(reply.find("version"), std::string::npos);
  EXPECT_EQ(reply.find("conn "), std::string::npos);
  auto parsed = verifyAndParseReply(kKey, kNonce, reply);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->version, 1u);
  EXPECT_TRUE(parsed->connections.empty());
}

// The frame a version-1 director checks is unchanged: same magic in the header, same request.
TEST(AgentProtocolV2, TheFrameStaysVersionOne) {
  std::string reply = encodeReply(kKey, kNonce, v2Report());
  EXPECT_EQ(reply.rfind("TSDAGENT/1 reply " + kNonce + "\n", 0), 0u);
  EXPECT_EQ(encodeRequest(kNonce, "d").rfind("TSDAGENT/1 ", 0), 0u);
}

TEST(AgentProtocolV2, AFutureAdditiveVersionIsRead) {
  auto parsed = parseSigned(replaceAll(v2Body(), "version 2", "version 3") + "gpu 1\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->version, 3u);
  EXPECT_EQ(parsed->connections.size(), 1u);
}

struct BadConn {
  const char* name;
  std::string body;
  const char* error_part;
};

TEST(AgentProtocolV2, BadConnectionLinesAreRejected) {
  auto conn = [](const std::string& rest) { return v2Body("conn " + rest + "\n"); };
  const BadConn cases[] = {
      {"remote port 0", conn("bob 10.0.0.5 0 10.1.0.2 22 0"), "remote port: port 0"},
      {"local port 0", conn("bob 10.0.0.5 1 10.1.0.2 0 0"), "local port: port 0"},
      {"port too big", conn("bob 10.0.0.5 65536 10.1.0.2 22 0"), "remote port: absurd"},
      {"negative port", conn("bob 10.0.0.5 -1 10.1.0.2 22 0"), "remote port: negative"},
      {"text port", conn("bob 10.0.0.5 ssh 10.1.0.2 22 0"), "remote port: not a number"},
      {"hex port", conn("bob 10.0.0.5 0x16 10.1.0.2 22 0"), "not a number"},
      {"unknown remote", conn("bob - 1 10.1.0.2 22 0"), "bad remote address"},
      {"hostname", conn("bob 10.0.0.5 1 node.example 22 0"), "bad local address"},
      {"bad v4", conn("bob 10.0.0.256 1 10.1.0.2 22 0"), "bad remote address"},
      {"leading zero v4", conn("bob 010.0.0.5 1 10.1.0.2 22 0"), "bad remote address"},
      {"v4-mapped", conn("bob ::ffff:10.0.0.5 1 10.1.0.2 22 0"), "bad remote address"},
      {"upper-case v6", conn("bob 2001:DB8::7 1 10.1.0.2 22 0"), "bad remote address"},
      {"uncompressed v6", conn("bob 2001:db8:0:0:0:0:0:7 1 10.1.0.2 22 0"), "bad remote"},
      {"v6 with port", conn("bob [2001:db8::7]:1 1 10.1.0.2 22 0"), "bad remote address"},
      {"long user", conn(std::string(65, 'u') + " 10.0.0.5 1 10.1.0.2 22 0"), "bad user"},
      {"short line", conn("bob 10.0.0.5 1 10.1.0.2 22"), "6 fields"},
      {"long line", conn("bob 10.0.0.5 1 10.1.0.2 22 0 x"), "6 fields"},
      {"absurd since", conn("bob 10.0.0.5 1 10.1.0.2 22 99999999999999"), "since: absurd"},
      {"negative since", conn("bob 10.0.0.5 1 10.1.0.2 22 -5"), "since: negative"},
      {"duplicate 4-tuple", conn("bob 10.0.0.5 1 10.1.0.2 22 0\nconn eve 10.0.0.5 1 10.1.0.2 22 5"),
       "duplicate connection 10.0.0.5 port 1"},
      {"conn without version", v1Body() + "conn bob 10.0.0.5 1 10.1.0.2 22 0\n",
       "conn lines in a version 1 reply"},
      {"conn in explicit v1", v1Body() + "version 1\nconn bob 10.0.0.5 1 10.1.0.2 22 0\n",
       "conn lines in a version 1 reply"},
      {"version 0", v1Body() + "version 0\n", "version: 0"},
      {"duplicate version", v2Body() + "version 2\n", "version: duplicate"},
      {"absurd version", v1Body() + "version 70000\n", "version: absurd"},
      {"text version", v1Body() + "version two\n", "version: not a number"},
      {"version two values", v1Body() + "version 2 3\n", "exactly one value"},
  };
  for (const auto& c : cases) {
    auto parsed = parseSigned(c.body);
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_NE(parsed.error().find(c.error_part), std::string::npos)
        << c.name << ": " << parsed.error();
  }
}

TEST(AgentProtocolV2, SameRemoteEndpointOnTwoLocalAddressesIsTwoConnections) {
  auto parsed =
      parseSigned(v2Body("conn bob 10.0.0.5 1 10.1.0.2 22 0\nconn bob 10.0.0.5 1 10.1.0.3 22 0\n"));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->connections.size(), 2u);
}

TEST(AgentProtocolV2, TooManyConnectionLinesAreRejected) {
  std::string conns;
  for (size_t i = 0; i <= kMaxConnectionLines; ++i) {
    conns += "conn u 10.0.0.5 " + std::to_string(1000 + i) + " 10.1.0.2 22 0\n";
  }
  auto parsed = parseSigned(v2Body(conns));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().find("too many connections"), std::string::npos) << parsed.error();
}

TEST(AgentProtocolV2, EncoderCapsConnectionsAndSaysSo) {
  AgentReport r = v2Report();
  r.connections.clear();
  for (uint16_t i = 0; i < kMaxConnectionLines + 10; ++i) {
    r.connections.push_back({"u", "10.0.0.5", static_cast<uint16_t>(1000 + i), "10.1.0.2", 22, 0});
  }
  auto parsed = verifyAndParseReply(kKey, kNonce, encodeReply(kKey, kNonce, r));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->connections.size(), kMaxConnectionLines);
  ASSERT_EQ(parsed->warnings.size(), 1u);
  EXPECT_EQ(parsed->warnings[0], "connection list truncated");
}

// The largest inventory the limits allow still makes a reply a director accepts: the encoder
// drops connection lines rather than overflow kMaxReplyBytes.
TEST(AgentProtocolV2, EncoderKeepsTheLargestInventoryUnderTheReplyLimit) {
  AgentReport r = v2Report();
  const std::string user(kMaxNameChars, 'u');
  const std::string v6 = "2001:db8:1234:5678:9abc:def0:1234:5678";
  r.sessions.assign(kMaxSessions, AgentSession{user, SessionKind::kX2go, true, v6, kMaxSinceUnix});
  r.sessions_running = 0;
  r.sessions_suspended = kMaxSessions;
  r.connections.clear();
  for (uint16_t i = 0; i < kMaxConnectionLines; ++i) {
    r.connections.push_back({user, v6, static_cast<uint16_t>(60000 + i % 5000), v6,
                             static_cast<uint16_t>(i + 1), kMaxSinceUnix});
  }
  std::string reply = encodeReply(kKey, kNonce, r);
  EXPECT_LE(reply.size(), kMaxReplyBytes);
  auto parsed = verifyAndParseReply(kKey, kNonce, reply);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->sessions.size(), kMaxSessions);
  EXPECT_LT(parsed->connections.size(), kMaxConnectionLines);
  EXPECT_GT(parsed->connections.size(), 0u);
  EXPECT_EQ(parsed->warnings.back(), "connection list truncated");
}

TEST(AgentProtocolV2, EncoderSkipsConnectionsTheParserWouldRefuse) {
  AgentReport r = v2Report();
  r.connections.push_back({"bad user", "10.0.0.5", 1, "10.1.0.2", 22, 0});
  r.connections.push_back({"eve", "::ffff:10.0.0.5", 1, "10.1.0.2", 22, 0});
  r.connections.push_back({"eve", "10.0.0.5", 0, "10.1.0.2", 22, 0});
  r.connections.push_back({"eve", "10.0.0.5", 1, "-", 22, 0});
  auto parsed = verifyAndParseReply(kKey, kNonce, encodeReply(kKey, kNonce, r));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->connections.size(), 3u);
}

TEST(AgentProtocolV2, CanonicalAddresses) {
  for (const char* ok : {"10.0.0.1", "0.0.0.0", "::1", "2001:db8::7", "fe80::1"}) {
    EXPECT_TRUE(canonicalAddress(ok)) << ok;
  }
  for (const char* bad : {"", "-", "10.0.0", "::FFFF:1.2.3.4", "::ffff:1.2.3.4", "2001:0db8::7",
                          "1.2.3.4 ", "fe80::1%eth0"}) {
    EXPECT_FALSE(canonicalAddress(bad)) << bad;
  }
}

}  // namespace
}  // namespace tsd::health
