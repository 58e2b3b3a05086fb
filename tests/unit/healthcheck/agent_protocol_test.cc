// Agent protocol: round trips, and every way a reply or request must be refused.
#include "healthcheck/agent_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace tsd::health {
namespace {

const std::string kKey = "0123456789abcdef-test-key";
const std::string kNonce = "00112233445566778899aabbccddeeff";
const std::string kOtherNonce = "ffeeddccbbaa99887766554433221100";

AgentReport sampleReport() {
  AgentReport r;
  r.node = "node-1";
  r.load_per_cpu = 0.375;
  r.mem_available_kib = 12345678;
  r.swap_in_per_s = 12.5;
  r.sessions = {
      {"alice", SessionKind::kTmux, true, "10.0.0.5", 1700000000},
      {"bob", SessionKind::kSsh, false, "2001:db8::7", 1700000100},
      {"carol", SessionKind::kX2go, true, "-", 0},
      {"dave", SessionKind::kNx, false, "192.168.1.9", 1700000200},
  };
  r.sessions_running = 2;
  r.sessions_suspended = 2;
  return r;
}

// A body with every figure valid; tests replace single lines.
std::string goodBody(const std::string& extra = "") {
  return "TSDAGENT/1 reply " + kNonce +
         "\n"
         "node n1\n"
         "load_per_cpu 0.5\n"
         "mem_available_kib 1000\n"
         "swap_in_per_s 0\n"
         "sessions_running 1\n"
         "sessions_suspended 1\n"
         "session alice tmux suspended 10.0.0.5 1700000000\n"
         "session bob ssh running - 0\n" +
         extra;
}

std::string replaceLine(std::string body, const std::string& from, const std::string& to) {
  auto pos = body.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return body.replace(pos, from.size(), to);
}

TEST(AgentProtocol, RoundTrip) {
  AgentReport r = sampleReport();
  std::string reply = encodeReply(kKey, kNonce, r);
  auto parsed = verifyAndParseReply(kKey, kNonce, reply);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(*parsed, r);
}

TEST(AgentProtocol, RoundTripEmptyInventoryAndExtremeButValidFigures) {
  AgentReport r;
  r.node = "n";
  r.load_per_cpu = kMaxLoadPerCpu;
  r.mem_available_kib = kMaxMemAvailableKib;
  r.swap_in_per_s = 1e-9;
  auto parsed = verifyAndParseReply(kKey, kNonce, encodeReply(kKey, kNonce, r));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(*parsed, r);
}

TEST(AgentProtocol, SnapshotAgeAndWarningsRoundTrip) {
  AgentReport r = sampleReport();
  r.age_ms = 12345;
  r.warnings = {"sessions command: timed out; reporting its last good output (4s old)",
                "x2golistsessions_root: exit 1"};
  auto parsed = verifyAndParseReply(kKey, kNonce, encodeReply(kKey, kNonce, r));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(*parsed, r);
  // An agent from before the field: no age line means a fresh reply.
  auto old = parseReplyBody(goodBody(), kNonce);
  ASSERT_TRUE(old.ok()) << old.error();
  EXPECT_EQ(old->age_ms, 0u);
  EXPECT_TRUE(old->warnings.empty());
}

TEST(AgentProtocol, WarningsAreSanitizedAndCapped) {
  EXPECT_EQ(sanitizeWarning("a\tb\n\x01  c  \xff"), "a b c");
  EXPECT_EQ(sanitizeWarning(""), "?");
  EXPECT_EQ(sanitizeWarning(std::string(1000, 'x')).size(), kMaxWarningChars);
  AgentReport r = sampleReport();
  r.warnings.assign(kMaxWarnings + 5, "bad\ncommand output");
  auto parsed = verifyAndParseReply(kKey, kNonce, encodeReply(kKey, kNonce, r));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  ASSERT_EQ(parsed->warnings.size(), kMaxWarnings);
  EXPECT_EQ(parsed->warnings[0], "bad command output");
}

TEST(AgentProtocol, BadAgeAndWarningLinesAreRejected) {
  for (const std::string& extra : {
           std::string("age_ms -5\n"),
           std::string("age_ms 1e3\n"),
           std::string("age_ms 99999999999999999999\n"),
           std::string("age_ms 1\nage_ms 2\n"),
           std::string("age_ms\n"),
           std::string("warning\n"),
           "warning " + std::string(kMaxWarningChars + 1, 'w') + "\n",
       }) {
    EXPECT_FALSE(parseReplyBody(goodBody(extra), kNonce).ok()) << extra;
  }
  std::string many;
  for (size_t i = 0; i <= kMaxWarnings; ++i) many += "warning w\n";
  EXPECT_FALSE(parseReplyBody(goodBody(many), kNonce).ok());
}

TEST(AgentProtocol, WrongKeyIsRejected) {
  std::string reply = encodeReply(kKey, kNonce, sampleReport());
  auto parsed = verifyAndParseReply("another-key-0123456789", kNonce, reply);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().find("bad mac"), std::string::npos) << parsed.error();
}

