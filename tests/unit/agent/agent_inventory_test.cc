// Inventory parsers on fixture text: /proc files, sshd titles and sockets, x2golistsessions_root,
// tmux output, the external command format and the tmux client-address rule.
#include "healthcheck/agent/agent_inventory.h"

#include <gtest/gtest.h>

namespace tsd::health {
namespace {

TEST(AgentInventory, LoadAvg) {
  auto v = parseLoadAvg("0.52 0.58 0.59 1/1024 12345\n");
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_DOUBLE_EQ(*v, 0.52);
  EXPECT_FALSE(parseLoadAvg("").ok());
  EXPECT_FALSE(parseLoadAvg("abc 1 2").ok());
  EXPECT_FALSE(parseLoadAvg("-1.0 1 2").ok());
}

TEST(AgentInventory, MemAvailable) {
  const char* meminfo =
      "MemTotal:       16318500 kB\n"
      "MemFree:         1200000 kB\n"
      "MemAvailable:   12000000 kB\n"
      "Buffers:          300000 kB\n";
  auto v = parseMemAvailableKib(meminfo);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(*v, 12000000u);
  EXPECT_FALSE(parseMemAvailableKib("MemTotal: 1 kB\nMemFree: 1 kB\n").ok());
  EXPECT_FALSE(parseMemAvailableKib("MemAvailable: lots kB\n").ok());
}

TEST(AgentInventory, PswpinAndRate) {
  auto v = parsePswpin("nr_free_pages 100\npswpin 1234\npswpout 99\n");
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(*v, 1234u);
  EXPECT_FALSE(parsePswpin("pswpout 99\n").ok());
  EXPECT_FALSE(parsePswpin("pswpin_extra 5\n").ok());

  SwapInRate rate;
  SwapInRate::Clock::time_point t0{};
  EXPECT_EQ(rate.update(1000, t0), 0.0);  // first reading: no rate yet
  EXPECT_DOUBLE_EQ(rate.update(1200, t0 + std::chrono::seconds(2)), 100.0);
  EXPECT_EQ(rate.update(1200, t0 + std::chrono::seconds(2)), 0.0);  // no time passed
  EXPECT_EQ(rate.update(50, t0 + std::chrono::seconds(3)), 0.0);    // counter went backwards
  EXPECT_DOUBLE_EQ(rate.update(60, t0 + std::chrono::seconds(4)), 10.0);
}

TEST(AgentInventory, ProcAddresses) {
  EXPECT_EQ(decodeProcAddress("0100007F"), "127.0.0.1");
  EXPECT_EQ(decodeProcAddress("0101A8C0"), "192.168.1.1");
  EXPECT_EQ(decodeProcAddress("B80D0120000000000000000001000000"), "2001:db8::1");
  EXPECT_EQ(decodeProcAddress("0000000000000000FFFF00000601A8C0"), "192.168.1.6");
  EXPECT_EQ(decodeProcAddress("00000000000000000000000001000000"), "::1");
  EXPECT_EQ(decodeProcAddress("0100007"), "");
  EXPECT_EQ(decodeProcAddress("0100007G"), "");
}

const char* kTcp4 =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "20123 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0101A8C0:0016 0501A8C0:D431 01 00000000:00000000 02:0009E7A4 00000000     0        0 "
    "30456 4 0000000000000000 20 4 29 10 -1\n"
    "   2: 0101A8C0:9C41 0909090A:1538 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "40000 1 0000000000000000 20 4 29 10 -1\n"
    "   3: garbage line\n";
const char* kTcp6 =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 20124 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0000000000000000FFFF00000101A8C0:0016 0000000000000000FFFF00000601A8C0:C350 01 "
    "00000000:00000000 00:00000000 00000000     0        0 30457 1 0000000000000000 20 4 0 10 -1\n"
    "   2: B80D0120000000000000000001000000:0016 B80D0120000000000000000002000000:C351 01 "
    "00000000:00000000 00:00000000 00000000     0        0 30458 1 0000000000000000 20 4 0 10 -1\n";

TEST(AgentInventory, ProcNetTcp) {
  auto v4 = parseProcNetTcp(kTcp4);
  ASSERT_EQ(v4.size(), 3u);
  EXPECT_EQ(v4[0].state, kTcpListen);
  EXPECT_EQ(v4[0].local_port, 22);
  EXPECT_EQ(v4[1].local_address, "192.168.1.1");
  EXPECT_EQ(v4[1].remote_address, "192.168.1.5");
  EXPECT_EQ(v4[1].remote_port, 54321);
  EXPECT_EQ(v4[1].state, kTcpEstablished);
  EXPECT_EQ(v4[1].inode, 30456u);
  auto v6 = parseProcNetTcp(kTcp6);
  ASSERT_EQ(v6.size(), 3u);
  EXPECT_EQ(v6[1].remote_address, "192.168.1.6");
  EXPECT_EQ(v6[2].remote_address, "2001:db8::2");
  EXPECT_EQ(v6[2].remote_port, 50001);
}

TEST(AgentInventory, SshdTitles) {
  struct Case {
    std::string cmdline;
    std::optional<SshdTitle::Role> role;
    std::string user;
  };
  const Case cases[] = {
      {std::string("sshd: alice@pts/0\0\0\0\0", 21), SshdTitle::kUser, "alice"},
      {"sshd: alice@pts/0,pts/3", SshdTitle::kUser, "alice"},
      {"sshd: alice@notty     ", SshdTitle::kUser, "alice"},
      {"sshd: alice [priv]", SshdTitle::kPriv, "alice"},
      {"sshd-session: bob@pts/2", SshdTitle::kUser, "bob"},
      {"sshd-session: bob [priv]", SshdTitle::kPriv, "bob"},
      {"sshd: j.doe@example.org@pts/1", SshdTitle::kUser, "j.doe@example.org"},
      {"sshd: alice [net]", std::nullopt, ""},
      {"sshd: [accepted]", std::nullopt, ""},
      {"sshd: [net]", std::nullopt, ""},
      {"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", std::nullopt, ""},
      {std::string("/usr/sbin/sshd\0-D\0", 18), std::nullopt, ""},
      {"sshd: @pts/0", std::nullopt, ""},
      {"sshd: alice@", std::nullopt, ""},
      {"-bash", std::nullopt, ""},
      {"", std::nullopt, ""},
  };
  for (const auto& c : cases) {
    auto t = parseSshdTitle(c.cmdline);
    ASSERT_EQ(t.has_value(), c.role.has_value()) << c.cmdline;
    if (!t) continue;
    EXPECT_EQ(t->role, *c.role) << c.cmdline;
    EXPECT_EQ(t->user, c.user) << c.cmdline;
  }
  EXPECT_TRUE(isSshdComm("sshd\n"));
  EXPECT_TRUE(isSshdComm("sshd-session"));
  EXPECT_FALSE(isSshdComm("sshd-auth"));
  EXPECT_FALSE(isSshdComm("bash"));
}

TEST(AgentInventory, ProcStatFields) {
  EXPECT_EQ(parseStartTicks("1234 (sshd: a) b) S 1 1234 1234 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 "
                            "1 0 98765 1000 20 18446744073709551615"),
            98765u);
  EXPECT_FALSE(parseStartTicks("1234 (sshd) S 1 2").has_value());
  EXPECT_FALSE(parseStartTicks("garbage").has_value());
  EXPECT_EQ(parseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000);
  EXPECT_FALSE(parseBootTime("cpu 1 2 3\n").has_value());
}

TEST(AgentInventory, SshSessionsFromProcessesAndSockets) {
  auto sockets = parseProcNetTcp(kTcp4);
  auto v6 = parseProcNetTcp(kTcp6);
  sockets.insert(sockets.end(), v6.begin(), v6.end());
  std::vector<ProcInfo> procs = {
      {100, "sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", 500, {20123, 20124}},
      {200, "sshd", "sshd: alice [priv]", 1000, {30456}},
      // alice's child also holds a port forwarding to 10.9.9.9:5432: not a client.
      {201, "sshd", "sshd: alice@pts/0", 1005, {30456, 40000}},
      // A monitor without an authenticated child: maybe a password guess for "mallory".
      {300, "sshd", "sshd: mallory [priv]", 1100, {30457}},
      {400, "sshd-session", "sshd-session: bob@notty", 1200, {30458, 99999}},
  };
  auto sessions = sshSessions(procs, sockets);
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0], (AgentSession{"alice", SessionKind::kSsh, false, "192.168.1.5", 1000}));
  EXPECT_EQ(sessions[1], (AgentSession{"bob", SessionKind::kSsh, false, "2001:db8::2", 1200}));
}

