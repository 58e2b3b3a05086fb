// The decisions of the eBPF fast path, in pure code (no sockets, no clock): the per-direction
// hand-over from the kernel to user space, and when a user-space pair is promoted to the kernel.
#pragma once

#include <cstdint>

namespace tsd::director {

// What the adapter measured about one direction src -> dst, counted since the pair was
// inserted in the maps.
struct DirectionSample {
  uint64_t redirected = 0;  // bytes src's verdict redirected towards dst (the BPF counter)
  uint64_t taken = 0;       // bytes dst's TCP took since insertion (bytes_acked + SIOCOUTQ - base)
};

// One direction of a fast-path pair. One way only: kSpliced -> kDraining -> kUser (a direction
// never goes back to the kernel: nothing re-runs the verdict on bytes it passed), or
// kSpliced -> kFinished when the kernel passed the FIN.
//
// Rules it enforces (docs/fast-path.md, "Hand-over"):
// - src's verdict stops first (src leaves the verdict map but stays in the target map, which
//   keeps its psock): new bytes stay in src's receive queue, charged to it, so TCP flow
//   control throttles the sender;
// - the redirect count is trusted only after a barrier (no verdict of src still running:
//   the kernel stops the parser under src's callback lock);
// - user space may read src once the verdict passes, but writes to dst only when every
//   redirected byte reached dst's TCP (a plain write would overtake the psock backlog);
// - each direction decides alone: one direction's drain never waits for the other.
class DirectionHandover {
 public:
  enum class Mode : uint8_t { kSpliced, kDraining, kUser, kFinished };

  Mode mode() const { return mode_; }
  bool spliced() const { return mode_ == Mode::kSpliced; }

  static uint64_t pending(const DirectionSample& s) {
    return s.redirected > s.taken ? s.redirected - s.taken : 0;
  }

  // Bytes redirected towards dst and not yet acked by dst's remote end, over the cap: hand
  // this direction back. `queued` = redirected + base(dst) - bytes_acked(dst).
  bool shouldHandBack(uint64_t queued, uint64_t cap) const {
    return mode_ == Mode::kSpliced && queued > cap;
  }

  // kSpliced -> kDraining. The adapter must then stop src's verdict and report the barrier
  // (barrierPassed). False when not spliced (finished, or already handed back).
  bool beginDrain() {
    if (mode_ != Mode::kSpliced) return false;
    mode_ = Mode::kDraining;
    barrier_ = false;
    return true;
  }
  void barrierPassed() {
    if (mode_ == Mode::kDraining) barrier_ = true;
  }

  // kDraining -> kUser once the barrier passed and nothing is pending to dst. True when it
  // switched now (the adapter then opens the user-space gate).
  bool onSample(const DirectionSample& s) {
    if (mode_ != Mode::kDraining || !barrier_ || pending(s) > 0) return false;
    mode_ = Mode::kUser;
    return true;
  }

  bool mayReadSource() const { return mode_ == Mode::kDraining || mode_ == Mode::kUser; }
  bool mayWriteTarget() const { return mode_ == Mode::kUser; }

  // src sent FIN while spliced: pass it on (shut dst's write side) only when the verdict saw
  // every byte src received (`received` counts the FIN as 1) and dst's TCP took all of them.
  bool mayPassKernelFin(const DirectionSample& s, uint64_t received) const {
    return mode_ == Mode::kSpliced && s.redirected + 1 >= received && pending(s) == 0;
  }
  void finPassed() {
    if (mode_ == Mode::kSpliced) mode_ = Mode::kFinished;
  }

  // User space read EOF from src: a real end only when every byte src received was either
  // redirected by the kernel or read by user space (`received` counts the FIN as 1). A psock
  // socket's recv() can report the end while bytes are still on their way to its queue.
  static bool eofComplete(uint64_t received, uint64_t redirected, uint64_t user_read) {
    return redirected + user_read + 1 >= received;
  }

  // The verdict counted more bytes than the source received (a received FIN counts 1 too):
  // impossible unless the kernel miscounted, and then no drain or FIN check would ever pass.
  static bool countImpossible(uint64_t redirected, uint64_t received) {
    return redirected > received;
  }

 private:
  Mode mode_ = Mode::kSpliced;
  bool barrier_ = false;
};

// When a pair that starts in user space is promoted to the kernel: once it proved long-lived
// and interactive. Bulk pairs stay in user space (the kernel path has no backpressure and less
// throughput); short request/response pairs never touch the maps. A pair is promoted at most
// once: a handed-back direction cannot return to the kernel (bytes the verdict passed would be
// overtaken), and taking a socket out of the maps frees what is queued to it.
struct PromotionRules {
  uint64_t min_age_ms = 200;            // alive at least this long (0: promote at once)
  uint64_t max_message = 16 << 10;      // no single read in the last window larger than this
  uint64_t max_window_bytes = 1 << 20;  // and no more than this both ways in the last window
  uint64_t max_queued = 16 << 10;       // nor this much unsent in any of the two sockets
};

// What the user-space forwarder observed over its last window.
struct PairActivity {
  uint64_t age_ms = 0;           // since the pair was connected
  uint64_t window_bytes = 0;     // bytes both ways in the last window
  uint64_t window_max_read = 0;  // the largest single read in the last window
  bool buffered = false;         // user space holds bytes not yet written (a peer is full)
  bool half_closed = false;      // a FIN was seen: the pair is ending, leave it
  bool previous_bulk = false;    // the window judged before this one was not interactive
  uint64_t queued = 0;           // the most bytes written and not yet sent in one socket
  uint64_t unread = 0;           // bytes received and not read, both sockets together
};

// The size rules alone: was this window interactive?
inline bool interactiveWindow(const PromotionRules& r, const PairActivity& a) {
  return a.window_max_read <= r.max_message && a.window_bytes <= r.max_window_bytes;
}

// A stream is never promoted while it flows: after a bulk window a pair needs one more quiet
// window, little may wait unsent in its sockets, and nothing unread: a receive queue whose
// head segment user space read part of would be miscounted by the kernel's stream parser,
// and the bytes after it held for ever (docs/fast-path.md, "Partly read segments").
inline bool shouldPromote(const PromotionRules& r, const PairActivity& a) {
  if (a.half_closed || a.buffered || a.age_ms < r.min_age_ms) return false;
  return interactiveWindow(r, a) && !a.previous_bulk && a.queued <= r.max_queued && a.unread == 0;
}

}  // namespace tsd::director
