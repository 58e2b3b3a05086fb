// The collector's system side: bounded command runs, and a whole collection over a fake /proc,
// a fake x2golistsessions_root and an external command.
#include "healthcheck/agent/agent_collector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "healthcheck/agent/agent_server.h"

namespace tsd::health {
namespace {

using std::chrono::milliseconds;

TEST(AgentCommand, CapturesStdoutAndExitCode) {
  auto r = runCommand({"/bin/sh", "-c", "echo hi; echo err >&2; exit 3"}, milliseconds(10000));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->out, "hi\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->timed_out);
}

TEST(AgentCommand, HangingCommandIsKilledAtTheDeadline) {
  // The background sleep keeps stdout open: the whole process group must be killed.
  auto r = runCommand({"/bin/sh", "-c", "sleep 30 & sleep 30"}, milliseconds(200));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(AgentCommand, EndlessOutputIsCapped) {
  auto r = runCommand({"yes"}, milliseconds(10000), 1000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->out.size(), 1000u);
}

TEST(AgentCommand, MissingProgramIsAnError) {
  EXPECT_FALSE(runCommand({"tsd-no-such-program-xyz"}, milliseconds(1000)).ok());
  EXPECT_FALSE(runCommand({}, milliseconds(1000)).ok());
  EXPECT_EQ(findExecutable("tsd-no-such-program-xyz"), "");
  EXPECT_EQ(findExecutable("sh").empty(), false);
}

class FakeNode : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tsd-agent-proc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    namespace fs = std::filesystem;
    fs::create_directories(root_ + "/proc/net");
    fs::create_directories(root_ + "/proc/201/fd");
    fs::create_directories(root_ + "/proc/555/fd");
    fs::create_directories(root_ + "/tmux");
    write("proc/loadavg", "3.00 2.00 1.00 2/300 4000\n");
    write("proc/meminfo", "MemTotal: 100 kB\nMemAvailable:  4242 kB\n");
    write("proc/vmstat", "pswpin 10\n");
    write("proc/stat", "cpu 1 2 3\nbtime 1700000000\n");
    write("proc/net/tcp",
          "  sl  local_address rem_address   st\n"
          "   1: 0101A8C0:0016 0501A8C0:D431 01 00000000:00000000 02:0009E7A4 00000000     0    "
          "    0 30456 4 0000000000000000 20 4 29 10 -1\n");
    write("proc/201/comm", "sshd\n");
    write("proc/201/cmdline", std::string("sshd: alice@pts/0\0", 18));
    write("proc/201/stat",
          "201 (sshd) S 1 201 201 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 500 1000 20\n");
    ::symlink("socket:[30456]", (root_ + "/proc/201/fd/3").c_str());
    ::symlink("/dev/null", (root_ + "/proc/201/fd/0").c_str());
    write("proc/555/comm", "bash\n");  // not sshd: ignored
    write("x2go", "#!/bin/sh\necho '1|carol-50|50|n|S|t|c|10.0.0.7|1|2|t|carol|100|3'\n");
    ::chmod((root_ + "/x2go").c_str(), 0755);
  }
  void TearDown() override { std::system(("rm -rf '" + root_ + "'").c_str()); }
  void write(const std::string& rel, const std::string& content) {
    std::ofstream(root_ + "/" + rel, std::ios::binary) << content;
  }
  CollectorOptions options() {
    CollectorOptions o;
    o.node_name = "fake";
    o.proc_dir = root_ + "/proc";
    o.tmux_tmpdir = root_ + "/tmux";
    o.x2go_command = root_ + "/x2go";
    o.sessions_command = "echo 'dave nx suspended 10.0.0.8 1700000500'; echo broken";
    return o;
  }
  std::string root_;
};

TEST_F(FakeNode, CollectsFiguresAndEverySource) {
  InventoryCollector c(options());
  AgentReport r = c.collect();
  EXPECT_EQ(r.node, "fake");
  long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_DOUBLE_EQ(r.load_per_cpu, 3.0 / static_cast<double>(cpus));
  EXPECT_EQ(r.mem_available_kib, 4242u);
  EXPECT_EQ(r.swap_in_per_s, 0.0);
  long ticks = ::sysconf(_SC_CLK_TCK);
  ASSERT_EQ(r.sessions.size(), 3u);
  // Suspended first, then newest first (carol's X2Go session started 100 s ago).
  EXPECT_EQ(r.sessions[0].user, "carol");
  EXPECT_EQ(r.sessions[0].kind, SessionKind::kX2go);
  EXPECT_EQ(r.sessions[0].client_address, "10.0.0.7");
  EXPECT_EQ(r.sessions[1], (AgentSession{"dave", SessionKind::kNx, true, "10.0.0.8", 1700000500}));
  EXPECT_EQ(r.sessions[2], (AgentSession{"alice", SessionKind::kSsh, false, "192.168.1.5",
                                         1700000000 + 500 / ticks}));
  EXPECT_EQ(r.sessions_running, 1u);
  EXPECT_EQ(r.sessions_suspended, 2u);
  ASSERT_EQ(c.warnings().size(), 1u);
  EXPECT_NE(c.warnings()[0].find("1 invalid line"), std::string::npos) << c.warnings()[0];
}

TEST(AgentSchedule, ConnectionRefreshBacksOffWhenTheWalkIsSlow) {
  EXPECT_EQ(nextRefreshDelay(milliseconds(0)), kConnectionRefresh);
  EXPECT_EQ(nextRefreshDelay(milliseconds(20)), kConnectionRefresh);
  EXPECT_EQ(nextRefreshDelay(milliseconds(40)), milliseconds(400));  // at most 10% of the time
}

// Polls a condition; false after a generous bound (the machine may be busy: a liveness
// bound, not a timing assertion).
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return pred();
}

