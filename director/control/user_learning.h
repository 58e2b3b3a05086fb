// UserLearning: the live forwarded connections by the 4-tuple the node sees, matched against
// the sshd connections node agents report (protocol version 2) to learn which user each
// connection is. Pure bookkeeping: the director feeds it tuples (from getsockname and
// getpeername on the node socket) and reports; no sockets, no clock of its own.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "director/base/types.h"
#include "healthcheck/agent_protocol.h"
#include "sticky/identity.h"
#include "sticky/user_table.h"

namespace tsd::director {

// What the user table did, for metrics (read at scrape time).
struct UserCounters {
  uint64_t identities_learned = 0;   // new (identity, user) pairs
  uint64_t connections_matched = 0;  // connections whose user became known
  uint64_t correlation_misses = 0;
  uint64_t fast_polls_requested = 0;                             // accepted by the rate limit
  std::array<uint64_t, sticky::kBounceOutcomeCount> outcomes{};  // by sticky::BounceOutcome
  uint64_t pins_used = 0;  // connections that consumed a bounce pin
};

// One end of a TCP connection as text, the address canonical (v4-mapped folded to IPv4).
struct Endpoint {
  std::string address;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};
// An IP literal in canonical form ("10.0.0.5", "2001:db8::1"); empty when not an IP literal.
std::string canonicalAddress(std::string_view ip);

class UserLearning {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // A live forwarded connection as the node sees it.
  struct Live {
    uint64_t handle = 0;  // the director's name for the connection
    sticky::Identity identity;
    NodeId node = kNoId;
    ServiceId service = kNoId;
    Endpoint remote;   // the node's peer: the client (transparent) or the director's source
    Endpoint local;    // the node's address and port
    TimePoint up{};    // forwarded at
    std::string user;  // learned; empty until then
    bool missed = false;
  };
  struct Match {
    uint64_t handle = 0;
    std::string user;
  };
  struct Correlation {
    std::vector<Match> learned;  // connections whose user became known with this report
    size_t misses = 0;           // live connections this report should have listed but did not
  };
  // A connection still unlisted by a snapshot taken this long after it was forwarded counts
  // as a correlation miss (once): sshd had more than enough time to authenticate it.
  static constexpr auto kMissAfter = std::chrono::seconds(10);

  // Registers a forwarded connection; a handle or tuple registered twice replaces the old one.
  void opened(Live live);
  void closed(uint64_t handle);
  const Live* find(uint64_t handle) const;

  // One report of `node` whose snapshot was taken at `snapshot`: every reported connection is
  // matched by (remote, local) to a live connection on that node.
  Correlation correlate(NodeId node, const std::vector<health::AgentConnection>& reported,
                        TimePoint snapshot);
  size_t live() const { return by_handle_.size(); }
  // True when a connection on `node` forwarded less than kMissAfter before `now` has no user
  // yet: the director polls that agent again soon (a snapshot may predate the login).
  bool pending(NodeId node, TimePoint now) const;

 private:
  static std::string key(const Endpoint& remote, const Endpoint& local);
  std::unordered_map<uint64_t, Live> by_handle_;
  std::unordered_map<std::string, uint64_t> by_tuple_;
  // Per node, connections with no user yet and not yet counted as a miss (forwarding order),
  // so a report costs what its node has unresolved, not every live connection.
  std::unordered_map<NodeId, std::vector<uint64_t>> awaiting_;
};

}  // namespace tsd::director
