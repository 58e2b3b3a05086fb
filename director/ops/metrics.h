// Scrape-time metrics: a prometheus::Collectable that reads the director's plain counters and
// the node table when Prometheus asks, so connections never touch prometheus-cpp.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <deque>
#include <string>
#include <vector>

#include "director/control/director.h"

namespace tsd::director {

class MetricsCollector : public prometheus::Collectable {
 public:
  explicit MetricsCollector(const Director& d) : d_(&d) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  void collectConnections(std::deque<prometheus::MetricFamily>& out) const;
  void collectTraffic(std::deque<prometheus::MetricFamily>& out) const;
  void collectNodeCounters(std::deque<prometheus::MetricFamily>& out) const;
  void collectNodes(std::deque<prometheus::MetricFamily>& out) const;
  void collectState(std::deque<prometheus::MetricFamily>& out) const;
  void collectUsers(std::deque<prometheus::MetricFamily>& out) const;
  const Director* d_;
};

}  // namespace tsd::director
