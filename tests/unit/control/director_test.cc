// The control plane against real loopback sockets: a reload is a diff (unchanged nodes keep
// their health state and tasks, an unchanged service keeps its scheduler and rotation), a bad
// agent key or a restart-only change fails the reload with nothing changed, and the stats
// sink counts each connection's attempts once.
#include "director/control/director.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "director/base/event_util.h"
#include "director/base/unique_fd.h"

namespace tsd::director {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// A listening loopback socket on an ephemeral port (a node that accepts into its backlog).
struct Port {
  UniqueFd fd;
  uint16_t port = 0;
  explicit Port(bool listening = true) {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (listening) {
      ::listen(fd.get(), 64);
    } else {
      fd.reset();  // the port is free again: connects to it are refused
    }
  }
};

UniqueFd connectTo(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

class DirectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tsd-control-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    cfg_path_ = (dir_ / "tsdirector.ini").string();
  }
  void TearDown() override {
    director_.reset();
    fs::remove_all(dir_);
  }

  std::string config(const std::string& nodes, const std::string& extra = "") {
    return "[director]\nalgorithm = roundrobin\nfast_path = userspace\nstate_dir = " +
           dir_.string() + "\nconnect_timeout = 500ms\n" + extra +
           "\n[health]\ninterval = 100ms\nfast_interval = 100ms\ndown_interval = 100ms\ntimeout = "
           "50ms\n" +
           "fall = 1\nrise = 1\n[metrics]\nlisten = off\n[admin]\nsocket = off\n" +
           "[service s]\nsticky_key = none\nlisten = 127.0.0.1:" + std::to_string(listen_.port) +
           "\n" + nodes;
  }
  static std::string node(const std::string& name, uint16_t port, int weight = 1) {
    return "[node " + name + "]\naddress = 127.0.0.1:" + std::to_string(port) +
           "\nweight = " + std::to_string(weight) + "\n";
  }
  void write(const std::string& text) { std::ofstream(cfg_path_) << text; }
  void start(const std::string& text) {
    write(text);
    listen_.fd.reset();  // the director binds the service port itself
    auto p = prepareFile(cfg_path_);
    ASSERT_TRUE(p.ok()) << p.error();
    director_ = std::make_unique<Director>(base_.get(), cfg_path_);
    Status s = director_->start(*p);
    ASSERT_TRUE(s.ok()) << s.error();
  }
  // Runs the loop until `done` or the deadline (bounded: a broken director fails, never hangs).
  bool pump(const std::function<bool()>& done, milliseconds limit = milliseconds(5000)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      usleep(1000);
    }
    return true;
  }
  const NodeRuntime& nodeNamed(const std::string& name) {
    for (const auto& n : director_->nodes().all()) {
      if (n->cfg.name == name && !n->removed) return *n;
    }
    ADD_FAILURE() << "no node " << name;
    return *director_->nodes().all().front();
  }
  uint64_t forwarded() {
    uint64_t n = 0;
    for (const auto& r : director_->nodes().all()) n += r->counters.connections;
    return n;
  }

  EventBasePtr base_{event_base_new()};
  fs::path dir_;
  std::string cfg_path_;
  Port listen_;
  std::unique_ptr<Director> director_;
};

TEST_F(DirectorTest, ReloadOfOneWeightKeepsHealthStateTasksAndRotation) {
  Port a, b, c;
  start(config(node("a", a.port) + node("b", b.port) + node("c", c.port)));
  ASSERT_TRUE(pump([&] { return nodeNamed("a").check(0) && nodeNamed("a").check(0)->ok >= 2; }));
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 2; ++i)
    clients.push_back(connectTo(director_->services().all()[0].cfg->listen[0].port()));
  ASSERT_TRUE(pump([&] { return forwarded() == 2; }));
  const ServiceCheck* a_check = nodeNamed("a").check(0);
  const sched::Scheduler* sched = director_->services().byId(0)->scheduler.get();
  ASSERT_NE(sched, nullptr);
  uint64_t a_checks = a_check->ok + a_check->failed;
  std::vector<uint64_t> before;
  for (const auto& n : director_->nodes().all()) before.push_back(n->counters.connections);

  write(config(node("a", a.port) + node("b", b.port, 5) + node("c", c.port)));
  Status s = director_->reload();
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(director_->stats().config_generation, 2u);
  EXPECT_EQ(nodeNamed("b").weight(), 5);
  // Node a: the same health state object, its results so far kept, its task still running.
  EXPECT_EQ(nodeNamed("a").check(0), a_check);
  EXPECT_GE(a_check->ok + a_check->failed, a_checks);
  EXPECT_TRUE(a_check->state.known() && a_check->state.up());
  ASSERT_TRUE(pump([&] { return a_check->ok + a_check->failed > a_checks; }));
  // The round-robin service did not change: the third connection continues the rotation on
  // the same scheduler, reaching the node the first two did not.
  clients.push_back(connectTo(director_->services().all()[0].cfg->listen[0].port()));
  ASSERT_TRUE(pump([&] { return forwarded() == 3; }));
  EXPECT_EQ(director_->services().byId(0)->scheduler.get(), sched);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(director_->nodes().all()[i]->counters.connections, 1u) << "node " << i;
  }
}