TEST(AgentProtocol, ReplayForAnotherNonceIsRejected) {
  std::string old_reply = encodeReply(kKey, kOtherNonce, sampleReport());
  auto parsed = verifyAndParseReply(kKey, kNonce, old_reply);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().find("another nonce"), std::string::npos) << parsed.error();
}

TEST(AgentProtocol, HeaderRewrittenToTheNewNonceStillFailsTheMac) {
  std::string old_reply = encodeReply(kKey, kOtherNonce, sampleReport());
  std::string forged = replaceLine(old_reply, kOtherNonce, kNonce);
  auto parsed = verifyAndParseReply(kKey, kNonce, forged);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().find("bad mac"), std::string::npos) << parsed.error();
}

TEST(AgentProtocol, EveryTruncationIsRejected) {
  std::string reply = encodeReply(kKey, kNonce, sampleReport());
  for (size_t len = 0; len < reply.size(); ++len) {
    EXPECT_FALSE(verifyAndParseReply(kKey, kNonce, reply.substr(0, len)).ok()) << len;
  }
}

TEST(AgentProtocol, AlteredByteIsRejected) {
  std::string reply = encodeReply(kKey, kNonce, sampleReport());
  for (size_t i = 0; i < reply.size(); ++i) {
    std::string bad = reply;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(verifyAndParseReply(kKey, kNonce, bad).ok()) << i;
  }
}

TEST(AgentProtocol, OversizedIsRejectedBeforeAnythingElse) {
  std::string body = goodBody();
  while (body.size() <= kMaxReplyBytes) body += "padding_field x\n";
  auto parsed = verifyAndParseReply(kKey, kNonce, signBody(kKey, kNonce, body));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().find("oversized"), std::string::npos) << parsed.error();
}

TEST(AgentProtocol, GarbageIsRejected) {
  const std::string cases[] = {
      "",
      "\n",
      "hello\n",
      "mac \n",
      "mac " + std::string(64, 'z') + "\n",
      "mac " + std::string(64, 'A') + "\n",
      std::string("\0\0\0\n", 4),
      "HTTP/1.1 400 Bad Request\r\n\r\n",
      goodBody(),  // no mac line at all
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(verifyAndParseReply(kKey, kNonce, c).ok()) << c;
  }
}

TEST(AgentProtocol, GoodSignedBodyParses) {
  auto parsed = verifyAndParseReply(kKey, kNonce, signBody(kKey, kNonce, goodBody()));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->node, "n1");
  ASSERT_EQ(parsed->sessions.size(), 2u);
  EXPECT_EQ(parsed->sessions[1].client_address, "-");
}

TEST(AgentProtocol, UnknownFieldsAreSkippedForForwardCompatibility) {
  auto parsed =
      verifyAndParseReply(kKey, kNonce, signBody(kKey, kNonce, goodBody("gpu_util 0.3\n")));
  EXPECT_TRUE(parsed.ok()) << parsed.error();
}