// The same walk as connections: both endpoints, user of the authenticated child, v4-mapped
// IPv6 written as IPv4, neither the pre-auth monitor's connection nor a port forwarding.
TEST(AgentInventory, SshConnectionsFromProcessesAndSockets) {
  auto sockets = parseProcNetTcp(kTcp4);
  auto v6 = parseProcNetTcp(kTcp6);
  sockets.insert(sockets.end(), v6.begin(), v6.end());
  std::vector<ProcInfo> procs = {
      {100, "sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", 500, {20123, 20124}},
      {200, "sshd", "sshd: alice [priv]", 1000, {30456}},
      {201, "sshd", "sshd: alice@pts/0", 1005, {30456, 40000}},
      {300, "sshd", "sshd: mallory [priv]", 1100, {30457}},
      {400, "sshd-session", "sshd-session: bob@notty", 1200, {30458, 99999}},
      // A second authenticated child of bob's on the v4-mapped socket (sshd re-exec'd).
      {500, "sshd", "sshd: carol@pts/1", 1300, {30457}},
  };
  auto logins = sshLogins(procs, sockets);
  ASSERT_EQ(logins.connections.size(), 3u);
  EXPECT_EQ(logins.connections[0],
            (AgentConnection{"alice", "192.168.1.5", 54321, "192.168.1.1", 22, 1000}));
  EXPECT_EQ(logins.connections[1],
            (AgentConnection{"bob", "2001:db8::2", 50001, "2001:db8::1", 22, 1200}));
  // carol's connection came over an IPv6 socket as ::ffff:192.168.1.6.
  EXPECT_EQ(logins.connections[2],
            (AgentConnection{"carol", "192.168.1.6", 50000, "192.168.1.1", 22, 1100}));
  ASSERT_EQ(logins.sessions.size(), 3u);  // one session per connection, same filters
  for (const auto& c : logins.connections) {
    EXPECT_TRUE(canonicalAddress(c.remote_address)) << c.remote_address;
    EXPECT_TRUE(canonicalAddress(c.local_address)) << c.local_address;
  }
}

