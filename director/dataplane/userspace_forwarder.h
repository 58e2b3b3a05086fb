// UserspaceForwarder: read()/write() both ways through one shared scratch buffer. Bytes are
// copied into a per-direction buffer only when the peer cannot take them at once, and that
// side is not read again until the buffer is flushed (backpressure); idle pairs hold no buffer.
#pragma once

#include <event2/event.h>
#include <event2/event_struct.h>  // the two events live inside the forwarder (event_assign)

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "director/base/block_pool.h"
#include "director/base/event_util.h"
#include "director/dataplane/forwarder.h"
#include "director/dataplane/pair_state.h"

namespace tsd::director {

class UserspaceForwarder final : public Forwarder {
 public:
  // Who owns a direction, when the forwarder carries part of a fast-path pair: kKernel (not
  // touched here), kHold (may be read into the direction's buffer, never written: the kernel
  // still has bytes on their way to the target), kOpen (the normal copy loop).
  enum class Gate : uint8_t { kOpen, kHold, kKernel };
  struct Options {
    uint32_t buffer_size = 256 * 1024;
    std::chrono::milliseconds idle_timeout{0};   // 0: off
    std::vector<char>* scratch = nullptr;        // shared, at least buffer_size bytes
    Gate gates[2] = {Gate::kOpen, Gate::kOpen};  // [0] up, [1] down
    // Asked before an EOF read from direction `dir` is believed, with the bytes read from its
    // source so far; false: not yet (reads pause until retryRead).
    std::function<bool(int dir, uint64_t read)> confirm_eof;
  };
  // `opts` is shared by every forwarder started under one configuration (a pair holds a
  // reference, not a copy: it costs 16 bytes per pair however many options there are).
  UserspaceForwarder(event_base* base, int client_fd, int node_fd,
                     std::shared_ptr<const Options> opts, HalfState initial, Done done);
  ~UserspaceForwarder() override;
  UserspaceForwarder(const UserspaceForwarder&) = delete;
  UserspaceForwarder& operator=(const UserspaceForwarder&) = delete;
  // From a pool (block_pool.h): on `auto` every pair holds one only for its first
  // promote_after, and a burst of them must not leave the heap holed after their promotion.
  static void* operator new(size_t n) { return pooledNew<UserspaceForwarder>(n); }
  static void operator delete(void* p, size_t n) { pooledDelete<UserspaceForwarder>(p, n); }

  ForwardStats stats() const override { return {dirs_[0].bytes, dirs_[1].bytes}; }
  void abort() override;

  // --- for the fast path that embeds this forwarder ---
  // Moves a direction to a later gate (kKernel -> kHold -> kOpen); opening flushes its buffer.
  // Never calls done from inside: the outcome is reported from the loop.
  void setGate(int dir, Gate g);
  // The kernel passed this direction's FIN (the target's write side is shut).
  void markShut(int dir);
  bool shut(int dir) const { return dirs_[dir].shut; }
  bool eofPending(int dir) const { return dirs_[dir].eof_wait; }
  // An EOF that confirm_eof refused: read again.
  void retryRead(int dir);
  // Any bytes held (a peer is full)? Any FIN seen? (promotion asks)
  bool buffered() const { return dirs_[0].pending_len > 0 || dirs_[1].pending_len > 0; }
  bool anyEof() const { return dirs_[0].eof || dirs_[1].eof; }
  uint64_t readBytes(int dir) const { return dirs_[dir].read; }
  int clientFd() const { return dirs_[0].from; }
  int nodeFd() const { return dirs_[1].from; }
  // Activity since the last call: bytes read both ways and the largest single read.
  void takeWindow(uint64_t* bytes, uint64_t* max_read);
  // Drops every event without reporting: the owner took the pair over (or finished it).
  void stop();
  // Undoes stop() (a promotion that failed): the copy loop goes on where it stopped.
  void resume();

  // --- live hand-over (pair_state.cc) ---
  // Both directions open (no kernel part left, nothing waiting for it).
  bool exportable() const;
  void exportDirection(int dir, DirectionState* out) const;
  // Right after construction: continues a direction another process carried.
  void adoptDirection(int dir, const DirectionState& in);

 private:
  // One direction: bytes read from `from` are written to `to`.
  struct Direction {
    int from = -1;
    int to = -1;
    std::unique_ptr<char[]> pending;  // bytes read but not yet written
    uint32_t pending_off = 0;
    uint32_t pending_len = 0;
    bool eof = false;       // read 0 from `from`
    bool eof_wait = false;  // read 0, but confirm_eof said not yet
    bool shut = false;      // FIN passed on to `to`
    Gate gate = Gate::kOpen;
    uint64_t bytes = 0;  // written to `to`
    uint64_t read = 0;   // read from `from`
  };
  enum class Step { kOk, kReset };

  static void onEvent(evutil_socket_t fd, short what, void* arg);
  static void onIdle(evutil_socket_t fd, short what, void* arg);
  void handle(int fd, short what);
  Step pump(Direction& d);     // read from d.from and write on, until blocked
  Step flush(Direction& d);    // write pending bytes of d
  Step passFin(Direction& d);  // shutdown(to, SHUT_WR) once pending is empty
  void updateInterest();
  void scheduleCheck();
  void check();
  void setInterest(int idx, short flags);
  void finish(ForwardEnd end);

  event_base* base_;
  std::shared_ptr<const Options> opts_;
  Done done_;
  Direction dirs_[2];  // [0] client->node (up), [1] node->client (down)
  event ev_[2];        // [0] client fd, [1] node fd; assigned here, never allocated
  short interest_[2] = {-1, -1};
  EventPtr idle_ev_;
  EventPtr kick_;
  uint64_t activity_ = 0;  // bumped on every transfer; the idle timer compares it
  uint64_t idle_seen_ = 0;
  uint64_t window_bytes_ = 0;
  uint64_t window_max_read_ = 0;
  bool finished_ = false;
};

}  // namespace tsd::director
