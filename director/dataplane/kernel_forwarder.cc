// KernelForwarder and its shared FastPathMonitor: hand-off of a socket pair to the sockmap,
// half-close once the peer has taken every redirected byte, RST handling, and the hand-over
// of one direction at a time to user space (DirectionHandover decides, this acts).
#include "director/dataplane/kernel_forwarder.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "conf/log.h"
#include "director/base/socket_ops.h"

namespace tsd::director {
namespace {

struct TcpSnap {
  uint64_t acked = 0;     // tcpi_bytes_acked (the connecting side counts its SYN)
  uint64_t received = 0;  // tcpi_bytes_received (a received FIN counts 1)
  uint64_t outq = 0;      // SIOCOUTQ: written but not yet acked
  uint64_t written() const { return acked + outq; }
};

bool snap(int fd, TcpSnap& s) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  int outq = 0;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return false;
  if (ioctl(fd, SIOCOUTQ, &outq) != 0) return false;
  s.acked = ti.tcpi_bytes_acked;
  s.received = ti.tcpi_bytes_received;
  s.outq = static_cast<uint64_t>(outq);
  return true;
}

// Bytes received and already consumed by user space before the hand-off (0 when only
// MSG_PEEK was used), and those still unread. Retried until no byte arrived between the reads.
// Only on a plain TCP socket: in a sockmap, SIOCINQ counts the psock's queue instead.
bool consumedBefore(int fd, uint64_t& consumed, uint64_t* unread = nullptr) {
  for (int i = 0; i < 16; ++i) {
    TcpSnap a, b;
    int inq = 0;
    if (!snap(fd, a) || ioctl(fd, SIOCINQ, &inq) != 0 || !snap(fd, b)) return false;
    if (a.received == b.received) {
      consumed = a.received - static_cast<uint64_t>(inq);
      if (unread != nullptr) *unread = static_cast<uint64_t>(inq);
      return true;
    }
  }
  return false;
}

// Bytes read from the socket before and some still unread: its head segment may be partly read
// (docs/fast-path.md, "Partly read segments"), which the stream parser would miscount.
bool mayBePartlyRead(uint64_t consumed, uint64_t unread) { return consumed > 0 && unread > 0; }

// A socket the peer reset is in TCP_CLOSE; one that only got a FIN is in CLOSE_WAIT.
// Sockets in a sockmap do not always report the reset through SO_ERROR, so look at the state.
bool wasReset(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return true;
  constexpr uint8_t kTcpClose = 7;  // TCP_CLOSE (include/net/tcp_states.h)
  return ti.tcpi_state == kTcpClose;
}

// Bytes queued before insertion wait for the next packet unless the socket is poked; a peek
// consumes nothing (a real read would leave the fd readable for ever).
void kick(int fd) {
  char b;
  (void)recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
}

uint64_t satSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

}  // namespace

// ---------------------------------------------------------------------------------------------
FastPathMonitor::FastPathMonitor(FastPath& fp, event_base* base)
    : fp_(fp),
      base_(base),
      epfd_(epoll_create1(EPOLL_CLOEXEC)),
      epoll_ev_(
          event_new(base, epfd_.get(), EV_READ | EV_PERSIST, &FastPathMonitor::onEpoll, this)),
      tick_ev_(event_new(base, -1, EV_PERSIST, &FastPathMonitor::onTick, this)) {
  if (epoll_ev_) event_add(epoll_ev_.get(), nullptr);
}

Status FastPathMonitor::add(KernelForwarder* f, int client_fd, int node_fd) {
  if (!epfd_.valid() || !epoll_ev_ || !tick_ev_) return makeError("fast path monitor: no epoll");
  int fds[2] = {client_fd, node_fd};
  for (int side = 0; side < 2; ++side) {
    epoll_event ev{};
    ev.events = EPOLLRDHUP;  // EPOLLERR and EPOLLHUP come anyway; no EPOLLIN: no per-packet wakeup
    ev.data.u64 = reinterpret_cast<uintptr_t>(f) | static_cast<uint64_t>(side);
    if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fds[side], &ev) != 0) {
      std::string err = strerror(errno);
      if (side == 1) epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, client_fd, nullptr);
      return makeError("fast path monitor: epoll_ctl: " + err);
    }
  }
  list_.pushFront(f);  // at the head: one added during a tick is first looked at by the next
  if (count_++ == 0 && !evtimer_pending(tick_ev_.get(), nullptr)) {
    timeval tv = toTimeval(kTick);
    evtimer_add(tick_ev_.get(), &tv);
  }
  return {};
}

