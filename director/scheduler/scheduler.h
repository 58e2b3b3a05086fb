// Schedulers: pick a node for a new session from an immutable snapshot of eligible nodes.
// Pure code (no clock, no sockets, no global random); one Scheduler is built per snapshot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace tsd::sched {

struct SchedNode {
  uint32_t id;                // stable node id (index in the director's node table), < 1<<20
  std::string_view name;      // hashed by kHash; only read while the scheduler is being built
  double weight;              // effective weight, > 0
  double load = -1;           // agent load per CPU; < 0 = unknown
  uint32_t max_sessions = 0;  // 0 = unlimited
  bool degraded = false;  // Busy/Swapped/Slow: only chosen when no non-degraded node is possible
};

// Nodes that may take NEW sessions, any order.
struct NodeSnapshot {
  std::vector<SchedNode> nodes;
};

struct PickRequest {
  uint64_t key_hash = 0;              // hash of the client identity (used by kHash)
  std::span<const uint32_t> active;   // live sessions per node id (index = id; missing = 0)
  std::span<const uint32_t> exclude;  // node ids already tried for this connection
};

// Not thread-safe: pick() advances internal state (cursor, PRNG). One per event loop.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // A node id, or nullopt when no node is possible (all excluded, full or absent).
  virtual std::optional<uint32_t> pick(const PickRequest&) = 0;
  // A node's live session count is now `active` (ids outside the snapshot are ignored). Only
  // a scheduler made by makeTrackingScheduler relies on it; the others read
  // PickRequest::active for the few nodes they look at, and ignore it.
  virtual void setActive(uint32_t /*id*/, uint32_t /*active*/) {}
};

// `seed` drives random and p2c only; hash never uses it, so every director (an HA pair, an ECMP
// group) maps the same identity to the same node.
// least-conn, weighted-least-conn and least-load built here compare every request's `active`
// with the counts they saw last: correct for any caller, but O(n) a pick.
std::unique_ptr<Scheduler> makeScheduler(conf::Algorithm, std::shared_ptr<const NodeSnapshot>,
                                         uint64_t seed);
// The same algorithms and picks, but the caller passes the live counts now (`active`, by node
// id) and every later change through setActive(); those three then pick in O(log n) and no
// longer read PickRequest::active (which must still carry the counts, for the others, or be
// empty; a debug build checks the winner's pushed count against it).
std::unique_ptr<Scheduler> makeTrackingScheduler(conf::Algorithm,
                                                 std::shared_ptr<const NodeSnapshot>, uint64_t seed,
                                                 std::span<const uint32_t> active);

// Whether a scheduler built from `old` must be rebuilt for `next`. Rebuilding resets a
// scheduler's rotation (round robin cursor, least-conn tie rotation, smooth WRR turns), so a
// rebuild on every agent poll would make equal nodes never take turns. Membership, degraded
// flags and limits always matter; loads only to least-load and p2c; weights only to the
// weighted algorithms, and only when one moved by more than kWeightTolerance (relative).
inline constexpr double kWeightTolerance = 0.10;
bool needsRebuild(conf::Algorithm a, const NodeSnapshot& old, const NodeSnapshot& next);

// Stable 64-bit hash of a client identity for kHash: the same on every build and platform.
uint64_t hashKey(std::string_view identity);

}  // namespace tsd::sched
