// KernelForwarder: the eBPF fast path for one client<->node pair. The kernel redirects the bytes;
// this watches for FIN, RST and a growing queue without per-packet work, and hands a direction
// whose queue grows to user space on its own (the pair stays in the maps until it closes).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "conf/result.h"
#include "director/base/event_util.h"
#include "director/base/unique_fd.h"
#include "director/dataplane/fast_path.h"
#include "director/dataplane/forwarder.h"
#include "director/dataplane/handover.h"
#include "director/dataplane/userspace_forwarder.h"

namespace tsd::director {

class KernelForwarder;

// One epoll set (EPOLLRDHUP only: no wakeup per packet) and one timer shared by every
// KernelForwarder on an event_base, so 10,000 fast-path pairs cost two events, not 20,000.
class FastPathMonitor {
 public:
  static constexpr std::chrono::milliseconds kTick{50};

  explicit FastPathMonitor(event_base* base);
  event_base* base() const { return base_; }
  bool empty() const { return forwarders_.empty(); }
  Result<uint64_t> add(KernelForwarder* f, int client_fd, int node_fd);
  void remove(uint64_t id, int client_fd, int node_fd);
  // After a side's FIN: report it again only on a new state change (an error), not forever.
  void watchEdge(uint64_t id, int side, int fd);

 private:
  static void onEpoll(evutil_socket_t, short, void* arg);
  static void onTick(evutil_socket_t, short, void* arg);

  event_base* base_;
  UniqueFd epfd_;
  EventPtr epoll_ev_;
  EventPtr tick_ev_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, KernelForwarder*> forwarders_;
  std::vector<uint64_t> tick_ids_;  // reused: forwarders may finish while we iterate
};

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

  // From FastPathMonitor.
  void onSocketEvent(int side, uint32_t events);
  void onTick();

 private:
  static constexpr int kClient = 0;
  static constexpr int kNode = 1;

  // Index = the receiving side: sides_[kClient] sources the up direction (dirs_[0]).
  struct Side {
    int fd = -1;
    FastPathSocket sock;
    bool registered = false;
    bool in_target = false;
    bool in_verdict = false;
    uint64_t base_written = 0;   // bytes_acked + SIOCOUTQ at hand-off (SYN included if any)
    uint64_t base_received = 0;  // bytes_received already consumed before the hand-off
    uint64_t acked_seen = 0;     // last tcpi_bytes_acked read (a lower bound of the current)
    bool rdhup = false;          // FIN received
    bool fin_passed = false;  // ...and passed on by the kernel path: the peer's write side is shut
  };

  KernelForwarder(FastPath& fp, const Options& opts, Done done);
  Status handOff(event_base* base, bool read_to_empty);
  Status insertPair();
  bool sample(int src, DirectionSample* out) const;
  void tryPassFin(int src);
  bool queueAboveCap(int src);
  void handBack(int src);
  void tryTakeOver(int src);
  bool miscounted(int src, uint64_t redirected, uint64_t received_total);
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

  FastPath& fp_;
  event_base* base_ = nullptr;
  FastPathMonitor* monitor_ = nullptr;
  uint64_t monitor_id_ = 0;
  Options opts_;
  Done done_;
  bool done_called_ = false;
  bool live_ = false;  // counted in FastPath::Counts::live_kernel
  int ticks_ = 0;
  bool broken_ = false;  // the kernel's count went past what was received: reset (checkClosed)
  int hand_backs_ = 0;
  Side sides_[2];
  DirectionHandover dirs_[2];                 // [0] up (client -> node), [1] down
  std::unique_ptr<UserspaceForwarder> user_;  // carries the handed-back directions
  EventPtr fin_ev_;       // a FIN waits for its last bytes: re-checked soon, not at the tick
  int fin_delay_ms_ = 0;  // doubles per re-check, up to the tick
  ForwardStats final_;
};

}  // namespace tsd::director