struct BadBody {
  const char* name;
  std::string from;
  std::string to;
  const char* error_part;
};

TEST(AgentProtocol, CorrectlySignedButInvalidBodiesAreRejected) {
  const BadBody cases[] = {
      {"negative load", "load_per_cpu 0.5", "load_per_cpu -1", "negative"},
      {"absurd load", "load_per_cpu 0.5", "load_per_cpu 1e300", "absurd"},
      {"overflowing load", "load_per_cpu 0.5", "load_per_cpu 1e400", "absurd"},
      {"load above cap", "load_per_cpu 0.5", "load_per_cpu 10001", "absurd"},
      {"nan load", "load_per_cpu 0.5", "load_per_cpu nan", "not a number"},
      {"NaN load", "load_per_cpu 0.5", "load_per_cpu NaN", "not a number"},
      {"inf load", "load_per_cpu 0.5", "load_per_cpu inf", "not a number"},
      {"hex load", "load_per_cpu 0.5", "load_per_cpu 0x10", "not a number"},
      {"text load", "load_per_cpu 0.5", "load_per_cpu high", "not a number"},
      {"missing value", "load_per_cpu 0.5", "load_per_cpu", "exactly one value"},
      {"two values", "load_per_cpu 0.5", "load_per_cpu 0.5 0.6", "exactly one value"},
      {"negative memory", "mem_available_kib 1000", "mem_available_kib -5", "negative"},
      {"fractional memory", "mem_available_kib 1000", "mem_available_kib 1.5", "not a number"},
      {"huge memory", "mem_available_kib 1000", "mem_available_kib 99999999999999999999999",
       "absurd"},
      {"absurd swap", "swap_in_per_s 0", "swap_in_per_s 1e300", "absurd"},
      {"negative count", "sessions_running 1", "sessions_running -1", "negative"},
      {"absurd count", "sessions_running 1", "sessions_running 4000000000", "absurd"},
      {"duplicate field", "swap_in_per_s 0", "swap_in_per_s 0\nswap_in_per_s 0", "duplicate"},
      {"duplicate node", "node n1", "node n1\nnode n2", "duplicate"},
      {"missing field", "swap_in_per_s 0\n", "", "missing field swap_in_per_s"},
      {"bad node name", "node n1", "node n\x01", "non-printable"},
      {"unknown kind", "alice tmux", "alice vnc", "unknown kind"},
      {"x2go state letter", "tmux suspended", "tmux S", "bad state"},
      {"bad address", "10.0.0.5", "999.0.0.5", "bad client address"},
      {"hostname address", "10.0.0.5", "laptop.example", "bad client address"},
      {"negative since", "10.0.0.5 1700000000", "10.0.0.5 -1", "negative"},
      {"absurd since", "10.0.0.5 1700000000", "10.0.0.5 99999999999999", "absurd"},
      {"missing session field", "ssh running - 0", "ssh running -", "5 fields"},
      {"extra session field", "ssh running - 0", "ssh running - 0 x", "5 fields"},
      {"long user", "session alice", "session " + std::string(65, 'a'), "bad user"},
      {"more listed than counted", "sessions_running 1", "sessions_running 0", "more sessions"},
      {"double space", "node n1", "node  n1", "empty field"},
      {"trailing space", "node n1", "node n1 ", "empty field"},
      {"crlf", "node n1\n", "node n1\r\n", "non-printable"},
      {"empty line", "node n1\n", "node n1\n\n", "empty"},
      {"mac inside body", "node n1\n", "node n1\nmac 00\n", "mac line inside"},
      {"garbage line", "node n1\n", "node n1\n%%%\n", "garbage"},
      {"other version", "TSDAGENT/1", "TSDAGENT/2", "unsupported protocol version"},
      {"header nonce", "reply " + kNonce, "reply " + kOtherNonce, "nonce"},
      {"not ours", "TSDAGENT/1 reply", "SSH-2.0-OpenSSH", "not a tsdirector agent reply"},
  };
  for (const auto& c : cases) {
    std::string body = replaceLine(goodBody(), c.from, c.to);
    auto parsed = verifyAndParseReply(kKey, kNonce, signBody(kKey, kNonce, body));
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_NE(parsed.error().find(c.error_part), std::string::npos)
        << c.name << ": " << parsed.error();
  }
}

