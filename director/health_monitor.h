// HealthMonitor: runs the active checks (tcp/ssh probes per node and service) and the agent
// polls on timers, feeds results into the node table and the session index, and tells the
// director when scheduler snapshots must be rebuilt. Transitions are logged once.
#pragma once

#include <event2/event.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "conf/config.h"
#include "director/agent_poller.h"
#include "director/event_util.h"
#include "director/health_prober.h"
#include "director/node_table.h"

namespace tsd::director {

class Director;

struct HealthCounters {
  uint64_t checks_ok = 0;
  uint64_t checks_failed = 0;
  uint64_t transitions = 0;
  uint64_t polls_ok = 0;
  uint64_t polls_failed = 0;    // unreachable, timeout
  uint64_t polls_rejected = 0;  // forged, replayed, garbled, oversized, absurd figures
};

class HealthMonitor {
 public:
  HealthMonitor(event_base* base, Director& director);
  ~HealthMonitor();

  // (Re)starts checks for the config's nodes and services; health states are kept.
  void apply(const conf::Config& cfg);
  void passiveFailure(NodeRuntime& node, std::string_view service);
  void passiveSuccess(NodeRuntime& node, std::string_view service);
  const HealthCounters& counters() const { return counters_; }
  // The last check latency per node, for the metrics histogram-free gauge.
  bool agentEnabled() const { return !key_.empty(); }

 private:
  struct Task {
    uint64_t id = 0;  // callbacks find their task by id: a reload may have replaced it
    uint32_t node_id = 0;
    std::string service;  // empty: the agent poll
    conf::CheckKind kind = conf::CheckKind::kTcp;
    SockAddr target;
    std::unique_ptr<Timer> timer;
  };
  void run(Task& t);
  Task* task(uint64_t id);
  void onCheck(Task& t, bool ok, std::chrono::microseconds latency, const std::string& why);
  void onPoll(Task& t, Result<health::AgentReport> r, std::chrono::microseconds latency);
  void record(NodeRuntime& n, const std::string& service, bool ok,
              std::chrono::microseconds latency, const std::string& why);
  void logTransition(const NodeRuntime& n, const std::string& service, health::Transition tr,
                     const std::string& why);
  void schedule(Task& t, const health::HealthState* state);

  event_base* base_;
  Director& director_;
  conf::ConfigPtr cfg_;
  std::string key_;
  std::map<uint64_t, std::unique_ptr<Task>> tasks_;
  uint64_t next_id_ = 1;
  HealthProber prober_;
  AgentPoller poller_;
  std::mt19937_64 rng_;
  HealthCounters counters_;
};

}  // namespace tsd::director
