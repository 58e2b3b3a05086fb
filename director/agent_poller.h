// AgentPoller: asynchronous polls of tsdirector-agent over TCP on the director's event loop:
// non-blocking connect, one request with a fresh nonce, a bounded reply, then verification.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "conf/result.h"
#include "conf/sock_addr.h"
#include "healthcheck/agent_protocol.h"

namespace tsd::director {

class AgentPoller {
 public:
  // Called exactly once per poll from the event loop (never from inside poll()), unless the
  // poller is destroyed first. latency runs from poll() to the reply or the failure.
  using Done = std::function<void(Result<health::AgentReport>, std::chrono::microseconds latency)>;
  using Duration = std::chrono::milliseconds;

  explicit AgentPoller(std::string director_id = "tsdirector");
  // Cancels polls in flight: their sockets are closed and their callbacks never run.
  ~AgentPoller();
  AgentPoller(const AgentPoller&) = delete;
  AgentPoller& operator=(const AgentPoller&) = delete;

  // timeout covers connect, request and the whole reply.
  void poll(event_base* base, const SockAddr& agent, std::string key, Duration timeout, Done done);
  size_t inFlight() const { return polls_.size(); }

  // True for errors about a reply that arrived but was refused (forged, replayed, malformed,
  // oversized), false for an agent that could not be reached or did not answer in time.
  static bool isRejection(const std::string& error);

 private:
  struct Poll;
  static void onWritable(evutil_socket_t fd, short what, void* arg);
  static void onReadable(evutil_socket_t fd, short what, void* arg);
  static void onTimer(evutil_socket_t fd, short what, void* arg);
  void sendRequest(Poll& p);
  void readReply(Poll& p);
  void fail(Poll& p, std::string error);
  void finish(Poll& p, Result<health::AgentReport> result);

  std::string director_id_;
  std::unordered_map<Poll*, std::unique_ptr<Poll>> polls_;
};

}  // namespace tsd::director
