// HealthState: rise/fall counting with a settling first result and passive failures.
#include "healthcheck/health_state.h"

#include <algorithm>

namespace tsd::health {

HealthState::HealthState(int rise, int fall) : rise_(std::max(1, rise)), fall_(std::max(1, fall)) {}

void HealthState::setThresholds(int rise, int fall) {
  rise_ = std::max(1, rise);
  fall_ = std::max(1, fall);
}

Transition HealthState::flip() {
  up_ = !up_;
  against_ = 0;
  passive_ = 0;
  return up_ ? Transition::kWentUp : Transition::kWentDown;
}

Transition HealthState::onResult(bool ok) {
  if (!known_) {
    known_ = true;
    up_ = ok;
    return ok ? Transition::kWentUp : Transition::kWentDown;
  }
  if (ok == up_) {
    // A result that agrees with the state ends any streak, passive failures included: the
    // node answered the check the operator chose.
    against_ = 0;
    passive_ = 0;
    return Transition::kNone;
  }
  ++against_;
  return against_ >= (up_ ? fall_ : rise_) ? flip() : Transition::kNone;
}

Transition HealthState::onPassiveFailure(int passive_fall) {
  if (!known_ || !up_ || passive_fall <= 0) return Transition::kNone;
  ++against_;
  ++passive_;
  if (against_ >= fall_ || passive_ >= passive_fall) return flip();
  return Transition::kNone;
}

void HealthState::onPassiveSuccess() {
  if (!up()) return;
  // Only the passive part of the streak is forgiven; failed active checks stay counted.
  against_ -= passive_;
  passive_ = 0;
}

}  // namespace tsd::health
