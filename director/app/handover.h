// The live hand-over's two ends in the daemon (docs/operations.md, "Hand-over").
// HandOverSender: the running tsdirector, started by the admin request "takeover": quiesces,
// exports, waits for the acknowledgement, then releases everything and ends the loop (exit 0);
// on any failure it serves everything again. HandOverReceiver: `tsdirector --takeover`,
// after its own config was loaded and checked.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "conf/result.h"
#include "director/base/event_util.h"
#include "director/base/unique_fd.h"
#include "director/control/director.h"
#include "director/control/takeover.h"

namespace tsd::director {

class HandOverSender {
 public:
  // How long connections still connecting (or kernel directions still draining) may delay
  // the transfer, and how long the new process may take to adopt everything.
  static constexpr std::chrono::seconds kQuiesceLimit{10};
  static constexpr std::chrono::seconds kAdoptLimit{60};

  // release: close the admin socket and metrics listener (the new process binds them next);
  // finished: leave the loop.
  HandOverSender(event_base* base, Director& d, std::function<void()> release,
                 std::function<void()> finished);
  void start(UniqueFd admin_connection);
  bool busy() const { return channel_.has_value(); }

 private:
  static void onPoll(evutil_socket_t, short, void* arg);
  void poll();
  void transfer();
  void giveUp(const std::string& why, bool resume);

  event_base* base_;
  Director& d_;
  std::function<void()> release_;
  std::function<void()> finished_;
  std::optional<TakeoverChannel> channel_;
  EventPtr poll_ev_;
  std::chrono::steady_clock::time_point started_{};
  uint32_t new_pid_ = 0;
};

class HandOverReceiver {
 public:
  // Connects to the running instance's admin socket and exchanges hellos.
  static Result<HandOverReceiver> connect(const std::string& admin_socket);
  // Everything the old process holds (blocks until it quiesced and sent it).
  Result<Adopted> receive();
  // Tells the old process whether we took over (`started`); on success waits until it has
  // released the admin socket and metrics port.
  Status acknowledge(const Status& started);
  uint32_t oldPid() const { return old_pid_; }

 private:
  explicit HandOverReceiver(TakeoverChannel ch) : channel_(std::move(ch)) {}
  TakeoverChannel channel_;
  uint32_t old_pid_ = 0;
};

}  // namespace tsd::director
