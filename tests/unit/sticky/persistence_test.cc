// State file: exact format, round trip, and every way a file can be bad (foreign, future
// version, corrupt, truncated) leaving the table unchanged; atomic save and bounded read.
#include "sticky/persistence.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace tsd::sticky {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using TimePoint = StickyTable::TimePoint;

const TimePoint t0 = TimePoint(milliseconds(1767225600000));  // 2026-01-01T00:00:00Z
const auto kTtl = hours(8);

Identity id(const std::string& s) { return Identity{s}; }

// A table with one of each kind of entry.
void fill(StickyTable& t) {
  t.assign(id("10.1.2.0/24"), "node-a", t0 - hours(1));
  t.assign(id("2001:db8::/64"), "node b%2", t0 - hours(2));  // needs escaping
  t.assign(id("10.0.0.9/32"), "node-a", t0 - hours(3));
  t.connectionOpened(id("10.0.0.9/32"));
  t.pin(id("sni:desk.example.org"), "node-c", std::nullopt);
  t.pin(id("10.0.0.7/32"), "node-c", t0 + hours(1));
}

TEST(PersistenceTest, ExactFormat) {
  StickyTable t(10, kTtl);
  fill(t);
  EXPECT_EQ(serialize(t, t0),
            "tsdirector-sticky 1\n"
            "# identity node expires-unix-ms flag(s=sticky,p=pinned)\n"
            "10.0.0.7/32 node-c 1767229200000 p\n"
            "10.0.0.9/32 node-a 1767254400000 s\n"  // live: now + ttl
            "10.1.2.0/24 node-a 1767250800000 s\n"
            "2001:db8::/64 node%20b%252 1767247200000 s\n"
            "sni:desk.example.org node-c - p\n"
            "end 5\n");
}

TEST(PersistenceTest, RoundTrip) {
  StickyTable t(10, kTtl);
  fill(t);
  const std::string data = serialize(t, t0);
  StickyTable back(10, kTtl);
  auto n = restore(back, data, t0);
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(serialize(back, t0), data);
  EXPECT_EQ(back.lookup(id("2001:db8::/64"), t0), "node b%2");
  auto e = back.entries(t0);
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[1].identity.key, "10.0.0.9/32");
  EXPECT_EQ(e[1].connections, 0u);  // connections do not survive a restart
  EXPECT_EQ(e[1].expires, t0 + kTtl);
}

TEST(PersistenceTest, RestoreDropsExpiredAndFilteredEntries) {
  StickyTable t(10, kTtl);
  fill(t);
  const std::string data = serialize(t, t0);
  StickyTable later(10, kTtl);
  // 6h30 later: 2001:db8::/64 (expires at +6h) is gone, the pin on 10.0.0.7 has lapsed
  // (ordinary entry until +9h).
  auto n = restore(later, data, t0 + hours(6) + std::chrono::minutes(30));
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 4u);
  EXPECT_FALSE(later.contains(id("2001:db8::/64")));
  auto e = later.entries(t0 + hours(6) + std::chrono::minutes(30));
  ASSERT_EQ(e.size(), 4u);
  EXPECT_FALSE(e[0].pinned);
  EXPECT_EQ(e[0].expires, t0 + hours(9));

  StickyTable filtered(10, kTtl);
  auto m = restore(filtered, data, t0, [](std::string_view node) { return node != "node-c"; });
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, 3u);
  EXPECT_FALSE(filtered.contains(id("sni:desk.example.org")));
}

