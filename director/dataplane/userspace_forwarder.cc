// The user-space data path. Level-triggered events: a side is read only while its direction has
// nothing pending, and watched for writability only while the opposite direction has.
#include "director/dataplane/userspace_forwarder.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "conf/log.h"
#include "director/base/socket_ops.h"

namespace tsd::director {
namespace {
constexpr int kMaxReadsPerWakeup = 4;  // fairness between connections on one loop

bool wouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK; }
}  // namespace

UserspaceForwarder::UserspaceForwarder(event_base* base, int client_fd, int node_fd,
                                       std::shared_ptr<const Options> opts, HalfState initial,
                                       Done done)
    : base_(base), opts_(std::move(opts)), done_(std::move(done)) {
  dirs_[0].from = client_fd;
  dirs_[0].to = node_fd;
  dirs_[1].from = node_fd;
  dirs_[1].to = client_fd;
  dirs_[0].eof = dirs_[0].shut = initial.up_eof;
  dirs_[1].eof = dirs_[1].shut = initial.down_eof;
  dirs_[0].gate = opts_->gates[0];
  dirs_[1].gate = opts_->gates[1];
  event_assign(&ev_[0], base_, client_fd, EV_PERSIST, &UserspaceForwarder::onEvent, this);
  event_assign(&ev_[1], base_, node_fd, EV_PERSIST, &UserspaceForwarder::onEvent, this);
  if (opts_->idle_timeout.count() > 0) {
    idle_ev_.reset(event_new(base_, -1, EV_PERSIST, &UserspaceForwarder::onIdle, this));
    timeval tv = toTimeval(opts_->idle_timeout);
    event_add(idle_ev_.get(), &tv);
  }
  // Both directions may already be finished (a pair handed over while closing): report from
  // the loop, never from inside the constructor.
  if (dirs_[0].shut && dirs_[1].shut) {
    scheduleCheck();
    return;
  }
  updateInterest();
}

// Outcomes found outside an event (a gate opened, the kernel passed a FIN) are reported from
// the loop, so the embedding forwarder is never re-entered.
void UserspaceForwarder::scheduleCheck() {
  if (!kick_) {
    kick_.reset(evtimer_new(
        base_,
        [](evutil_socket_t, short, void* arg) { static_cast<UserspaceForwarder*>(arg)->check(); },
        this));
  }
  timeval zero{0, 0};
  evtimer_add(kick_.get(), &zero);
}

void UserspaceForwarder::check() {
  if (finished_) return;
  for (Direction& d : dirs_) {
    if (d.gate == Gate::kOpen && flush(d) == Step::kReset) return finish(ForwardEnd::kReset);
  }
  if (dirs_[0].shut && dirs_[1].shut) return finish(ForwardEnd::kClosed);
  updateInterest();
}

void UserspaceForwarder::setGate(int dir, Gate g) {
  if (finished_ || dirs_[dir].gate == g) return;
  dirs_[dir].gate = g;
  scheduleCheck();
}

void UserspaceForwarder::markShut(int dir) {
  if (finished_) return;
  dirs_[dir].eof = dirs_[dir].shut = true;
  scheduleCheck();
}

void UserspaceForwarder::retryRead(int dir) {
  if (finished_ || !dirs_[dir].eof_wait) return;
  dirs_[dir].eof_wait = false;
  updateInterest();
}

void UserspaceForwarder::takeWindow(uint64_t* bytes, uint64_t* max_read) {
  *bytes = window_bytes_;
  *max_read = window_max_read_;
  window_bytes_ = window_max_read_ = 0;
}

void UserspaceForwarder::stop() {
  finished_ = true;
  for (event& ev : ev_) event_del(&ev);
  interest_[0] = interest_[1] = 0;
  if (idle_ev_) event_del(idle_ev_.get());
  if (kick_) event_del(kick_.get());
}