void FastPathMonitor::remove(KernelForwarder* f, int client_fd, int node_fd) {
  epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, client_fd, nullptr);
  epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, node_fd, nullptr);
  if (tick_next_ == f) tick_next_ = f->mon_next_;
  list_.unlink(f);
  // Events of this batch not dispatched yet must not reach it: it may be freed next.
  for (int i = 0; i < batch_n_; ++i) {
    if ((batch_[i].data.u64 & ~uint64_t{1}) == reinterpret_cast<uintptr_t>(f)) {
      batch_[i].data.u64 = 0;
    }
  }
  if (--count_ == 0) evtimer_del(tick_ev_.get());  // idle: no wakeups at all
}

void FastPathMonitor::watchEdge(KernelForwarder* f, int side, int fd) {
  epoll_event ev{};
  ev.events = EPOLLRDHUP | EPOLLET;
  ev.data.u64 = reinterpret_cast<uintptr_t>(f) | static_cast<uint64_t>(side);
  epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev);
}

void FastPathMonitor::onEpoll(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<FastPathMonitor*>(arg);
  epoll_event evs[64];
  int n;
  do {
    n = epoll_wait(self->epfd_.get(), evs, 64, 0);
    self->batch_ = evs;
    self->batch_n_ = std::max(n, 0);
    for (int i = 0; i < n; ++i) {
      uint64_t d = evs[i].data.u64;
      if (d == 0) continue;  // its forwarder left during this batch (remove scrubbed it)
      auto* f = reinterpret_cast<KernelForwarder*>(static_cast<uintptr_t>(d & ~uint64_t{1}));
      f->onSocketEvent(static_cast<int>(d & 1), evs[i].events);
    }
    self->batch_ = nullptr;
    self->batch_n_ = 0;
  } while (n == 64);
}

void FastPathMonitor::onTick(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<FastPathMonitor*>(arg);
  // A tick may finish any forwarder (its own, or one its callbacks reach): remove() moves
  // the cursor past one that leaves.
  for (KernelForwarder* f = self->list_.front(); f != nullptr; f = self->tick_next_) {
    self->tick_next_ = f->mon_next_;
    f->onTick();
  }
  self->tick_next_ = nullptr;
}

// ---------------------------------------------------------------------------------------------
KernelForwarder::KernelForwarder(FastPathMonitor& monitor, const Options& opts, Done done)
    : monitor_(&monitor), opts_(opts), done_(std::move(done)) {}

KernelForwarder::~KernelForwarder() {
  if (!done_called_) detach();
  if (user_) user_->stop();
}

Result<std::unique_ptr<KernelForwarder>> KernelForwarder::start(FastPath& fp, event_base* base,
                                                                int client_fd, int node_fd,
                                                                const Options& opts, Done done,
                                                                bool read_to_empty) {
  std::unique_ptr<KernelForwarder> f(new KernelForwarder(fp.monitor(base), opts, std::move(done)));
  f->sides_[kClient].fd = client_fd;
  f->sides_[kNode].fd = node_fd;
  if (Status s = f->handOff(read_to_empty); !s.ok()) {
    f->detach();
    f->done_called_ = true;
    return makeError(s.error());
  }
  ++fp.counts().inserted;
  ++fp.counts().live_kernel;
  f->live_ = true;
  return f;
}

bool KernelForwarder::partlyRead(int fd) {
  uint64_t consumed = 0, unread = 0;
  if (!consumedBefore(fd, consumed, &unread)) return true;  // unknown: not safe either
  return mayBePartlyRead(consumed, unread);
}

