// Director: the control plane's lifecycle. It owns the running configuration and what is built
// from it (listeners, node and service tables, health monitor, sticky store, session index,
// data path) and the live connections; start, reload (a validated diff) and shutdown. It
// serves its parts through narrow interfaces: connections see a ConnectionHost, the placement a
// PlacementInputs, the health monitor a HealthEvents sink; ops read it through the accessors.
// Single-threaded: everything runs on one libevent loop.
#pragma once

#include <event2/event.h>

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "director/control/prepared_config.h"
#include "director/control/service_table.h"
#include "director/control/stats.h"
#include "director/control/sticky_store.h"
#include "director/control/takeover.h"
#include "director/control/user_learning.h"
#include "director/dataplane/connection.h"
#include "director/dataplane/data_path.h"
#include "director/dataplane/listener.h"
#include "director/health/health_monitor.h"
#include "director/nodes/node_table.h"
#include "director/placement/placement.h"
#include "sticky/session_index.h"

namespace tsd::director {

class Director final : private ConnectionHost, private PlacementInputs, private HealthEvents {
 public:
  Director(event_base* base, std::string config_path);
  ~Director() override;

  // Builds everything from the first config; an error leaves nothing running. With `adopted`
  // (a live hand-over), its listeners are used instead of binding the same addresses, and its
  // pairs continue once everything else is up.
  Status start(PreparedConfig cfg, Adopted* adopted = nullptr);
  // Re-reads the config file; an invalid file changes nothing (logged and counted).
  Status reload();
  // Stop accepting, reset live connections, save sticky state.
  void shutdown();
  // SIGTERM with [director] stop_grace: stop accepting at once, let live connections run for
  // up to `grace`, then reset the rest and shut down; `done` runs once everything is closed.
  void drainThenShutdown(conf::Duration grace, std::function<void()> done);
  size_t liveConnections() const { return conns_.size(); }

  // Live hand-over, the running side (director_takeover.cc). begin: stop accepting (the
  // kernel keeps queueing on the listeners), move kernel pairs to user space, no promotion.
  void beginHandOver();
  // Every connection is forwarded in user space with nothing waiting for the kernel.
  bool handOverReady();
  // Stops every pair (no read after this) and saves the sticky and admin state files.
  HandOverExport captureHandOver();
  // The new process failed or refused: serve everything again.
  void resumeAfterHandOver();
  // The new process has it all: from now on nothing is read, written, reset or saved; the fds
  // close (without a reset) when the process exits.
  void releaseHandedOver();

  // Read by ops (metrics, node views, admin) between events; null config before start().
  conf::ConfigPtr config() const { return cfg_; }
  const DirectorStats& stats() const { return stats_; }
  const NodeTable& nodes() const { return nodes_; }
  const ServiceTable& services() const { return services_; }
  const sticky::StickyTable& stickyTable() const { return sticky_.table(); }
  const sticky::SessionIndex& sessionIndex() const { return *sessions_; }
  const sticky::UserTable& userTable() const { return sticky_.users(); }
  const UserCounters& userCounters() const { return user_counters_; }
  const DataPath* dataPath() const { return data_path_.get(); }
  HealthCounters healthCounters() const;
  bool agentPolling() const { return health_ && health_->agentEnabled(); }
  // Bytes of closed connections plus what live ones have forwarded so far.
  ForwardStats bytes() const;

  // Admin actions (tsdirectorctl). Asking for the file's own value clears the override.
  Result<const NodeRuntime*> setNodeState(std::string_view node, conf::NodeState s);
  Result<const NodeRuntime*> setNodeWeight(std::string_view node, int weight);
  Status pin(const sticky::Identity& id, std::string_view node,
             std::optional<sticky::StickyTable::TimePoint> until);
  bool unpin(const sticky::Identity& id);

 private:
  using ListenerMap = std::map<std::string, std::unique_ptr<Listener>>;

  // ConnectionHost
  event_base* base() override { return base_; }
  std::optional<Route> reserve(const Connection& c) override;
  void attemptFailed(const Connection& c, const std::string& why) override;
  std::unique_ptr<Forwarder> forward(Connection& c, Forwarder::Done done) override;
  void closed(Connection& c, const ConnectionEnd& end) override;
  // PlacementInputs
  bool acceptsReturning(NodeId node, ServiceId service) const override;
  std::optional<SessionHit> session(const sticky::Identity& id,
                                    const std::function<bool(NodeId)>& usable) const override;
  std::optional<NodeId> userPin(const sticky::Identity& id,
                                const std::function<bool(NodeId)>& usable) const override;
  std::vector<std::string> users(const sticky::Identity& id) const override;
  std::optional<NodeId> home(std::string_view user,
                             const std::function<bool(NodeId)>& usable) const override;
  std::optional<NodeId> sticky(const sticky::Identity& id) const override;
  std::optional<NodeId> schedule(ServiceId service, uint64_t key_hash,
                                 std::span<const NodeId> tried) override;
  // HealthEvents
  void nodesChanged(bool urgent) override;
  void inventory(const NodeRuntime& node, const health::AgentReport& report) override;

  Status openListeners(const conf::Config& cfg, ListenerMap* out);
  void apply(const PreparedConfig& next, ListenerMap listeners);
  void wireListeners();
  void accept(ServiceId service, NodeId manual, UniqueFd fd, const SockAddr& peer);
  void releaseNode(const Connection& c);
  void rebuildIfDue();
  void finishDrain();
  void adoptListeners(Adopted& a);
  void adoptConnection(AdoptedPair& p);
  protocol::PairRecord record(const Connection& c) const;
  // The user table (director_users.cc): learning from connections and reports, bounces.
  void userConnectionUp(Connection& c);
  // A connection adopted in a live hand-over: learned like a new one, but as old as it is (so
  // it is never young enough to bounce), with no fast polls and no pin taken.
  void userConnectionAdopted(Connection& c);
  bool startLearning(Connection& c, SteadyClock::time_point opened);
  void userConnectionDown(const Connection& c);
  void learnFromReport(const NodeRuntime& node, const health::AgentReport& report);
  void learned(const UserLearning::Live& live, const std::string& user,
               std::vector<Connection*>* bounce);
  bool bounceUsable(NodeId node, ServiceId service) const;
  void refreshLocalAddresses();

  event_base* base_;
  std::string config_path_;
  conf::ConfigPtr cfg_;
  NodeTable nodes_;
  ServiceTable services_;
  DirectorStats stats_;
  StatsSink sink_{stats_, nodes_, services_};
  ListenerMap listeners_;  // by address, so a reload keeps open sockets
  bool snapshots_dirty_ = true;
  bool figures_dirty_ = false;
  SteadyClock::time_point last_rebuild_{};
  std::list<Connection> conns_;  // the connections themselves (one allocation each)
  std::list<Connection> dead_;   // finished, spliced here from conns_; freed by the reaper
  EventPtr reaper_;              // frees finished connections outside their callbacks
  StickyStore sticky_;
  std::unique_ptr<sticky::SessionIndex> sessions_;
  UserLearning learning_;
  UserCounters user_counters_;
  std::vector<std::string> interface_addresses_;  // refreshed at start and on reload
  std::vector<std::string> source_addresses_;     // seen towards nodes (not transparent)
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<DataPath> data_path_;
  bool stopping_ = false;
  bool handing_over_ = false;
  std::function<void()> drained_;  // set while a graceful stop waits for connections
  EventPtr grace_timer_;
};

}  // namespace tsd::director
