// KernelForwarder: the eBPF fast path for one client<->node pair. The kernel redirects the bytes;
// this watches for FIN, RST and a growing queue without per-packet work, and hands a direction
// whose queue grows to user space on its own (the pair stays in the maps until it closes).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "conf/result.h"
#include "director/base/event_util.h"
#include "director/base/intrusive_list.h"
#include "director/base/unique_fd.h"
#include "director/dataplane/fast_path.h"
#include "director/dataplane/forwarder.h"
#include "director/dataplane/handover.h"
#include "director/dataplane/userspace_forwarder.h"

struct epoll_event;

namespace tsd::director {

class KernelForwarder;
class FastPathMonitor;

class KernelForwarder : public Forwarder {
 public:
  struct Options {
    uint64_t demote_bytes = 4 << 20;  // queue above which a direction is handed to user space
    uint32_t buffer_size = 256 * 1024;
    std::vector<char>* scratch = nullptr;  // user-space copy buffer, at least buffer_size
  };
  // Hands the pair to the kernel. Every byte read from either fd before must have been written
  // on (MSG_PEEK only, or a user-space forwarder with nothing buffered), and a socket user
  // space has read from must have nothing left unread (see partlyRead). On error nothing
  // changed: the caller can still forward in user space.
  // read_to_empty: the caller saw both receive queues empty after its last read and has not
  // read since, so whatever is unread now came later, in whole segments: accepted.
  static Result<std::unique_ptr<KernelForwarder>> start(FastPath& fp, event_base* base,
                                                        int client_fd, int node_fd,
                                                        const Options& opts, Done done,
                                                        bool read_to_empty = false);
  // True when fd's receive queue may hold a segment user space read only part of: bytes were
  // read from it and some are still unread (a plain TCP socket, before the hand-off). The
  // kernel's stream parser miscounts such a segment and holds the bytes after it for ever
  // (docs/fast-path.md, "Partly read segments"), so start() refuses the pair then.
  static bool partlyRead(int fd);
  ~KernelForwarder() override;
  KernelForwarder(const KernelForwarder&) = delete;
  KernelForwarder& operator=(const KernelForwarder&) = delete;

  ForwardStats stats() const override;
  void abort() override;
  // Directions handed to user space so far (0, 1 or 2), and the mode of one (0 up, 1 down).
  int handBacks() const { return hand_backs_; }
  DirectionHandover::Mode mode(int dir) const { return dirs_[dir].mode(); }
  // Live hand-over (pair_state.cc): hand every spliced direction to user space now; the part
  // that carries them (null while both are still in the kernel or finished there).
  void handBackAll();
  UserspaceForwarder* userPart() { return user_.get(); }
  // A promotion: the bytes user space carried before the kernel took the pair, counted in
  // stats() and in the totals reported at the end.
  void carryOver(const ForwardStats& before) {
    stats_.up += before.up;
    stats_.down += before.down;
  }

  // From FastPathMonitor.
  void onSocketEvent(int side, uint32_t events);
  void onTick();

 private:
  friend class FastPathMonitor;  // its list links
  static constexpr int kClient = 0;
  static constexpr int kNode = 1;

  // Index = the receiving side: sides_[kClient] sources the up direction (dirs_[0]).
  // Laid out small (48 bytes): a promoted pair costs this forwarder only.
  struct Side {
    FastPathSocket sock;
    uint64_t base_written = 0;   // bytes_acked + SIOCOUTQ at hand-off (SYN included if any)
    uint64_t base_received = 0;  // bytes_received already consumed before the hand-off
    uint64_t acked_seen = 0;     // last tcpi_bytes_acked read (a lower bound of the current)
    int fd = -1;
    bool registered : 1 = false;
    bool in_target : 1 = false;
    bool in_verdict : 1 = false;
    bool rdhup : 1 = false;  // FIN received
    // ...and passed on by the kernel path: the peer's write side is shut.
    bool fin_passed : 1 = false;
  };

