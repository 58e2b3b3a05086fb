// HealthState: the rise/fall state machine of one node's check. Pure: results go in,
// transitions come out; the caller owns the clock, logs and counts the transitions.
#pragma once

#include <cstdint>

namespace tsd::health {

enum class Transition { kNone, kWentUp, kWentDown };

class HealthState {
 public:
  // rise: consecutive successes that bring a down node up; fall: consecutive failures that take
  // an up node down. Values below 1 are treated as 1.
  HealthState(int rise, int fall);

  // One active check result. The first result ever settles the state at once (unknown -> up
  // or down) and is reported as a transition, so a starting director does not wait rise×interval
  // before it has any node to use.
  Transition onResult(bool ok);

  // A connect failure the director saw on real traffic. While up, it counts like a failed check
  // (towards fall) and, with passive_fall > 0, passive_fall consecutive ones take the node down
  // even when active checks have not failed yet. Ignored while down or unknown (the active
  // check decides those) and when passive_fall <= 0.
  Transition onPassiveFailure(int passive_fall);
  // A successful connect on real traffic: clears the passive failure streak only. It does not
  // clear failed active checks: a port can accept while the check (e.g. ssh banner) fails.
  void onPassiveSuccess();

  // For a reload: new thresholds, same state and counters (a reached threshold applies on the
  // next result against the state).
  void setThresholds(int rise, int fall);

  bool known() const { return known_; }
  bool up() const { return known_ && up_; }
  // Results against the current state have been seen but the threshold is not reached yet.
  bool pending() const { return known_ && (against_ > 0 || passive_ > 0); }
  // Consecutive results against the current state (active and passive), for status displays.
  int against() const { return against_; }
  int rise() const { return rise_; }
  int fall() const { return fall_; }

 private:
  Transition flip();

  int rise_;
  int fall_;
  bool known_ = false;
  bool up_ = false;
  int against_ = 0;  // consecutive results against the state, passive failures included
  int passive_ = 0;  // passive failures in the current streak (a part of against_)
};

}  // namespace tsd::health
