// Plain counters the director keeps as traffic flows; the metrics endpoint turns them into
// Prometheus families at scrape time, so the per-connection path never touches prometheus-cpp.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "director/connection.h"
#include "director/userspace_forwarder.h"

namespace tsd::director {

struct ServiceStats {
  uint64_t accepted = 0;
  uint64_t refused_limit = 0;    // over max_connections
  uint64_t refused_no_node = 0;  // nothing eligible
  uint64_t refused_manual_down = 0;
  uint64_t failed_connect = 0;  // every attempt failed
  uint64_t bad_hello = 0;       // malformed or oversized TLS ClientHello (sticky_key = sni)
  uint64_t hello_timeout = 0;
  uint64_t active = 0;
};

struct NodeStats {
  uint64_t connections = 0;  // forwarded connections, by node
  uint64_t connect_attempts = 0;
  uint64_t connect_failures = 0;
  uint64_t bytes_up = 0;  // closed connections only; live bytes are in ByteCounters
  uint64_t bytes_down = 0;
};

struct DirectorStats {
  std::map<std::string, ServiceStats, std::less<>> services;
  std::map<std::string, NodeStats, std::less<>> nodes;
  std::array<uint64_t, kReasonCount> decisions{};
  uint64_t retries = 0;  // attempts after the first, for any connection
  uint64_t ambiguous_sessions = 0;
  uint64_t sticky_replaced = 0;  // sticky/session node unusable: user re-placed
  ByteCounters bytes;            // live, both data paths
  uint64_t fast_path_connections = 0;
  uint64_t userspace_connections = 0;
  uint64_t demoted_connections = 0;
  uint64_t resets = 0;
  uint64_t idle_timeouts = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  uint64_t config_generation = 1;
  uint64_t active = 0;
};

}  // namespace tsd::director