// Nodes sharing one host: each reports only the connections that arrived on its addresses.
TEST(AgentInventory, SshConnectionsOfTheNodesOwnAddressesOnly) {
  auto sockets = parseProcNetTcp(kTcp4);
  auto v6 = parseProcNetTcp(kTcp6);
  sockets.insert(sockets.end(), v6.begin(), v6.end());
  std::vector<ProcInfo> procs = {
      {100, "sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", 500, {20123, 20124}},
      {201, "sshd", "sshd: alice@pts/0", 1005, {30456, 40000}},
      {400, "sshd-session", "sshd-session: bob@notty", 1200, {30458}},
  };
  auto v4_node = sshLogins(procs, sockets, {"192.168.1.1"});
  ASSERT_EQ(v4_node.connections.size(), 1u);
  EXPECT_EQ(v4_node.connections[0].user, "alice");
  auto v6_node = sshLogins(procs, sockets, {"2001:db8::1"});
  ASSERT_EQ(v6_node.connections.size(), 1u);
  EXPECT_EQ(v6_node.connections[0].user, "bob");
  EXPECT_TRUE(sshLogins(procs, sockets, {"10.0.0.1"}).connections.empty());
}

TEST(AgentInventory, SshSessionsWithoutKnownListenersKeepEveryConnection) {
  auto sockets = parseProcNetTcp(kTcp4);
  std::vector<ProcInfo> procs = {{201, "sshd", "sshd: alice@pts/0", 1005, {30456, 40000}}};
  EXPECT_EQ(sshSessions(procs, sockets).size(), 2u);
}