TEST_F(DirectorTest, ReloadWithABadAgentKeyFailsAndChangesNothing) {
  Port a, b;
  start(config(node("a", a.port)));
  conf::ConfigPtr before = director_->config();
  std::string key = (dir_ / "agent.key").string();
  struct KeyCase {
    const char* what;
    const char* content;
    mode_t mode;
    const char* error;
  };
  const KeyCase cases[] = {
      {"missing", nullptr, 0600, "cannot open key file"},
      {"group-readable", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 0640,
       "lets group/other access it"},
      {"too short", "abcd", 0600, "key_file: "},
  };
  uint64_t failed = 0;
  for (const KeyCase& k : cases) {
    SCOPED_TRACE(k.what);
    fs::remove(key);
    if (k.content != nullptr) {
      std::ofstream(key) << k.content;
      ::chmod(key.c_str(), k.mode);
    }
    write(config(node("a", a.port) + node("b", b.port)) + "[agent]\nkey_file = " + key + "\n");
    Status s = director_->reload();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find(k.error), std::string::npos) << s.error();
    EXPECT_NE(s.error().find("tsdirector.ini:"), std::string::npos) << s.error();  // FILE:LINE
    EXPECT_EQ(director_->stats().reloads_failed, ++failed);
    EXPECT_EQ(director_->config(), before);  // the same snapshot: nothing applied
    EXPECT_EQ(director_->stats().config_generation, 1u);
    EXPECT_FALSE(director_->agentPolling());
    EXPECT_EQ(director_->nodes().all().size(), 1u);  // node b was not added
  }
}

TEST_F(DirectorTest, RestartOnlyChangeIsRefusedNamingTheLine) {
  Port a;
  start(config(node("a", a.port)));
  write(config(node("a", a.port), "transparent = yes"));
  Status s = director_->reload();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("tsdirector.ini:6: [director] transparent changed (no -> yes)"),
            std::string::npos)
      << s.error();
  EXPECT_EQ(director_->stats().config_generation, 1u);
}

TEST_F(DirectorTest, StatsSinkCountsEachAttemptOnce) {
  Port a;
  Port dead(false);
  start(config(node("dead", dead.port) + node("a", a.port)));
  uint16_t port = director_->services().all()[0].cfg->listen[0].port();
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(connectTo(port));
  ASSERT_TRUE(pump([&] { return nodeNamed("a").counters.connections == 4; }));
  const DirectorStats& st = director_->stats();
  const NodeCounters& da = nodeNamed("dead").counters;
  const NodeCounters& aa = nodeNamed("a").counters;
  // Every connection reached node a; those first sent to the dead node retried once (until
  // its check marks it down and the scheduler stops offering it).
  EXPECT_EQ(aa.connect_attempts, 4u);
  EXPECT_EQ(aa.connect_failures, 0u);
  EXPECT_EQ(da.connections, 0u);
  EXPECT_EQ(da.connect_failures, da.connect_attempts);
  EXPECT_EQ(st.retries, da.connect_attempts);
  uint64_t decisions = 0;
  for (uint64_t d : st.decisions) decisions += d;
  EXPECT_EQ(decisions, aa.connect_attempts + da.connect_attempts);
  EXPECT_EQ(st.userspace_connections, 4u);
  EXPECT_EQ(st.active, 4u);
  EXPECT_EQ(director_->services().byId(0)->counters.accepted, 4u);
  EXPECT_EQ(nodeNamed("a").active, 4u);
  // Closing the clients and the node's backlog (a reset) ends each connection exactly once:
  // the node is released once.
  clients.clear();
  a.fd.reset();
  ASSERT_TRUE(pump([&] { return st.active == 0; }));
  EXPECT_EQ(nodeNamed("a").active, 0u);
  EXPECT_EQ(nodeNamed("dead").active, 0u);
  EXPECT_EQ(director_->services().byId(0)->counters.active, 0u);
}

TEST_F(DirectorTest, AdminOverridesSurviveARestartUnlessTheFileChangedThem) {
  Port a, b;
  std::string text = config(node("a", a.port) + node("b", b.port));
  start(text);
  ASSERT_TRUE(director_->setNodeState("a", conf::NodeState::kDrain).ok());
  ASSERT_TRUE(director_->setNodeWeight("b", 7).ok());
  auto restart = [&](const std::string& t) {
    director_->shutdown();
    director_.reset();
    start(t);
  };
  restart(text);
  EXPECT_EQ(nodeNamed("a").adminState(), conf::NodeState::kDrain);
  EXPECT_TRUE(nodeNamed("a").admin_state.has_value());
  EXPECT_EQ(nodeNamed("b").weight(), 7);
  // `ready` clears the override, and the cleared state is what the next start sees.
  ASSERT_TRUE(director_->setNodeState("a", conf::NodeState::kActive).ok());
  restart(text);
  EXPECT_FALSE(nodeNamed("a").admin_state.has_value());
  EXPECT_EQ(nodeNamed("b").weight(), 7);
  // The file changed b's weight while the director was down: the file wins.
  restart(config(node("a", a.port) + node("b", b.port, 3)));
  EXPECT_EQ(nodeNamed("b").weight(), 3);
  EXPECT_FALSE(nodeNamed("b").admin_weight.has_value());
}

// The director pushes each node's live count to its tracking scheduler: weighted-least-conn
// over weights 3 and 1 places four held connections 3:1 (with the counts stuck at zero it
// would rotate 2:2).
TEST_F(DirectorTest, LiveCountsReachTheScheduler) {
  Port a, b;
  start(config("algorithm = weighted-least-conn\n" + node("a", a.port, 3) + node("b", b.port)));
  uint16_t port = director_->services().all()[0].cfg->listen[0].port();
  std::vector<UniqueFd> clients;
  for (uint64_t i = 1; i <= 4; ++i) {
    clients.push_back(connectTo(port));
    ASSERT_TRUE(pump([&] { return forwarded() == i; }));
  }
  EXPECT_EQ(nodeNamed("a").counters.connections, 3u);
  EXPECT_EQ(nodeNamed("b").counters.connections, 1u);
}

}  // namespace
}  // namespace tsd::director
