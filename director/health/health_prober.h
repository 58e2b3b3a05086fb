// HealthProber: the libevent adapter that runs one active health check (tcp connect, or an
// ssh banner) asynchronously and reports ok/latency/why. Timers and state live elsewhere.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "conf/config.h"
#include "conf/sock_addr.h"

struct event_base;

namespace tsd::director {

class HealthProber {
 public:
  // Called once per probe, from the event loop (never from inside probe()). The callback may
  // start new probes or destroy the prober.
  using Done = std::function<void(bool ok, std::chrono::microseconds latency, std::string why)>;

  // An ssh server may send other lines before its "SSH-" line (RFC 4253 4.2); this many bytes
  // without one mean the port is not a working sshd.
  static constexpr size_t kMaxBannerBytes = 8192;

  HealthProber();
  // Cancels every probe in flight without calling back. Must run before `base` is freed.
  ~HealthProber();
  HealthProber(const HealthProber&) = delete;
  HealthProber& operator=(const HealthProber&) = delete;

  // kTcp: ok once a non-blocking connect completes. kSsh: ok once a line starting with "SSH-"
  // arrives; an open port that never sends one within `timeout` is down. `timeout` covers the
  // whole probe. The socket is closed with an RST (SO_LINGER 0) so thousands of checks leave no
  // TIME_WAIT behind. Other kinds (kNone, kAgent) fail with a reason; agent polls live elsewhere.
  void probe(event_base* base, const SockAddr& target, conf::CheckKind kind, conf::Duration timeout,
             Done done);

  size_t inFlight() const { return probes_.size(); }

 private:
  class Probe;
  // Removes the probe (freeing its events and socket), then calls its Done.
  void finish(Probe* p, bool ok, std::string why);

  std::unordered_map<Probe*, std::unique_ptr<Probe>> probes_;
};

}  // namespace tsd::director
