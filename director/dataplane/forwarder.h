// Forwarder: carries the bytes of one established client<->node pair until both directions
// are done. Two implementations: UserspaceForwarder (read()/write()) and the eBPF fast path.
#pragma once

#include <cstdint>
#include <functional>

namespace tsd::director {

// How a forwarder ended.
enum class ForwardEnd {
  kClosed,  // both directions finished normally (FIN each way, all bytes delivered)
  kReset,   // one side reset or failed; the other was aborted
  kIdle,    // idle_timeout expired
};

struct ForwardStats {
  uint64_t up = 0;    // client -> node bytes
  uint64_t down = 0;  // node -> client bytes
};

// Which directions have already seen EOF (needed when a pair changes forwarder mid-life).
struct HalfState {
  bool up_eof = false;    // client sent FIN and it was passed on (node write side shut)
  bool down_eof = false;  // node sent FIN and it was passed on (client write side shut)
};

class Forwarder {
 public:
  // Called exactly once, from the event loop; the forwarder may be destroyed inside it.
  // The fds are NOT closed by the forwarder; the owner (Connection) closes them.
  using Done = std::function<void(ForwardEnd, const ForwardStats&, const HalfState&)>;
  virtual ~Forwarder() = default;
  virtual ForwardStats stats() const = 0;
  // Abort both sides (SO_LINGER 0) and finish with kReset; used on shutdown.
  virtual void abort() = 0;
};

}  // namespace tsd::director