TEST(PersistenceTest, ExistingEntriesWin) {
  StickyTable t(10, kTtl);
  fill(t);
  const std::string data = serialize(t, t0);
  StickyTable now(10, kTtl);
  now.assign(id("10.1.2.0/24"), "node-z", t0);
  auto n = restore(now, data, t0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(now.lookup(id("10.1.2.0/24"), t0), "node-z");
}

TEST(PersistenceTest, RestoreKeepsRecencyForEviction) {
  StickyTable t(10, kTtl);
  for (int i = 0; i < 5; ++i) {
    t.assign(id("10.0.0." + std::to_string(i) + "/32"), "n", t0 + std::chrono::minutes(i));
  }
  StickyTable small(2, kTtl);
  ASSERT_TRUE(restore(small, serialize(t, t0 + hours(1)), t0 + hours(1)).ok());
  EXPECT_TRUE(small.contains(id("10.0.0.3/32")));
  EXPECT_TRUE(small.contains(id("10.0.0.4/32")));
  EXPECT_EQ(small.size(), 2u);
}

struct BadFile {
  const char* what;
  std::string data;
  const char* message;  // substring of the error
};

TEST(PersistenceTest, BadFilesAreRefusedAndChangeNothing) {
  const std::string head = "tsdirector-sticky 1\n";
  const std::string ok = "10.1.2.0/24 n 1767250800000 s\n";
  const BadFile cases[] = {
      {"empty", "", "empty"},
      {"foreign", "[director]\nalgorithm = p2c\n", "not a tsdirector sticky state file"},
      {"binary",
       std::string("\x7f"
                   "ELF\x02\x01\x01\n",
                   8),
       "not a tsdirector"},
      {"future version", "tsdirector-sticky 2\nwhatever new\nend 1\n",
       "state file format version 2 is newer than this tsdirector (1)"},
      {"version zero", "tsdirector-sticky 0\nend 0\n", "bad format version"},
      {"version junk", "tsdirector-sticky one\nend 0\n", "bad format version"},
      {"no final newline", head + "end 0", "truncated"},
      {"no end line", head + ok, "no end line"},
      {"count mismatch", head + ok + "end 2\n", "count"},
      {"data after end", head + "end 0\n" + ok, "after the end"},
      {"blank line", head + "\n" + "end 0\n", "line 2"},
      {"three fields", head + "10.1.2.0/24 n 1767250800000\nend 1\n", "4 fields"},
      {"double space", head + "10.1.2.0/24  n 1767250800000 s\nend 1\n", "line 2"},
      {"tab separated", head + "10.1.2.0/24\tn\t1767250800000\ts\nend 1\n", "line 2"},
      {"bad identity", head + "10.1.2.3/24 n 1767250800000 s\nend 1\n", "bad identity"},
      {"bad escape", head + "10.1.2.0/24 n%G1 1767250800000 s\nend 1\n", "bad node"},
      {"short escape", head + "10.1.2.0/24 n%4 1767250800000 s\nend 1\n", "bad node"},
      {"bad expiry", head + "10.1.2.0/24 n 17672x0800000 s\nend 1\n", "bad expiry"},
      {"negative expiry", head + "10.1.2.0/24 n -5 s\nend 1\n", "bad expiry"},
      {"huge expiry", head + "10.1.2.0/24 n 99999999999999999 s\nend 1\n", "bad expiry"},
      {"sticky without expiry", head + "10.1.2.0/24 n - s\nend 1\n", "needs an expiry"},
      {"bad flag", head + "10.1.2.0/24 n 1767250800000 x\nend 1\n", "flag"},
      {"duplicate", head + ok + ok + "end 2\n", "twice"},
  };
  for (const auto& c : cases) {
    StickyTable t(10, kTtl);
    t.assign(id("10.9.9.0/24"), "keep", t0);
    const std::string before = serialize(t, t0);
    auto r = restore(t, c.data, t0);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(r.error().find(c.message), std::string::npos) << c.what << ": " << r.error();
    EXPECT_EQ(serialize(t, t0), before) << c.what;
  }
}

TEST(PersistenceTest, EveryTruncationIsRefused) {
  StickyTable t(10, kTtl);
  fill(t);
  const std::string data = serialize(t, t0);
  for (size_t n = 0; n < data.size(); ++n) {
    StickyTable back(10, kTtl);
    EXPECT_FALSE(restore(back, data.substr(0, n), t0).ok()) << n;
    EXPECT_EQ(back.size(), 0u) << n;
  }
}

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tsd-sticky-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(StateFileTest, SaveAndReadBack) {
  const std::string path = dir_ + "/" + std::string(kStateFileName);
  ASSERT_TRUE(saveAtomically(path, "first\n").ok());
  ASSERT_TRUE(saveAtomically(path, "second\n").ok());
  auto data = readFile(path, 1024);
  ASSERT_TRUE(data.ok()) << data.error();
  EXPECT_EQ(*data, "second\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);  // no temporary left behind
}

TEST_F(StateFileTest, ReadErrors) {
  auto missing = readFile(dir_ + "/nope", 1024);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("No such file or directory"), std::string::npos);
  const std::string path = dir_ + "/big";
  ASSERT_TRUE(saveAtomically(path, std::string(5000, 'x')).ok());
  EXPECT_TRUE(readFile(path, 5000).ok());
  auto big = readFile(path, 4999);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().find("larger than 4999"), std::string::npos);
}

TEST_F(StateFileTest, SaveIntoMissingDirectoryFails) {
  auto st = saveAtomically(dir_ + "/no/such/dir/state", "x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("cannot create"), std::string::npos);
}

TEST_F(StateFileTest, FullCycleThroughTheFile) {
  StickyTable t(10, kTtl);
  fill(t);
  const std::string path = dir_ + "/" + std::string(kStateFileName);
  ASSERT_TRUE(saveAtomically(path, serialize(t, t0)).ok());
  auto data = readFile(path, kMaxStateFileBytes);
  ASSERT_TRUE(data.ok());
  StickyTable back(10, kTtl);
  auto n = restore(back, *data, t0);
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 5u);
}

}  // namespace
}  // namespace tsd::sticky