void UserspaceForwarder::resume() {
  if (!finished_ || !done_) return;
  finished_ = false;
  if (idle_ev_) {
    timeval tv = toTimeval(opts_->idle_timeout);
    event_add(idle_ev_.get(), &tv);
  }
  updateInterest();
}

// --- live hand-over (begin) ---
bool UserspaceForwarder::exportable() const {
  for (const Direction& d : dirs_) {
    if (d.gate == Gate::kHold || (d.gate == Gate::kKernel && !d.shut)) return false;
  }
  return true;
}

void UserspaceForwarder::exportDirection(int dir, DirectionState* out) const {
  const Direction& d = dirs_[dir];
  out->written = d.bytes;
  out->read = d.read;
  out->eof = d.eof;  // an EOF not yet confirmed (eof_wait) is read again by the new process
  out->shut = d.shut;
  out->pending.assign(d.pending ? d.pending.get() + d.pending_off : "", d.pending_len);
}

void UserspaceForwarder::adoptDirection(int dir, const DirectionState& in) {
  Direction& d = dirs_[dir];
  d.bytes = in.written;
  d.read = in.read;
  d.eof = in.eof || in.shut;
  d.shut = in.shut;
  if (!in.pending.empty()) {
    d.pending.reset(new char[std::max<size_t>(in.pending.size(), opts_->buffer_size)]);
    std::memcpy(d.pending.get(), in.pending.data(), in.pending.size());
    d.pending_off = 0;
    d.pending_len = static_cast<uint32_t>(in.pending.size());
  }
  updateInterest();
  scheduleCheck();  // flushes, passes a pending FIN, or reports a finished pair from the loop
}
// --- live hand-over (end) ---

UserspaceForwarder::~UserspaceForwarder() {
  for (event& ev : ev_) event_del(&ev);
}

void UserspaceForwarder::onEvent(evutil_socket_t fd, short what, void* arg) {
  static_cast<UserspaceForwarder*>(arg)->handle(fd, what);
}

void UserspaceForwarder::onIdle(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<UserspaceForwarder*>(arg);
  if (self->activity_ == self->idle_seen_) {
    LOG_DEBUG("idle timeout: closing fds %d/%d", self->dirs_[0].from, self->dirs_[1].from);
    setAbortiveClose(self->dirs_[0].from);
    setAbortiveClose(self->dirs_[1].from);
    self->finish(ForwardEnd::kIdle);
    return;
  }
  self->idle_seen_ = self->activity_;
}

void UserspaceForwarder::handle(int fd, short what) {
  if (finished_) return;
  // Writable first: flushing may let the other side be read again.
  if (what & EV_WRITE) {
    Direction& d = (fd == dirs_[0].to) ? dirs_[0] : dirs_[1];
    if (flush(d) == Step::kReset) return finish(ForwardEnd::kReset);
  }
  if (what & EV_READ) {
    Direction& d = (fd == dirs_[0].from) ? dirs_[0] : dirs_[1];
    if (pump(d) == Step::kReset) return finish(ForwardEnd::kReset);
  }
  if (dirs_[0].shut && dirs_[1].shut) return finish(ForwardEnd::kClosed);
  updateInterest();
}

