// UserspaceForwarder: read()/write() both ways through one shared scratch buffer. Bytes are
// copied into a per-direction buffer only when the peer cannot take them at once, and that
// side is not read again until the buffer is flushed (backpressure); idle pairs hold no buffer.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "director/base/event_util.h"
#include "director/dataplane/forwarder.h"

namespace tsd::director {

class UserspaceForwarder final : public Forwarder {
 public:
  struct Options {
    uint32_t buffer_size = 256 * 1024;
    std::chrono::milliseconds idle_timeout{0};  // 0: off
    std::vector<char>* scratch = nullptr;       // shared, at least buffer_size bytes
  };
  UserspaceForwarder(event_base* base, int client_fd, int node_fd, const Options& opts,
                     HalfState initial, Done done);
  ~UserspaceForwarder() override;
  UserspaceForwarder(const UserspaceForwarder&) = delete;
  UserspaceForwarder& operator=(const UserspaceForwarder&) = delete;

  ForwardStats stats() const override { return {dirs_[0].bytes, dirs_[1].bytes}; }
  void abort() override;

 private:
  // One direction: bytes read from `from` are written to `to`.
  struct Direction {
    int from = -1;
    int to = -1;
    std::unique_ptr<char[]> pending;  // bytes read but not yet written
    uint32_t pending_off = 0;
    uint32_t pending_len = 0;
    bool eof = false;   // read 0 from `from`
    bool shut = false;  // FIN passed on to `to`
    uint64_t bytes = 0;
  };
  enum class Step { kOk, kReset };

  static void onEvent(evutil_socket_t fd, short what, void* arg);
  static void onIdle(evutil_socket_t fd, short what, void* arg);
  void handle(int fd, short what);
  Step pump(Direction& d);     // read from d.from and write on, until blocked
  Step flush(Direction& d);    // write pending bytes of d
  Step passFin(Direction& d);  // shutdown(to, SHUT_WR) once pending is empty
  void updateInterest();
  void setInterest(int idx, short flags);
  void finish(ForwardEnd end);

  event_base* base_;
  Options opts_;
  Done done_;
  Direction dirs_[2];  // [0] client->node (up), [1] node->client (down)
  EventPtr ev_[2];     // [0] client fd, [1] node fd
  short interest_[2] = {-1, -1};
  EventPtr idle_ev_;
  EventPtr kick_;
  uint64_t activity_ = 0;  // bumped on every transfer; the idle timer compares it
  uint64_t idle_seen_ = 0;
  bool finished_ = false;
};

}  // namespace tsd::director
