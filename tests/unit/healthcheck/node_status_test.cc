// Status derivation from health, figures, admin state and limits; effective weight and ramp.
#include "healthcheck/node_status.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tsd::health {
namespace {

using conf::NodeState;
using std::chrono::milliseconds;

conf::HealthConfig config() {
  conf::HealthConfig c;
  c.max_load = 2.0;
  c.max_swap_in = 100.0;
  c.slow_response = milliseconds(500);
  return c;
}

Figures fig(double load, double swap = 0, uint32_t sessions = 0) {
  return Figures{load, swap, 4u << 20, sessions};
}

StatusInput upNode() {
  StatusInput in;
  in.health_known = true;
  in.health_up = true;
  in.figures = fig(0.5);
  in.figures_fresh = true;
  in.check_latency = milliseconds(3);
  return in;
}

struct StatusCase {
  const char* name;
  StatusInput in;
  NodeStatus want;
};

template <typename F>
StatusInput with(F f) {
  StatusInput in = upNode();
  f(in);
  return in;
}

class DeriveStatusTest : public ::testing::TestWithParam<StatusCase> {};

TEST_P(DeriveStatusTest, Derives) {
  const StatusCase& c = GetParam();
  EXPECT_EQ(toString(deriveStatus(c.in, config())), toString(c.want));
}

INSTANTIATE_TEST_SUITE_P(
    Table, DeriveStatusTest,
    ::testing::Values(
        StatusCase{"Idle", upNode(), NodeStatus::kIdle},
        StatusCase{"UnknownHealthIsDown", with([](auto& i) { i.health_known = false; }),
                   NodeStatus::kDown},
        StatusCase{"Down", with([](auto& i) { i.health_up = false; }), NodeStatus::kDown},
        StatusCase{"MaintBeatsDown", with([](auto& i) {
                     i.health_up = false;
                     i.admin = NodeState::kMaint;
                   }),
                   NodeStatus::kMaint},
        StatusCase{"MaintWhenUp", with([](auto& i) { i.admin = NodeState::kMaint; }),
                   NodeStatus::kMaint},
        StatusCase{"DownBeatsDrain", with([](auto& i) {
                     i.health_up = false;
                     i.admin = NodeState::kDrain;
                   }),
                   NodeStatus::kDown},
        StatusCase{"DrainBeatsSwapped", with([](auto& i) {
                     i.admin = NodeState::kDrain;
                     i.figures = fig(9, 500);
                   }),
                   NodeStatus::kDrain},
        StatusCase{"Swapped", with([](auto& i) { i.figures = fig(0.1, 100.5); }),
                   NodeStatus::kSwapped},
        StatusCase{"SwappedBeatsBusy", with([](auto& i) { i.figures = fig(5, 500); }),
                   NodeStatus::kSwapped},
        StatusCase{"SwapAtLimitIsIdle", with([](auto& i) { i.figures = fig(0.1, 100); }),
                   NodeStatus::kIdle},
        StatusCase{"BusyLoad", with([](auto& i) { i.figures = fig(2.01); }), NodeStatus::kBusy},
        StatusCase{"LoadAtLimitIsIdle", with([](auto& i) { i.figures = fig(2.0); }),
                   NodeStatus::kIdle},
        StatusCase{"BusyBeatsSlow", with([](auto& i) {
                     i.figures = fig(3);
                     i.check_latency = milliseconds(900);
                   }),
                   NodeStatus::kBusy},
        StatusCase{"Slow", with([](auto& i) { i.check_latency = milliseconds(501); }),
                   NodeStatus::kSlow},
        StatusCase{"LatencyAtLimitIsIdle",
                   with([](auto& i) { i.check_latency = milliseconds(500); }), NodeStatus::kIdle},
        StatusCase{"MaxSessionsFromAgent", with([](auto& i) {
                     i.max_sessions = 4;
                     i.figures = fig(0.1, 0, 4);
                   }),
                   NodeStatus::kBusy},
        StatusCase{"MaxSessionsFromConnections", with([](auto& i) {
                     i.max_sessions = 4;
                     i.active_connections = 5;
                   }),
                   NodeStatus::kBusy},
        StatusCase{"BelowMaxSessions", with([](auto& i) {
                     i.max_sessions = 4;
                     i.figures = fig(0.1, 0, 3);
                   }),
                   NodeStatus::kIdle},
        StatusCase{"UnlimitedSessions", with([](auto& i) {
                     i.max_sessions = 0;
                     i.active_connections = 99999;
                   }),
                   NodeStatus::kIdle},
        // Stale figures are unknown, never Idle: neither their low load nor their sessions count.
        StatusCase{"StaleLowLoadIsBusy", with([](auto& i) { i.figures_fresh = false; }),
                   NodeStatus::kBusy},
        StatusCase{"StaleSwapIsNotSwapped", with([](auto& i) {
                     i.figures = fig(0.1, 900);
                     i.figures_fresh = false;
                   }),
                   NodeStatus::kBusy},
        StatusCase{"StaleButDrain", with([](auto& i) {
                     i.figures_fresh = false;
                     i.admin = NodeState::kDrain;
                   }),
                   NodeStatus::kDrain},
        StatusCase{"ExpectedButNoneYet", with([](auto& i) {
                     i.figures.reset();
                     i.figures_expected = true;
                   }),
                   NodeStatus::kBusy},
        StatusCase{"NoAgentIsIdle", with([](auto& i) { i.figures.reset(); }), NodeStatus::kIdle},
        StatusCase{"NoAgentSlow", with([](auto& i) {
                     i.figures.reset();
                     i.check_latency = milliseconds(800);
                   }),
                   NodeStatus::kSlow}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DeriveStatusTest, ZeroThresholdsDisableLoadAndSlow) {
  conf::HealthConfig cfg = config();
  cfg.max_load = 0;
  cfg.slow_response = milliseconds(0);
  StatusInput in = with([](auto& i) {
    i.figures = fig(50);
    i.check_latency = milliseconds(5000);
  });
  EXPECT_EQ(deriveStatus(in, cfg), NodeStatus::kIdle);
}

TEST(StatusPredicatesTest, Table) {
  struct Row {
    NodeStatus s;
    const char* name;
    bool new_ok, degraded, returning_ok;
  };
  const Row rows[] = {
      {NodeStatus::kDown, "Down", false, false, false},
      {NodeStatus::kIdle, "Idle", true, false, true},
      {NodeStatus::kBusy, "Busy", true, true, true},
      {NodeStatus::kSwapped, "Swapped", true, true, true},
      {NodeStatus::kSlow, "Slow", true, true, true},
      {NodeStatus::kDrain, "Drain", false, false, true},
      {NodeStatus::kMaint, "Maint", false, false, false},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(toString(r.s), r.name);
    EXPECT_EQ(acceptsNew(r.s), r.new_ok) << r.name;
    EXPECT_EQ(degraded(r.s), r.degraded) << r.name;
    EXPECT_EQ(acceptsReturning(r.s), r.returning_ok) << r.name;
  }
}

TEST(StatusPredicatesTest, SessionLimitIgnoresStaleAgentCount) {
  StatusInput in = with([](auto& i) {
    i.max_sessions = 2;
    i.figures = fig(0.1, 0, 10);
    i.figures_fresh = false;
  });
  EXPECT_FALSE(atSessionLimit(in));
  in.active_connections = 2;
  EXPECT_TRUE(atSessionLimit(in));
}

struct WeightCase {
  const char* name;
  int weight;
  std::optional<Figures> figures;
  bool fresh;
  int64_t since_up_ms;
  int64_t slowstart_ms;
  double want;
};

class EffectiveWeightTest : public ::testing::TestWithParam<WeightCase> {};

TEST_P(EffectiveWeightTest, Computes) {
  const WeightCase& c = GetParam();
  const double w = effectiveWeight(c.weight, c.figures, c.fresh, config(),
                                   milliseconds(c.since_up_ms), milliseconds(c.slowstart_ms));
  EXPECT_NEAR(w, c.want, 1e-9);
  if (c.weight > 0) {
    EXPECT_GT(w, 0.0);
  }
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

INSTANTIATE_TEST_SUITE_P(
    Table, EffectiveWeightTest,
    ::testing::Values(WeightCase{"NoFigures", 10, std::nullopt, false, 0, 0, 10.0},
                      WeightCase{"IdleNode", 10, fig(0), true, 0, 0, 10.0},
                      WeightCase{"HalfLoaded", 10, fig(1.0), true, 0, 0, 5.0},
                      WeightCase{"QuarterLoaded", 8, fig(0.5), true, 0, 0, 6.0},
                      WeightCase{"OverloadedFloor", 10, fig(7.0), true, 0, 0, 1.0},
                      WeightCase{"NearlyFullFloor", 10, fig(1.9), true, 0, 0, 1.0},
                      WeightCase{"NegativeLoadCapped", 10, fig(-4), true, 0, 0, 10.0},
                      WeightCase{"NaNLoadFloor", 10, fig(kNaN), true, 0, 0, 1.0},
                      WeightCase{"SwappingFloor", 10, fig(0, 101), true, 0, 0, 1.0},
                      WeightCase{"StaleFloor", 10, fig(0), false, 0, 0, 1.0},
                      WeightCase{"ZeroWeight", 0, fig(0), true, 0, 0, 0.0},
                      WeightCase{"NegativeWeight", -3, fig(0), true, 0, 0, 0.0},
                      WeightCase{"SlowstartOff", 10, std::nullopt, false, 0, 0, 10.0},
                      WeightCase{"RampStart", 10, std::nullopt, false, 0, 60000, 1.0},
                      WeightCase{"RampNegative", 10, std::nullopt, false, -5, 60000, 1.0},
                      WeightCase{"RampHalf", 10, std::nullopt, false, 30000, 60000, 5.5},
                      WeightCase{"RampDone", 10, std::nullopt, false, 60000, 60000, 10.0},
                      WeightCase{"RampLong", 10, std::nullopt, false, 999999, 60000, 10.0},
                      WeightCase{"RampTimesHeadroom", 10, fig(1.0), true, 30000, 60000, 2.75},
                      WeightCase{"BothFloors", 1, fig(9), true, 0, 60000, 0.01}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(EffectiveWeightTest, RampIsMonotonic) {
  double prev = 0;
  for (int64_t t = 0; t <= 10000; t += 250) {
    const double w =
        effectiveWeight(100, std::nullopt, false, config(), milliseconds(t), milliseconds(10000));
    EXPECT_GT(w, prev) << t;
    prev = w;
  }
  EXPECT_DOUBLE_EQ(prev, 100.0);
}

}  // namespace
}  // namespace tsd::health