// A login after a full collection shows up in the snapshot long before the next one (here an
// hour away): the sshd logins alone are refreshed, as sessions and as connections.
TEST_F(FakeNode, ConnectionsAreRefreshedBetweenFullCollections) {
  CollectorOptions o = options();
  o.sessions_command.clear();  // carol's X2Go session stays: a source only full collections run
  int notify[2];
  ASSERT_EQ(::pipe(notify), 0);
  {
    CollectorThread t(o, milliseconds(3600 * 1000), notify[1]);
    ASSERT_TRUE(eventually([&] { return t.collections() == 1; }));
    ASSERT_EQ(t.latest()->report.connections.size(), 1u);
    std::filesystem::create_directories(root_ + "/proc/301/fd");
    write("proc/301/comm", "sshd\n");
    write("proc/301/cmdline", std::string("sshd: bob@pts/1\0", 16));
    write("proc/301/stat",
          "301 (sshd) S 1 301 301 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 900 1000 20\n");
    ::symlink("socket:[30999]", (root_ + "/proc/301/fd/3").c_str());
    write("proc/net/tcp",
          "  sl  local_address rem_address   st\n"
          "   1: 0101A8C0:0016 0501A8C0:D431 01 00000000:00000000 02:0009E7A4 00000000     0    "
          "    0 30456 4 0000000000000000 20 4 29 10 -1\n"
          "   2: 0101A8C0:0016 0901A8C0:D432 01 00000000:00000000 02:0009E7A4 00000000     0    "
          "    0 30999 4 0000000000000000 20 4 29 10 -1\n");
    ASSERT_TRUE(eventually([&] { return t.latest()->report.connections.size() == 2; }));
    auto snap = t.latest();
    EXPECT_EQ(snap->report.connections[0].user, "bob");  // newest first
    EXPECT_EQ(snap->report.connections[0].remote_address, "192.168.1.9");
    // bob's session came with his connection (the director ranks homes from the sessions);
    // carol's X2Go session is still the collection's.
    ASSERT_EQ(snap->report.sessions.size(), 3u);
    EXPECT_EQ(snap->report.sessions_running, 2u);
    EXPECT_EQ(snap->report.sessions_suspended, 1u);
    EXPECT_EQ(snap->report.sessions[0].kind, SessionKind::kX2go);  // suspended first
    EXPECT_EQ(snap->report.sessions[1].user, "bob");
    EXPECT_EQ(t.collections(), 1u);
    EXPECT_GE(t.refreshes(), 1u);
  }
  ::close(notify[0]);
  ::close(notify[1]);
}

