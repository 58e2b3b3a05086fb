// Connection: one client connection from accept to close. Identifies the client (address or
// SNI peek), asks the director for a node, connects with a timeout and retries on another
// node, then hands both sockets to a forwarder (eBPF fast path or user space).
#pragma once

#include <event2/event.h>

#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "conf/sock_addr.h"
#include "director/base/unique_fd.h"
#include "director/event_util.h"
#include "director/forwarder.h"
#include "sticky/identity.h"

namespace tsd::director {

struct NodeRuntime;

// Why a node was chosen; every decision is counted by reason.
enum class Reason { kManual, kSession, kSticky, kScheduler, kFallback };
inline constexpr int kReasonCount = 5;
std::string_view toString(Reason r);

struct Decision {
  NodeRuntime* node = nullptr;
  Reason reason = Reason::kScheduler;
};

// Why a connection ended before forwarding, for counters.
enum class Refusal { kNoNode, kConnectFailed, kBadHello, kHelloTimeout, kManualDown };

class Connection;

// What a connection needs from the director; implemented by Director.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual event_base* base() = 0;
  virtual const conf::Config& config() = 0;
  // nullptr: no eligible node. `tried` holds the node ids already tried for this connection.
  virtual Decision decide(Connection& c, const std::vector<uint32_t>& tried) = 0;
  // node_fault false: a local error (e.g. out of descriptors) that says nothing of the node.
  virtual void connectFailed(Connection& c, NodeRuntime& node, const std::string& why,
                             bool node_fault) = 0;
  // Connected: the host records stickiness and returns the forwarder for the pair.
  virtual std::unique_ptr<Forwarder> connected(Connection& c, Forwarder::Done done) = 0;
  // A fast-path forwarder asked for demotion: a user-space forwarder for the same pair.
  virtual std::unique_ptr<Forwarder> demoted(Connection& c, const HalfState& hs,
                                             Forwarder::Done done) = 0;
  virtual void refused(Connection& c, Refusal why) = 0;
  virtual void finished(Connection& c, ForwardEnd end, const ForwardStats& stats) = 0;
};

class Connection {
 public:
  Connection(ConnectionHost& host, std::string service, UniqueFd client, const SockAddr& peer,
             NodeRuntime* manual_node);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  void abort();  // shutdown: reset both sides now

  const std::string& service() const { return service_; }
  const SockAddr& peer() const { return peer_; }
  const sticky::Identity& identity() const { return identity_; }
  const std::string& sni() const { return sni_; }
  NodeRuntime* manualNode() const { return manual_node_; }
  NodeRuntime* node() const { return node_; }
  Reason reason() const { return reason_; }
  int clientFd() const { return client_.get(); }
  int nodeFd() const { return upstream_.get(); }
  bool forwarding() const { return forwarder_ != nullptr; }
  bool demotedOnce() const { return demoted_; }
  ForwardStats stats() const;
  // The sticky table counts this connection as live (opened once, closed once).
  bool sticky_open = false;
  // The director's list position (O(1) removal without a side index).
  std::list<std::unique_ptr<Connection>>::iterator position;
  bool listed = false;

 private:
  static void onSniReadable(evutil_socket_t, short what, void* arg);
  static void onConnectEvent(evutil_socket_t, short what, void* arg);
  void peekHello();
  void decideAndConnect();
  enum class Start { kStarted, kNodeFailed, kLocalError };
  Start startConnect(NodeRuntime& node, std::string* why);
  void connectDone(bool ok, const std::string& why);
  void forwardDone(ForwardEnd end, const ForwardStats& st, const HalfState& hs);
  void refuse(Refusal why);
  Forwarder::Done makeDone();

  ConnectionHost& host_;
  std::string service_;
  UniqueFd client_;
  UniqueFd upstream_;
  SockAddr peer_;
  NodeRuntime* manual_node_;
  sticky::Identity identity_;
  std::string sni_;
  std::vector<uint32_t> tried_;
  NodeRuntime* node_ = nullptr;
  Reason reason_ = Reason::kScheduler;
  EventPtr ev_;  // SNI peek, then connect
  std::chrono::steady_clock::time_point hello_deadline_{};
  std::unique_ptr<Forwarder> forwarder_;
  std::unique_ptr<Forwarder> retired_;  // a demoted fast-path forwarder, freed with us
  ForwardStats before_demotion_;
  bool demoted_ = false;
  bool done_ = false;
};

}  // namespace tsd::director