UserspaceForwarder::Step UserspaceForwarder::pump(Direction& d) {
  char* buf = opts_->scratch->data();
  for (int i = 0; i < kMaxReadsPerWakeup && !d.eof && !d.eof_wait && d.pending_len == 0; ++i) {
    ssize_t n = ::read(d.from, buf, opts_->buffer_size);
    if (n < 0) {
      if (wouldBlock(errno)) return Step::kOk;
      if (errno == EINTR) continue;
      return Step::kReset;
    }
    if (n == 0) {
      if (opts_->confirm_eof && !opts_->confirm_eof(static_cast<int>(&d - dirs_), d.read)) {
        d.eof_wait = true;  // bytes still on their way to this socket: read again later
        return Step::kOk;
      }
      d.eof = true;
      return passFin(d);
    }
    ++activity_;
    d.read += static_cast<uint64_t>(n);
    window_bytes_ += static_cast<uint64_t>(n);
    if (static_cast<uint64_t>(n) > window_max_read_) window_max_read_ = static_cast<uint64_t>(n);
    // Held: the kernel may still have bytes on their way to the target; keep these.
    ssize_t w = d.gate == Gate::kOpen ? ::send(d.to, buf, n, MSG_NOSIGNAL) : 0;
    if (w < 0) {
      if (!wouldBlock(errno)) return Step::kReset;
      w = 0;
    }
    d.bytes += w;
    if (w < n) {
      // The peer is full: keep the rest and stop reading this side until it drains.
      if (!d.pending) d.pending.reset(new char[opts_->buffer_size]);
      std::memcpy(d.pending.get(), buf + w, n - w);
      d.pending_off = 0;
      d.pending_len = static_cast<uint32_t>(n - w);
      return Step::kOk;
    }
    if (static_cast<size_t>(n) < opts_->buffer_size) return Step::kOk;  // socket drained
  }
  return Step::kOk;
}

UserspaceForwarder::Step UserspaceForwarder::flush(Direction& d) {
  if (d.gate != Gate::kOpen) return Step::kOk;
  while (d.pending_len > 0) {
    ssize_t w = ::send(d.to, d.pending.get() + d.pending_off, d.pending_len, MSG_NOSIGNAL);
    if (w < 0) {
      if (wouldBlock(errno)) return Step::kOk;
      if (errno == EINTR) continue;
      return Step::kReset;
    }
    ++activity_;
    d.bytes += w;
    d.pending_off += w;
    d.pending_len -= w;
  }
  d.pending.reset();  // idle connections hold no buffer
  return d.eof ? passFin(d) : Step::kOk;
}

UserspaceForwarder::Step UserspaceForwarder::passFin(Direction& d) {
  if (d.pending_len > 0 || d.shut || d.gate != Gate::kOpen) return Step::kOk;
  d.shut = true;
  if (::shutdown(d.to, SHUT_WR) < 0 && errno != ENOTCONN) return Step::kReset;
  return Step::kOk;
}

void UserspaceForwarder::updateInterest() {
  // fd index 0 is the client: it is read for direction 0 and written for direction 1.
  for (int idx = 0; idx < 2; ++idx) {
    const Direction& out = dirs_[idx];     // read from this fd
    const Direction& in = dirs_[1 - idx];  // written to this fd
    short flags = 0;
    if (out.gate != Gate::kKernel && !out.eof && !out.eof_wait && out.pending_len == 0) {
      flags |= EV_READ;
    }
    if (in.gate == Gate::kOpen && in.pending_len > 0) flags |= EV_WRITE;
    setInterest(idx, flags);
  }
}

void UserspaceForwarder::setInterest(int idx, short flags) {
  if (interest_[idx] == flags) return;
  interest_[idx] = flags;
  event* ev = &ev_[idx];
  event_del(ev);
  if (flags == 0) return;
  event_assign(ev, base_, event_get_fd(ev), flags | EV_PERSIST, &UserspaceForwarder::onEvent, this);
  event_add(ev, nullptr);
}

void UserspaceForwarder::abort() {
  if (finished_) return;
  setAbortiveClose(dirs_[0].from);
  setAbortiveClose(dirs_[1].from);
  finish(ForwardEnd::kReset);
}

void UserspaceForwarder::finish(ForwardEnd end) {
  if (finished_) return;
  finished_ = true;
  if (end == ForwardEnd::kReset) {
    // Propagate the reset: the owner closes both fds, and linger 0 turns that into RST.
    setAbortiveClose(dirs_[0].from);
    setAbortiveClose(dirs_[1].from);
  }
  for (event& ev : ev_) event_del(&ev);
  if (idle_ev_) event_del(idle_ev_.get());
  if (kick_) event_del(kick_.get());
  HalfState hs{dirs_[0].shut, dirs_[1].shut};
  Done done = std::move(done_);
  done(end, stats(), hs);  // may destroy this
}

}  // namespace tsd::director
