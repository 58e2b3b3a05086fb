// The director's counters and the one sink that writes them. A connection is recorded when it
// is accepted, when it opens (connected to its node: its attempts and data path) and when it
// ends (bytes, how it ended; a refused one's attempts). Metrics read the counters at scrape
// time, so the per-connection path never touches prometheus-cpp. Everything is indexed by id.
#pragma once

#include <array>
#include <cstdint>

#include "director/base/types.h"
#include "director/dataplane/connection.h"

namespace tsd::director {

class NodeTable;
class ServiceTable;

struct ServiceCounters {
  uint64_t accepted = 0;
  uint64_t refused_limit = 0;    // over max_connections
  uint64_t refused_no_node = 0;  // nothing eligible
  uint64_t refused_manual_down = 0;
  uint64_t failed_connect = 0;  // every attempt failed
  uint64_t bad_hello = 0;       // malformed or oversized TLS ClientHello (sticky_key = sni)
  uint64_t hello_timeout = 0;
  uint64_t active = 0;
};

struct DirectorStats {
  std::array<uint64_t, kReasonCount> decisions{};
  uint64_t retries = 0;  // attempts after the first, for any connection
  uint64_t ambiguous_sessions = 0;
  uint64_t sticky_replaced = 0;  // sticky/session node unusable: user re-placed
  uint64_t fast_path_connections = 0;
  uint64_t userspace_connections = 0;
  uint64_t resets = 0;
  uint64_t idle_timeouts = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  uint64_t config_generation = 1;
  uint64_t active = 0;
  ForwardStats closed_bytes;  // bytes of connections that have ended
};

class StatsSink {
 public:
  StatsSink(DirectorStats& stats, NodeTable& nodes, ServiceTable& services)
      : stats_(stats), nodes_(nodes), services_(services) {}

  // A client connection was accepted; over_limit: closed at once (max_connections).
  void accepted(ServiceId service, bool over_limit);
  // Connected to its node; `kernel`: on the eBPF fast path.
  void opened(const Connection& c, bool kernel);
  // Refused or finished; every connection that was not over the limit ends exactly once.
  void ended(const Connection& c, const ConnectionEnd& end);
  void reload(bool ok);

 private:
  void attempts(const Connection& c);

  DirectorStats& stats_;
  NodeTable& nodes_;
  ServiceTable& services_;
};

}  // namespace tsd::director
