// Late promotion: user space first, the kernel once the pair looks like a desktop session.
#ifdef TSD_HAVE_BPF
#include "director/dataplane/promoting_forwarder.h"

#include "conf/log.h"
#include "director/dataplane/fast_path.h"

namespace tsd::director {

PromotingForwarder::PromotingForwarder(FastPath& fp, event_base* base, int client_fd, int node_fd,
                                       const UserspaceForwarder::Options& user,
                                       const KernelForwarder::Options& kernel,
                                       const PromotionRules& rules, Done done)
    : fp_(fp),
      base_(base),
      fds_{client_fd, node_fd},
      user_opts_(user),
      kernel_opts_(kernel),
      rules_(rules),
      done_(std::move(done)),
      started_(std::chrono::steady_clock::now()) {
  startUser();
  // One check per min_age: a pair is judged on what it did over the last window.
  check_ev_.reset(event_new(base_, -1, EV_PERSIST, &PromotingForwarder::onCheck, this));
  timeval tv = toTimeval(std::chrono::milliseconds(std::max<uint64_t>(rules_.min_age_ms, 10)));
  event_add(check_ev_.get(), &tv);
}

PromotingForwarder::~PromotingForwarder() = default;

void PromotingForwarder::startUser() {
  user_ = std::make_unique<UserspaceForwarder>(
      base_, fds_[0], fds_[1], user_opts_, HalfState{},
      [this](ForwardEnd e, const ForwardStats& st, const HalfState& hs) { onDone(e, st, hs); });
}

ForwardStats PromotingForwarder::stats() const {
  ForwardStats s = before_;
  const Forwarder* f = kernel_ ? static_cast<const Forwarder*>(kernel_.get()) : user_.get();
  if (f != nullptr && !finished_) {
    ForwardStats c = f->stats();
    s.up += c.up;
    s.down += c.down;
  }
  return s;
}

void PromotingForwarder::abort() {
  if (finished_) return;
  if (kernel_) return kernel_->abort();
  user_->abort();
}

void PromotingForwarder::holdPromotion() {
  if (check_ev_) event_del(check_ev_.get());
}

void PromotingForwarder::onCheck(evutil_socket_t, short, void* arg) {
  static_cast<PromotingForwarder*>(arg)->check();
}

void PromotingForwarder::check() {
  if (finished_ || kernel_) return;
  PairActivity a;
  a.age_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - started_)
                                       .count());
  user_->takeWindow(&a.window_bytes, &a.window_max_read);
  a.buffered = user_->buffered();
  a.half_closed = user_->anyEof();
  if (a.half_closed) {
    event_del(check_ev_.get());  // ending: it stays in user space
    return;
  }
  if (!shouldPromote(rules_, a)) return;
  // Nothing is buffered, so every byte user space read was written on: the kernel takes over
  // at a clean byte boundary. Stop reading first; bytes arriving now wait in the sockets.
  ForwardStats carried = user_->stats();
  user_->stop();
  auto kf = KernelForwarder::start(
      fp_, base_, fds_[0], fds_[1], kernel_opts_,
      [this](ForwardEnd e, const ForwardStats& st, const HalfState& hs) { onDone(e, st, hs); });
  if (!kf.ok()) {
    LOG_WARN("fast path promotion failed, staying in user space: %s", kf.error().c_str());
    event_del(check_ev_.get());
    user_->resume();
    return;
  }
  event_del(check_ev_.get());
  before_ = carried;
  retired_user_ = std::move(user_);
  kernel_ = std::move(kf).value();
  ++fp_.counts().promoted;
}

// Called once by whichever forwarder carries the pair; may destroy us (last).
void PromotingForwarder::onDone(ForwardEnd end, const ForwardStats& st, const HalfState& hs) {
  if (finished_) return;
  finished_ = true;
  if (check_ev_) event_del(check_ev_.get());
  ForwardStats total = before_;
  total.up += st.up;
  total.down += st.down;
  Done cb = std::move(done_);
  cb(end, total, hs);
}

}  // namespace tsd::director
#endif  // TSD_HAVE_BPF
