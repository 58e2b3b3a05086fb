// Every way a config is rejected, with the exact one-line message ("FILE:LINE: KEY: what").
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "conf/config.h"

namespace tsd::conf {
namespace {

// Four valid lines; snippets appended to it start at line 5.
const std::string kBase =
    "[service ssh]\nlisten = 127.0.0.1:2222\n[node a]\naddress = 127.0.0.1:2201\n";

struct ErrorCase {
  const char* what;
  std::string text;
  std::string message;  // exact
};

const std::string kUnknownSection =
    "unknown section (expected director, service NAME, node NAME, sticky, health, agent, "
    "metrics or admin)";
const std::string kAlgorithms =
    "random, roundrobin, weighted-roundrobin, least-conn, weighted-least-conn, least-load, hash, "
    "p2c";
const std::string kLoop = "it would connect to itself";
const std::string kBadDuration =
    "expected a duration with a unit (ms, s, m, h, d), e.g. 500ms or 2s";

const ErrorCase kCases[] = {
    // Whole file.
    {"empty", "", "t.ini: file is empty"},
    {"blank", " \n\t\n", "t.ini: file is empty"},
    {"no service", "[node a]\naddress = ::1\n",
     "t.ini: no [service NAME] section: nothing to listen on"},
    {"no node", "[service s]\nlisten = [::1]:22\n",
     "t.ini: no [node NAME] section: nowhere to send clients"},
    {"comments only", "; nothing\n# here\n",
     "t.ini: no [service NAME] section: nothing to listen on"},
    // Syntax.
    {"key outside section", "x = 1\n" + kBase,
     "t.ini:1: x: key outside any section (put it under a [SECTION] header)"},
    {"no equals", kBase + "just words\n",
     "t.ini:5: just words: expected 'KEY = VALUE' or '[SECTION]'"},
    {"long line excerpt", kBase + std::string(50, 'w') + "\n",
     "t.ini:5: " + std::string(40, 'w') + "...: expected 'KEY = VALUE' or '[SECTION]'"},
    {"missing key", kBase + "= 5\n", "t.ini:5: = 5: missing key before '='"},
    {"unclosed header", kBase + "[node b\n", "t.ini:5: [node b: section header without ']'"},
    {"control char",
     kBase + "[director]\nuser = a\x01"
             "b\n",
     "t.ini:6: line: control character 0x01 in line"},
    {"nul byte", kBase + std::string("[admin]\nsocket = /a\0b\n", 22),
     "t.ini:6: line: control character 0x00 in line"},
    // Sections.
    {"unknown section", kBase + "[foo]\n", "t.ini:5: [foo]: " + kUnknownSection},
    {"empty header", kBase + "[]\n", "t.ini:5: []: " + kUnknownSection},
    {"capitalised section", kBase + "[Director]\n", "t.ini:5: [Director]: " + kUnknownSection},
    {"service without name", kBase + "[service]\nlisten = [::1]:22\n",
     "t.ini:5: [service]: needs a name: [service NAME]"},
    {"node without name", kBase + "[node]\n", "t.ini:5: [node]: needs a name: [node NAME]"},
    {"director with name", kBase + "[director main]\n",
     "t.ini:5: [director main]: takes no name: write [director]"},
    {"bad name", kBase + "[node a/b]\n",
     "t.ini:5: [node a/b]: bad name: use 1 to 64 of A-Z a-z 0-9 _ . -"},
    {"name with space", kBase + "[node a b]\n",
     "t.ini:5: [node a b]: bad name: use 1 to 64 of A-Z a-z 0-9 _ . -"},
    {"name too long", kBase + "[node " + std::string(45, 'x') + "]\n",
     "t.ini:5: [node " + std::string(34, 'x') +
         "...: section header longer than 49 bytes between the brackets (libinih's limit)"},
    {"duplicate node", kBase + "[node a]\naddress = 10.0.0.1\n",
     "t.ini:5: [node a]: section repeated (first at line 3)"},
    {"duplicate director", "[director]\n[director]\n" + kBase,
     "t.ini:2: [director]: section repeated (first at line 1)"},
    {"service without listen", kBase + "[service nx]\nport = 4000\n",
     "t.ini:5: [service nx]: missing listen = ADDR:PORT"},
    {"node without address", kBase + "[node b]\nweight = 2\n",
     "t.ini:5: [node b]: missing address = HOST[:PORT]"},
    // Keys.
    {"typo", kBase + "[director]\nconect_timeout = 3s\n",
     "t.ini:6: conect_timeout: unknown key in [director] (did you mean 'connect_timeout'?)"},
    {"unknown key", kBase + "[director]\nbogus = 1\n", "t.ini:6: bogus: unknown key in [director]"},
    {"key in wrong section", kBase + "[health]\nport = 1\n",
     "t.ini:6: port: unknown key in [health]"},
    {"unknown node key", "[node a]\naddres = ::1\n",
     "t.ini:2: addres: unknown key in [node a] (did you mean 'address'?)"},
    {"duplicate key", kBase + "[director]\nconnect_attempts = 2\nconnect_attempts = 3\n",
     "t.ini:7: connect_attempts: set twice in [director] (first at line 6)"},
    {"duplicate key in node", "[node a]\naddress = ::1\naddress = ::2\n",
     "t.ini:3: address: set twice in [node a] (first at line 2)"},
    // Values.
    {"unitless duration", kBase + "[director]\nconnect_timeout = 3\n",
     "t.ini:6: connect_timeout: " + kBadDuration + ", got '3'"},
    {"duration too long", kBase + "[director]\nconnect_timeout = 10m\n",
     "t.ini:6: connect_timeout: must be from 10ms to 5m, got '10m'"},
    {"zero duration", kBase + "[sticky]\nttl = 0\n",
     "t.ini:6: ttl: must be from 1s to 30d, got '0'"},
    {"off duration", kBase + "[sticky]\nttl = off\n",
     "t.ini:6: ttl: " + kBadDuration + ", got 'off'"},
    {"idle too short", kBase + "[director]\nidle_timeout = 500ms\n",
     "t.ini:6: idle_timeout: must be from 1s to 365d (or 0/off), got '500ms'"},
    {"int too big", kBase + "[director]\nconnect_attempts = 17\n",
     "t.ini:6: connect_attempts: expected an integer from 1 to 16, got '17'"},
    {"int zero", kBase + "[director]\nconnect_attempts = 0\n",
     "t.ini:6: connect_attempts: expected an integer from 1 to 16, got '0'"},
    {"int junk", kBase + "[director]\nmax_connections = 10k\n",
     "t.ini:6: max_connections: expected an integer from 1 to 10000000, got '10k'"},
    {"int empty", kBase + "[director]\nmax_connections =\n",
     "t.ini:6: max_connections: expected an integer from 1 to 10000000, got ''"},
    {"weight", "[node a]\nweight = 1001\n",
     "t.ini:2: weight: expected an integer from 0 to 1000, got '1001'"},
    {"negative weight", "[node a]\nweight = -1\n",
     "t.ini:2: weight: expected an integer from 0 to 1000, got '-1'"},
    {"max_sessions", "[node a]\nmax_sessions = 1000001\n",
     "t.ini:2: max_sessions: expected an integer from 0 to 1000000, got '1000001'"},
    {"ipv4_prefix", kBase + "[sticky]\nipv4_prefix = 33\n",
     "t.ini:6: ipv4_prefix: expected an integer from 1 to 32, got '33'"},
    {"ipv6_prefix", kBase + "[sticky]\nipv6_prefix = 0\n",
     "t.ini:6: ipv6_prefix: expected an integer from 1 to 128, got '0'"},
    {"capacity", kBase + "[sticky]\ncapacity = 0\n",
     "t.ini:6: capacity: expected an integer from 1 to 100000000, got '0'"},
    {"rise", kBase + "[health]\nrise = 101\n",
     "t.ini:6: rise: expected an integer from 1 to 100, got '101'"},
    {"fall", kBase + "[health]\nfall = 0\n",
     "t.ini:6: fall: expected an integer from 1 to 100, got '0'"},
    {"service port", kBase + "[service nx]\nport = 0\n",
     "t.ini:6: port: expected an integer from 1 to 65535, got '0'"},
    {"agent port", kBase + "[agent]\nport = 65536\n",
     "t.ini:6: port: expected an integer from 1 to 65535, got '65536'"},
    {"bool", kBase + "[director]\ntransparent = maybe\n",
     "t.ini:6: transparent: expected yes/no, true/false, on/off or 1/0, got 'maybe'"},
    {"algorithm", kBase + "[director]\nalgorithm = fastest\n",
     "t.ini:6: algorithm: expected one of " + kAlgorithms + ", got 'fastest'"},
    {"service algorithm", "[service s]\nalgorithm = RoundRobin\n",
     "t.ini:2: algorithm: expected one of " + kAlgorithms + ", got 'RoundRobin'"},
    {"fast_path", kBase + "[director]\nfast_path = bpf\n",
     "t.ini:6: fast_path: expected one of auto, ebpf, userspace, got 'bpf'"},
    {"check", "[service s]\ncheck = http\n",
     "t.ini:2: check: expected one of none, tcp, ssh, agent, got 'http'"},
    {"sticky_key", "[service s]\nsticky_key = user\n",
     "t.ini:2: sticky_key: expected one of src, sni, none, got 'user'"},
    {"service wrong_node", "[service s]\nwrong_node = reset\n",
     "t.ini:2: wrong_node: expected one of keep, bounce, got 'reset'"},
    {"sticky wrong_node", kBase + "[sticky]\nwrong_node = Bounce\n",
     "t.ini:6: wrong_node: expected one of keep, bounce, got 'Bounce'"},
    {"bounce_window too short", kBase + "[sticky]\nbounce_window = 100ms\n",
     "t.ini:6: bounce_window: must be from 500ms to 1m, got '100ms'"},
    {"bounce_ttl unitless", kBase + "[sticky]\nbounce_ttl = 30\n",
     "t.ini:6: bounce_ttl: expected a duration with a unit (ms, s, m, h, d), e.g. 500ms or 2s, "
     "got '30'"},
    {"state", "[node a]\nstate = drained\n",
     "t.ini:2: state: expected one of active, drain, maint, got 'drained'"},
    {"buffer too small", kBase + "[director]\nbuffer_size = 8k\n",
     "t.ini:6: buffer_size: must be from 16k to 4M, got '8k'"},
    {"buffer junk", kBase + "[director]\nbuffer_size = 64KB\n",
     "t.ini:6: buffer_size: expected a size in bytes with an optional k, M or G suffix, got "
     "'64KB'"},
    {"demote_bytes", kBase + "[director]\ndemote_bytes = 2G\n",
     "t.ini:6: demote_bytes: must be from 64k to 1G, got '2G'"},
    {"max_load zero", kBase + "[health]\nmax_load = 0\n",
     "t.ini:6: max_load: expected a number above 0 and at most 1000, got '0'"},
    {"max_load nan", kBase + "[health]\nmax_load = nan\n",
     "t.ini:6: max_load: expected a number above 0 and at most 1000, got 'nan'"},
    {"max_swap_in", kBase + "[health]\nmax_swap_in = -5\n",
     "t.ini:6: max_swap_in: expected a number above 0 and at most 1000000000, got '-5'"},
    {"relative state_dir", kBase + "[director]\nstate_dir = var/lib/tsd\n",
     "t.ini:6: state_dir: expected an absolute path, got 'var/lib/tsd'"},
    {"empty state_dir", kBase + "[director]\nstate_dir =\n",
     "t.ini:6: state_dir: expected an absolute path, got ''"},
    {"relative key_file", kBase + "[agent]\nkey_file = agent.key\n",
     "t.ini:6: key_file: expected an absolute path, got 'agent.key'"},
    {"user", kBase + "[director]\nuser = -root\n",
     "t.ini:6: user: expected a user name (A-Z a-z 0-9 _ . -, up to 32), got '-root'"},
    {"relative admin socket", kBase + "[admin]\nsocket = admin.sock\n",
     "t.ini:6: socket: expected an absolute path or off, got 'admin.sock'"},
    {"admin socket too long", kBase + "[admin]\nsocket = /" + std::string(107, 's') + "\n",
     "t.ini:6: socket: path longer than 107 bytes (the unix socket limit)"},
    // Addresses.
    {"listen without port", "[service s]\nlisten = 127.0.0.1\n",
     "t.ini:2: listen: '127.0.0.1' has no port (use HOST:PORT or [V6]:PORT)"},
    // Quotes are never part of INI syntax here; say so instead of "bad port '2299\"'".
    {"quoted listen", "[service s]\nlisten = \"127.0.0.1:2299\"\n",
     "t.ini:2: listen: values are not quoted: write 'listen = 127.0.0.1:2299'"},
    {"single-quoted path", kBase + "[admin]\nsocket = '/run/x.sock'\n",
     "t.ini:6: socket: values are not quoted: write 'socket = /run/x.sock'"},
    {"quote at the end only", "[director]\nalgorithm = hash\"\n",
     "t.ini:2: algorithm: values are not quoted: write 'algorithm = hash'"},
    {"listen bad port", "[service s]\nlisten = 127.0.0.1:70000\n",
     "t.ini:2: listen: bad port '70000' (1-65535)"},
    {"listen host name", "[service s]\nlisten = localhost:22\n",
     "t.ini:2: listen: 'localhost' is not an IPv4 or IPv6 address"},
    {"listen v6 unbracketed", "[service s]\nlisten = ::1:22\n",
     "t.ini:2: listen: '::1:22' has no port (use HOST:PORT or [V6]:PORT)"},
    {"listen empty", "[service s]\nlisten =\n",
     "t.ini:2: listen: expected one or more ADDR:PORT (e.g. 0.0.0.0:22, [::]:22)"},
    {"listen twice in list", "[service s]\nlisten = [::1]:22, [::1]:22\n",
     "t.ini:2: listen: [::1]:22 is listed twice"},
    {"node address name", "[node a]\naddress = desk1.example\n",
     "t.ini:2: address: 'desk1.example' is not an IPv4 or IPv6 address"},
    {"node address bad port", "[node a]\naddress = 10.0.0.1:0\n",
     "t.ini:2: address: bad port '0' (1-65535)"},
    {"node address empty", "[node a]\naddress =\n", "t.ini:2: address: empty address"},
    {"metrics no port", kBase + "[metrics]\nlisten = 127.0.0.1\n",
     "t.ini:6: listen: '127.0.0.1' has no port (use HOST:PORT or [V6]:PORT)"},
    {"manual_listen no port", "[node a]\nmanual_listen = 10.0.0.1\n",
     "t.ini:2: manual_listen: '10.0.0.1' has no port (use HOST:PORT or [V6]:PORT)"},
    // Conflicts between sections.
    {"listen reused", kBase + "[service nx]\nlisten = 127.0.0.1:2222\n",
     "t.ini:6: listen: 127.0.0.1:2222 is also used by [service ssh] (line 2)"},
    {"listen overlaps wildcard", kBase + "[service nx]\nlisten = 0.0.0.0:2222\n",
     "t.ini:6: listen: 0.0.0.0:2222 overlaps 127.0.0.1:2222 of [service ssh] (line 2)"},
    {"manual_listen reused", kBase + "[node b]\naddress = ::1\nmanual_listen = 127.0.0.1:2222\n",
     "t.ini:7: manual_listen: 127.0.0.1:2222 is also used by [service ssh] (line 2)"},
    {"metrics default reused", kBase + "[service m]\nlisten = 127.0.0.1:9108\n",
     "t.ini:6: listen: 127.0.0.1:9108 is also used by [metrics] (its default)"},
    {"metrics reused", kBase + "[metrics]\nlisten = 127.0.0.1:2222\n",
     "t.ini:6: listen: 127.0.0.1:2222 is also used by [service ssh] (line 2)"},
    {"same node address", kBase + "[node b]\naddress = 127.0.0.1:2201\n",
     "t.ini:6: address: 127.0.0.1:2201 is also the address of [node a] (line 3) for [service ssh]"},
    {"same address via service port",
     "[service s]\nlisten = [::1]:22\nport = 2201\n[node a]\naddress = ::1\n[node b]\n"
     "address = [::1]:2201\n",
     "t.ini:7: address: [::1]:2201 is also the address of [node a] (line 4) for [service s]"},
    // A node at one of the director's own listeners: every connection would loop back in.
    {"node is a listener", kBase + "[node b]\naddress = 127.0.0.1:2222\n",
     "t.ini:6: address: 127.0.0.1:2222 is the director's own listener (listen of [service ssh], "
     "line 2): " +
         kLoop},
    {"node is a listener of another service",
     kBase + "[service nx]\nlisten = 127.0.0.1:4000\nport = 4000\n[node b]\naddress = 127.0.0.1\n",
     "t.ini:9: address: 127.0.0.1:4000 (port of [service nx]) is the director's own listener "
     "(listen of [service nx], line 6): " +
         kLoop},
    {"node is a manual_listen",
     kBase + "[node b]\naddress = 10.0.0.1\nmanual_listen = 127.0.0.1:2300\n[node c]\n"
             "address = 127.0.0.1:2300\n",
     "t.ini:9: address: 127.0.0.1:2300 is the director's own listener (manual_listen of [node b], "
     "line 7): " +
         kLoop},
    {"node on a wildcard listener",
     "[service s]\nlisten = 0.0.0.0:2222\n[node a]\naddress = 127.0.0.1:2222\n",
     "t.ini:4: address: 127.0.0.1:2222 reaches the director's own listener 0.0.0.0:2222 (listen of "
     "[service s], line 2): " +
         kLoop},
    {"any of 127/8 on a wildcard listener",
     "[service s]\nlisten = 0.0.0.0:2222\n[node a]\naddress = 127.1.2.3:2222\n",
     "t.ini:4: address: 127.1.2.3:2222 reaches the director's own listener 0.0.0.0:2222 (listen of "
     "[service s], line 2): " +
         kLoop},
    {"v6 loopback on a v6 wildcard listener",
     "[service s]\nlisten = [::]:22\n[node a]\naddress = 10.0.0.1\n[node b]\naddress = ::1\n",
     "t.ini:6: address: [::1]:22 (port of [service s]) reaches the director's own listener [::]:22 "
     "(listen of [service s], line 2): " +
         kLoop},
    {"wildcard node on a wildcard listener",
     "[service s]\nlisten = [::]:2222\n[node a]\naddress = [::]:2222\n",
     "t.ini:4: address: [::]:2222 is the director's own listener (listen of [service s], line "
     "2): " +
         kLoop},
    {"wildcard node reaches loopback listener",
     "[service s]\nlisten = 127.0.0.1:2222\n[node a]\naddress = 0.0.0.0:2222\n",
     "t.ini:4: address: 0.0.0.0:2222 reaches the director's own listener 127.0.0.1:2222 (listen of "
     "[service s], line 2): " +
         kLoop},
    {"v4-mapped node on a v4 listener", kBase + "[node b]\naddress = [::ffff:127.0.0.1]:2222\n",
     "t.ini:6: address: [::ffff:127.0.0.1]:2222 reaches the director's own listener "
     "127.0.0.1:2222 (listen of [service ssh], line 2): " +
         kLoop},
    // Dependencies and timing.
    {"agent check without key",
     "[service s]\nlisten = [::1]:22\ncheck = agent\n[node a]\naddress = [::1]:2201\n",
     "t.ini:3: check: 'agent' needs key_file in [agent] (the key agents authenticate with)"},
    {"timeout not below interval", kBase + "[health]\ninterval = 1s\n",
     "t.ini:6: interval: health timeout (1s) must be shorter than interval (1s)"},
    {"timeout set later", kBase + "[health]\ninterval = 2s\ntimeout = 3s\n",
     "t.ini:7: timeout: health timeout (3s) must be shorter than interval (2s)"},
    {"timeout vs down_interval", kBase + "[health]\ndown_interval = 500ms\n",
     "t.ini:6: down_interval: health timeout (1s) must be shorter than down_interval (500ms)"},
    {"fast_interval above interval", kBase + "[health]\nfast_interval = 3s\n",
     "t.ini:6: fast_interval: fast_interval (3s) must not be longer than interval (2s)"},
    {"max_age not above poll", kBase + "[agent]\npoll = 30s\n",
     "t.ini:6: poll: max_age (30s) must be longer than poll (30s)"},
    {"agent timeout above poll", kBase + "[agent]\npoll = 2s\ntimeout = 3s\n",
     "t.ini:7: timeout: agent timeout (3s) must not be longer than poll (2s)"},
};

class ConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrors, ExactMessage) {
  const ErrorCase& c = GetParam();
  auto r = parseConfig(c.text, "t.ini");
  ASSERT_FALSE(r.ok()) << c.what << " was accepted";
  EXPECT_EQ(r.error(), c.message) << c.what;
  EXPECT_EQ(r.error().find('\n'), std::string::npos) << "one line";
}

INSTANTIATE_TEST_SUITE_P(Table, ConfigErrors, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           std::string n = info.param.what;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

class LoadConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tsd_conf_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::remove((dir_ + "/f.ini").c_str());
    rmdir(dir_.c_str());
  }
  std::string write(const std::string& text) {
    std::string path = dir_ + "/f.ini";
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(LoadConfigFile, Missing) {
  auto r = loadConfig(dir_ + "/nope.ini");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), dir_ + "/nope.ini: cannot read: No such file or directory");
}

