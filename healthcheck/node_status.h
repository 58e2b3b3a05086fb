// Node status as a greeter shows it (Down, Idle, Busy, Swapped, Slow, Drain, Maint) and the
// node's effective weight: pure functions of health, agent figures, admin state and config.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "conf/config.h"

namespace tsd::health {

using Duration = conf::Duration;

enum class NodeStatus { kDown, kIdle, kBusy, kSwapped, kSlow, kDrain, kMaint };

std::string_view toString(NodeStatus s);  // "Down", "Idle", "Busy", ...

// The figures of the node agent's last good reply.
struct Figures {
  double load_per_cpu = 0;
  double swap_in_per_s = 0;
  uint64_t mem_available_kib = 0;
  uint32_t sessions = 0;
};

struct StatusInput {
  bool health_known = false;
  bool health_up = false;
  conf::NodeState admin = conf::NodeState::kActive;
  // Last good agent figures, kept until they are older than [agent] max_age; then
  // figures_fresh is false and they count as unknown (never as idle).
  std::optional<Figures> figures;
  bool figures_fresh = false;
  Duration check_latency{0};        // latency of the last successful check
  uint32_t active_connections = 0;  // connections the director has open to the node
  uint32_t max_sessions = 0;        // 0: unlimited
  // The node is expected to report figures (an agent is polled). Then having none at all is
  // "unknown load" too. Without an agent, no figures simply means load-based statuses don't apply.
  bool figures_expected = false;
};

// True when the figures may be used: present and fresh.
bool loadKnown(const StatusInput& in);
// True when a load figure was expected or kept but is missing or stale.
bool loadUnknown(const StatusInput& in);
// True when the node has max_sessions and reached it (agent sessions when fresh, or the
// director's own connection count, whichever is higher). Schedulers must skip such a node for
// new sessions even when it is the last one: max_sessions is a hard limit.
bool atSessionLimit(const StatusInput& in);

// First match wins: Maint > Down (unknown health counts as Down) > Drain > Swapped > Busy >
// Slow > Idle. Busy: load_per_cpu > max_load, at max_sessions, or load unknown (stale figures,
// see loadUnknown): an up node whose agent went quiet is usable but not preferred.
NodeStatus deriveStatus(const StatusInput& in, const conf::HealthConfig& cfg);

// May take a new session (degraded ones only when nothing better is eligible).
bool acceptsNew(NodeStatus s);
// Busy, Swapped, Slow: used for new sessions only when no other node is eligible.
bool degraded(NodeStatus s);
// May take a returning user (session index, sticky table): everything up except Maint.
bool acceptsReturning(NodeStatus s);

// Floor of the headroom and slowstart factors: a node that is up with weight > 0 keeps a
// positive weight, so it still gets a trickle of sessions and is never starved to zero.
inline constexpr double kMinFactor = 0.1;

// configured_weight × headroom × ramp, where
//   headroom = clamp(1 - load_per_cpu / max_load, kMinFactor, 1) with fresh figures (max_load
//              <= 0 disables it), kMinFactor when swap_in_per_s > max_swap_in or figures are
//              present but stale, 1 without figures (nothing known: the configured weight);
//   ramp     = kMinFactor + (1 - kMinFactor) × since_up / slowstart while since_up < slowstart,
//              else 1 (slowstart 0: off).
// 0 when configured_weight <= 0; otherwise > 0.
double effectiveWeight(int configured_weight, const std::optional<Figures>& figures, bool fresh,
                       const conf::HealthConfig& cfg, Duration since_up, Duration slowstart);

}  // namespace tsd::health
