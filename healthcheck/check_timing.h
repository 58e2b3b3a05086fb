// When the next health check of a node runs: pure functions of the config, the node's state
// and an injected random number, so the director's timers stay thin and tests stay exact.
#pragma once

#include <cstddef>

#include "conf/config.h"
#include "healthcheck/health_state.h"

namespace tsd::health {

using Duration = conf::Duration;

// Jitter is ±10% of the chosen interval, so checks started together drift apart.
inline constexpr double kJitter = 0.10;

// The delay after one check's result before the next check:
//   unknown or pending (a transition in progress) -> fast_interval (never slower than the stable
//   interval), stable up -> interval, stable down -> down_interval;
// multiplied by 1 + kJitter × (2u - 1) for unit_random u in [0, 1) (clamped). At least 1 ms.
Duration nextDelay(const conf::HealthConfig& cfg, const HealthState& state, double unit_random);

// The first check of node `index` out of `count`: spread evenly over one interval
// (index × interval / count), so a thousand nodes are not probed in the same tick.
Duration firstDelay(size_t index, size_t count, Duration interval);

}  // namespace tsd::health
