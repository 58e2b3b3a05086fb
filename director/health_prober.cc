// HealthProber: non-blocking connect, optional banner read and one deadline per probe; every
// probe owns its socket and events, so finishing or cancelling it is just destroying it.
#include "director/health_prober.h"

#include <errno.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "director/base/unique_fd.h"
#include "director/event_util.h"

namespace tsd::director {

namespace {

using Clock = std::chrono::steady_clock;

std::string errnoText(std::string_view what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

class HealthProber::Probe {
 public:
  Probe(HealthProber* owner, conf::CheckKind kind, Done done)
      : owner_(owner), kind_(kind), done_(std::move(done)), start_(Clock::now()) {}

  ~Probe() {
    if (fd_.valid()) {
      // RST instead of FIN: the check's socket never sits in TIME_WAIT on the director.
      const linger l{1, 0};
      (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
  }

  Done takeDone() { return std::move(done_); }
  std::chrono::microseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_);
  }

  void start(event_base* base, const SockAddr& target, conf::Duration timeout) {
    timer_.reset(evtimer_new(base, &Probe::onTimer, this));
    if (!timer_) std::abort();  // out of memory: nothing sane to report through
    timeout_ = std::max(timeout, conf::Duration(1));
    early_error_ = connectTo(base, target);
    if (!early_error_.empty()) {
      // Report from the loop, not from inside probe(): callers must not be re-entered.
      event_active(timer_.get(), EV_TIMEOUT, 1);
      return;
    }
    const timeval tv = toTimeval(timeout_);
    evtimer_add(timer_.get(), &tv);
  }

 private:
  // Starts the connect; returns why it cannot, or "" when the write event is armed.
  std::string connectTo(event_base* base, const SockAddr& target) {
    if (kind_ != conf::CheckKind::kTcp && kind_ != conf::CheckKind::kSsh) {
      return "check kind not supported by the prober (tcp and ssh only)";
    }
    if (!target.valid()) return "invalid target address";
    fd_.reset(::socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_.valid()) return errnoText("socket", errno);
    if (::connect(fd_.get(), target.sa(), target.len()) != 0 && errno != EINPROGRESS) {
      return errnoText("connect", errno);
    }
    write_ev_.reset(event_new(base, fd_.get(), EV_WRITE, &Probe::onWritable, this));
    if (!write_ev_ || event_add(write_ev_.get(), nullptr) != 0) return "cannot add write event";
    return {};
  }

  static void onTimer(evutil_socket_t, short, void* arg) {
    auto* p = static_cast<Probe*>(arg);
    std::string why = p->early_error_;
    if (why.empty()) {
      why = "timeout after " + std::to_string(p->timeout_.count()) + "ms " +
            (p->read_ev_ ? "waiting for the SSH- banner" : "connecting");
    }
    p->owner_->finish(p, false, std::move(why));
  }

  static void onWritable(evutil_socket_t fd, short, void* arg) {
    auto* p = static_cast<Probe*>(arg);
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return p->owner_->finish(p, false, errnoText("connect", err));
    if (p->kind_ == conf::CheckKind::kTcp) return p->owner_->finish(p, true, "connected");
    event_base* base = event_get_base(p->write_ev_.get());
    p->read_ev_.reset(event_new(base, fd, EV_READ | EV_PERSIST, &Probe::onReadable, p));
    if (!p->read_ev_ || event_add(p->read_ev_.get(), nullptr) != 0) {
      return p->owner_->finish(p, false, "cannot add read event");
    }
  }

  static void onReadable(evutil_socket_t fd, short, void* arg) {
    auto* p = static_cast<Probe*>(arg);
    char buf[512];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return p->owner_->finish(p, false, errnoText("read", errno));
    }
    if (n == 0) return p->owner_->finish(p, false, "closed before an SSH- banner");
    if (p->scan(std::string_view(buf, static_cast<size_t>(n)))) {
      return p->owner_->finish(p, true, "SSH- banner");
    }
    p->banner_bytes_ += static_cast<size_t>(n);
    if (p->banner_bytes_ > kMaxBannerBytes) {
      return p->owner_->finish(p, false, "no SSH- line in the first bytes");
    }
  }

  // Looks for a line that starts with "SSH-"; keeps the start of the current line across reads.
  bool scan(std::string_view data) {
    static constexpr std::string_view kPrefix = "SSH-";
    for (char c : data) {
      if (c == '\n') {
        at_line_start_ = true;
        line_start_.clear();
        continue;
      }
      if (!at_line_start_) continue;
      line_start_ += c;
      if (line_start_.size() == kPrefix.size()) {
        if (line_start_ == kPrefix) return true;
        at_line_start_ = false;
      }
    }
    return false;
  }

  HealthProber* owner_;
  conf::CheckKind kind_;
  Done done_;
  Clock::time_point start_;
  conf::Duration timeout_{0};
  std::string early_error_;
  bool at_line_start_ = true;
  std::string line_start_;
  size_t banner_bytes_ = 0;
  // Declared after fd_: the events are freed (and so removed from the loop) before it closes.
  UniqueFd fd_;
  EventPtr timer_;
  EventPtr write_ev_;
  EventPtr read_ev_;
};

HealthProber::HealthProber() = default;
HealthProber::~HealthProber() = default;

void HealthProber::probe(event_base* base, const SockAddr& target, conf::CheckKind kind,
                         conf::Duration timeout, Done done) {
  auto owned = std::make_unique<Probe>(this, kind, std::move(done));
  Probe* p = owned.get();
  probes_.emplace(p, std::move(owned));
  p->start(base, target, timeout);
}

void HealthProber::finish(Probe* p, bool ok, std::string why) {
  auto it = probes_.find(p);
  if (it == probes_.end()) return;
  Done done = p->takeDone();
  const std::chrono::microseconds latency = p->elapsed();
  probes_.erase(it);  // frees the events and closes the socket before anyone is told
  if (done) done(ok, latency, std::move(why));
}

}  // namespace tsd::director