TEST_F(FakeNode, ReportsVersionTwoWithEachSshConnection) {
  AgentReport r = InventoryCollector(options()).collect();
  EXPECT_EQ(r.version, kProtocolVersion);
  long ticks = ::sysconf(_SC_CLK_TCK);
  ASSERT_EQ(r.connections.size(), 1u);
  EXPECT_EQ(r.connections[0], (AgentConnection{"alice", "192.168.1.5", 54321, "192.168.1.1", 22,
                                               1700000000 + 500 / ticks}));
  // What the agent serves is what the director will parse.
  const std::string key = "k", nonce = "00112233445566778899aabbccddeeff";
  auto parsed = verifyAndParseReply(key, nonce, encodeReply(key, nonce, r));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->connections, r.connections);
}

TEST_F(FakeNode, FailingSourcesAreWarningsNotFailures) {
  CollectorOptions o = options();
  o.sessions_command = "exit 7";
  o.proc_dir = root_ + "/absent";
  InventoryCollector c(o);
  AgentReport r = c.collect();
  ASSERT_EQ(r.sessions.size(), 1u);  // x2go still answers
  EXPECT_GE(c.warnings().size(), 4u);
}

TEST_F(FakeNode, DetachedTmuxSessionNamesItsSshClientFromTheTmuxEnvironment) {
  std::string tmux = findExecutable("tmux");
  if (tmux.empty()) GTEST_SKIP() << "tmux is not installed";
  // A real tmux server on a private socket, in a directory laid out like /tmp/tmux-UID.
  std::string dir = root_ + "/tmux/tmux-" + std::to_string(::getuid());
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
  std::string socket = dir + "/default";
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {tmux, "-S", socket});
    auto r = runCommand(args, milliseconds(10000));
    return r.ok() && r->exit_code == 0;
  };
  ASSERT_TRUE(run({"new-session", "-d", "-s", "my desk", "sleep 60"}));
  ASSERT_TRUE(
      run({"set-environment", "-t", "=my desk", "SSH_CONNECTION", "10.9.8.7 50000 10.0.0.1 22"}));
  CollectorOptions o = options();
  o.proc_dir = root_ + "/absent";  // no live ssh session and nothing remembered
  o.sessions_command.clear();
  InventoryCollector c(o);
  AgentReport r = c.collect();
  run({"kill-server"});
  std::vector<AgentSession> tmux_sessions;
  for (const auto& s : r.sessions) {
    if (s.kind == SessionKind::kTmux) tmux_sessions.push_back(s);
  }
  ASSERT_EQ(tmux_sessions.size(), 1u);
  EXPECT_TRUE(tmux_sessions[0].suspended);
  EXPECT_EQ(tmux_sessions[0].client_address, "10.9.8.7");
  EXPECT_GT(tmux_sessions[0].since_unix, 0);
}