TEST_F(LoadConfigFile, Directory) {
  auto r = loadConfig(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), dir_ + ": not a regular file");
}

TEST_F(LoadConfigFile, Empty) {
  std::string path = write("");
  auto r = loadConfig(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), path + ": file is empty");
}

TEST_F(LoadConfigFile, Unreadable) {
  if (geteuid() == 0) GTEST_SKIP() << "root can read a mode-000 file";
  std::string path = write(kBase);
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  auto r = loadConfig(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), path + ": cannot read: Permission denied");
}

// Runs as root too, unlike the mode-000 case: a path through a regular file.
TEST_F(LoadConfigFile, PathThroughAFile) {
  std::string path = write(kBase);
  auto r = loadConfig(path + "/x.ini");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), path + "/x.ini: cannot read: Not a directory");
}

TEST_F(LoadConfigFile, ErrorNamesThePath) {
  std::string path = write(kBase + "[director]\nconnect_timeout = 3\n");
  auto r = loadConfig(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rfind(path + ":6: connect_timeout: ", 0), 0u) << r.error();
}

TEST_F(LoadConfigFile, Valid) {
  std::string path = write(kBase);
  auto r = loadConfig(path);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ((*r)->path, path);
  EXPECT_EQ((*r)->nodes.at(0).name, "a");
}

// Near misses of the self-connect rule: another address or port, or another family (our IPv6
// listeners are IPv6-only). A wildcard listener's non-loopback host addresses are not known
// when the file is checked, so 10.0.0.1 passes.
TEST(SelfConnect, NearMissesAreAccepted) {
  for (const char* node : {"127.0.0.2:2222", "127.0.0.1:2223", "[::1]:2222", "[::]:2222"}) {
    auto r = parseConfig(kBase + "[node b]\naddress = " + node + "\n", "t.ini");
    EXPECT_TRUE(r.ok()) << node << ": " << r.error();
  }
  for (const char* node : {"[::1]:2222", "10.0.0.1:2222", "10.0.0.1"}) {
    auto r = parseConfig(
        "[service s]\nlisten = 0.0.0.0:2222\n[node a]\naddress = " + std::string(node) + "\n",
        "t.ini");
    EXPECT_TRUE(r.ok()) << node << ": " << r.error();
  }
}

TEST(ParseConfigLimits, TooLarge) {
  std::string big = kBase + std::string(5 << 20, '\n');
  auto r = parseConfig(big, "t.ini");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "t.ini: file is larger than 4 MiB");
}

}  // namespace
}  // namespace tsd::conf