TEST(AgentInventory, X2goList) {
  const char* text =
      "12345|alice-50-1700000000_stDGNOME_dp24|50|node1|S|2023-11-14T22:13:20|cookie|10.0.0.7|"
      "30001|30002|2023-11-14T23:00:00|alice|3600|30003\n"
      "12346|bob-51-1700000000_stDMATE_dp24|51|node1|R|2023-11-14T22:13:20|cookie|::ffff:10.0.0.8|"
      "30004|30005|2023-11-14T23:00:00|bob|60|30006\n"
      "12347|carol-52-1700000000_stDXFCE_dp24|52|node1|F|2023-11-14T22:13:20|cookie|10.0.0.9|"
      "30007|30008|2023-11-14T23:00:00|carol|100|30009\n"
      "12348|dave-53|53|node1|S|x|cookie|not-an-ip|1|2|x|dave|notanumber|3\n"
      "too|few|fields\n"
      "\n";
  auto s = parseX2goList(text, 1700003600);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], (AgentSession{"alice", SessionKind::kX2go, true, "10.0.0.7", 1700000000}));
  EXPECT_EQ(s[1], (AgentSession{"bob", SessionKind::kX2go, false, "10.0.0.8", 1700003540}));
  EXPECT_EQ(s[2], (AgentSession{"dave", SessionKind::kX2go, true, "-", 0}));
}

TEST(AgentInventory, TmuxList) {
  auto s = parseTmuxList("desk 0 1700000000\nmy work 1 1700000100\nbad\nx y z\nneg 0 -5\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "desk");
  EXPECT_FALSE(s[0].attached);
  EXPECT_EQ(s[0].created, 1700000000);
  EXPECT_EQ(s[1].name, "my work");
  EXPECT_TRUE(s[1].attached);
  EXPECT_EQ(parseSshConnection("SSH_CONNECTION=10.0.0.5 51234 10.0.1.1 22\n"), "10.0.0.5");
  EXPECT_EQ(parseSshConnection("SSH_CONNECTION=::ffff:10.0.0.5 51234 10.0.1.1 22\n"), "10.0.0.5");
  EXPECT_EQ(parseSshConnection("-SSH_CONNECTION\n"), "");
  EXPECT_EQ(parseSshConnection("SSH_CONNECTION=junk 1 2 3\n"), "");
}

TEST(AgentInventory, ExternalCommandLines) {
  auto p = parseSessionLines(
      "# user kind state client since\n"
      "alice nx suspended 10.0.0.5 1700000000\n"
      "bob\tnx  running   ::ffff:10.0.0.6 1700000001\n"
      "\n"
      "carol vnc running 10.0.0.7 1\n"
      "dave nx sleeping 10.0.0.8 1\n"
      "erin nx running host.example 1\n"
      "frank nx running - -3\n"
      "gina nx running - 1 extra\n");
  ASSERT_EQ(p.sessions.size(), 2u);
  EXPECT_EQ(p.sessions[0], (AgentSession{"alice", SessionKind::kNx, true, "10.0.0.5", 1700000000}));
  EXPECT_EQ(p.sessions[1], (AgentSession{"bob", SessionKind::kNx, false, "10.0.0.6", 1700000001}));
  EXPECT_EQ(p.bad_lines, 5u);
}

TEST(AgentInventory, TmuxClientAddressRule) {
  std::vector<AgentSession> ssh = {
      {"alice", SessionKind::kSsh, false, "10.0.0.1", 100},
      {"alice", SessionKind::kSsh, false, "10.0.0.2", 200},
      {"bob", SessionKind::kSsh, false, "-", 300},
  };
  ClientMemory memory;
  memory.remember({{"carol", SessionKind::kSsh, false, "10.0.0.3", 50},
                   {"carol", SessionKind::kSsh, false, "10.0.0.4", 40}});
  int env_calls = 0;
  auto env = [&] {
    ++env_calls;
    return std::string("10.0.0.9");
  };
  EXPECT_EQ(tmuxClientAddress("alice", ssh, memory, env), "10.0.0.2");  // newest live ssh
  EXPECT_EQ(tmuxClientAddress("carol", ssh, memory, env), "10.0.0.3");  // remembered, newest
  EXPECT_EQ(env_calls, 0);  // the command only runs when nothing better is known
  EXPECT_EQ(tmuxClientAddress("bob", ssh, memory, env), "10.0.0.9");  // tmux environment
  EXPECT_EQ(tmuxClientAddress("dave", ssh, memory, [] { return std::string(); }), "-");
}

TEST(AgentInventory, ClientMemoryIsBounded) {
  ClientMemory memory;
  for (size_t i = 0; i < ClientMemory::kCapacity + 10; ++i) {
    memory.remember({{"u" + std::to_string(i), SessionKind::kSsh, false, "10.0.0.1",
                      static_cast<int64_t>(i + 1)}});
  }
  EXPECT_FALSE(memory.lookup("u0").has_value());  // the oldest were forgotten
  EXPECT_TRUE(memory.lookup("u" + std::to_string(ClientMemory::kCapacity + 9)).has_value());
}

TEST(AgentInventory, CountSessions) {
  AgentReport r;
  r.sessions = {{"a", SessionKind::kSsh, false, "-", 0},
                {"a", SessionKind::kTmux, true, "-", 0},
                {"b", SessionKind::kX2go, true, "-", 0}};
  countSessions(r);
  EXPECT_EQ(r.sessions_running, 1u);
  EXPECT_EQ(r.sessions_suspended, 2u);
}

TEST(AgentInventory, SshSessionsOfTheNodesOwnAddressesOnly) {
  auto sockets = parseProcNetTcp(kTcp4);
  std::vector<ProcInfo> procs = {
      {100, "sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", 500, {20123}},
      {201, "sshd", "sshd: alice@pts/0", 1005, {30456, 40000}}};
  ASSERT_EQ(sshSessions(procs, sockets).size(), 1u);
  auto own = sshSessions(procs, sockets, {"10.0.0.9", "192.168.1.1"});  // alice came to .1.1
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0].client_address, "192.168.1.5");
  EXPECT_TRUE(sshSessions(procs, sockets, {"203.0.113.77"}).empty());  // another node's
}

