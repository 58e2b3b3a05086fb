// FastPath: owns the loaded sockmap program (the libbpf skeleton of bpf/splice.bpf.c), its maps
// and the per-socket counter slots. KernelForwarder uses it to hand socket pairs to the kernel.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>

#include "bpf/tsd_abi.h"
#include "conf/result.h"

struct tsd_splice;  // the generated skeleton
struct event_base;

namespace tsd::director {

class FastPathMonitor;

// Per-reason counters of the verdict program (summed over CPUs), indexed by tsd_stat_reason.
struct FastPathStats {
  std::array<uint64_t, TSD_STAT_COUNT> packets{};
  std::array<uint64_t, TSD_STAT_COUNT> bytes{};
};

// One socket registered with the fast path: its cookie and counter slot.
struct FastPathSocket {
  uint64_t cookie = 0;
  uint32_t slot = 0;
};

class FastPath {
 public:
  static constexpr uint32_t kDefaultMaxSockets = TSD_DEFAULT_SOCKETS;

  // Opens, sizes and loads the program and attaches parser + verdict to the verdict map.
  // Fails with a message naming the missing capability when the kernel refuses.
  static Result<std::unique_ptr<FastPath>> load(uint32_t max_sockets = kDefaultMaxSockets);
  ~FastPath();
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  // Stable metric label of a reason code ("redirected", "no_peer", ...).
  static std::string_view reasonName(uint32_t reason);
  Result<FastPathStats> stats() const;
  // Entries in the verdict, target and slot maps together: 0 when no pair is on the fast path.
  size_t mapEntries() const;
  uint32_t capacity() const { return max_sockets_; }
  // True when the stream parser ends a message that begins inside its skb at that skb's end
  // (loaded with CAP_PERFMON), so such a message is carried and counted exactly. Sockets user
  // space read part of a segment from are refused at hand-off either way.
  bool realigns() const { return realigns_; }

  // --- used by KernelForwarder ---
  // Reads the socket cookie, takes a counter slot (zeroed) and publishes cookie -> slot.
  Result<FastPathSocket> registerSocket(int fd);
  void unregisterSocket(const FastPathSocket& s);
  // Target map: packets received by the socket with cookie `from` go out of `to_fd`.
  Status insertTarget(uint64_t from, int to_fd);
  Status insertVerdict(uint64_t cookie, int fd);
  void removeTarget(uint64_t from);
  void removeVerdict(uint64_t cookie);
  // Bytes the socket in `slot` has redirected to its peer (no syscall: mmapped counters).
  uint64_t redirectedBytes(uint32_t slot) const;
  // The counter slot of a registered socket (by its SO_COOKIE), from the slot map.
  std::optional<uint32_t> slotOf(uint64_t cookie) const;
  // Tests only: adds to a slot's counter as a kernel miscount would.
  void addRedirectedForTest(uint32_t slot, uint64_t n) {
    counters_[slot].redirected_bytes = counters_[slot].redirected_bytes + n;
  }
  // Hand-over events of all pairs, for metrics (monotonic).
  struct Counts {
    uint64_t inserted = 0;          // pairs put in the maps (at connect or promoted later)
    uint64_t promoted = 0;          // ...of which promoted from user space
    uint64_t handed_back = 0;       // directions handed to user space (queue above demote_bytes)
    uint64_t promotion_failed = 0;  // promotions the kernel refused (the pair stayed in user space)
    uint64_t miscount_resets = 0;   // pairs reset: the kernel counted more than was received
    uint64_t lost_resets = 0;       // pairs reset: bytes received never reached user space or peer
    // Live pairs now: in the maps, and of those with at least one direction handed back.
    uint64_t live_kernel = 0;
    uint64_t live_handed_back = 0;
  };
  Counts& counts() { return counts_; }
  const Counts& counts() const { return counts_; }
  // The shared close/demotion watcher of all KernelForwarders on `base` (created on first use).
  // The FastPath must be destroyed before that event_base.
  FastPathMonitor& monitor(event_base* base);

 private:
  FastPath() = default;
  static Result<std::unique_ptr<FastPath>> open(uint32_t max_sockets, bool realign);
  Status attach();
  Status mapCounters();

  tsd_splice* skel_ = nullptr;
  uint32_t max_sockets_ = 0;
  bool realigns_ = false;
  volatile tsd_sock_counter* counters_ = nullptr;
  size_t counters_len_ = 0;
  std::deque<uint32_t> free_slots_;  // FIFO: a freed slot is reused last
  std::unique_ptr<FastPathMonitor> monitor_;
  Counts counts_;
};

}  // namespace tsd::director