Status KernelForwarder::handOff(bool read_to_empty) {
  for (Side& s : sides_) {
    TcpSnap t;
    uint64_t unread = 0;
    if (!snap(s.fd, t) || !consumedBefore(s.fd, s.base_received, &unread)) {
      return makeError(std::string("fast path: tcp_info: ") + strerror(errno));
    }
    // The stream parser starts a message at the head segment's first byte, not at the first
    // unread one: a segment user space read part of would be miscounted and the bytes after
    // it held for ever. Whole unread segments (nothing read yet) are safe.
    if (!read_to_empty && mayBePartlyRead(s.base_received, unread)) {
      return makeError("fast path: " + std::to_string(unread) +
                       " bytes wait unread behind bytes user space read (a segment may be "
                       "partly read): the pair stays in user space");
    }
    s.base_written = t.written();
    s.acked_seen = t.acked;
    auto reg = fp().registerSocket(s.fd);
    if (!reg.ok()) return makeError(reg.error());
    s.sock = *reg;
    s.registered = true;
  }
  if (Status st = monitor_->add(this, sides_[kClient].fd, sides_[kNode].fd); !st.ok()) return st;
  monitored_ = true;
  if (Status s = insertPair(); !s.ok()) return s;
  kick(sides_[kClient].fd);
  kick(sides_[kNode].fd);
  return {};
}

// Targets first: a verdict must never redirect to a peer that is not in the map yet.
Status KernelForwarder::insertPair() {
  for (int s = 0; s < 2; ++s) {
    Status st = fp().insertTarget(sides_[s].sock.cookie, sides_[1 - s].fd);
    if (!st.ok()) return st;
    sides_[s].in_target = true;
  }
  for (Side& s : sides_) {
    Status st = fp().insertVerdict(s.sock.cookie, s.fd);
    if (!st.ok()) {
      // Bytes already moved by the first socket would be lost by a user-space fallback.
      if (sides_[kClient].in_verdict && fp().redirectedBytes(sides_[kClient].sock.slot) > 0) {
        setAbortiveClose(sides_[kClient].fd);
        setAbortiveClose(sides_[kNode].fd);
        return makeError(st.error() + " (after bytes moved: pair must be reset)");
      }
      return st;
    }
    s.in_verdict = true;
  }
  return {};
}

ForwardStats KernelForwarder::stats() const {
  if (done_called_) return stats_;
  ForwardStats st = stats_;
  st.up += fp().redirectedBytes(sides_[kClient].sock.slot);
  st.down += fp().redirectedBytes(sides_[kNode].sock.slot);
  if (user_) {
    ForwardStats u = user_->stats();
    st.up += u.up;
    st.down += u.down;
  }
  return st;
}

void KernelForwarder::abort() {
  if (!done_called_) resetBoth();
}

bool KernelForwarder::finPassed(int src) const {
  return sides_[src].fin_passed || (user_ && user_->shut(src));
}

void KernelForwarder::onSocketEvent(int side, uint32_t events) {
  if (done_called_) return;
  Side& s = sides_[side];
  // TCP_CLOSE means a reset only while we have not shut this socket's write side: after our
  // FIN it is also where an orderly close ends (LAST_ACK, TIME_WAIT hand-off).
  bool we_sent_fin = finPassed(1 - side);
  if (takeSocketError(s.fd) != 0 || (events & EPOLLERR) != 0 || (!we_sent_fin && wasReset(s.fd))) {
    return resetBoth();
  }
  if ((events & (EPOLLRDHUP | EPOLLHUP)) == 0 || s.rdhup) return;
  s.rdhup = true;
  monitor_->watchEdge(this, side, s.fd);
  tryPassFin(side);  // a handed-back direction: user space reads the EOF itself
  if (!s.fin_passed && dirs_[side].spliced()) armFinCheck();
  checkClosed();
}

