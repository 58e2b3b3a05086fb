// Late promotion: user space first, the kernel once the pair looks like a desktop session.
#ifdef TSD_HAVE_BPF
#include "director/dataplane/promoting_forwarder.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstdint>

#include "conf/log.h"
#include "director/dataplane/fast_path.h"

namespace tsd::director {

// ---------------------------------------------------------------------------------------------
PromotionWheel::PromotionWheel(event_base* base, FastPath& fp)
    : base_(base),
      fp_(fp),
      tick_ev_(event_new(base, -1, EV_PERSIST, &PromotionWheel::onTick, this)) {
  setPeriod(std::chrono::milliseconds(200));
}

PromotionWheel::~PromotionWheel() {
  // Pairs outlive the wheel only at teardown; forget them so they do not touch it.
  for (Slot& slot : slots_) {
    for (PromotingForwarder* f = slot.front(); f != nullptr; f = Slot::next(f)) f->slot_ = -1;
    slot.clear();
  }
}

void PromotionWheel::setPeriod(std::chrono::milliseconds period) {
  auto tick = std::max<std::chrono::microseconds>(period, std::chrono::milliseconds(10)) / kSlots;
  timeval tv = toTimeval(tick);
  if (tv.tv_sec == tick_tv_.tv_sec && tv.tv_usec == tick_tv_.tv_usec) return;
  tick_tv_ = tv;
  if (count_ > 0) event_add(tick_ev_.get(), &tick_tv_);  // re-arms with the new period
}

// Into the slot checked next: its first check is then a tick away (too young: skipped), and
// the one that judges it comes a full period later.
void PromotionWheel::join(PromotingForwarder* f) {
  f->slot_ = static_cast<int8_t>(cursor_);
  slots_[cursor_].pushFront(f);
  if (count_++ == 0) event_add(tick_ev_.get(), &tick_tv_);
}

void PromotionWheel::leave(PromotingForwarder* f) {
  if (f->slot_ < 0) return;
  slots_[f->slot_].unlink(f);
  f->slot_ = -1;
  if (--count_ == 0) event_del(tick_ev_.get());  // nothing waits: no wakeups
}

void PromotionWheel::onTick(evutil_socket_t, short, void* arg) {
  static_cast<PromotionWheel*>(arg)->tick();
}

void PromotionWheel::tick() {
  int slot = cursor_;
  cursor_ = (cursor_ + 1) % kSlots;  // pairs joining during the checks go to the next slot
  // A check can take only its own pair out of the list (a promotion), never another one: no
  // forwarder finishes from inside check().
  for (PromotingForwarder* f = slots_[slot].front(); f != nullptr;) {
    PromotingForwarder* next = Slot::next(f);
    f->check();
    f = next;
  }
}

namespace {
// What waits in the two sockets: received and not read (SIOCINQ, summed), and the most written
// and not yet sent in one (SIOCOUTQNSD). An unreadable socket counts as full: no promotion.
void socketQueues(int client_fd, int node_fd, PairActivity& a) {
  a.unread = 0;
  a.queued = 0;
  for (int fd : {client_fd, node_fd}) {
    int inq = 0, unsent = 0;
    if (ioctl(fd, SIOCINQ, &inq) != 0 || ioctl(fd, SIOCOUTQNSD, &unsent) != 0) {
      a.unread = a.queued = UINT64_MAX;
      return;
    }
    a.unread += static_cast<uint64_t>(std::max(inq, 0));
    a.queued = std::max<uint64_t>(a.queued, static_cast<uint64_t>(std::max(unsent, 0)));
  }
}
}  // namespace

// ---------------------------------------------------------------------------------------------
PromotingForwarder::PromotingForwarder(PromotionWheel& wheel, int client_fd, int node_fd,
                                       std::shared_ptr<const PromotionOptions> opts, Done done,
                                       std::unique_ptr<Forwarder>* slot)
    : wheel_(wheel),
      opts_(std::move(opts)),
      done_(std::move(done)),
      started_(std::chrono::steady_clock::now()),
      slot_owner_(slot) {
  user_ = std::make_unique<UserspaceForwarder>(
      wheel_.base(), client_fd, node_fd, opts_->user, HalfState{},
      [this](ForwardEnd e, const ForwardStats& st, const HalfState& hs) { onDone(e, st, hs); });
  wheel_.join(this);
}

PromotingForwarder::~PromotingForwarder() { leaveWheel(); }

void PromotingForwarder::leaveWheel() {
  if (slot_ >= 0) wheel_.leave(this);
}

ForwardStats PromotingForwarder::stats() const {
  return finished_ ? ForwardStats{} : user_->stats();
}

void PromotingForwarder::abort() {
  if (!finished_) user_->abort();
}

// Hand-over: a pair being exported is never promoted (after a failed hand-over it simply stays
// in user space).
void PromotingForwarder::holdPromotion() {
  leaveWheel();
  if (retry_ev_) event_del(retry_ev_.get());
}

void PromotingForwarder::retrySoon() {
  if (!retry_ev_) {
    retry_ev_.reset(evtimer_new(
        wheel_.base(),
        [](evutil_socket_t, short, void* arg) {
          static_cast<PromotingForwarder*>(arg)->check(true);
        },
        this));
    if (!retry_ev_) return;  // the next judgement comes anyway
  }
  // A zero timeout runs after the I/O callbacks of the next loop turn: those read first.
  timeval zero{0, 0};
  evtimer_add(retry_ev_.get(), &zero);
}

void PromotingForwarder::check(bool retry) {
  if (finished_) return leaveWheel();
  if (retry && slot_ < 0) return;  // held for a hand-over since (holdPromotion): never now
  PairActivity a;
  a.age_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - started_)
                                       .count());
  // Too young: keep the window growing, so the first judgement covers the whole life so far.
  if (a.age_ms < opts_->rules.min_age_ms) return;
  user_->takeWindow(&a.window_bytes, &a.window_max_read);
  a.buffered = user_->buffered();
  a.half_closed = user_->anyEof();
  if (a.half_closed) return leaveWheel();  // ending: it stays in user space
  a.previous_bulk = last_window_bulk_;
  last_window_bulk_ = !interactiveWindow(opts_->rules, a);
  if (!shouldPromote(opts_->rules, a)) return;
  // The sockets' queues only once everything else says yes: four ioctls, once a period.
  socketQueues(user_->clientFd(), user_->nodeFd(), a);
  if (!shouldPromote(opts_->rules, a)) {
    // Only a few unread bytes in the way: usually a keystroke (or its echo) that arrived
    // while this loop turn ran, read on the next one. Look again right after that turn, and
    // if they are still there, at the next tick rather than a whole period later.
    PairActivity read_now = a;
    read_now.unread = 0;
    if (a.unread <= opts_->rules.max_queued && shouldPromote(opts_->rules, read_now)) {
      if (!retry) return retrySoon();
      leaveWheel();
      wheel_.join(this);  // the slot checked next (joining during a tick never re-enters it)
    }
    return;
  }
  leaveWheel();  // promoted or not, this pair is judged once more at most: never again
  promote();     // last: may free us
}

