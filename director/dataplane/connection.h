// Connection: one client connection from accept to close. Identifies the client (address or
// SNI peek), asks its host for a node, connects with a timeout and retries on another node,
// then hands both sockets to a forwarder (eBPF fast path or user space). It keeps the record
// of its attempts; the host counts them once, when the connection opens or ends.
#pragma once

#include <event2/event.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "conf/config.h"
#include "conf/sock_addr.h"
#include "director/base/event_util.h"
#include "director/base/types.h"
#include "director/base/unique_fd.h"
#include "director/dataplane/forwarder.h"
#include "sticky/identity.h"

namespace tsd::director {

// Why a connection ended before forwarding, for counters.
enum class Refusal { kNoNode, kConnectFailed, kBadHello, kHelloTimeout, kManualDown };

// Where to connect next, as the host decided.
struct Route {
  NodeId node = kNoId;
  Reason reason = Reason::kScheduler;
  bool ambiguous = false;  // what the decision noted, recorded with the attempt
  bool sticky_replaced = false;
  SockAddr target;
};

// One connect attempt as the connection records it (8 bytes; at most connect_attempts).
struct Attempt {
  enum class Outcome : uint8_t { kPending, kConnected, kNodeFailed, kLocalError };
  NodeId node = kNoId;
  Reason reason = Reason::kScheduler;
  Outcome outcome = Outcome::kPending;
  bool ambiguous = false;
  bool sticky_replaced = false;
};

// A connection's attempts, in order: the first two inline (nearly every connection needs one),
// more on the heap. At most connect_attempts (<= 16).
class AttemptLog {
 public:
  static constexpr size_t kInline = 2;
  std::span<const Attempt> all() const { return {data(), n_}; }
  bool empty() const { return n_ == 0; }
  size_t size() const { return n_; }
  Attempt& back() { return data()[n_ - 1]; }
  const Attempt& back() const { return data()[n_ - 1]; }
  // Appends; `max` (the connection's connect_attempts) sizes the heap part once needed. Past
  // that capacity the last entry is overwritten (the caller never asks for more).
  void push(const Attempt& a, size_t max) {
    if (n_ == cap_ && !heap_) {
      cap_ = static_cast<uint8_t>(std::clamp<size_t>(max, kInline + 1, 255));
      heap_ = std::make_unique<Attempt[]>(cap_);
      std::copy(inline_, inline_ + kInline, heap_.get());
    }
    if (n_ == cap_) --n_;
    data()[n_++] = a;
  }
  void assignOne(const Attempt& a) {
    heap_.reset();
    cap_ = kInline;
    n_ = 0;
    push(a, 1);
  }

 private:
  Attempt* data() { return heap_ ? heap_.get() : inline_; }
  const Attempt* data() const { return heap_ ? heap_.get() : inline_; }

  Attempt inline_[kInline];
  std::unique_ptr<Attempt[]> heap_;
  uint8_t n_ = 0;
  uint8_t cap_ = kInline;
};

// How a connection ended: refused before forwarding, or the forwarder's end and bytes.
struct ConnectionEnd {
  std::optional<Refusal> refusal;
  ForwardEnd forward_end = ForwardEnd::kClosed;
  ForwardStats bytes;
};

// Fixed at accept from the service and the config snapshot of that moment (24 bytes: every
// connection holds a copy).
struct ConnectionParams {
  conf::Duration connect_timeout{3000};
  ServiceId service = kNoId;
  NodeId manual = kNoId;  // accepted on this node's manual listener
  conf::StickyKey sticky_key = conf::StickyKey::kSrc;
  uint8_t ipv4_prefix = 32;      // 0..32
  uint8_t ipv6_prefix = 64;      // 0..128
  uint8_t connect_attempts = 3;  // 1..16
  bool transparent = false;
};

class Connection;

// What a connection needs from the control plane; implemented by Director.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual event_base* base() = 0;
  // Decides the next node (never one already tried) and reserves it: the node counts this
  // connection as active until the attempt fails or the connection ends. nullopt: none left.
  virtual std::optional<Route> reserve(const Connection& c) = 0;
  // The last attempt failed; its outcome says whether the node or we are to blame.
  virtual void attemptFailed(const Connection& c, const std::string& why) = 0;
  // Connected: returns the forwarder for the pair (fast path or user space).
  virtual std::unique_ptr<Forwarder> forward(Connection& c, Forwarder::Done done) = 0;
  // Exactly once per connection, refused or finished; the host records it and frees it.
  virtual void closed(Connection& c, const ConnectionEnd& end) = 0;
};

class Connection {
 public:
  Connection(ConnectionHost& host, const ConnectionParams& params, UniqueFd client,
             const SockAddr& peer);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  void abort();  // shutdown: reset both sides now
  // Live hand-over, in the process taking over: the pair is already connected and forwarded
  // elsewhere; `make` builds its forwarder (pair_state.h adoptPair) with this one's callback.
  using MakeForwarder = std::function<std::unique_ptr<Forwarder>(Forwarder::Done)>;
  void adoptForwarding(UniqueFd node_fd, sticky::Identity id, std::string sni, Attempt last,
                       const MakeForwarder& make);
  Forwarder* forwarder() { return forwarder_.get(); }
  // Where the forwarder lives: one that passes the pair on for good (a promotion to the fast
  // path) moves its successor in here.
  std::unique_ptr<Forwarder>* forwarderSlot() { return &forwarder_; }

  const ConnectionParams& params() const { return params_; }
  ServiceId service() const { return params_.service; }
  const SockAddr& peer() const { return peer_; }
  const sticky::Identity& identity() const { return identity_; }
  const std::string& sni() const;
  std::span<const Attempt> attempts() const { return attempts_.all(); }
  // The node of the current attempt or of the forwarded pair; kNoId before and after.
  NodeId node() const;
  // The rule that chose the current (or last) node.
  std::optional<Reason> reason() const;
  int clientFd() const { return client_.get(); }
  int nodeFd() const { return upstream_.get(); }
  bool forwarding() const { return forwarder_ != nullptr && !done_; }
  ForwardStats stats() const;
  // The director's list position (O(1) removal without a side index). The list holds the
  // connections themselves: one allocation each.
  std::list<Connection>::iterator position;
  // Wall-clock start (unix ms), carried across a hand-over.
  int64_t started_unix_ms = 0;
  bool listed = false;
  // The sticky table counts this connection as live (opened once, closed once).
  bool sticky_open = false;

 private:
  static void onSniReadable(evutil_socket_t, short what, void* arg);
  static void onConnectEvent(evutil_socket_t, short what, void* arg);
  void peekHello();
  void connectNext();
  bool startAttempt(const Route& r, std::string* why);
  void attemptDone(bool ok, const std::string& why);
  void forwardDone(ForwardEnd end, const ForwardStats& st);
  void refuse(Refusal why);
  Forwarder::Done makeDone();

  ConnectionHost& host_;
  ConnectionParams params_;
  UniqueFd client_;
  UniqueFd upstream_;
  SockAddr peer_;
  bool done_ = false;
  sticky::Identity identity_;
  // Only with sticky_key = sni: the hello's deadline and the name it gave.
  struct Hello {
    std::chrono::steady_clock::time_point deadline{};
    std::string sni;
  };
  std::unique_ptr<Hello> hello_;
  AttemptLog attempts_;
  EventPtr ev_;  // SNI peek, then connect
  // Kept after done (it finished inside its own callback): freed with us.
  std::unique_ptr<Forwarder> forwarder_;
};

}  // namespace tsd::director
