// Parsing a valid file: every key lands in its field, absent keys keep their defaults, the
// examples under conf/ load, and the snapshot's lookups work.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "conf/config.h"
#include "conf/parser_detail.h"

namespace tsd::conf {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Every key set to a value that differs from its default.
constexpr const char* kFull = R"(; every key, none at its default
[director]
algorithm = p2c
fast_path = userspace
connect_timeout = 1500ms
connect_attempts = 5
max_connections = 20000
transparent = yes
state_dir = /srv/tsd/state
user = tsdirector
idle_timeout = 12h
stop_grace = 30s
buffer_size = 128k
demote_bytes = 8M
promote_after = 500ms

[service ssh]
listen = 0.0.0.0:22, [::]:22
port = 2022
algorithm = hash
check = agent
sticky_key = sni
wrong_node = bounce

[node n1]
address = [fd00::1]:2201
weight = 7
max_sessions = 40
state = drain
manual_listen = 10.0.0.5:2201

[sticky]
ipv4_prefix = 24
ipv6_prefix = 56
ttl = 2h
capacity = 5000
wrong_node = keep
bounce_window = 3s
bounce_ttl = 2m

[health]
interval = 3s
fast_interval = 250ms
down_interval = 10s
timeout = 800ms
rise = 4
fall = 5
max_load = 1.5
max_swap_in = 50.5
slow_response = 750ms
slowstart = 30s

[agent]
port = 7900
key_file = /etc/tsdirector/agent.key
poll = 2s
timeout = 750ms
max_age = 20s

[metrics]
listen = [::1]:9200

[admin]
socket = /run/tsd/admin.sock
)";

TEST(ParseConfig, EveryKeyNonDefault) {
  auto r = parseConfig(kFull, "full.ini");
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = **r;
  EXPECT_EQ(c.path, "full.ini");
  EXPECT_EQ(c.director.algorithm, Algorithm::kP2c);
  EXPECT_EQ(c.director.fast_path, FastPath::kUserspace);
  EXPECT_EQ(c.director.connect_timeout, milliseconds(1500));
  EXPECT_EQ(c.director.connect_attempts, 5);
  EXPECT_EQ(c.director.max_connections, 20000);
  EXPECT_TRUE(c.director.transparent);
  EXPECT_EQ(c.director.state_dir, "/srv/tsd/state");
  EXPECT_EQ(c.director.user, "tsdirector");
  EXPECT_EQ(c.director.idle_timeout, hours(12));
  EXPECT_EQ(c.director.stop_grace, std::chrono::seconds(30));
  EXPECT_EQ(c.director.buffer_size, 128u << 10);
  EXPECT_EQ(c.director.demote_bytes, 8u << 20);
  EXPECT_EQ(c.director.promote_after, std::chrono::milliseconds(500));

  ASSERT_EQ(c.services.size(), 1u);
  const ServiceConfig& s = c.services[0];
  EXPECT_EQ(s.name, "ssh");
  EXPECT_EQ(s.line, 17);
  ASSERT_EQ(s.listen.size(), 2u);
  EXPECT_EQ(s.listen[0].toString(), "0.0.0.0:22");
  EXPECT_EQ(s.listen[1].toString(), "[::]:22");
  EXPECT_EQ(s.port, 2022);
  EXPECT_EQ(s.algorithm, Algorithm::kHash);
  EXPECT_EQ(c.algorithmFor(s), Algorithm::kHash);
  EXPECT_EQ(s.check, CheckKind::kAgent);
  EXPECT_EQ(s.sticky_key, StickyKey::kSni);
  EXPECT_EQ(s.wrong_node, WrongNode::kBounce);
  EXPECT_EQ(c.wrongNodeFor(s), WrongNode::kBounce);

  ASSERT_EQ(c.nodes.size(), 1u);
  const NodeConfig& n = c.nodes[0];
  EXPECT_EQ(n.name, "n1");
  EXPECT_EQ(n.line, 25);
  EXPECT_EQ(n.host, "fd00::1");
  EXPECT_EQ(n.port, std::optional<uint16_t>(2201));
  EXPECT_EQ(n.weight, 7);
  EXPECT_EQ(n.max_sessions, 40);
  EXPECT_EQ(n.state, NodeState::kDrain);
  ASSERT_TRUE(n.manual_listen.has_value());
  EXPECT_EQ(n.manual_listen->toString(), "10.0.0.5:2201");
  EXPECT_EQ(n.addressFor(s).toString(), "[fd00::1]:2201");

  EXPECT_EQ(c.sticky.ipv4_prefix, 24);
  EXPECT_EQ(c.sticky.ipv6_prefix, 56);
  EXPECT_EQ(c.sticky.ttl, hours(2));
  EXPECT_EQ(c.sticky.capacity, 5000u);
  EXPECT_EQ(c.sticky.wrong_node, WrongNode::kKeep);
  EXPECT_EQ(c.sticky.bounce_window, seconds(3));
  EXPECT_EQ(c.sticky.bounce_ttl, std::chrono::minutes(2));

  EXPECT_EQ(c.health.interval, seconds(3));
  EXPECT_EQ(c.health.fast_interval, milliseconds(250));
  EXPECT_EQ(c.health.down_interval, seconds(10));
  EXPECT_EQ(c.health.timeout, milliseconds(800));
  EXPECT_EQ(c.health.rise, 4);
  EXPECT_EQ(c.health.fall, 5);
  EXPECT_DOUBLE_EQ(c.health.max_load, 1.5);
  EXPECT_DOUBLE_EQ(c.health.max_swap_in, 50.5);
  EXPECT_EQ(c.health.slow_response, milliseconds(750));
  EXPECT_EQ(c.health.slowstart, seconds(30));

  EXPECT_EQ(c.agent.port, 7900);
  EXPECT_EQ(c.agent.key_file, "/etc/tsdirector/agent.key");
  EXPECT_EQ(c.agent.poll, seconds(2));
  EXPECT_EQ(c.agent.timeout, milliseconds(750));
  EXPECT_EQ(c.agent.max_age, seconds(20));

  ASSERT_TRUE(c.metrics.listen.has_value());
  EXPECT_EQ(c.metrics.listen->toString(), "[::1]:9200");
  EXPECT_EQ(c.admin.socket, "/run/tsd/admin.sock");
}