// Nothing is buffered, so every byte user space read was written on: the kernel takes over
// at a clean byte boundary. Stop reading first; bytes arriving now wait in the sockets.
void PromotingForwarder::promote() {
  ForwardStats carried = user_->stats();
  int client_fd = user_->clientFd();
  int node_fd = user_->nodeFd();
  user_->stop();
  auto kf = KernelForwarder::start(wheel_.fastPath(), wheel_.base(), client_fd, node_fd,
                                   opts_->kernel, done_,     // a copy: kept if the kernel refuses
                                   /*read_to_empty=*/true);  // queues empty, nothing read since
  if (!kf.ok()) {
    LOG_WARN("fast path promotion failed, staying in user space: %s", kf.error().c_str());
    ++wheel_.fastPath().counts().promotion_failed;
    user_->resume();
    return;
  }
  ++wheel_.fastPath().counts().promoted;
  std::unique_ptr<KernelForwarder> k = std::move(kf).value();
  k->carryOver(carried);
  // We run in a timer (the wheel's or our retry), never inside the forwarder's own callbacks:
  // the stopped user-space forwarder and this wrapper can go now. Nothing touches `this` after.
  *slot_owner_ = std::move(k);
}

// Called once by the user-space forwarder (a promoted pair reports to its owner directly);
// may destroy us (last).
void PromotingForwarder::onDone(ForwardEnd end, const ForwardStats& st, const HalfState& hs) {
  if (finished_) return;
  finished_ = true;
  leaveWheel();
  Done cb = std::move(done_);
  cb(end, st, hs);
}

}  // namespace tsd::director
#endif  // TSD_HAVE_BPF
