// AgentPoller against small in-test agents on loopback (a thread with blocking sockets):
// good, forged, replayed, hanging, oversized and silent agents, and cancellation.
#include "director/health/agent_poller.h"

#include <gtest/gtest.h>

#include <optional>

#include "director/base/event_util.h"
#include "tests/unit/health/loopback_agent.h"

namespace tsd::director {
namespace {

using std::chrono::milliseconds;
const std::string kKey = "poller-test-key-0123456789";

enum class Mode { kGood, kWrongKey, kReplay, kHang, kOversized, kCloseSilently };

health::AgentReport sampleReport() {
  health::AgentReport r;
  r.node = "node-7";
  r.load_per_cpu = 0.25;
  r.mem_available_kib = 1024;
  r.sessions = {{"alice", health::SessionKind::kTmux, true, "10.1.2.3", 1700000000}};
  r.sessions_suspended = 1;
  // Protocol version 2: the poller hands the connection lines on with the rest.
  r.version = 2;
  r.connections = {{"alice", "10.1.2.3", 50123, "127.0.0.1", 22, 1700000100}};
  return r;
}

// Serves every connection the same way until destroyed.
healthtest::Script scriptFor(Mode mode) {
  return [mode](const health::AgentRequest& req) -> healthtest::Answer {
    switch (mode) {
      case Mode::kGood:
        return {health::encodeReply(kKey, req.nonce, sampleReport())};
      case Mode::kWrongKey:
        return {health::encodeReply("some-other-key-0123456789", req.nonce, sampleReport())};
      case Mode::kReplay:  // a genuine reply, but recorded for an earlier poll
        return {health::encodeReply(kKey, health::makeNonce(), sampleReport())};
      case Mode::kHang:  // read nothing more, answer nothing, until the poller gives up
        return {{}, true};
      case Mode::kOversized:
        return {std::string(health::kMaxReplyBytes + 4096, 'x')};
      case Mode::kCloseSilently:
        return {};
    }
    return {};
  };
}

struct TestAgent : healthtest::LoopbackAgent {
  explicit TestAgent(Mode mode) : LoopbackAgent(scriptFor(mode)) {}
};

struct Outcome {
  int calls = 0;
  std::optional<PollResult> result;
};

class AgentPollerTest : public ::testing::Test {
 protected:
  EventBasePtr base_{event_base_new()};
  // One poll, run to completion on the loop.
  Outcome pollOnce(const SockAddr& to, milliseconds timeout = milliseconds(5000),
                   std::string expected_node = {}) {
    Outcome out;
    AgentPoller poller;
    poller.poll(
        base_.get(), to, kKey, timeout,
        [&](PollResult r, std::chrono::microseconds) {
          ++out.calls;
          out.result = std::move(r);
        },
        std::move(expected_node));
    EXPECT_EQ(out.calls, 0);  // never called from inside poll()
    event_base_dispatch(base_.get());
    EXPECT_EQ(poller.inFlight(), 0u);
    return out;
  }
};

TEST_F(AgentPollerTest, GoodReply) {
  TestAgent agent(Mode::kGood);
  Outcome out = pollOnce(agent.addr());
  ASSERT_EQ(out.calls, 1);
  ASSERT_TRUE(out.result->ok()) << out.result->error();
  EXPECT_EQ(out.result->report(), sampleReport());
}

// A genuine reply from the agent of another node (a misaddressed host, a copied key) must
// not place that node's users here: refused under its own kind, naming both nodes.
TEST_F(AgentPollerTest, ReplyNamingAnotherNodeIsRefused) {
  TestAgent agent(Mode::kGood);  // reports node-7
  Outcome wrong = pollOnce(agent.addr(), milliseconds(5000), "node-8");
  ASSERT_EQ(wrong.calls, 1);
  ASSERT_FALSE(wrong.result->ok());
  EXPECT_EQ(wrong.result->kind(), PollError::kWrongNode);
  EXPECT_NE(wrong.result->error().find("'node-7'"), std::string::npos) << wrong.result->error();
  EXPECT_NE(wrong.result->error().find("'node-8'"), std::string::npos) << wrong.result->error();
  Outcome right = pollOnce(agent.addr(), milliseconds(5000), "node-7");
  ASSERT_TRUE(right.result->ok()) << right.result->error();
}

TEST_F(AgentPollerTest, RejectedReplies) {
  struct Case {
    Mode mode;
    const char* error_part;
  };
  for (auto c : {Case{Mode::kWrongKey, "bad mac"}, Case{Mode::kReplay, "another nonce"},
                 Case{Mode::kOversized, "oversized"}}) {
    TestAgent agent(c.mode);
    Outcome out = pollOnce(agent.addr());
    ASSERT_EQ(out.calls, 1);
    ASSERT_FALSE(out.result->ok());
    EXPECT_NE(out.result->error().find(c.error_part), std::string::npos) << out.result->error();
    EXPECT_EQ(out.result->kind(), PollError::kRejected) << out.result->error();
  }
}

TEST_F(AgentPollerTest, SilentCloseAndRefusedConnectAreFailuresNotRejections) {
  TestAgent silent(Mode::kCloseSilently);
  Outcome out = pollOnce(silent.addr());
  ASSERT_EQ(out.calls, 1);
  ASSERT_FALSE(out.result->ok());
  EXPECT_NE(out.result->kind(), PollError::kRejected) << out.result->error();

  SockAddr closed = silent.addr();
  {
    TestAgent gone(Mode::kGood);
    closed = gone.addr();
  }  // its listening socket is closed now
  Outcome refused = pollOnce(closed);
  ASSERT_EQ(refused.calls, 1);
  ASSERT_FALSE(refused.result->ok());
  EXPECT_EQ(refused.result->kind(), PollError::kUnreachable);
}

TEST_F(AgentPollerTest, HangingAgentTimesOutWithoutBlockingTheLoop) {
  TestAgent agent(Mode::kHang);
  AgentPoller poller;
  int ticks = 0;
  int calls = 0;
  std::string error;
  PollError kind = PollError::kNone;
  // A timer ticking while the poll is in flight proves the loop keeps running.
  std::unique_ptr<Timer> ticker;
  ticker = std::make_unique<Timer>(base_.get(), [&] {
    ++ticks;
    ticker->arm(std::chrono::milliseconds(5));
  });
  ticker->arm(std::chrono::milliseconds(0));
  poller.poll(base_.get(), agent.addr(), kKey, milliseconds(300),
              [&](PollResult r, std::chrono::microseconds) {
                ++calls;
                error = r.ok() ? "" : r.error();
                kind = r.kind();
                ticker->cancel();
              });
  event_base_dispatch(base_.get());
  EXPECT_EQ(calls, 1);
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_EQ(kind, PollError::kTimeout);
  EXPECT_GE(ticks, 2);
}

TEST_F(AgentPollerTest, GoodPollFinishesWhileAnotherHangsAndDestroyingCancels) {
  TestAgent good(Mode::kGood);
  TestAgent hang(Mode::kHang);
  auto poller = std::make_unique<AgentPoller>();
  int good_calls = 0;
  int hang_calls = 0;
  poller->poll(base_.get(), hang.addr(), kKey, milliseconds(60000),
               [&](PollResult, std::chrono::microseconds) { ++hang_calls; });
  poller->poll(base_.get(), good.addr(), kKey, milliseconds(60000),
               [&](PollResult r, std::chrono::microseconds) {
                 ++good_calls;
                 EXPECT_TRUE(r.ok());
                 EXPECT_EQ(poller->inFlight(), 1u);  // the hanging one
                 poller.reset();  // destroying the poller from a callback is allowed
               });
  // Returns only once no event is left: the cancelled poll freed its socket and timer.
  event_base_dispatch(base_.get());
  EXPECT_EQ(good_calls, 1);
  EXPECT_EQ(hang_calls, 0);
}

TEST_F(AgentPollerTest, ManyPollsEachCalledExactlyOnce) {
  TestAgent agent(Mode::kGood);
  AgentPoller poller;
  std::vector<int> calls(20, 0);
  for (size_t i = 0; i < calls.size(); ++i) {
    poller.poll(base_.get(), agent.addr(), kKey, milliseconds(10000),
                [&, i](PollResult r, std::chrono::microseconds) {
                  EXPECT_TRUE(r.ok()) << r.error();
                  ++calls[i];
                });
  }
  event_base_dispatch(base_.get());
  for (int c : calls) EXPECT_EQ(c, 1);
}

}  // namespace
}  // namespace tsd::director
