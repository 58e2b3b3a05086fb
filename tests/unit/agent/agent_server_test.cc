// AgentServer over real loopback sockets with a real (slow) sessions command: polls are
// answered from the snapshot while a collection hangs, and the reported age grows meanwhile.
#include "healthcheck/agent/agent_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace tsd::health {
namespace {

using std::chrono::milliseconds;
const std::string kKey = "server-test-key-0123456789";

TEST(AgentSchedule, CollectionsStartEveryIntervalAndBackOffWhenSlow) {
  struct Case {
    int interval, took, want;
  };
  const Case cases[] = {
      {2000, 0, 2000},      {2000, 300, 1700},   // start to start: one interval
      {2000, 2000, 2000},   {2000, 3000, 3000},  // slower than the interval: pause as long
      {2000, 90000, 60000},                      // capped
  };
  for (const auto& c : cases) {
    EXPECT_EQ(nextCollectDelay(milliseconds(c.interval), milliseconds(c.took), milliseconds(60000)),
              milliseconds(c.want))
        << c.interval << " " << c.took;
  }
}

// The agent on its own event loop thread, stopped through a flag the loop polls.
class RunningAgent {
 public:
  explicit RunningAgent(AgentServerOptions o) : base_(event_base_new(), event_base_free) {
    server_ = std::make_unique<AgentServer>(base_.get(), std::move(o), kKey);
    EXPECT_TRUE(server_->start());
    tick_.reset(event_new(base_.get(), -1, EV_PERSIST, &RunningAgent::onTick, this));
    timeval tv{0, 10000};
    event_add(tick_.get(), &tv);
    thread_ = std::thread([this] { event_base_dispatch(base_.get()); });
  }
  ~RunningAgent() {
    stop_ = true;
    thread_.join();
    tick_.reset();
    server_.reset();
  }
  const SockAddr& addr() const { return server_->address(); }

 private:
  static void onTick(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<RunningAgent*>(arg);
    if (self->stop_) event_base_loopexit(self->base_.get(), nullptr);
  }
  std::unique_ptr<event_base, void (*)(event_base*)> base_;
  std::unique_ptr<AgentServer> server_;
  std::unique_ptr<event, void (*)(event*)> tick_{nullptr, event_free};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One blocking poll, verified like the director does.
Result<AgentReport> poll(const SockAddr& to) {
  int fd = ::socket(to.sa()->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, to.sa(), to.len()) != 0) {
    ::close(fd);
    return makeError("connect failed");
  }
  std::string nonce = makeNonce();
  std::string req = encodeRequest(nonce, "test");
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string reply;
  char buf[16384];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return verifyAndParseReply(kKey, nonce, reply);
}

// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class AgentServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tsd-agent-server-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/tmux");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  bool exists(const std::string& rel) const { return std::filesystem::exists(dir_ + "/" + rel); }
  AgentServerOptions options(const std::string& command) const {
    AgentServerOptions o;
    o.listen = "127.0.0.1:" + std::to_string(freePort());
    o.collect_interval = milliseconds(50);
    o.collector.node_name = "node-a";
    o.collector.tmux_tmpdir = dir_ + "/tmux";
    o.collector.x2go_command = "tsd-no-such-program-xyz";
    o.collector.sessions_command = command;
    o.collector.command_timeout = milliseconds(20000);
    return o;
  }
  std::string dir_;
};

// The sessions command takes 3 s once the "slow" file exists. Every poll made while that
// collection runs is answered before it ends (ordering, not timing: "finished" is written by
// the command when its 3 s are over), from the previous snapshot, with a growing age.
TEST_F(AgentServerTest, SlowCollectionNeverDelaysAReplyAndItsAgeGrows) {
  std::string d = dir_;
  RunningAgent agent(options("if [ -e " + d + "/slow ]; then touch " + d + "/started; sleep 3; " +
                             "touch " + d + "/finished; fi; " +
                             "echo 'alice nx suspended 10.0.0.5 1700000000'"));
  Result<AgentReport> first = makeError("no poll yet");
  for (int i = 0; i < 200 && !(first && !first->sessions.empty()); ++i) {
    first = poll(agent.addr());  // the first poll waits for the first collection
    if (!first || first->sessions.empty()) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_EQ(first->sessions.size(), 1u);
  EXPECT_EQ(first->node, "node-a");
  std::ofstream(dir_ + "/slow") << "";
  for (int i = 0; i < 500 && !exists("started"); ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(exists("started"));
  std::vector<uint64_t> ages;
  for (int i = 0; i < 4; ++i) {
    auto r = poll(agent.addr());
    bool collection_still_running = !exists("finished");
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_TRUE(collection_still_running) << "poll " << i << " waited for the collection";
    EXPECT_EQ(r->sessions.size(), 1u);  // the last complete snapshot
    ages.push_back(r->age_ms);
    std::this_thread::sleep_for(milliseconds(100));
  }
  for (size_t i = 1; i < ages.size(); ++i) EXPECT_GT(ages[i], ages[i - 1]) << i;
  EXPECT_GE(ages.back(), ages.front() + 200);  // three 100 ms pauses, at least
}

TEST_F(AgentServerTest, ManyPollersShareCollectionsAndWarningsTravelInTheReply) {
  // Every collection appends a line to "runs"; the command also exits non-zero, so each reply
  // carries the warning (and nothing to fall back on).
  std::string d = dir_;
  auto o = options("echo x >> " + d + "/runs; exit 4");
  o.collect_interval = milliseconds(60000);  // one collection for the whole test
  RunningAgent agent(o);
  for (int i = 0; i < 20; ++i) {
    auto r = poll(agent.addr());
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_FALSE(r->warnings.empty());
    EXPECT_NE(r->warnings[0].find("exit 4"), std::string::npos) << r->warnings[0];
  }
  std::ifstream runs(dir_ + "/runs");
  std::string all((std::istreambuf_iterator<char>(runs)), {});
  EXPECT_EQ(all, "x\n");
}

}  // namespace
}  // namespace tsd::health