TEST(AgentProtocol, TooManySessionLinesAreRejected) {
  std::string body = replaceLine(goodBody(), "sessions_running 1", "sessions_running 5000");
  for (size_t i = 0; i < kMaxSessions; ++i) body += "session u ssh running - 0\n";
  auto parsed = verifyAndParseReply(kKey, kNonce, signBody(kKey, kNonce, body));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().find("too many sessions"), std::string::npos) << parsed.error();
}

TEST(AgentProtocol, EncoderCapsTheSessionListButKeepsTotals) {
  AgentReport r = sampleReport();
  r.sessions.assign(kMaxSessions + 500, AgentSession{"u", SessionKind::kSsh, false, "-", 0});
  r.sessions_running = static_cast<uint32_t>(r.sessions.size());
  r.sessions_suspended = 0;
  std::string reply = encodeReply(kKey, kNonce, r);
  EXPECT_LE(reply.size(), kMaxReplyBytes);
  auto parsed = verifyAndParseReply(kKey, kNonce, reply);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->sessions.size(), kMaxSessions);
  EXPECT_EQ(parsed->sessions_running, kMaxSessions + 500);
}

TEST(AgentProtocol, EncoderSkipsSessionsTheParserWouldRefuse) {
  AgentReport r = sampleReport();
  r.sessions.push_back({"bad user", SessionKind::kSsh, false, "-", 0});
  r.sessions.push_back({"eve", SessionKind::kSsh, false, "not-an-ip", 0});
  r.sessions_running += 2;
  auto parsed = verifyAndParseReply(kKey, kNonce, encodeReply(kKey, kNonce, r));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->sessions.size(), 4u);
}

TEST(AgentProtocol, RequestRoundTrip) {
  std::string line = encodeRequest(kNonce, "director-a");
  EXPECT_EQ(line, "TSDAGENT/1 " + kNonce + " director-a\n");
  auto req = parseRequest(line);
  ASSERT_TRUE(req.ok()) << req.error();
  EXPECT_EQ(req->nonce, kNonce);
  EXPECT_EQ(req->director_id, "director-a");
  // A director id with spaces or control bytes is made into a token, never a broken line.
  auto odd = parseRequest(encodeRequest(kNonce, "my director\n"));
  ASSERT_TRUE(odd.ok()) << odd.error();
  EXPECT_EQ(odd->director_id, "my_director_");
}

TEST(AgentProtocol, BadRequestsAreRejected) {
  const std::string cases[] = {
      "",
      "\n",
      "GET / HTTP/1.1\r\n",
      "TSDAGENT/2 " + kNonce + " d\n",
      "TSDAGENT/1 " + kNonce + "\n",
      "TSDAGENT/1 " + kNonce + " d extra\n",
      "TSDAGENT/1 0011 d\n",
      "TSDAGENT/1 00112233445566778899AABBCCDDEEFF d\n",
      "TSDAGENT/1 " + kNonce + "00 d\n",
      "TSDAGENT/1 " + kNonce + " d\r\n",
      "TSDAGENT/1 " + kNonce + " " + std::string(300, 'd') + "\n",
  };
  for (const auto& c : cases) EXPECT_FALSE(parseRequest(c).ok()) << c;
}

TEST(AgentProtocol, SessionKindNames) {
  for (auto k : {SessionKind::kSsh, SessionKind::kX2go, SessionKind::kNx, SessionKind::kTmux}) {
    EXPECT_EQ(parseSessionKind(toString(k)), k);
  }
  EXPECT_FALSE(parseSessionKind("SSH").has_value());
}

}  // namespace
}  // namespace tsd::health
