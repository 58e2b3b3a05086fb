// Placement: the decision order of DESIGN.md as one pure function. It reads what it needs
// through PlacementInputs (the director implements it over its node table, session index,
// sticky table and schedulers; tests use fakes) and returns a node and the rule that chose it.
// It counts nothing and reserves nothing: the caller records the decision once it is acted on.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "director/base/types.h"
#include "sticky/identity.h"

namespace tsd::director {

struct PlacementRequest {
  ServiceId service = kNoId;
  const sticky::Identity* identity = nullptr;  // null or empty: no identity (sticky_key none)
  bool returning = true;          // consult the session index and sticky table (sticky_key != none)
  NodeId manual = kNoId;          // came in on a node's manual listener: that node or nothing
  NodeId sni_node = kNoId;        // the SNI name is a node's name: preferred if usable
  std::span<const NodeId> tried;  // nodes already tried for this connection
  std::optional<Reason> previous;  // the rule of the attempt that just failed
  uint64_t key_hash = 0;           // the client's key for hashing schedulers
};

struct SessionHit {
  NodeId node = kNoId;
  bool ambiguous = false;  // the identity has sessions on more than one usable node
};

class PlacementInputs {
 public:
  virtual ~PlacementInputs() = default;
  // Up for this service and not in maintenance (a draining node still takes returning users).
  virtual bool acceptsReturning(NodeId node, ServiceId service) const = 0;
  // The best session's node among nodes where usable(node) holds.
  virtual std::optional<SessionHit> session(const sticky::Identity& id,
                                            const std::function<bool(NodeId)>& usable) const = 0;
  // The user table (defaults: empty, for inputs without one). A bounce pin of the identity
  // whose node is usable; the users learned behind the identity; a user's home among usable
  // nodes.
  virtual std::optional<NodeId> userPin(const sticky::Identity& id,
                                        const std::function<bool(NodeId)>& usable) const;
  virtual std::vector<std::string> users(const sticky::Identity& id) const;
  virtual std::optional<NodeId> home(std::string_view user,
                                     const std::function<bool(NodeId)>& usable) const;
  // The sticky table's node for the identity (unexpired), whether usable or not.
  virtual std::optional<NodeId> sticky(const sticky::Identity& id) const = 0;
  // The service's scheduler over nodes that take new sessions, never one in `tried`.
  virtual std::optional<NodeId> schedule(ServiceId service, uint64_t key_hash,
                                         std::span<const NodeId> tried) = 0;
};

struct Placement {
  NodeId node = kNoId;  // kNoId: no eligible node
  Reason reason = Reason::kScheduler;
  bool ambiguous = false;        // chosen by a session match that had several candidates
  bool sticky_replaced = false;  // the sticky node was unusable: the user is re-placed
  bool found() const { return node != kNoId; }
};

// Manual choice -> user table (a bounce pin, else the home of the identity's only user; an
// identity shared by several users is never guessed) -> session index -> sticky table ->
// scheduler (fallback when a returning user's home failed to connect). Pure apart from what the
// inputs do (a round-robin pick advances its rotation).
Placement decide(const PlacementRequest& req, PlacementInputs& in);

}  // namespace tsd::director
