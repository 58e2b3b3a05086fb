// Smooth weighted round robin: exact sequences, per-period counts, no bursts, and how excluded
// and full nodes are skipped.
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <string>

#include "tests/unit/scheduler/sched_test_util.h"

namespace tsd::sched {
namespace {

using namespace schedtest;

// Picks `n` times with no sessions and no exclusions; node k is written as 'a' + k.
std::string sequence(Scheduler& s, size_t nodes, int n) {
  std::vector<uint32_t> active(nodes, 0);
  std::string out;
  for (int i = 0; i < n; ++i) {
    auto id = s.pick(request(active));
    out += id ? static_cast<char>('a' + *id) : '-';
  }
  return out;
}

struct SequenceCase {
  std::vector<double> weights;
  std::string expected;
};

TEST(SmoothWrrTest, ExactSequences) {
  // Turn k of node i is due at (k + 1/2) / w_i; ties go to the lower id. For {5,1,1} nginx's
  // algorithm gives "aabacaa"; ours gives "aaabcaa": both give a 5, b 1, c 1 in every 7.
  const SequenceCase kCases[] = {
      {{5, 1, 1},
       "aaabcaa"
       "aaabcaa"},
      {{1, 1, 1}, "abcabcabc"},
      {{2, 1}, "abaaba"},
      {{3, 2},
       "abab"
       "aabab"
       "a"},
      {{1, 2, 4},
       "cbcacbc"
       "cbcacbc"},
      {{0.5, 1},
       "bab"
       "bab"},
  };
  for (const SequenceCase& c : kCases) {
    auto s = make(Algorithm::kWeightedRoundRobin, weighted(c.weights));
    EXPECT_EQ(sequence(*s, c.weights.size(), static_cast<int>(c.expected.size())), c.expected);
  }
}

// With integer weights, every period of W = sum(weights) picks holds exactly w_i picks of i,
// and picks of one node are spread: the gap between two is at most ceil(W / w_i) + n - 1
// (nodes due at the same virtual time go one after the other).
TEST(SmoothWrrTest, EveryPeriodIsExactAndSpread) {
  const std::vector<std::vector<double>> kWeights = {
      {5, 1, 1}, {1, 2, 3, 4}, {10, 1}, {7, 7, 3, 1, 1}, {100, 50, 25, 1}};
  for (const auto& w : kWeights) {
    auto s = make(Algorithm::kWeightedRoundRobin, weighted(w));
    int period = static_cast<int>(std::accumulate(w.begin(), w.end(), 0.0));
    std::string seq = sequence(*s, w.size(), period * 5);
    for (int p = 0; p < 5; ++p) {
      std::map<char, int> count;
      for (int i = 0; i < period; ++i) ++count[seq[p * period + i]];
      for (size_t k = 0; k < w.size(); ++k) EXPECT_EQ(count['a' + k], w[k]) << seq;
    }
    for (size_t k = 0; k < w.size(); ++k) {
      size_t last = seq.find('a' + k), next;
      int max_gap = (period + static_cast<int>(w[k]) - 1) / static_cast<int>(w[k]) +
                    static_cast<int>(w.size()) - 1;
      while ((next = seq.find('a' + k, last + 1)) != std::string::npos) {
        EXPECT_LE(static_cast<int>(next - last), max_gap) << "node " << k << " in " << seq;
        last = next;
      }
    }
  }
}

// An excluded node was tried for this connection only: it keeps its turn for the next one.
TEST(SmoothWrrTest, ExcludedNodeKeepsItsTurn) {
  auto s = make(Algorithm::kWeightedRoundRobin, weighted({1, 1, 1}));
  std::vector<uint32_t> active(3, 0), exclude_b = {1};
  EXPECT_EQ(s->pick(request(active)), 0u);
  EXPECT_EQ(s->pick(request(active, exclude_b)), 2u);
  EXPECT_EQ(s->pick(request(active)), 1u);
  EXPECT_EQ(sequence(*s, 3, 6), "abcabc");
}

// A full node forfeits its turns, so when a seat frees up it does not get a burst of picks.
TEST(SmoothWrrTest, FullNodeDoesNotBurstWhenItFreesUp) {
  std::vector<Spec> specs = {{}, {.max_sessions = 1}, {}};
  auto s = make(Algorithm::kWeightedRoundRobin, specs);
  std::vector<uint32_t> full = {0, 1, 0};
  std::string seq;
  for (int i = 0; i < 30; ++i) seq += static_cast<char>('a' + *s->pick(request(full)));
  EXPECT_EQ(seq.find('b'), std::string::npos);
  std::vector<uint32_t> freed = {0, 0, 0};
  std::string after;
  for (int i = 0; i < 6; ++i) after += static_cast<char>('a' + *s->pick(request(freed)));
  EXPECT_EQ(std::count(after.begin(), after.end(), 'b'), 2) << after;
  EXPECT_EQ(after.find("bb"), std::string::npos) << after;
}

}  // namespace
}  // namespace tsd::sched
