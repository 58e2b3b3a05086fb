// Director: owns the running configuration and everything built from it (listeners, nodes,
// schedulers, health monitor, sticky state) and the live connections. Single-threaded: all of
// it runs on one libevent loop; a reload swaps the config snapshot and applies the difference.
#pragma once

#include <event2/event.h>

#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "director/connection.h"
#include "director/listener.h"
#include "director/node_table.h"
#include "director/scheduler/scheduler.h"
#include "director/stats.h"
#include "sticky/session_index.h"
#include "sticky/sticky_table.h"

namespace tsd::director {

class FastPath;
class HealthMonitor;

struct DirectorOptions {
  std::string config_path;
  std::string director_id = "tsdirector";
};

class Director final : public ConnectionHost {
 public:
  Director(event_base* base, DirectorOptions opts);
  ~Director() override;

  // Builds everything from the first config; an error leaves nothing running.
  Status start(conf::ConfigPtr cfg);
  // Re-reads the config file; an invalid file changes nothing (logged and counted).
  Status reload();
  // Stop accepting, reset live connections, save sticky state.
  void shutdown();

  // ConnectionHost
  event_base* base() override { return base_; }
  const conf::Config& config() override { return *cfg_; }
  Decision decide(Connection& c, const std::vector<uint32_t>& tried) override;
  void connectFailed(Connection& c, NodeRuntime& node, const std::string& why,
                     bool node_fault) override;
  std::unique_ptr<Forwarder> connected(Connection& c, Forwarder::Done done) override;
  std::unique_ptr<Forwarder> demoted(Connection& c, const HalfState& hs,
                                     Forwarder::Done done) override;
  void refused(Connection& c, Refusal why) override;
  void finished(Connection& c, ForwardEnd end, const ForwardStats& stats) override;

  // For metrics, admin and tests.
  conf::ConfigPtr configPtr() const { return cfg_; }
  const DirectorStats& stats() const { return stats_; }
  NodeTable& nodes() { return nodes_; }
  sticky::StickyTable& stickyTable() { return sticky_; }
  sticky::SessionIndex& sessionIndex() { return *sessions_; }
  const std::list<std::unique_ptr<Connection>>& connections() const { return conns_; }
  bool fastPathActive() const { return fast_path_ != nullptr; }
  const std::string& fastPathError() const { return fast_path_error_; }
  FastPath* fastPath() { return fast_path_.get(); }
  // nullptr before start() and after shutdown().
  const HealthMonitor* healthMonitor() const { return health_.get(); }
  // Node health, admin state or config changed: rebuild scheduler snapshots before the next
  // decision. Agent figures (urgent = false) move weights only gradually, so those rebuilds
  // are rate-limited: a hash table over 1,000 nodes costs milliseconds to build.
  void nodesChanged(bool urgent = true) {
    if (urgent) snapshots_dirty_ = true;
    figures_dirty_ = true;
  }
  // Saves the sticky table now (also done in batches and on shutdown).
  void saveSticky();
  ForwardStats liveBytes() const;

 private:
  struct ServiceRuntime {
    std::shared_ptr<const sched::NodeSnapshot> snapshot;
    std::unique_ptr<sched::Scheduler> scheduler;
    conf::Algorithm algorithm = conf::Algorithm::kRoundRobin;
  };

  Status openListeners(const conf::Config& cfg,
                       std::map<std::string, std::unique_ptr<Listener>>* out);
  void apply(conf::ConfigPtr cfg, std::map<std::string, std::unique_ptr<Listener>> listeners);
  void accept(const std::string& service, NodeRuntime* manual, UniqueFd fd, const SockAddr& peer);
  void rebuildSnapshots();
  Decision pickReturning(Connection& c, const std::vector<uint32_t>& tried);
  NodeRuntime* schedule(Connection& c, const std::vector<uint32_t>& tried);
  bool usableForReturning(const NodeRuntime& n, const conf::ServiceConfig& svc,
                          const std::vector<uint32_t>& tried);
  void release(Connection& c);
  Status setUpFastPath(const conf::Config& cfg);
  void loadSticky();

  event_base* base_;
  DirectorOptions opts_;
  conf::ConfigPtr cfg_;
  NodeTable nodes_;
  std::map<std::string, ServiceRuntime, std::less<>> services_;
  // Listening sockets by "service|addr" or "manual|node|addr", so a reload keeps open ones.
  std::map<std::string, std::unique_ptr<Listener>> listeners_;
  bool snapshots_dirty_ = true;
  bool figures_dirty_ = false;
  SteadyClock::time_point last_rebuild_{};
  std::list<std::unique_ptr<Connection>> conns_;
  std::vector<std::unique_ptr<Connection>> dead_;
  EventPtr reaper_;      // frees finished connections outside their callbacks
  EventPtr save_timer_;  // batched sticky-state writes
  bool sticky_dirty_ = false;
  sticky::StickyTable sticky_;
  std::unique_ptr<sticky::SessionIndex> sessions_;
  std::unique_ptr<HealthMonitor> health_;
  std::shared_ptr<FastPath> fast_path_;  // shared_ptr: destructible where FastPath is incomplete
  std::string fast_path_error_;
  std::vector<char> scratch_;
  DirectorStats stats_;
  ForwardStats closed_bytes_;
  uint64_t seed_ = 0;
  bool stopping_ = false;
};

}  // namespace tsd::director
