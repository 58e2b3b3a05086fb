// Consistent hashing: golden tests for how many identities move when nodes leave, join or
// change weight (and that none moves between nodes that stayed), table sizes, stable retries.
#include <gtest/gtest.h>

#include <numeric>

#include "director/scheduler/consistent_hash.h"
#include "tests/unit/scheduler/sched_test_util.h"

namespace tsd::sched {
namespace {

using namespace schedtest;

constexpr int kKeys = 100000;

// Maps kKeys client keys through a hash scheduler over `nodes`; returns node NAMES, since ids
// may be renumbered by a reload.
std::vector<std::string> mapKeys(const NodeSnapshot& nodes) {
  auto s = makeScheduler(Algorithm::kHash, std::make_shared<NodeSnapshot>(nodes), 0);
  std::vector<uint32_t> active;
  std::vector<std::string> out;
  for (int i = 0; i < kKeys; ++i) {
    auto id = s->pick(request(active, {}, clientKey(i)));
    out.push_back(id ? std::string(nodeName(*id)) : "");
  }
  return out;
}

// Counts keys whose node changed, and of those, the ones that moved between two nodes that
// are both in `survivors`.
struct Moves {
  int moved = 0;
  int between_survivors = 0;
};
Moves compare(const std::vector<std::string>& before, const std::vector<std::string>& after,
              const std::string& changed) {
  Moves m;
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] == after[i]) continue;
    ++m.moved;
    if (before[i] != changed && after[i] != changed) ++m.between_survivors;
  }
  return m;
}

NodeSnapshot equalNodes(uint32_t n) { return *snapshotOf(std::vector<Spec>(n)); }

TEST(HashTest, RemovingOneOfTenMovesOnlyItsShare) {
  NodeSnapshot ten = equalNodes(10);
  for (uint32_t gone = 0; gone < 10; ++gone) {
    NodeSnapshot nine = ten;
    nine.nodes.erase(nine.nodes.begin() + gone);
    Moves m = compare(mapKeys(ten), mapKeys(nine), std::string(nodeName(gone)));
    EXPECT_EQ(m.between_survivors, 0) << "removed " << gone;
    EXPECT_GE(m.moved, 0.7 * kKeys / 10) << "removed " << gone;
    EXPECT_LE(m.moved, 1.3 * kKeys / 10) << "removed " << gone;
  }
}

TEST(HashTest, AddingAnEleventhMovesOnlyItsShare) {
  NodeSnapshot ten = equalNodes(10);
  NodeSnapshot eleven = equalNodes(11);
  Moves m = compare(mapKeys(ten), mapKeys(eleven), std::string(nodeName(10)));
  EXPECT_EQ(m.between_survivors, 0);
  EXPECT_GE(m.moved, 0.7 * kKeys / 11);
  EXPECT_LE(m.moved, 1.3 * kKeys / 11);
}

// Effective weights change with agent headroom and slowstart: only that node gains or loses.
TEST(HashTest, ReweightingMovesKeysOnlyToOrFromThatNode) {
  NodeSnapshot before = equalNodes(10);
  NodeSnapshot after = before;
  after.nodes[4].weight = 2.5;
  std::vector<std::string> a = mapKeys(before), b = mapKeys(after);
  Moves m = compare(a, b, std::string(nodeName(4)));
  EXPECT_EQ(m.between_survivors, 0);
  // Node 4's share goes from 1/10 to 2.5/11.5.
  int on4 = static_cast<int>(std::count(b.begin(), b.end(), nodeName(4)));
  EXPECT_NEAR(on4, kKeys * 2.5 / 11.5, kKeys * 2.5 / 11.5 * 0.1);
}

// Node ids are slots in the director's table and may change across reloads; names decide.
TEST(HashTest, RenumberedIdsMapTheSameNames) {
  NodeSnapshot a = equalNodes(8);
  NodeSnapshot b = a;
  for (SchedNode& n : b.nodes) n.id = 100 + (n.id * 5) % 8;
  auto sa = makeScheduler(Algorithm::kHash, std::make_shared<NodeSnapshot>(a), 1);
  auto sb = makeScheduler(Algorithm::kHash, std::make_shared<NodeSnapshot>(b), 2);
  std::vector<uint32_t> active;
  for (int i = 0; i < 5000; ++i) {
    uint32_t ia = *sa->pick(request(active, {}, clientKey(i)));
    uint32_t ib = *sb->pick(request(active, {}, clientKey(i)));
    ASSERT_EQ(ib, 100 + (ia * 5) % 8);
  }
}

