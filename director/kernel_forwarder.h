// KernelForwarder: the eBPF fast path for one client<->node pair. The kernel redirects the bytes;
// this watches for FIN, RST and a growing queue (demotion to user space) without per-packet work.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "conf/result.h"
#include "director/base/unique_fd.h"
#include "director/event_util.h"
#include "director/fast_path.h"
#include "director/forwarder.h"

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
  // Hands the pair to the kernel. Nothing may have been read from either fd before (MSG_PEEK
  // only). On error nothing changed: the caller can still forward in user space.
  static Result<std::unique_ptr<KernelForwarder>> start(FastPath& fp, event_base* base,
                                                        int client_fd, int node_fd,
                                                        uint64_t demote_bytes, Done done);
  ~KernelForwarder() override;
  KernelForwarder(const KernelForwarder&) = delete;
  KernelForwarder& operator=(const KernelForwarder&) = delete;

  ForwardStats stats() const override;
  void abort() override;

  // From FastPathMonitor.
  void onSocketEvent(int side, uint32_t events);
  void onTick();

 private:
  enum class Phase { kRunning, kDemoting, kDone };
  static constexpr int kClient = 0;
  static constexpr int kNode = 1;

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
    bool fin_passed = false;     // ...and passed on: the peer's write side is shut
  };

  KernelForwarder(FastPath& fp, uint64_t demote_bytes, Done done);
  Status handOff(event_base* base);
  Status insertPair();
  void tryPassFin(int src);
  bool drained(int src) const;
  bool queueAboveCap(int src);
  void beginDemote();
  void resetBoth();
  void finish(ForwardEnd end);
  void detach();

  FastPath& fp_;
  FastPathMonitor* monitor_ = nullptr;
  uint64_t monitor_id_ = 0;
  uint64_t demote_bytes_;
  Done done_;
  Phase phase_ = Phase::kRunning;
  int ticks_ = 0;
  int demote_tick_ = 0;  // tick at which demotion began
  Side sides_[2];
  ForwardStats final_;
};

}  // namespace tsd::director