// Guards the test above: a key added to a table must be added to kFull too.
TEST(ParseConfig, FullFileCoversEveryKey) {
  const std::string full = kFull;
  for (std::string_view kind : detail::sectionKinds()) {
    auto keys = detail::keysOf(kind);
    EXPECT_FALSE(keys.empty()) << kind;
    for (std::string_view key : keys) {
      EXPECT_NE(full.find("\n" + std::string(key) + " = "), std::string::npos)
          << kind << "." << key;
    }
  }
}

constexpr const char* kMinimal =
    "[service ssh]\nlisten = 127.0.0.1:2222\n[node a]\naddress = 127.0.0.1\n";

TEST(ParseConfig, DefaultsWhenAbsent) {
  auto r = parseConfig(kMinimal, "min.ini");
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = **r;
  const Config d;  // the struct defaults are the documented defaults
  EXPECT_EQ(c.director.algorithm, Algorithm::kWeightedLeastConn);
  EXPECT_EQ(c.director.fast_path, FastPath::kAuto);
  EXPECT_EQ(c.director.connect_timeout, seconds(3));
  EXPECT_EQ(c.director.connect_attempts, 3);
  EXPECT_EQ(c.director.max_connections, 10000);
  EXPECT_FALSE(c.director.transparent);
  EXPECT_EQ(c.director.state_dir, "/var/lib/tsdirector");
  EXPECT_EQ(c.director.user, "");
  EXPECT_EQ(c.director.idle_timeout, Duration{0});
  EXPECT_EQ(c.director.stop_grace, Duration{0});
  EXPECT_EQ(c.director.buffer_size, 256u << 10);
  EXPECT_EQ(c.director.demote_bytes, 4u << 20);
  EXPECT_EQ(c.director.promote_after, std::chrono::milliseconds(200));
  const ServiceConfig& s = c.services.at(0);
  EXPECT_EQ(s.port, 22);
  EXPECT_FALSE(s.algorithm.has_value());
  EXPECT_EQ(c.algorithmFor(s), Algorithm::kWeightedLeastConn);
  EXPECT_EQ(s.check, CheckKind::kTcp);
  EXPECT_EQ(s.sticky_key, StickyKey::kSrc);
  const NodeConfig& n = c.nodes.at(0);
  EXPECT_FALSE(n.port.has_value());
  EXPECT_EQ(n.addressFor(s).toString(), "127.0.0.1:22");
  EXPECT_EQ(n.weight, 1);
  EXPECT_EQ(n.max_sessions, 0);
  EXPECT_EQ(n.state, NodeState::kActive);
  EXPECT_FALSE(n.manual_listen.has_value());
  EXPECT_EQ(c.sticky.ipv4_prefix, 32);
  EXPECT_EQ(c.sticky.ipv6_prefix, 64);
  EXPECT_EQ(c.sticky.ttl, hours(8));
  EXPECT_EQ(c.sticky.wrong_node, WrongNode::kKeep);  // never resets a connection by default
  EXPECT_EQ(c.sticky.bounce_window, seconds(5));
  EXPECT_EQ(c.sticky.bounce_ttl, seconds(60));
  EXPECT_FALSE(s.wrong_node.has_value());
  EXPECT_EQ(c.wrongNodeFor(s), WrongNode::kKeep);
  EXPECT_EQ(c.sticky.capacity, 100000u);
  EXPECT_EQ(c.health.interval, d.health.interval);
  EXPECT_EQ(c.health.fast_interval, milliseconds(500));
  EXPECT_EQ(c.health.down_interval, seconds(5));
  EXPECT_EQ(c.health.timeout, seconds(1));
  EXPECT_EQ(c.health.rise, 2);
  EXPECT_EQ(c.health.fall, 3);
  EXPECT_DOUBLE_EQ(c.health.max_load, 2.0);
  EXPECT_DOUBLE_EQ(c.health.max_swap_in, 100.0);
  EXPECT_EQ(c.health.slow_response, milliseconds(500));
  EXPECT_EQ(c.health.slowstart, Duration{0});
  EXPECT_EQ(c.agent.port, 7801);
  EXPECT_EQ(c.agent.key_file, "");
  EXPECT_EQ(c.agent.poll, seconds(5));
  EXPECT_EQ(c.agent.timeout, seconds(1));
  EXPECT_EQ(c.agent.pollTimeout(), seconds(1));
  EXPECT_EQ(c.agent.max_age, seconds(30));
  ASSERT_TRUE(c.metrics.listen.has_value());
  EXPECT_EQ(c.metrics.listen->toString(), "127.0.0.1:9108");
  EXPECT_EQ(c.admin.socket, "/run/tsdirector/admin.sock");
}