// The FIN is passed once its direction's last bytes reached the peer, usually within a
// millisecond or two: re-check at 1, 2, 4, ... ms rather than at the 50 ms tick.
void KernelForwarder::armFinCheck() {
  if (!fin_ev_) fin_ev_.reset(evtimer_new(base(), &KernelForwarder::onFinCheck, this));
  if (!fin_ev_ || evtimer_pending(fin_ev_.get(), nullptr)) return;
  constexpr int kTickMs = FastPathMonitor::kTick.count();
  int next = fin_delay_ms_ == 0 ? 1 : fin_delay_ms_ * 2;
  fin_delay_ms_ = static_cast<uint8_t>(std::min(next, kTickMs));
  if (next >= kTickMs) return;  // the tick takes over
  timeval tv = toTimeval(std::chrono::milliseconds(fin_delay_ms_));
  evtimer_add(fin_ev_.get(), &tv);
}

void KernelForwarder::onFinCheck(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<KernelForwarder*>(arg);
  if (self->done_called_) return;
  bool waiting = false;
  for (int src = 0; src < 2; ++src) {
    self->tryPassFin(src);
    waiting |= self->sides_[src].rdhup && self->dirs_[src].spliced();
  }
  if (waiting) self->armFinCheck();
  self->checkClosed();  // last: may free us
}

void KernelForwarder::onTick() {
  if (done_called_) return;
  if (ticks_ < 2 && ++ticks_ == 1) {  // a second kick, in case bytes raced the first one
    kick(sides_[kClient].fd);
    kick(sides_[kNode].fd);
  }
  for (int src = 0; src < 2 && !broken_; ++src) {
    switch (dirs_[src].mode()) {
      case DirectionHandover::Mode::kSpliced:
        tryPassFin(src);
        if (dirs_[src].spliced() && queueAboveCap(src)) handBack(src);
        break;
      case DirectionHandover::Mode::kDraining:
        tryTakeOver(src);
        break;
      case DirectionHandover::Mode::kUser:
        if (!user_->eofPending(src)) {
          eof_waits_[src] = 0;
        } else if (!eofNeverCompletes(src)) {
          user_->retryRead(src);
        }
        break;
      case DirectionHandover::Mode::kFinished:
        break;
    }
  }
  checkClosed();
}

bool KernelForwarder::sample(int src, DirectionSample* out) const {
  const Side& d = sides_[1 - src];
  TcpSnap td;
  if (!snap(d.fd, td)) return false;
  out->redirected = fp().redirectedBytes(sides_[src].sock.slot);
  out->taken = satSub(td.written(), d.base_written);
  return true;
}

// src sent FIN while its direction is spliced: shut the peer's write side once every byte src
// received was redirected (the parser caught up) and the peer's socket took all of them;
// earlier would strand bytes in the psock backlog.
void KernelForwarder::tryPassFin(int src) {
  Side& s = sides_[src];
  if (!s.rdhup || !dirs_[src].spliced()) return;
  // The count first, then what src received: a count read later could include bytes that
  // arrived after the snapshot.
  TcpSnap ts;
  DirectionSample ds;
  if (!sample(src, &ds) || !snap(s.fd, ts)) return;
  if (miscounted(src, ds.redirected, ts.received)) return;
  if (!dirs_[src].mayPassKernelFin(ds, ts.received - s.base_received)) return;
  shutdown(sides_[1 - src].fd, SHUT_WR);
  s.fin_passed = true;
  dirs_[src].finPassed();
  if (user_) user_->markShut(src);
}

// Bytes redirected towards src's peer and not yet acked by its remote end (peer send queue
// plus psock backlog). Checked without a syscall until the cheap upper bound passes the cap.
bool KernelForwarder::queueAboveCap(int src) {
  Side& d = sides_[1 - src];
  uint64_t redirected = fp().redirectedBytes(sides_[src].sock.slot);  // before src's snapshot
  uint64_t sent_total = d.base_written + redirected;
  if (satSub(sent_total, d.acked_seen) <= opts_.demote_bytes) return false;
  TcpSnap td, ts;
  if (!snap(d.fd, td) || !snap(sides_[src].fd, ts)) return false;
  d.acked_seen = td.acked;
  // A miscount looks like a queue: reset (checkClosed) rather than hand back what never was.
  if (miscounted(src, redirected, ts.received)) return false;
  return dirs_[src].shouldHandBack(satSub(sent_total, td.acked), opts_.demote_bytes);
}

