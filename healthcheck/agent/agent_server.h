// AgentServer: tsdirector-agent's network side. A collector thread takes inventory snapshots
// on its own schedule; every poll is answered at once from the latest complete snapshot, with
// its age, so a slow session source never delays a reply and many pollers cost one collection.
#pragma once

#include <event2/event.h>
#include <event2/listener.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "conf/sock_addr.h"
#include "healthcheck/agent/agent_collector.h"

struct bufferevent;

namespace tsd::health {

using AgentClock = std::chrono::steady_clock;

// One allowed source network from --allow.
struct Cidr {
  SockAddr addr;
  int prefix = 0;
  static std::optional<Cidr> parse(std::string_view s);
  bool matches(const SockAddr& peer) const;
};

// The pause after a collection that took `took` before the next one starts: collections
// start every `interval`; one that took longer than the interval is followed by a pause as
// long as itself (the agent never spends more than half its time collecting), capped at
// `max_pause`.
std::chrono::milliseconds nextCollectDelay(std::chrono::milliseconds interval,
                                           std::chrono::milliseconds took,
                                           std::chrono::milliseconds max_pause);

// Between full collections the sshd logins alone are re-read (a /proc walk, no commands)
// every kConnectionRefresh, or ten times as long as that walk took when it is slow (a host with
// a huge TCP table): a director re-polling a second after a login must see it even when tmux,
// X2Go or a sessions command make full collections take seconds.
inline constexpr std::chrono::milliseconds kConnectionRefresh{250};
std::chrono::milliseconds nextRefreshDelay(std::chrono::milliseconds took);

// A complete collection and when it started (the figures describe that moment).
struct Snapshot {
  AgentReport report;
  AgentClock::time_point taken{};
};

// Runs collections on its own thread until destroyed; each finished one replaces the
// snapshot and writes one byte to notify_fd.
class CollectorThread {
 public:
  CollectorThread(CollectorOptions o, std::chrono::milliseconds interval, int notify_fd);
  ~CollectorThread();
  CollectorThread(const CollectorThread&) = delete;
  CollectorThread& operator=(const CollectorThread&) = delete;
  std::shared_ptr<const Snapshot> latest() const;
  // How many collections have finished.
  uint64_t collections() const;
  // How many login-only refreshes have replaced a snapshot's ssh sessions and connections.
  uint64_t refreshes() const;

 private:
  void run();
  // Waits until `until` (or stop), refreshing the sshd logins meanwhile. Called locked.
  void refreshUntil(std::unique_lock<std::mutex>& lock, AgentClock::time_point until);

  InventoryCollector collector_;
  std::chrono::milliseconds interval_;
  int notify_fd_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t collections_ = 0;
  uint64_t refreshes_ = 0;
  std::shared_ptr<const Snapshot> latest_;
  std::thread thread_;  // last: starts after everything it uses exists
};

struct AgentServerOptions {
  std::string listen = "0.0.0.0:7801";
  std::vector<Cidr> allow;  // empty: everyone
  CollectorOptions collector;
  std::chrono::milliseconds collect_interval{2000};
};

class AgentServer {
 public:
  AgentServer(event_base* base, AgentServerOptions o, std::string key);
  ~AgentServer();
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;
  // Binds and starts collecting; false (logged) when it cannot listen.
  bool start();
  // The bound address (the real port when --listen asked for port 0).
  const SockAddr& address() const { return bound_; }
  void stop();

 private:
  struct Conn {
    SockAddr peer;
    std::string nonce;
    bool waiting = false;  // asked before the first snapshot existed
  };
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* arg);
  static void onRead(bufferevent* bev, void* arg);
  static void onCollected(evutil_socket_t fd, short, void* arg);
  static void onWritten(bufferevent* bev, void* arg);
  static void onEvent(bufferevent* bev, short what, void* arg);
  void reply(bufferevent* bev, const Snapshot& snap);
  void drop(bufferevent* bev, const char* why);
  void close(bufferevent* bev);

  event_base* base_;
  AgentServerOptions opts_;
  std::string key_;
  SockAddr bound_;
  evconnlistener* listener_ = nullptr;
  event* notify_ev_ = nullptr;
  int notify_rd_ = -1;
  int notify_wr_ = -1;
  std::unique_ptr<CollectorThread> collector_;
  std::unordered_map<bufferevent*, std::unique_ptr<Conn>> conns_;
  std::vector<std::string> last_warnings_;
};

}  // namespace tsd::health