  KernelForwarder(FastPathMonitor& monitor, const Options& opts, Done done);
  FastPath& fp() const;
  event_base* base() const;
  Status handOff(bool read_to_empty);
  Status insertPair();
  bool sample(int src, DirectionSample* out) const;
  void tryPassFin(int src);
  bool queueAboveCap(int src);
  void handBack(int src);
  void tryTakeOver(int src);
  bool miscounted(int src, uint64_t redirected, uint64_t received_total);
  bool eofNeverCompletes(int src);
  void ensureUser();
  bool confirmEof(int src, uint64_t user_read) const;
  bool finPassed(int src) const;
  void onUserDone(ForwardEnd end);
  void checkClosed();
  void armFinCheck();
  static void onFinCheck(evutil_socket_t, short, void* arg);
  void resetBoth();
  void finish(ForwardEnd end);
  void detach();

  FastPathMonitor* monitor_;             // ours for life: its FastPath and event_base are ours
  KernelForwarder* mon_prev_ = nullptr;  // the monitor's list
  KernelForwarder* mon_next_ = nullptr;
  Options opts_;
  Done done_;
  Side sides_[2];
  DirectionHandover dirs_[2];  // [0] up (client -> node), [1] down
  uint8_t ticks_ = 0;          // monitor ticks seen, counted up to 2
  uint8_t hand_backs_ = 0;
  uint8_t fin_delay_ms_ = 0;   // doubles per re-check, up to the tick
  uint8_t eof_waits_[2] = {};  // ticks a handed-back direction's EOF has waited for its bytes
  bool done_called_ = false;
  bool live_ = false;       // counted in FastPath::Counts::live_kernel
  bool broken_ = false;     // a miscount or an EOF that cannot complete: reset (checkClosed)
  bool monitored_ = false;  // in the monitor's list and epoll set
  std::unique_ptr<UserspaceForwarder> user_;  // carries the handed-back directions
  EventPtr fin_ev_;  // a FIN waits for its last bytes: re-checked soon, not at the tick
  // Until done: the bytes user space carried before the promotion (carryOver); then the totals.
  ForwardStats stats_;
};

// One epoll set (EPOLLRDHUP only: no wakeup per packet) and one timer shared by every
// KernelForwarder on an event_base, so 10,000 fast-path pairs cost two events, not 20,000.
// The forwarders sit in an intrusive list (no allocation per pair); the epoll events carry
// the forwarder's address, and a forwarder that leaves while a batch of them is dispatched is
// scrubbed from the rest of that batch.
class FastPathMonitor {
 public:
  static constexpr std::chrono::milliseconds kTick{50};

  FastPathMonitor(FastPath& fp, event_base* base);
  FastPath& fastPath() const { return fp_; }
  event_base* base() const { return base_; }
  bool empty() const { return count_ == 0; }
  Status add(KernelForwarder* f, int client_fd, int node_fd);
  void remove(KernelForwarder* f, int client_fd, int node_fd);
  // After a side's FIN: report it again only on a new state change (an error), not forever.
  void watchEdge(KernelForwarder* f, int side, int fd);

 private:
  static void onEpoll(evutil_socket_t, short, void* arg);
  static void onTick(evutil_socket_t, short, void* arg);

  FastPath& fp_;
  event_base* base_;
  UniqueFd epfd_;
  EventPtr epoll_ev_;
  EventPtr tick_ev_;
  IntrusiveList<KernelForwarder, &KernelForwarder::mon_prev_, &KernelForwarder::mon_next_> list_;
  size_t count_ = 0;
  KernelForwarder* tick_next_ = nullptr;  // the tick's cursor: remove() moves it on
  epoll_event* batch_ = nullptr;          // the events being dispatched: remove() scrubs them
  int batch_n_ = 0;
};

inline FastPath& KernelForwarder::fp() const { return monitor_->fastPath(); }
inline event_base* KernelForwarder::base() const { return monitor_->base(); }

}  // namespace tsd::director