// The direction stops being redirected (its bytes now wait on src, charged to it: TCP flow
// control throttles the sender); user space may read src but writes to the peer only once
// every redirected byte reached the peer's TCP. The other direction is not touched.
void KernelForwarder::handBack(int src) {
  if (!dirs_[src].beginDrain()) return;
  ensureUser();
  // Out of the verdict map only: the kernel stops src's parser and verdict under the socket's
  // callback lock, so when this returns no verdict of src is running and the redirect count
  // is final. src stays in the target map (as its peer's target), which keeps its psock and
  // whatever the other direction still has queued to it.
  fp().removeVerdict(sides_[src].sock.cookie);
  sides_[src].in_verdict = false;
  // The delete excludes the parser's softirq path (the callback lock), not its worker: when
  // src's lock was held as bytes arrived, the parser runs from a workqueue under the socket
  // lock only. Taking that lock once (SIOCINQ does) waits for such a run; any later one sees
  // the parser stopped. Only then is the redirect count final.
  int ignored = 0;
  (void)ioctl(sides_[src].fd, SIOCINQ, &ignored);
  dirs_[src].barrierPassed();
  user_->setGate(src, UserspaceForwarder::Gate::kHold);
  if (hand_backs_++ == 0 && live_) ++fp().counts().live_handed_back;
  ++fp().counts().handed_back;
  LOG_DEBUG("fast path: fds %d/%d: %s direction handed to user space", sides_[kClient].fd,
            sides_[kNode].fd, src == kClient ? "up" : "down");
  tryTakeOver(src);
}

void KernelForwarder::handBackAll() {
  if (done_called_) return;
  for (int src = 0; src < 2; ++src) {
    if (dirs_[src].spliced()) handBack(src);
  }
}

void KernelForwarder::tryTakeOver(int src) {
  DirectionSample ds;
  TcpSnap ts;
  if (!sample(src, &ds) || !snap(sides_[src].fd, ts)) return;
  if (miscounted(src, ds.redirected, ts.received)) return;
  if (dirs_[src].onSample(ds)) user_->setGate(src, UserspaceForwarder::Gate::kOpen);
}

// The kernel counted more bytes redirected than src ever received: the count no longer says
// when the peer has them all, so neither a FIN nor a hand-over would ever pass. A clear reset
// instead of a pair that hangs; checkClosed() does it, as the last step of each callback.
bool KernelForwarder::miscounted(int src, uint64_t redirected, uint64_t received_total) {
  if (broken_) return true;
  uint64_t received = received_total - sides_[src].base_received;
  if (!DirectionHandover::countImpossible(redirected, received)) return false;
  LOG_ERROR(
      "fast path: fds %d/%d: the kernel counted %llu bytes redirected %s, more than the "
      "%llu received; resetting the pair",
      sides_[kClient].fd, sides_[kNode].fd, static_cast<unsigned long long>(redirected),
      src == kClient ? "up" : "down", static_cast<unsigned long long>(received));
  ++fp().counts().miscount_resets;
  broken_ = true;
  return true;
}

// A handed-back source read EOF, but fewer bytes were redirected and read than it received,
// and nothing moved for 2 s: its EOF can never be confirmed, and the peer would wait for ever
// for the rest of the stream. Reset instead. The kernel can lose bytes at a hand-back (a
// stream parser run on the kstrp worker as the verdict is cleared drops what it read;
// docs/fast-path.md, "Hand-over"); a 53-byte case on `auto` is not explained yet ("Open").
bool KernelForwarder::eofNeverCompletes(int src) {
  constexpr int kEofPatience = 2000 / FastPathMonitor::kTick.count();  // 2 s of ticks
  if (++eof_waits_[src] < kEofPatience) return false;
  eof_waits_[src] = 0;
  TcpSnap ts;
  if (!snap(sides_[src].fd, ts)) return false;
  uint64_t received = ts.received - sides_[src].base_received;  // the FIN counts 1
  uint64_t redirected = fp().redirectedBytes(sides_[src].sock.slot);
  uint64_t read = user_->readBytes(src);
  uint64_t accounted = redirected + read + 1;
  if (received <= accounted) return false;
  LOG_ERROR(
      "fast path: fds %d/%d: %llu bytes the %s source received were neither redirected by the "
      "kernel nor read by user space, so its EOF cannot be passed on; resetting the pair "
      "(received %llu since the hand-off, %llu before it; redirected %llu; read %llu)",
      sides_[kClient].fd, sides_[kNode].fd, static_cast<unsigned long long>(received - accounted),
      src == kClient ? "up" : "down", static_cast<unsigned long long>(received),
      static_cast<unsigned long long>(sides_[src].base_received),
      static_cast<unsigned long long>(redirected), static_cast<unsigned long long>(read));
  ++fp().counts().lost_resets;
  broken_ = true;
  return true;
}