TEST(AgentInventory, SshConnectionFields) {
  std::string env = "SSH_CONNECTION=::ffff:10.9.8.7 50000 10.0.0.2 22\n";
  EXPECT_EQ(parseSshConnection(env), "10.9.8.7");
  EXPECT_EQ(parseSshConnectionServer(env), "10.0.0.2");
  EXPECT_EQ(parseSshConnectionServer("SSH_CONNECTION=10.9.8.7 50000\n"), "");
  EXPECT_EQ(parseSshConnectionServer("-SSH_CONNECTION\n"), "");  // unset in the session
  EXPECT_EQ(parseSshConnectionServer("SSH_CONNECTION=a b not-an-ip 22\n"), "");
}

// One desktop, one session: the ssh connection that carries a running desktop of the same
// user from the same address is its transport; everything else stays.
TEST(AgentInventory, MergeDesktopsCountsADesktopOnce) {
  using K = SessionKind;
  struct Case {
    const char* name;
    std::vector<AgentSession> in;
    size_t kept;
  };
  AgentSession ssh{"alice", K::kSsh, false, "10.0.0.5", 100};
  const Case cases[] = {
      {"ssh + the tmux it attaches", {ssh, {"alice", K::kTmux, false, "10.0.0.5", 50}}, 1},
      {"ssh + x2go running over it", {ssh, {"alice", K::kX2go, false, "10.0.0.5", 90}}, 1},
      {"ssh next to a detached tmux", {ssh, {"alice", K::kTmux, true, "10.0.0.5", 50}}, 2},
      {"two ssh, one desktop", {ssh, ssh, {"alice", K::kTmux, false, "10.0.0.5", 50}}, 2},
      {"another address", {ssh, {"alice", K::kTmux, false, "10.0.0.6", 50}}, 2},
      {"another user", {ssh, {"bob", K::kTmux, false, "10.0.0.5", 50}}, 2},
      {"unknown address",
       {{"alice", K::kSsh, false, "-", 1}, {"alice", K::kTmux, false, "-", 1}},
       2},
      {"two desktops, two carriers",
       {ssh,
        ssh,
        {"alice", K::kTmux, false, "10.0.0.5", 50},
        {"alice", K::kX2go, false, "10.0.0.5", 60}},
       2},
  };
  for (const auto& c : cases) {
    auto v = c.in;
    mergeDesktops(v);
    EXPECT_EQ(v.size(), c.kept) << c.name;
    AgentReport r;
    r.sessions = v;
    countSessions(r);
    EXPECT_EQ(r.sessions_running + r.sessions_suspended, c.kept) << c.name;
  }
  std::vector<AgentSession> v = {ssh, {"alice", K::kTmux, false, "10.0.0.5", 50}};
  mergeDesktops(v);
  EXPECT_EQ(v[0].kind, K::kTmux);  // the desktop is what stays
}

}  // namespace
}  // namespace tsd::health
