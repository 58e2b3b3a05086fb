// RAII owners for libevent objects, and a callback-holding event/timer used by the adapters.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <memory>

namespace tsd::director {

struct EventBaseDeleter {
  void operator()(event_base* b) const { event_base_free(b); }
};
struct EventDeleter {
  void operator()(event* e) const { event_free(e); }
};
using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;

inline timeval toTimeval(std::chrono::microseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000000),
                 static_cast<suseconds_t>(d.count() % 1000000)};
}

// A timer whose callback is a std::function; cancelled when destroyed.
class Timer {
 public:
  Timer(event_base* base, std::function<void()> cb)
      : cb_(std::move(cb)), ev_(evtimer_new(base, &Timer::fire, this)) {}
  void arm(std::chrono::microseconds d) {
    timeval tv = toTimeval(d);
    evtimer_add(ev_.get(), &tv);
  }
  void cancel() { evtimer_del(ev_.get()); }
  bool pending() const { return evtimer_pending(ev_.get(), nullptr) != 0; }

 private:
  static void fire(evutil_socket_t, short, void* arg) { static_cast<Timer*>(arg)->cb_(); }
  std::function<void()> cb_;
  EventPtr ev_;
};

}  // namespace tsd::director
