// Helpers for the scheduler tests: snapshots of numbered nodes ("node-<id>") and requests.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "director/scheduler/scheduler.h"

namespace tsd::sched::schedtest {

using conf::Algorithm;

inline constexpr std::array<Algorithm, 8> kAllAlgorithms = {
    Algorithm::kRandom,
    Algorithm::kRoundRobin,
    Algorithm::kWeightedRoundRobin,
    Algorithm::kLeastConn,
    Algorithm::kWeightedLeastConn,
    Algorithm::kLeastLoad,
    Algorithm::kHash,
    Algorithm::kP2c,
};

inline std::string algorithmName(Algorithm a) {
  constexpr const char* kNames[] = {"random", "roundrobin", "wrr",  "leastconn",
                                    "wlc",    "leastload",  "hash", "p2c"};
  return kNames[static_cast<int>(a)];
}

// Names outlive every snapshot (schedulers only read them while building, but be safe).
inline std::string_view nodeName(uint32_t id) {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 20000; ++i) v.push_back("node-" + std::to_string(i));
    return v;
  }();
  return names.at(id);
}

struct Spec {
  double weight = 1;
  double load = -1;
  uint32_t max_sessions = 0;
  bool degraded = false;
};

// Node k of `specs` gets id k.
inline std::shared_ptr<const NodeSnapshot> snapshotOf(const std::vector<Spec>& specs) {
  auto s = std::make_shared<NodeSnapshot>();
  for (uint32_t id = 0; id < specs.size(); ++id) {
    const Spec& p = specs[id];
    s->nodes.push_back(SchedNode{id, nodeName(id), p.weight, p.load, p.max_sessions, p.degraded});
  }
  return s;
}

inline std::vector<Spec> weighted(const std::vector<double>& weights) {
  std::vector<Spec> v;
  for (double w : weights) v.push_back(Spec{.weight = w});
  return v;
}

inline std::unique_ptr<Scheduler> make(Algorithm a, const std::vector<Spec>& specs,
                                       uint64_t seed = 1) {
  return makeScheduler(a, snapshotOf(specs), seed);
}

// The request only refers to `active` and `exclude`: keep them alive while it is used.
inline PickRequest request(std::span<const uint32_t> active, std::span<const uint32_t> exclude = {},
                           uint64_t key = 0) {
  PickRequest r;
  r.active = active;
  r.exclude = exclude;
  r.key_hash = key;
  return r;
}

// A well-spread key for client number i.
inline uint64_t clientKey(uint64_t i) { return hashKey("client-" + std::to_string(i)); }

}  // namespace tsd::sched::schedtest
