// Status derivation and effective weight from health, agent figures and admin state.
#include "healthcheck/node_status.h"

#include <algorithm>
#include <cmath>

namespace tsd::health {

std::string_view toString(NodeStatus s) {
  switch (s) {
    case NodeStatus::kDown:
      return "Down";
    case NodeStatus::kIdle:
      return "Idle";
    case NodeStatus::kBusy:
      return "Busy";
    case NodeStatus::kSwapped:
      return "Swapped";
    case NodeStatus::kSlow:
      return "Slow";
    case NodeStatus::kDrain:
      return "Drain";
    case NodeStatus::kMaint:
      return "Maint";
  }
  return "Down";
}

bool loadKnown(const StatusInput& in) { return in.figures.has_value() && in.figures_fresh; }

bool loadUnknown(const StatusInput& in) {
  if (in.figures.has_value()) return !in.figures_fresh;
  return in.figures_expected;
}

bool atSessionLimit(const StatusInput& in) {
  if (in.max_sessions == 0) return false;
  uint32_t used = in.active_connections;
  if (loadKnown(in)) used = std::max(used, in.figures->sessions);
  return used >= in.max_sessions;
}

namespace {

// max_load <= 0 disables the load figure (it would divide by zero in the headroom).
bool overLoad(const Figures& f, const conf::HealthConfig& cfg) {
  return cfg.max_load > 0 && f.load_per_cpu > cfg.max_load;
}

bool overSwap(const Figures& f, const conf::HealthConfig& cfg) {
  return f.swap_in_per_s > cfg.max_swap_in;
}

}  // namespace

NodeStatus deriveStatus(const StatusInput& in, const conf::HealthConfig& cfg) {
  if (in.admin == conf::NodeState::kMaint) return NodeStatus::kMaint;
  if (!in.health_known || !in.health_up) return NodeStatus::kDown;
  if (in.admin == conf::NodeState::kDrain) return NodeStatus::kDrain;
  const bool known = loadKnown(in);
  if (known && overSwap(*in.figures, cfg)) return NodeStatus::kSwapped;
  if ((known && overLoad(*in.figures, cfg)) || loadUnknown(in) || atSessionLimit(in)) {
    return NodeStatus::kBusy;
  }
  if (cfg.slow_response.count() > 0 && in.check_latency > cfg.slow_response) {
    return NodeStatus::kSlow;
  }
  return NodeStatus::kIdle;
}

bool acceptsNew(NodeStatus s) { return s == NodeStatus::kIdle || degraded(s); }

bool degraded(NodeStatus s) {
  return s == NodeStatus::kBusy || s == NodeStatus::kSwapped || s == NodeStatus::kSlow;
}

bool acceptsReturning(NodeStatus s) { return acceptsNew(s) || s == NodeStatus::kDrain; }

namespace {

double headroom(const std::optional<Figures>& figures, bool fresh, const conf::HealthConfig& cfg) {
  if (!figures) return 1.0;
  if (!fresh) return kMinFactor;
  if (overSwap(*figures, cfg)) return kMinFactor;
  if (cfg.max_load <= 0) return 1.0;
  const double load = std::isfinite(figures->load_per_cpu) ? figures->load_per_cpu : cfg.max_load;
  return std::clamp(1.0 - load / cfg.max_load, kMinFactor, 1.0);
}

double ramp(Duration since_up, Duration slowstart) {
  if (slowstart.count() <= 0 || since_up >= slowstart) return 1.0;
  if (since_up.count() <= 0) return kMinFactor;
  const double part =
      static_cast<double>(since_up.count()) / static_cast<double>(slowstart.count());
  return kMinFactor + (1.0 - kMinFactor) * part;
}

}  // namespace

double effectiveWeight(int configured_weight, const std::optional<Figures>& figures, bool fresh,
                       const conf::HealthConfig& cfg, Duration since_up, Duration slowstart) {
  if (configured_weight <= 0) return 0.0;
  return configured_weight * headroom(figures, fresh, cfg) * ramp(since_up, slowstart);
}

}  // namespace tsd::health
