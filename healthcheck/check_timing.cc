// Check scheduling: interval choice by state, jitter and the staggered first round.
#include "healthcheck/check_timing.h"

#include <algorithm>
#include <cmath>

namespace tsd::health {

namespace {

Duration baseInterval(const conf::HealthConfig& cfg, const HealthState& state) {
  const Duration stable = state.up() ? cfg.interval : cfg.down_interval;
  // While unknown or pending we want the answer soon; a misconfigured fast_interval larger than
  // the stable one must not slow that down.
  if (!state.known() || state.pending()) return std::min(cfg.fast_interval, stable);
  return stable;
}

}  // namespace

Duration nextDelay(const conf::HealthConfig& cfg, const HealthState& state, double unit_random) {
  double u = std::isfinite(unit_random) ? std::clamp(unit_random, 0.0, 1.0) : 0.5;
  const double factor = 1.0 + kJitter * (2.0 * u - 1.0);
  const double ms = static_cast<double>(baseInterval(cfg, state).count()) * factor;
  return Duration(std::max<int64_t>(1, std::llround(ms)));
}

Duration firstDelay(size_t index, size_t count, Duration interval) {
  if (count == 0 || interval.count() <= 0) return Duration(0);
  index = std::min(index, count - 1);
  // Multiply first for an even spread; ms × index stays far below 2^64 for real configs.
  const auto ms = static_cast<uint64_t>(interval.count()) * index / count;
  return Duration(static_cast<Duration::rep>(ms));
}

}  // namespace tsd::health
