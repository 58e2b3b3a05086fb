// AgentPoller: asynchronous polls of tsdirector-agent over TCP on the director's event loop:
// non-blocking connect, one request with a fresh nonce, a bounded reply, then verification.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "conf/result.h"
#include "conf/sock_addr.h"
#include "healthcheck/agent_protocol.h"

namespace tsd::director {

// How a poll ended. The kind, not the text, tells a rejected reply (counted as such, a sign of
// a wrong key or a broken agent) from an agent that could not be reached.
enum class PollError {
  kNone,
  kUnreachable,  // socket, connect or read failed, or closed without a reply
  kTimeout,      // no complete reply within the timeout
  kRejected,     // a reply arrived but was refused: forged, replayed, malformed, oversized
  kWrongNode,    // a valid reply, but from the agent of another node (misaddressed, copied key)
};

class PollResult {
 public:
  PollResult(health::AgentReport r) : report_(std::move(r)) {}  // NOLINT: a success
  PollResult(PollError kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  bool ok() const { return kind_ == PollError::kNone; }
  PollError kind() const { return kind_; }
  const std::string& error() const { return message_; }
  health::AgentReport& report() { return *report_; }

 private:
  PollError kind_ = PollError::kNone;
  std::string message_;
  std::optional<health::AgentReport> report_;
};

class AgentPoller {
 public:
  // Called exactly once per poll from the event loop (never from inside poll()), unless the
  // poller is destroyed first. latency runs from poll() to the reply or the failure.
  using Done = std::function<void(PollResult, std::chrono::microseconds latency)>;
  using Duration = std::chrono::milliseconds;

  explicit AgentPoller(std::string director_id = "tsdirector");
  // Cancels polls in flight: their sockets are closed and their callbacks never run.
  ~AgentPoller();
  AgentPoller(const AgentPoller&) = delete;
  AgentPoller& operator=(const AgentPoller&) = delete;

  // timeout covers connect, request and the whole reply. A reply whose node is not
  // expected_node is refused (kWrongNode); an empty expected_node accepts any.
  void poll(event_base* base, const SockAddr& agent, std::string key, Duration timeout, Done done,
            std::string expected_node = {});
  size_t inFlight() const { return polls_.size(); }

 private:
  struct Poll;
  static void onWritable(evutil_socket_t fd, short what, void* arg);
  static void onReadable(evutil_socket_t fd, short what, void* arg);
  static void onTimer(evutil_socket_t fd, short what, void* arg);
  void sendRequest(Poll& p);
  void readReply(Poll& p);
  void fail(Poll& p, PollError kind, std::string error);
  void finish(Poll& p, PollResult result);

  std::string director_id_;
  std::unordered_map<Poll*, std::unique_ptr<Poll>> polls_;
};

}  // namespace tsd::director