TEST_F(FakeNode, OnlyTheNodesOwnSshConnectionsAndTmuxSessionsAreReported) {
  CollectorOptions o = options();
  o.sessions_command.clear();
  o.x2go_command = "tsd-no-such-program-xyz";
  o.node_addresses = {"192.168.1.1"};  // alice's connection goes to 192.168.1.1:22
  EXPECT_EQ(InventoryCollector(o).collect().sessions.size(), 1u);
  EXPECT_EQ(InventoryCollector(o).collect().connections.size(), 1u);
  o.node_addresses = {"10.0.0.1"};  // another node on the same host
  EXPECT_TRUE(InventoryCollector(o).collect().sessions.empty());
  EXPECT_TRUE(InventoryCollector(o).collect().connections.empty());

  std::string tmux = findExecutable("tmux");
  if (tmux.empty()) GTEST_SKIP() << "tmux is not installed";
  std::string dir = root_ + "/tmux/tmux-" + std::to_string(::getuid());
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
  std::string socket = dir + "/default";
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {tmux, "-S", socket});
    auto r = runCommand(args, milliseconds(10000));
    return r.ok() && r->exit_code == 0;
  };
  ASSERT_TRUE(run({"new-session", "-d", "-s", "via-node", "sleep 60"}));
  ASSERT_TRUE(
      run({"set-environment", "-t", "=via-node", "SSH_CONNECTION", "10.9.8.7 50000 10.0.0.2 22"}));
  ASSERT_TRUE(run({"new-session", "-d", "-s", "on-the-host", "sleep 60"}));
  ASSERT_TRUE(run({"set-environment", "-t", "=on-the-host", "-u", "SSH_CONNECTION"}));
  o.proc_dir = root_ + "/absent";
  auto kinds = [&](std::vector<std::string> addresses) {
    o.node_addresses = std::move(addresses);
    size_t n = 0;
    for (const auto& s : InventoryCollector(o).collect().sessions)
      n += s.kind == SessionKind::kTmux;
    return n;
  };
  size_t own = kinds({"10.0.0.2"});
  size_t other = kinds({"10.0.0.3"});
  size_t all = kinds({});
  run({"kill-server"});
  EXPECT_EQ(own, 1u);    // the session started through an ssh connection to this node
  EXPECT_EQ(other, 0u);  // neither: the admin's host session never shows up as a node's
  EXPECT_EQ(all, 2u);    // without --node-address, everything the agent can see
}

// The sessions command misbehaves in every way a script can: each time the last good
// inventory is kept (with a warning) while it is young enough, and left out once too old.
TEST_F(FakeNode, MisbehavingSessionsCommandKeepsTheLastGoodInventory) {
  std::string mode = root_ + "/mode";
  write("mode", "good");
  CollectorOptions o = options();
  o.x2go_command = "tsd-no-such-program-xyz";
  o.proc_dir = root_ + "/absent";
  o.command_timeout = milliseconds(300);
  o.sessions_command = "case $(cat '" + mode +
                       "') in"
                       " good) echo 'dave nx suspended 10.0.0.8 1700000500';;"
                       " garbage) head -c 3000 /dev/urandom;;"
                       " flood) yes 'dave nx suspended 10.0.0.8 1700000500';;"
                       " hang) sleep 30;;"
                       " fail) echo 'dave nx suspended 10.0.0.8 1700000500'; exit 3;;"
                       " esac";
  o.keep_for = std::chrono::hours(1);
  InventoryCollector c(o);
  auto dave = [](const AgentReport& r) {
    return r.sessions.size() == 1 && r.sessions[0].user == "dave";
  };
  // The warnings about this command (the fake node's absent /proc warns too).
  auto about = [](const InventoryCollector& col) {
    std::vector<std::string> out;
    for (const auto& w : col.warnings()) {
      if (w.starts_with("sessions command")) out.push_back(w);
    }
    return out;
  };
  ASSERT_TRUE(dave(c.collect()));
  EXPECT_TRUE(about(c).empty());
  for (const char* m : {"garbage", "flood", "hang", "fail"}) {
    write("mode", m);
    AgentReport r = c.collect();
    EXPECT_TRUE(dave(r)) << m;
    ASSERT_EQ(about(c).size(), 1u) << m;
    EXPECT_NE(about(c)[0].find("last good"), std::string::npos) << about(c)[0];
  }
  o.keep_for = milliseconds(0);  // nothing is young enough: the source is left out
  InventoryCollector strict(o);
  write("mode", "good");
  ASSERT_TRUE(dave(strict.collect()));
  write("mode", "fail");
  EXPECT_TRUE(strict.collect().sessions.empty());
  ASSERT_EQ(about(strict).size(), 1u);
  EXPECT_NE(about(strict)[0].find("exit 3"), std::string::npos) << about(strict)[0];
}

}  // namespace
}  // namespace tsd::health
