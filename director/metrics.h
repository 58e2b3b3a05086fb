// Scrape-time metrics: a prometheus::Collectable that reads the director's plain counters and
// the node table when Prometheus asks, so connections never touch prometheus-cpp. Also the
// node view shared by the greeter JSON (/nodes) and the admin `nodes` command.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "director/director.h"
#include "director/json.h"
#include "healthcheck/node_status.h"

namespace tsd::director {

// One node as an operator or a greeter sees it, computed on demand.
struct NodeView {
  struct Check {
    std::string service;
    bool known = false;
    bool up = false;
    double latency_seconds = 0;  // of the last successful check
    uint64_t ok = 0, failed = 0;
    std::string last_error;
  };
  std::string name;
  std::string address;
  health::NodeStatus status = health::NodeStatus::kDown;
  std::optional<double> load_per_cpu;  // fresh agent figures only
  std::optional<uint32_t> sessions;    // running + suspended, fresh agent figures only
  uint32_t active = 0;                 // live connections through the director
  int weight = 0;                      // in effect (runtime override or file)
  int file_weight = 0;
  bool weight_runtime = false;
  double effective_weight = 0;  // what the scheduler uses; 0 when it takes no new sessions
  conf::NodeState state = conf::NodeState::kActive;  // in effect
  bool state_runtime = false;
  bool removed = false;  // gone from the config, live connections remain
  std::vector<Check> checks;
  uint64_t polls_ok = 0, polls_failed = 0, polls_rejected = 0;
};

// Configured nodes, plus removed ones that still carry connections.
std::vector<NodeView> nodeViews(Director& d);
// A JSON array of node objects (the greeter list and the admin `nodes` reply).
void writeNodes(JsonWriter& w, const std::vector<NodeView>& nodes);
// The body of GET /nodes: {"generation":N,"nodes":[...]}.
std::string nodesDocument(Director& d);

class MetricsCollector : public prometheus::Collectable {
 public:
  explicit MetricsCollector(Director& d) : d_(&d) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  void collectConnections(std::deque<prometheus::MetricFamily>& out) const;
  void collectTraffic(std::deque<prometheus::MetricFamily>& out) const;
  void collectNodeCounters(std::deque<prometheus::MetricFamily>& out) const;
  void collectNodes(std::deque<prometheus::MetricFamily>& out) const;
  void collectState(std::deque<prometheus::MetricFamily>& out) const;
  Director* d_;
};

}  // namespace tsd::director
