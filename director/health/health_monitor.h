// HealthMonitor: runs the active checks (tcp/ssh probes per node and service) and the agent
// polls on timers and feeds their results into the node table. It tells its owner, through
// HealthEvents, when scheduler snapshots must be rebuilt and what inventories agents report.
// A reload is a diff: checks whose node, kind and target did not change keep their timer.
#pragma once

#include <event2/event.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "conf/config.h"
#include "director/base/event_util.h"
#include "director/health/agent_poller.h"
#include "director/health/health_prober.h"
#include "director/nodes/node_table.h"

namespace tsd::director {

struct HealthCounters {
  uint64_t checks_ok = 0;
  uint64_t checks_failed = 0;
  uint64_t transitions = 0;
  uint64_t polls_ok = 0;
  uint64_t polls_failed = 0;      // unreachable, timeout
  uint64_t polls_rejected = 0;    // forged, replayed, garbled, oversized, absurd figures
  uint64_t polls_wrong_node = 0;  // valid replies naming another node
};

// What the monitor reports upwards (implemented by the control plane).
class HealthEvents {
 public:
  virtual ~HealthEvents() = default;
  // urgent: a health transition (rebuild before the next decision); otherwise new figures.
  virtual void nodesChanged(bool urgent) = 0;
  virtual void inventory(const NodeRuntime& node, const health::AgentReport& report) = 0;
};

// A configured service as the monitor needs it.
struct CheckedService {
  ServiceId id = kNoId;
  const conf::ServiceConfig* cfg = nullptr;
};

class HealthMonitor {
 public:
  HealthMonitor(event_base* base, NodeTable& nodes, HealthEvents& events);
  ~HealthMonitor();

  // Starts checks for new nodes and services, stops those of removed ones and keeps the rest
  // (their state and their timers). An empty key turns agent polls off.
  void apply(conf::ConfigPtr cfg, const std::vector<CheckedService>& services,
             std::string agent_key);
  void passiveFailure(NodeRuntime& node, ServiceId service);
  void passiveSuccess(NodeRuntime& node, ServiceId service);
  // Fast learning (docs/sticky.md): one extra poll of the node's agent after `delay`, besides
  // its schedule. Rate-limited per node: a request within kSoonSpacing of one already planned
  // merges with it, and at most kMaxSoon are planned at once. False when merged or dropped.
  static constexpr auto kSoonSpacing = std::chrono::milliseconds(500);
  static constexpr size_t kMaxSoon = 4;
  bool pollSoon(NodeId node, std::chrono::milliseconds delay);
  uint64_t soonPolls() const { return soon_polls_; }
  const HealthCounters& counters() const { return counters_; }
  bool agentEnabled() const { return !key_.empty(); }
  size_t tasks() const { return tasks_.size(); }

 private:
  using TaskKey = std::pair<NodeId, ServiceId>;  // service kNoId: the node's agent poll
  struct Task {
    uint64_t id = 0;  // callbacks check it: a reload may have replaced the task
    TaskKey key;
    conf::CheckKind kind = conf::CheckKind::kTcp;
    SockAddr target;
    std::unique_ptr<Timer> timer;
  };
  struct Wanted {
    TaskKey key;
    conf::CheckKind kind;
    SockAddr target;
  };
  std::vector<Wanted> wanted(const std::vector<CheckedService>& services);
  void run(Task& t);
  Task* task(TaskKey key, uint64_t id);
  void onCheck(Task& t, bool ok, std::chrono::microseconds latency, const std::string& why);
  void onPoll(Task& t, PollResult r, std::chrono::microseconds latency);
  void record(NodeRuntime& n, ServiceId service, bool ok, std::chrono::microseconds latency,
              const std::string& why);
  void logTransition(NodeRuntime& n, ServiceId service, health::Transition tr,
                     const std::string& why);
  void schedule(Task& t, const health::HealthState* state);
  std::string serviceName(ServiceId id) const;

  event_base* base_;
  NodeTable& nodes_;
  HealthEvents& events_;
  conf::ConfigPtr cfg_;
  std::vector<CheckedService> services_;
  std::string key_;
  std::map<TaskKey, std::unique_ptr<Task>> tasks_;
  uint64_t next_id_ = 1;
  HealthProber prober_;
  AgentPoller poller_;
  std::mt19937_64 rng_;
  HealthCounters counters_;
  std::map<NodeId, std::string> misnamed_;
  struct Soon {
    std::unique_ptr<Timer> timer;
    std::vector<SteadyClock::time_point> due;  // sorted
  };
  void armSoon(NodeId node, Soon& s);
  void runSoon(NodeId node);
  std::map<NodeId, Soon> soon_;
  uint64_t soon_polls_ = 0;  // the name last logged per node, until a good reply
};

}  // namespace tsd::director
