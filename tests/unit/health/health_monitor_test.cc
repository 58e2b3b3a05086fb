// HealthMonitor's agent polls against small in-test agents on loopback: figures are dated by
// the agent's snapshot (max_age counts from the collection), [agent] timeout is the poll's
// own, and a reply naming another node is refused and counted apart.
#include "director/health/health_monitor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

namespace tsd::director {
namespace {

using std::chrono::milliseconds;
const std::string kKey = "monitor-test-key-0123456789";

// Answers every poll with `report` (or never, when hang) until destroyed.
class ScriptedAgent {
 public:
  ScriptedAgent(health::AgentReport report, bool hang) : report_(std::move(report)), hang_(hang) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedAgent() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void serve() {
    while (true) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string line;
      char ch;
      while (line.size() < health::kMaxRequestBytes && ::read(c, &ch, 1) == 1) {
        line.push_back(ch);
        if (ch == '\n') break;
      }
      auto req = health::parseRequest(line);
      if (req.ok() && !hang_) {
        std::string reply = health::encodeReply(kKey, req->nonce, report_);
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      if (hang_) {
        timeval tv{0, 200000};
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        while (!stop_ && ::read(c, &ch, 1) != 0) {
        }
      }
      ::close(c);
    }
  }
  health::AgentReport report_;
  bool hang_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct NoEvents : HealthEvents {
  void nodesChanged(bool) override {}
  void inventory(const NodeRuntime&, const health::AgentReport&) override {}
};

health::AgentReport report(const std::string& node, uint64_t age_ms) {
  health::AgentReport r;
  r.node = node;
  r.load_per_cpu = 0.1;
  r.mem_available_kib = 1 << 20;
  r.age_ms = age_ms;
  return r;
}

class HealthMonitorTest : public ::testing::Test {
 protected:
  // Starts polling the agent on `port` as node n1, and runs the loop until done() or 10 s.
  void runUntil(int port, const std::string& agent_extra, const std::function<bool()>& done) {
    std::string text =
        "[service ssh]\nlisten = 127.0.0.1:2222\ncheck = agent\n"
        "[node n1]\naddress = 127.0.0.1:2201\n"
        "[health]\ntimeout = 4s\ninterval = 5s\n"
        "[agent]\nkey_file = /nonexistent.key\nport = " +
        std::to_string(port) + "\npoll = 1s\nmax_age = 2s\n" + agent_extra;
    auto cfg = conf::parseConfig(text, "t.ini");
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    cfg_ = *cfg;
    nodes_.apply(*cfg_);
    monitor_ = std::make_unique<HealthMonitor>(base_.get(), nodes_, events_);
    monitor_->apply(cfg_, {CheckedService{0, &cfg_->services[0]}}, kKey);
    deadline_ = SteadyClock::now() + std::chrono::seconds(10);
    done_ = done;
    std::unique_ptr<event, void (*)(event*)> tick(
        event_new(base_.get(), -1, EV_PERSIST, &HealthMonitorTest::onTick, this), event_free);
    timeval tv{0, 20000};
    event_add(tick.get(), &tv);
    event_base_dispatch(base_.get());
  }
  static void onTick(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<HealthMonitorTest*>(arg);
    if (self->done_() || SteadyClock::now() > self->deadline_) {
      event_base_loopexit(self->base_.get(), nullptr);
    }
  }
  NodeRuntime& n1() { return *nodes_.find("n1"); }
  health::NodeStatus status() {
    return nodes_.statusFor(n1(), std::nullopt, *cfg_, SteadyClock::now());
  }

  EventBasePtr base_{event_base_new()};
  NodeTable nodes_;
  NoEvents events_;
  conf::ConfigPtr cfg_;
  std::unique_ptr<HealthMonitor> monitor_;
  SteadyClock::time_point deadline_;
  std::function<bool()> done_;
};

TEST_F(HealthMonitorTest, FreshSnapshotGivesKnownFigures) {
  ScriptedAgent agent(report("n1", 0), false);
  runUntil(agent.port(), "", [&] { return n1().polls_ok > 0; });
  ASSERT_EQ(n1().polls_ok, 1u);
  EXPECT_EQ(status(), health::NodeStatus::kIdle);
}

// The agent answered at once, but from a snapshot older than max_age (its collection hangs):
// the figures count as unknown although the reply itself just arrived.
TEST_F(HealthMonitorTest, MaxAgeCountsFromTheCollectionNotFromTheReply) {
  ScriptedAgent agent(report("n1", 5000), false);
  runUntil(agent.port(), "", [&] { return n1().polls_ok > 0; });
  ASSERT_EQ(n1().polls_ok, 1u);
  ASSERT_TRUE(n1().report.has_value());
  EXPECT_GE(SteadyClock::now() - n1().report_time, milliseconds(5000));
  EXPECT_NE(status(), health::NodeStatus::kIdle);  // load unknown: never Idle
  EXPECT_NE(status(), health::NodeStatus::kDown);  // the agent did answer
}

TEST_F(HealthMonitorTest, ReplyNamingAnotherNodeIsRejectedAndCountedApart) {
  ScriptedAgent agent(report("n2", 0), false);
  runUntil(agent.port(), "", [&] { return n1().polls_wrong_node > 0; });
  EXPECT_EQ(n1().polls_wrong_node, 1u);
  EXPECT_EQ(monitor_->counters().polls_wrong_node, 1u);
  EXPECT_EQ(n1().polls_ok, 0u);
  EXPECT_EQ(n1().polls_rejected, 0u);
  EXPECT_FALSE(n1().report.has_value());  // n2's sessions are not n1's
  const ServiceCheck* c = n1().check(0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->failed, 1u);  // check = agent: a wrong agent is not a healthy node
}

// [agent] timeout (300 ms) bounds the poll, not [health] timeout (4 s) nor the 1 s default:
// the failure names it.
TEST_F(HealthMonitorTest, AgentTimeoutIsThePollsOwn) {
  ScriptedAgent agent(report("n1", 0), true);
  runUntil(agent.port(), "timeout = 300ms\n", [&] { return n1().polls_failed > 0; });
  ASSERT_EQ(n1().polls_failed, 1u);
  const ServiceCheck* c = n1().check(0);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->last_error.find("within 300ms"), std::string::npos) << c->last_error;
}

}  // namespace
}  // namespace tsd::director

namespace tsd::director {
namespace {

// Fast learning's "poll soon": extra polls of one node's agent, merged when closer than
// kSoonSpacing to one already planned, at most kMaxSoon planned; unknown nodes refused.
TEST_F(HealthMonitorTest, PollSoonAsksAgainRateLimitedPerNode) {
  ScriptedAgent agent(report("n1", 0), false);
  std::vector<bool> got;
  bool unknown = true;
  runUntil(agent.port(), "", [&] {
    if (got.empty()) {
      NodeId n = n1().id;
      for (int ms : {200, 300, 1000, 1600, 2200, 2800}) {
        got.push_back(monitor_->pollSoon(n, milliseconds(ms)));
      }
      unknown = monitor_->pollSoon(n + 7, milliseconds(100));
    }
    return monitor_->soonPolls() >= 4;
  });
  EXPECT_EQ(got, (std::vector<bool>{true, false, true, true, true, false}));
  EXPECT_FALSE(unknown);
  EXPECT_EQ(monitor_->soonPolls(), 4u);
  EXPECT_GE(n1().polls_ok, 4u);
}

}  // namespace
}  // namespace tsd::director