void KernelForwarder::ensureUser() {
  if (user_) return;
  // Its own options (only pairs with a handed-back direction have them): the gates and the EOF
  // check belong to this pair.
  auto o = std::make_shared<UserspaceForwarder::Options>();
  o->buffer_size = opts_.buffer_size;
  o->scratch = opts_.scratch;
  o->gates[0] = o->gates[1] = UserspaceForwarder::Gate::kKernel;
  o->confirm_eof = [this](int dir, uint64_t read) { return confirmEof(dir, read); };
  HalfState hs{sides_[kClient].fin_passed, sides_[kNode].fin_passed};
  user_ = std::make_unique<UserspaceForwarder>(
      base(), sides_[kClient].fd, sides_[kNode].fd, std::move(o), hs,
      [this](ForwardEnd end, const ForwardStats&, const HalfState&) { onUserDone(end); });
}

// recv() returned 0 on a handed-back source: true only when every byte it received was
// redirected by the kernel or read by user space (see DirectionHandover::eofComplete).
bool KernelForwarder::confirmEof(int src, uint64_t user_read) const {
  TcpSnap ts;
  if (!snap(sides_[src].fd, ts)) return true;  // the socket is gone: nothing more will come
  return DirectionHandover::eofComplete(ts.received - sides_[src].base_received,
                                        fp().redirectedBytes(sides_[src].sock.slot), user_read);
}

void KernelForwarder::onUserDone(ForwardEnd end) {
  if (end == ForwardEnd::kReset) return resetBoth();
  finish(end);
}

// Both directions finished in the kernel: done here. With a user-space part, it reports the
// end (the kernel's FINs were marked on it). A miscounted pair is reset here.
void KernelForwarder::checkClosed() {
  if (done_called_) return;
  if (broken_) return resetBoth();
  if (user_) return;
  if (sides_[kClient].fin_passed && sides_[kNode].fin_passed) finish(ForwardEnd::kClosed);
}

void KernelForwarder::resetBoth() {
  setAbortiveClose(sides_[kClient].fd);
  setAbortiveClose(sides_[kNode].fd);
  finish(ForwardEnd::kReset);
}

// Calls done last: it may free us.
void KernelForwarder::finish(ForwardEnd end) {
  if (done_called_) return;
  stats_ = stats();
  HalfState hs{finPassed(kClient), finPassed(kNode)};
  if (user_) user_->stop();
  if (fin_ev_) event_del(fin_ev_.get());
  detach();
  done_called_ = true;
  Done cb = std::move(done_);
  done_ = nullptr;
  if (cb) cb(end, stats_, hs);
}

// Only at the end (every byte delivered, or a reset): taking a socket out of its last map
// frees whatever is still queued to it. Verdict map first, then targets, then the slots.
void KernelForwarder::detach() {
  if (live_) {
    --fp().counts().live_kernel;
    if (hand_backs_ > 0) --fp().counts().live_handed_back;
    live_ = false;
  }
  if (monitored_) monitor_->remove(this, sides_[kClient].fd, sides_[kNode].fd);
  monitored_ = false;
  for (Side& s : sides_) {
    if (s.in_verdict) fp().removeVerdict(s.sock.cookie);
    s.in_verdict = false;
  }
  for (Side& s : sides_) {
    if (s.in_target) fp().removeTarget(s.sock.cookie);
    s.in_target = false;
  }
  for (Side& s : sides_) {
    if (s.registered) fp().unregisterSocket(s.sock);
    s.registered = false;
  }
}

}  // namespace tsd::director
