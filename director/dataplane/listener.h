// Listener: a bound, listening, non-blocking TCP socket and its accept event. Accept errors
// like EMFILE pause accepting briefly instead of spinning; the owner decides per connection.
#pragma once

#include <event2/event.h>

#include <functional>

#include "conf/result.h"
#include "conf/sock_addr.h"
#include "director/base/event_util.h"
#include "director/base/unique_fd.h"

namespace tsd::director {

class Listener {
 public:
  // Called with each accepted socket (non-blocking, close-on-exec) and the client's address.
  using OnAccept = std::function<void(UniqueFd fd, const SockAddr& peer)>;

  static Result<UniqueFd> bindSocket(const SockAddr& addr, int backlog = 4096);
  Listener(event_base* base, SockAddr addr, UniqueFd fd, OnAccept cb);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  const SockAddr& address() const { return addr_; }
  int fd() const { return fd_.get(); }  // for a live hand-over
  void setCallback(OnAccept cb) { cb_ = std::move(cb); }
  void pause();
  void resume();
  uint64_t acceptErrors() const { return accept_errors_; }

 private:
  static void onReadable(evutil_socket_t fd, short what, void* arg);
  void acceptSome();

  event_base* base_;
  SockAddr addr_;
  UniqueFd fd_;
  OnAccept cb_;
  EventPtr ev_;
  EventPtr retry_;  // re-enables accepting after a resource error
  uint64_t accept_errors_ = 0;
};

}  // namespace tsd::director
