// Rise/fall sequences, the settling first result, flapping, pending and passive failures.
#include "healthcheck/health_state.h"

#include <gtest/gtest.h>

#include <string>

namespace tsd::health {
namespace {

// Feeds 'u'/'d' results (and 'p' = passive failure, 's' = passive success) and returns one
// character per step: '+' went up, '-' went down, '.' nothing.
std::string run(HealthState& h, const std::string& seq, int passive_fall = 2) {
  std::string out;
  for (char c : seq) {
    Transition t = Transition::kNone;
    if (c == 'u' || c == 'd') t = h.onResult(c == 'u');
    if (c == 'p') t = h.onPassiveFailure(passive_fall);
    if (c == 's') h.onPassiveSuccess();
    out += t == Transition::kWentUp ? '+' : t == Transition::kWentDown ? '-' : '.';
  }
  return out;
}

struct SeqCase {
  const char* name;
  int rise;
  int fall;
  const char* seq;
  const char* want;
};

class SequenceTest : public ::testing::TestWithParam<SeqCase> {};

TEST_P(SequenceTest, Transitions) {
  const SeqCase& c = GetParam();
  HealthState h(c.rise, c.fall);
  EXPECT_EQ(run(h, c.seq), c.want) << c.seq;
}

INSTANTIATE_TEST_SUITE_P(
    RiseFall, SequenceTest,
    ::testing::Values(SeqCase{"FirstUpSettles", 2, 3, "u", "+"},
                      SeqCase{"FirstDownSettles", 2, 3, "d", "-"},
                      SeqCase{"Rise2Fall3", 2, 3, "uudduuuddd", "+........-"},
                      SeqCase{"DownThenRise", 2, 3, "ddduuu", "-...+."},
                      SeqCase{"FallInterrupted", 2, 3, "uddudduddd", "+........-"},
                      SeqCase{"RiseInterrupted", 2, 3, "dududuu", "-.....+"},
                      SeqCase{"OneOne", 1, 1, "ududu", "+-+-+"},
                      SeqCase{"ZeroMeansOne", 0, 0, "udu", "+-+"},
                      SeqCase{"FlappingUpNeverMoves", 2, 2, "udududududud", "+..........."},
                      SeqCase{"FlappingDownNeverMoves", 2, 2, "dudududududu", "-..........."},
                      SeqCase{"Rise3Fall2", 3, 2, "dduuudduuu", "-...+.-..+"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(HealthStateTest, UnknownUntilFirstResult) {
  HealthState h(2, 3);
  EXPECT_FALSE(h.known());
  EXPECT_FALSE(h.up());
  EXPECT_FALSE(h.pending());
  EXPECT_EQ(h.onResult(true), Transition::kWentUp);
  EXPECT_TRUE(h.known());
  EXPECT_TRUE(h.up());
}

TEST(HealthStateTest, PendingWhileTransitionInProgress) {
  HealthState h(2, 3);
  (void)h.onResult(true);
  EXPECT_FALSE(h.pending());
  (void)h.onResult(false);
  EXPECT_TRUE(h.pending());
  EXPECT_EQ(h.against(), 1);
  (void)h.onResult(false);
  EXPECT_TRUE(h.pending());
  (void)h.onResult(true);  // the streak is broken
  EXPECT_FALSE(h.pending());
  EXPECT_EQ(h.against(), 0);
  EXPECT_EQ(run(h, "ddd"), "..-");
  EXPECT_FALSE(h.pending());  // settled down
  (void)h.onResult(true);
  EXPECT_TRUE(h.pending());  // rising
  EXPECT_EQ(h.onResult(true), Transition::kWentUp);
  EXPECT_FALSE(h.pending());
}

TEST(HealthStateTest, SetThresholdsKeepsState) {
  HealthState h(2, 3);
  EXPECT_EQ(run(h, "ud"), "+.");
  h.setThresholds(5, 2);
  EXPECT_TRUE(h.up());
  EXPECT_TRUE(h.pending());
  EXPECT_EQ(h.fall(), 2);
  EXPECT_EQ(run(h, "d"), "-");  // the kept streak of 1 plus this one reaches the new fall
  EXPECT_EQ(run(h, "uuuuu"), "....+");
}

TEST(HealthStateTest, LoweredThresholdAppliesOnNextResult) {
  HealthState h(4, 4);
  EXPECT_EQ(run(h, "uddd"), "+...");
  h.setThresholds(4, 1);
  EXPECT_TRUE(h.up());  // no transition without a result
  EXPECT_EQ(run(h, "d"), "-");
}

struct PassiveCase {
  const char* name;
  int fall;
  int passive_fall;
  const char* seq;
  const char* want;
};

class PassiveTest : public ::testing::TestWithParam<PassiveCase> {};

TEST_P(PassiveTest, Transitions) {
  const PassiveCase& c = GetParam();
  HealthState h(2, c.fall);
  EXPECT_EQ(run(h, c.seq, c.passive_fall), c.want) << c.seq;
}

INSTANTIATE_TEST_SUITE_P(
    Passive, PassiveTest,
    ::testing::Values(
        // Two passive failures take the node down before any active check failed.
        PassiveCase{"PassiveFallFaster", 3, 2, "upp", "+.-"},
        // Passive failures count towards fall together with failed checks.
        PassiveCase{"MixedReachesFall", 3, 5, "udpd", "+..-"},
        PassiveCase{"MixedPassiveLast", 3, 5, "uddp", "+..-"},
        // A good check ends the streak; so does a good connect for the passive part.
        PassiveCase{"CheckOkResets", 3, 2, "upupu", "+...."},
        PassiveCase{"ConnectOkResetsPassive", 3, 2, "upspspp", "+.....-"},
        // A good connect does not forgive failed checks (open port, broken banner).
        PassiveCase{"ConnectOkKeepsActive", 3, 5, "uddsd", "+...-"},
        // Ignored while unknown or down, and when disabled.
        PassiveCase{"IgnoredWhileUnknown", 3, 1, "pppu", "...+"},
        PassiveCase{"IgnoredWhileDown", 3, 1, "dppuu", "-...+"},
        PassiveCase{"Disabled", 3, 0, "upppppp", "+......"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(HealthStateTest, PassiveFailureMakesPending) {
  HealthState h(2, 3);
  (void)h.onResult(true);
  EXPECT_EQ(h.onPassiveFailure(3), Transition::kNone);
  EXPECT_TRUE(h.pending());  // so the fast interval confirms it soon
  h.onPassiveSuccess();
  EXPECT_FALSE(h.pending());
}

}  // namespace
}  // namespace tsd::health