TEST(ParseConfig, OffValuesAndSyntaxDetails) {
  const std::string text = std::string("\xEF\xBB\xBF") +  // a BOM is skipped
                           "# hash comment\r\n"
                           "[director]   ; inline comment after a header\r\n"
                           "  idle_timeout = off\r\n"
                           "transparent=ON ; inline comment\n"
                           "[ service  ssh ]\n"
                           "listen = 127.0.0.1:2222\t; inline comment after a tab\n"
                           "[node a]\n"
                           "address = ::1\n"
                           "manual_listen = off\n"
                           "[health]\nslowstart = 0\n"
                           "[metrics]\nlisten = off\n"
                           "[admin]\nsocket =\n"
                           "[agent]\nkey_file = /etc/k#1 ;x\n";
  auto r = parseConfig(text, "t.ini");
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = **r;
  EXPECT_EQ(c.director.idle_timeout, Duration{0});
  EXPECT_EQ(c.director.stop_grace, Duration{0});
  EXPECT_TRUE(c.director.transparent);
  EXPECT_EQ(c.services.at(0).name, "ssh");
  EXPECT_EQ(c.services.at(0).line, 5);
  EXPECT_EQ(c.agent.key_file, "/etc/k#1");  // '#' inside a value is not a comment
  EXPECT_EQ(c.nodes.at(0).addressFor(c.services[0]).toString(), "[::1]:22");
  EXPECT_FALSE(c.nodes.at(0).manual_listen.has_value());
  EXPECT_EQ(c.health.slowstart, Duration{0});
  EXPECT_FALSE(c.metrics.listen.has_value());
  EXPECT_EQ(c.admin.socket, "");
}

TEST(ParseConfig, SeveralServicesShareNodes) {
  auto r = parseConfig(
      "[service ssh]\nlisten = [::]:22\n[service nx]\nlisten = [::]:4000\nport = 4000\n"
      "algorithm = least-load\n[node a]\naddress = 10.0.0.1\n[node b]\naddress = 10.0.0.2:2222\n",
      "t.ini");
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = **r;
  const ServiceConfig* nx = c.findService("nx");
  const NodeConfig* a = c.findNode("a");
  const NodeConfig* b = c.findNode("b");
  ASSERT_NE(nx, nullptr);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(c.findService("ssh"), &c.services[0]);
  EXPECT_EQ(c.findService("x"), nullptr);
  EXPECT_EQ(c.findNode("c"), nullptr);
  EXPECT_EQ(a->addressFor(*nx).toString(), "10.0.0.1:4000");
  EXPECT_EQ(a->addressFor(c.services[0]).toString(), "10.0.0.1:22");
  EXPECT_EQ(b->addressFor(*nx).toString(), "10.0.0.2:2222");  // its own port wins
  EXPECT_EQ(c.algorithmFor(*nx), Algorithm::kLeastLoad);
  EXPECT_EQ(c.algorithmFor(c.services[0]), Algorithm::kWeightedLeastConn);
}

