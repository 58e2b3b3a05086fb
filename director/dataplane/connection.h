// Connection: one client connection from accept to close. Identifies the client (address or
// SNI peek), asks its host for a node, connects with a timeout and retries on another node,
// then hands both sockets to a forwarder (eBPF fast path or user space). It keeps the record
// of its attempts; the host counts them once, when the connection opens or ends.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

// How a connection ended: refused before forwarding, or the forwarder's end and bytes.
struct ConnectionEnd {
  std::optional<Refusal> refusal;
  ForwardEnd forward_end = ForwardEnd::kClosed;
  ForwardStats bytes;
};

// Fixed at accept from the service and the config snapshot of that moment.
struct ConnectionParams {
  ServiceId service = kNoId;
  NodeId manual = kNoId;  // accepted on this node's manual listener
  conf::StickyKey sticky_key = conf::StickyKey::kSrc;
  int ipv4_prefix = 32;
  int ipv6_prefix = 64;
  int connect_attempts = 3;
  conf::Duration connect_timeout{3000};
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
  const std::string& sni() const { return sni_; }
  const std::vector<Attempt>& attempts() const { return attempts_; }
  // The node of the current attempt or of the forwarded pair; kNoId before and after.
  NodeId node() const;
  // The rule that chose the current (or last) node.
  std::optional<Reason> reason() const;
  int clientFd() const { return client_.get(); }
  int nodeFd() const { return upstream_.get(); }
  bool forwarding() const { return forwarder_ != nullptr; }
  ForwardStats stats() const;
  // The sticky table counts this connection as live (opened once, closed once).
  bool sticky_open = false;
  // The director's list position (O(1) removal without a side index).
  std::list<std::unique_ptr<Connection>>::iterator position;
  bool listed = false;
  // Wall-clock start (unix ms), carried across a hand-over.
  int64_t started_unix_ms = 0;

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
  sticky::Identity identity_;
  std::string sni_;
  std::vector<Attempt> attempts_;
  EventPtr ev_;  // SNI peek, then connect
  std::chrono::steady_clock::time_point hello_deadline_{};
  std::unique_ptr<Forwarder> forwarder_;
  std::unique_ptr<Forwarder> retired_;  // finished inside its own callback: freed with us
  bool done_ = false;
};

}  // namespace tsd::director