bool isPrime(uint32_t n) {
  for (uint32_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return n > 1;
}

TEST(HashTest, TableSizeIsPrimeAndAHundredTimesTheNodes) {
  const std::pair<size_t, uint32_t> kCases[] = {{1, 65537},     {10, 65537},      {655, 65537},
                                                {656, 131071},  {1000, 131071},   {2000, 262139},
                                                {5000, 524287}, {10000, 1048573}, {50000, 1048573}};
  for (auto [nodes, size] : kCases) {
    EXPECT_EQ(hashTableSize(nodes), size) << nodes;
    EXPECT_TRUE(isPrime(size)) << size;
  }
}

TEST(HashTest, TableFillIsProportionalToWeight) {
  std::vector<std::string> names = {"alpha", "bravo", "charlie", "delta"};
  std::vector<HashNode> nodes;
  for (size_t k = 0; k < names.size(); ++k) nodes.push_back({names[k], double(k + 1)});
  std::vector<uint32_t> table = buildHashTable(nodes, 65537);
  ASSERT_EQ(table.size(), 65537u);
  std::vector<int> count(4, 0);
  for (uint32_t o : table) ++count.at(o);
  for (size_t k = 0; k < 4; ++k) EXPECT_NEAR(count[k], 65537 * (k + 1) / 10.0, 65537 * 0.01);
}

// A retry for the same identity walks to the same next node every time.
TEST(HashTest, RetriesAreStable) {
  auto s1 = make(Algorithm::kHash, std::vector<Spec>(6));
  auto s2 = make(Algorithm::kHash, std::vector<Spec>(6));
  std::vector<uint32_t> active;
  for (int i = 0; i < 1000; ++i) {
    std::vector<uint32_t> tried1, tried2;
    for (int attempt = 0; attempt < 6; ++attempt) {
      tried1.push_back(*s1->pick(request(active, tried1, clientKey(i))));
      tried2.push_back(*s2->pick(request(active, tried2, clientKey(i))));
    }
    ASSERT_EQ(tried1, tried2);
  }
}

// A degraded or full home node sends its identities elsewhere, deterministically, and
// survivors' identities stay put.
TEST(HashTest, DegradedOrFullHomeWalksOnWithoutDisturbingOthers) {
  std::vector<Spec> specs(10);
  auto plain = make(Algorithm::kHash, specs);
  specs[3].degraded = true;
  specs[5].max_sessions = 1;
  auto busy = make(Algorithm::kHash, specs);
  std::vector<uint32_t> active(10, 0);
  active[5] = 1;
  std::vector<uint32_t> none;
  for (int i = 0; i < 20000; ++i) {
    uint32_t home = *plain->pick(request(none, {}, clientKey(i)));
    uint32_t now = *busy->pick(request(active, {}, clientKey(i)));
    if (home != 3 && home != 5) {
      ASSERT_EQ(now, home);
    }
    ASSERT_NE(now, 3u);
    ASSERT_NE(now, 5u);
  }
}

// Most nodes full: past the slot walk the choice is a rendezvous over what is left.
TEST(HashTest, MostlyFullFarmStillPicksDeterministically) {
  std::vector<Spec> specs(100, Spec{.max_sessions = 1});
  std::vector<uint32_t> active(100, 1);
  for (uint32_t k : {7u, 42u, 77u}) active[k] = 0;
  auto a = make(Algorithm::kHash, specs);
  auto b = make(Algorithm::kHash, specs);
  std::vector<int> count(100, 0);
  for (int i = 0; i < 3000; ++i) {
    auto x = a->pick(request(active, {}, clientKey(i)));
    ASSERT_TRUE(x.has_value());
    ASSERT_EQ(x, b->pick(request(active, {}, clientKey(i))));
    ++count[*x];
  }
  EXPECT_EQ(count[7] + count[42] + count[77], 3000);
  EXPECT_GT(count[7], 500);
  EXPECT_GT(count[42], 500);
  EXPECT_GT(count[77], 500);
}

// Frozen values: every director, build and platform must hash identities the same way.
TEST(HashKeyTest, IsStable) {
  EXPECT_EQ(hashKey(""), hashKey(""));
  EXPECT_NE(hashKey("a"), hashKey(std::string("a\0", 2)));
  EXPECT_NE(hashKey("10.0.0.1"), hashKey("10.0.0.2"));
  EXPECT_EQ(hashKey(""), 0x3742cbfacf59a71bULL);
  EXPECT_EQ(hashKey("192.0.2.1"), 0x8a7ba5097f60bfbbULL);
  EXPECT_EQ(hashKey("2001:db8::/64 desktop.example.org"), 0x2e4074f1e23d308eULL);
}

}  // namespace
}  // namespace tsd::sched