// A line may hold 197 bytes and a header 49 between its brackets (libinih's limits); a longer
// list continues on indented lines.
TEST(ParseConfig, LongListsSpanLinesAndLongNamesFit) {
  std::string listen = "listen =";
  for (int p = 2000; p < 2040; ++p) {
    listen += (p % 10 == 0 ? "\n   " : " ") + std::string("127.0.0.1:") + std::to_string(p);
  }
  const std::string name(44, 'n');  // "node " + 44 = 49 bytes
  auto r = parseConfig("[service ssh]\n" + listen + "\n[node " + name + "]\naddress = ::1\n", "t");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ((*r)->services[0].listen.size(), 40u);
  EXPECT_EQ((*r)->nodes[0].name, name);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Examples, DemoLoads) {
  const std::string path = std::string(TSD_SOURCE_DIR) + "/conf/demo.ini";
  auto r = loadConfig(path);
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = **r;
  EXPECT_EQ(c.path, path);
  const ServiceConfig* ssh = c.findService("ssh");
  ASSERT_NE(ssh, nullptr);
  ASSERT_EQ(ssh->listen.size(), 2u);
  EXPECT_EQ(ssh->listen[0].toString(), "127.0.0.1:2222");
  EXPECT_EQ(ssh->listen[1].toString(), "[::1]:2222");
  EXPECT_EQ(ssh->check, CheckKind::kSsh);
  EXPECT_EQ(ssh->sticky_key, StickyKey::kSrc);
  ASSERT_EQ(c.nodes.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const NodeConfig* n = c.findNode("demo" + std::to_string(i + 1));
    ASSERT_NE(n, nullptr);
    // scripts/lab.sh puts node N on 127.0.0.(10+N):2200.
    EXPECT_EQ(n->addressFor(*ssh).toString(), "127.0.0." + std::to_string(11 + i) + ":2200");
  }
  EXPECT_EQ(c.metrics.listen->toString(), "127.0.0.1:9108");
  EXPECT_EQ(c.admin.socket, "/run/tsdirector/demo-admin.sock");
  EXPECT_EQ(c.director.state_dir, "/var/tmp/tsdirector-demo");
  EXPECT_EQ(c.director.fast_path, FastPath::kAuto);
  EXPECT_EQ(c.health.interval, seconds(2));
}

TEST(Examples, DeploymentLoads) {
  auto r = loadConfig(std::string(TSD_SOURCE_DIR) + "/conf/tsdirector.example.ini");
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = **r;
  ASSERT_NE(c.findService("ssh"), nullptr);
  ASSERT_NE(c.findService("nx"), nullptr);
  EXPECT_EQ(c.nodes.size(), 5u);
  EXPECT_TRUE(c.director.transparent);
  EXPECT_EQ(c.director.user, "tsdirector");
  EXPECT_EQ(c.agent.key_file, "/etc/tsdirector/agent.key");
  EXPECT_TRUE(std::any_of(c.nodes.begin(), c.nodes.end(),
                          [](const NodeConfig& n) { return n.manual_listen.has_value(); }));
  EXPECT_TRUE(std::any_of(c.nodes.begin(), c.nodes.end(),
                          [](const NodeConfig& n) { return n.state == NodeState::kDrain; }));
}

// Every accepted key has a row in the reference ("| `key` |").
TEST(Docs, EveryKeyDocumented) {
  const std::string doc = readFile(std::string(TSD_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_FALSE(doc.empty());
  for (std::string_view kind : detail::sectionKinds()) {
    EXPECT_NE(doc.find("[" + std::string(kind)), std::string::npos) << kind;
    for (std::string_view key : detail::keysOf(kind)) {
      EXPECT_NE(doc.find("| `" + std::string(key) + "` |"), std::string::npos)
          << kind << "." << key;
    }
  }
}

}  // namespace
}  // namespace tsd::conf
