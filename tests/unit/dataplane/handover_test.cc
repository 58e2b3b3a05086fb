// The per-direction hand-over state machine and the promotion rule, against a fake kernel
// (counts only, no sockets): modes, pending counts and the ordering rules.
#include "director/dataplane/handover.h"

#include <gtest/gtest.h>

namespace tsd::director {
namespace {

using Mode = DirectionHandover::Mode;

// One direction src -> dst as the kernel would keep it: skbs the verdict redirected wait in
// dst's psock backlog until dst's send buffer has room; once src's verdict is stopped they
// stay on src. `taken` is what dst's TCP accepted.
struct FakeDirection {
  bool pass = false;             // src's verdict was stopped (out of the verdict map)
  bool verdict_running = false;  // a verdict that started before the stop is still running
  uint64_t redirected = 0;
  uint64_t taken = 0;
  uint64_t held_on_src = 0;  // passed bytes waiting on src for user space

  void arrive(uint64_t n) {
    if (pass && !verdict_running) {
      held_on_src += n;
    } else {
      redirected += n;  // counted before the redirect takes effect
    }
  }
  void dstTakes(uint64_t n) { taken = std::min(redirected, taken + n); }
  DirectionSample sample() const { return {redirected, taken}; }
};

// Drives a DirectionHandover the way KernelForwarder does: stop the verdict, barrier, samples.
void handBack(DirectionHandover& h, FakeDirection& k) {
  ASSERT_TRUE(h.beginDrain());
  k.pass = true;
  k.verdict_running = false;  // the barrier: the socket lock waits for a running verdict
  h.barrierPassed();
}

TEST(DirectionHandoverTest, StartsSplicedAndUserSpaceTouchesNothing) {
  DirectionHandover h;
  EXPECT_EQ(h.mode(), Mode::kSpliced);
  EXPECT_FALSE(h.mayReadSource());
  EXPECT_FALSE(h.mayWriteTarget());
}

TEST(DirectionHandoverTest, HandsBackOnlyAboveTheCapAndOnlyWhileSpliced) {
  DirectionHandover h;
  EXPECT_FALSE(h.shouldHandBack(4 << 20, 4 << 20));
  EXPECT_TRUE(h.shouldHandBack((4 << 20) + 1, 4 << 20));
  ASSERT_TRUE(h.beginDrain());
  EXPECT_FALSE(h.shouldHandBack(100 << 20, 4 << 20));
  EXPECT_FALSE(h.beginDrain());  // one way
}

TEST(DirectionHandoverTest, DrainingReadsTheSourceButNeverWritesTheTargetWhileBytesArePending) {
  DirectionHandover h;
  FakeDirection k;
  k.arrive(10 << 20);
  k.dstTakes(3 << 20);
  handBack(h, k);
  EXPECT_EQ(h.mode(), Mode::kDraining);
  EXPECT_TRUE(h.mayReadSource());
  EXPECT_FALSE(h.mayWriteTarget());
  k.arrive(1 << 20);  // after the stop: stays on the source, not counted as redirected
  EXPECT_EQ(k.held_on_src, 1u << 20);
  EXPECT_EQ(DirectionHandover::pending(k.sample()), 7u << 20);
  EXPECT_FALSE(h.onSample(k.sample()));
  k.dstTakes((7 << 20) - 1);
  EXPECT_FALSE(h.onSample(k.sample()));
  EXPECT_FALSE(h.mayWriteTarget());
  k.dstTakes(1);
  EXPECT_TRUE(h.onSample(k.sample()));
  EXPECT_EQ(h.mode(), Mode::kUser);
  EXPECT_TRUE(h.mayWriteTarget());
  EXPECT_FALSE(h.onSample(k.sample()));  // reported once
}

TEST(DirectionHandoverTest, TheCountIsNotTrustedBeforeTheBarrier) {
  DirectionHandover h;
  FakeDirection k;
  ASSERT_TRUE(h.beginDrain());
  k.pass = true;
  k.verdict_running = true;              // a verdict saw SPLICE and has not returned yet
  EXPECT_FALSE(h.onSample(k.sample()));  // nothing pending *yet*: not enough
  k.arrive(4096);                        // ...it redirects after all
  h.barrierPassed();
  k.verdict_running = false;
  EXPECT_FALSE(h.onSample(k.sample()));
  k.dstTakes(4096);
  EXPECT_TRUE(h.onSample(k.sample()));
}

TEST(DirectionHandoverTest, EachDirectionDecidesAlone) {
  // The echo case: up cannot drain (the echo node is blocked writing), down can. Down must
  // reach user space without waiting for up, so that reading it unblocks the node.
  DirectionHandover up, down;
  FakeDirection ku, kd;
  ku.arrive(8 << 20);
  kd.arrive(8 << 20);
  handBack(up, ku);
  handBack(down, kd);
  kd.dstTakes(8 << 20);  // the client reads the echo
  EXPECT_TRUE(down.onSample(kd.sample()));
  EXPECT_FALSE(up.onSample(ku.sample()));
  EXPECT_EQ(down.mode(), Mode::kUser);
  EXPECT_EQ(up.mode(), Mode::kDraining);
  ku.dstTakes(8 << 20);  // user space read the node, so the node reads again
  EXPECT_TRUE(up.onSample(ku.sample()));
}

TEST(DirectionHandoverTest, KernelFinWaitsForTheParserAndTheTarget) {
  DirectionHandover h;
  FakeDirection k;
  k.arrive(1000);
  // received counts the FIN as 1: 1000 bytes + FIN = 1001.
  EXPECT_FALSE(h.mayPassKernelFin(k.sample(), 1001));  // target took nothing yet
  k.dstTakes(1000);
  EXPECT_TRUE(h.mayPassKernelFin(k.sample(), 1001));
  EXPECT_FALSE(h.mayPassKernelFin(k.sample(), 1501));  // the parser has 500 bytes to go
  h.finPassed();
  EXPECT_EQ(h.mode(), Mode::kFinished);
  EXPECT_FALSE(h.beginDrain());
  EXPECT_FALSE(h.shouldHandBack(~uint64_t{0}, 1));
}

TEST(DirectionHandoverTest, AHandedBackDirectionNeverPassesAKernelFin) {
  DirectionHandover h;
  FakeDirection k;
  handBack(h, k);
  EXPECT_FALSE(h.mayPassKernelFin(k.sample(), 1));  // user space reads the EOF itself
  h.finPassed();
  EXPECT_EQ(h.mode(), Mode::kDraining);
}

TEST(DirectionHandoverTest, EofIsBelievedOnlyWhenEveryReceivedByteIsAccountedFor) {
  // received = data + 1 (the FIN)
  EXPECT_TRUE(DirectionHandover::eofComplete(1001, 600, 400));
  EXPECT_FALSE(DirectionHandover::eofComplete(1001, 600, 399));  // one byte still on its way
  EXPECT_TRUE(DirectionHandover::eofComplete(1, 0, 0));
  EXPECT_FALSE(DirectionHandover::eofComplete(5001, 0, 0));
}

TEST(DirectionHandoverTest, ACountAboveWhatWasReceivedIsImpossible) {
  EXPECT_FALSE(DirectionHandover::countImpossible(1000, 1001));  // all but the FIN
  EXPECT_FALSE(DirectionHandover::countImpossible(1000, 1000));
  EXPECT_TRUE(DirectionHandover::countImpossible(1001, 1000));
  EXPECT_TRUE(DirectionHandover::countImpossible(173248, 116000));  // seen: a partly read segment
}

TEST(PromotionTest, OnlyLongLivedQuietPairs) {
  PromotionRules r;
  struct Case {
    const char* name;
    PairActivity a;
    bool promote;
  };
  const Case cases[] = {
      {"young", {r.min_age_ms - 1, 0, 0, false, false}, false},
      {"interactive", {r.min_age_ms, 640, 64, false, false}, true},
      {"idle", {5000, 0, 0, false, false}, true},
      {"big read", {5000, 4096, r.max_message + 1, false, false}, false},
      {"bulk window", {5000, r.max_window_bytes + 1, 1024, false, false}, false},
      {"peer full", {5000, 10, 10, true, false}, false},
      {"closing", {5000, 10, 10, false, true}, false},
      {"quiet after a bulk window", {5000, 640, 64, false, false, true}, false},
      {"quiet, bytes waiting unsent in a socket",
       {5000, 640, 64, false, false, false, r.max_queued + 1},
       false},
      {"quiet, a keystroke waiting unsent", {5000, 640, 64, false, false, false, 64}, true},
      // One unread byte may sit behind a segment user space read part of: never promoted.
      {"quiet, one byte unread", {5000, 640, 64, false, false, false, 0, 1}, false},
  };
  for (const Case& c : cases) EXPECT_EQ(shouldPromote(r, c.a), c.promote) << c.name;
}

TEST(PromotionTest, ZeroAgePromotesAtOnce) {
  PromotionRules r;
  r.min_age_ms = 0;
  EXPECT_TRUE(shouldPromote(r, PairActivity{}));
}

}  // namespace
}  // namespace tsd::director
