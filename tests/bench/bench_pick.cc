// Google Benchmark: Scheduler::pick() for every algorithm over 10..10,000 nodes with a
// realistic farm (mixed weights, some capped, a few degraded, most loads known) and session
// churn, plus the cost of building the hash table. Target: pick() < 1 us at 10,000 nodes.
// Schedulers track counts as the director's do (makeTrackingScheduler + setActive), so each
// iteration also pays for the two count changes; PickPerRequest is the untracked O(n) path.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "director/scheduler/consistent_hash.h"
#include "director/scheduler/scheduler.h"

namespace {

using tsd::conf::Algorithm;
using tsd::sched::PickRequest;

// splitmix64, for reproducible farm figures and keys.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Farm {
  explicit Farm(size_t n) : snapshot(std::make_shared<tsd::sched::NodeSnapshot>()) {
    for (size_t i = 0; i < n; ++i) names.push_back("desktop-" + std::to_string(i));
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t r = mix(i);
      tsd::sched::SchedNode node{i, names[i], 1.0 + static_cast<double>(r % 4)};
      node.load = r % 10 == 0 ? -1 : static_cast<double>(r % 200) / 100.0;
      node.max_sessions = r % 3 == 0 ? 40 : 0;
      node.degraded = r % 20 == 0;
      snapshot->nodes.push_back(node);
      active.push_back(static_cast<uint32_t>((r >> 8) % 30));
    }
  }
  std::vector<std::string> names;
  std::shared_ptr<tsd::sched::NodeSnapshot> snapshot;
  std::vector<uint32_t> active;
};

void pickLoop(benchmark::State& state, Algorithm a, bool retry, bool tracked = true) {
  Farm farm(static_cast<size_t>(state.range(0)));
  auto sched = tracked ? tsd::sched::makeTrackingScheduler(a, farm.snapshot, 1, farm.active)
                       : tsd::sched::makeScheduler(a, farm.snapshot, 1);
  std::vector<uint32_t> exclude = {0, 1};  // a retry after two failed connects
  size_t n = farm.active.size();
  uint64_t i = 0;
  for (auto _ : state) {
    PickRequest r;
    r.key_hash = mix(++i);
    r.active = farm.active;
    if (retry) r.exclude = exclude;
    auto id = sched->pick(r);
    benchmark::DoNotOptimize(id);
    // Churn: the new session starts, some other one ends, so populations stay put.
    if (id) sched->setActive(*id, ++farm.active[*id]);
    uint32_t& other = farm.active[i % n];
    if (other > 0) sched->setActive(static_cast<uint32_t>(i % n), --other);
  }
}

void BM_Pick(benchmark::State& state, Algorithm a) { pickLoop(state, a, false); }
void BM_PickRetry(benchmark::State& state, Algorithm a) { pickLoop(state, a, true); }
void BM_PickPerRequest(benchmark::State& state, Algorithm a) { pickLoop(state, a, false, false); }

void BM_Build(benchmark::State& state, Algorithm a) {
  Farm farm(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto sched = tsd::sched::makeTrackingScheduler(a, farm.snapshot, 1, farm.active);
    benchmark::DoNotOptimize(sched);
  }
}

#define TSD_PICK_BENCH(fn, label, alg) \
  BENCHMARK_CAPTURE(fn, label, alg)->RangeMultiplier(10)->Range(10, 10000)

TSD_PICK_BENCH(BM_Pick, random, Algorithm::kRandom);
TSD_PICK_BENCH(BM_Pick, roundrobin, Algorithm::kRoundRobin);
TSD_PICK_BENCH(BM_Pick, weighted_roundrobin, Algorithm::kWeightedRoundRobin);
TSD_PICK_BENCH(BM_Pick, least_conn, Algorithm::kLeastConn);
TSD_PICK_BENCH(BM_Pick, weighted_least_conn, Algorithm::kWeightedLeastConn);
TSD_PICK_BENCH(BM_Pick, least_load, Algorithm::kLeastLoad);
TSD_PICK_BENCH(BM_Pick, hash, Algorithm::kHash);
TSD_PICK_BENCH(BM_Pick, p2c, Algorithm::kP2c);
TSD_PICK_BENCH(BM_PickRetry, weighted_roundrobin, Algorithm::kWeightedRoundRobin);
TSD_PICK_BENCH(BM_PickRetry, hash, Algorithm::kHash);
TSD_PICK_BENCH(BM_PickRetry, p2c, Algorithm::kP2c);
TSD_PICK_BENCH(BM_PickRetry, weighted_least_conn, Algorithm::kWeightedLeastConn);
TSD_PICK_BENCH(BM_PickPerRequest, weighted_least_conn, Algorithm::kWeightedLeastConn);
BENCHMARK_CAPTURE(BM_Build, hash, Algorithm::kHash)
    ->RangeMultiplier(10)
    ->Range(10, 10000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Build, least_load, Algorithm::kLeastLoad)
    ->RangeMultiplier(10)
    ->Range(10, 10000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
