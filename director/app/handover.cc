// Both ends block on the channel while they transfer: the old process has quiesced every pair
// first (nothing to serve meanwhile), the new one serves nothing yet. The old process never
// closes a handed-over fd before the acknowledgement: until then it can resume everything.
#include "director/app/handover.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf/log.h"
#include "director/app/sd_notify.h"

namespace tsd::director {
namespace {

using Clock = std::chrono::steady_clock;

long long msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

}  // namespace

HandOverSender::HandOverSender(event_base* base, Director& d, std::function<void()> release,
                               std::function<void()> finished)
    : base_(base), d_(d), release_(std::move(release)), finished_(std::move(finished)) {}

void HandOverSender::start(UniqueFd admin) {
  if (busy()) {
    std::string line = "{\"ok\":false,\"error\":\"a hand-over is already under way\"}\n";
    (void)!::write(admin.get(), line.data(), line.size());
    return;
  }
  UniqueFd peer;
  auto ch = TakeoverChannel::pair(&peer);
  if (!ch.ok()) {
    LOG_ERROR("hand-over refused: %s", ch.error().c_str());
    return;
  }
  if (Status s = TakeoverChannel::sendChannel(admin.get(), peer.get()); !s.ok()) {
    LOG_ERROR("hand-over refused: %s", s.error().c_str());
    return;
  }
  admin.reset();
  peer.reset();
  channel_.emplace(std::move(ch).value());
  channel_->setTimeout(std::chrono::seconds(5));
  if (Status s = sendHello(*channel_); !s.ok()) return giveUp(s.error(), false);
  auto hello = receiveHello(*channel_);
  if (!hello.ok()) return giveUp(hello.error(), false);
  LOG_INFO("hand-over: %s (pid %u) takes over; stopping accepts, quiescing %zu connections",
           hello->software.c_str(), hello->pid, d_.liveConnections());
  started_ = Clock::now();
  new_pid_ = hello->pid;
  d_.beginHandOver();
  poll_ev_.reset(event_new(base_, -1, EV_PERSIST, &HandOverSender::onPoll, this));
  timeval tv{0, 5000};
  event_add(poll_ev_.get(), &tv);
  poll();
}

void HandOverSender::onPoll(evutil_socket_t, short, void* arg) {
  static_cast<HandOverSender*>(arg)->poll();
}

void HandOverSender::poll() {
  if (!channel_) return;
  if (d_.handOverReady()) return transfer();
  if (Clock::now() - started_ > kQuiesceLimit) {
    std::string why = "connections still connecting or leaving the kernel path after " +
                      std::to_string(kQuiesceLimit.count()) + " s";
    (void)channel_->send(protocol::Ack{false, why});
    giveUp(why, true);
  }
}

void HandOverSender::transfer() {
  poll_ev_.reset();
  long long quiesce_ms = msSince(started_);
  auto t0 = Clock::now();
  HandOverExport ex = d_.captureHandOver();
  channel_->setTimeout(kAdoptLimit);
  if (Status s = sendExport(*channel_, ex); !s.ok()) return giveUp(s.error(), true);
  long long sent_ms = msSince(t0);
  auto reply = channel_->receive();
  if (!reply.ok()) return giveUp(reply.error(), true);
  const auto* ack = std::get_if<protocol::Ack>(&reply->message);
  if (ack == nullptr) return giveUp("hand-over: expected an acknowledgement", true);
  if (!ack->ok) return giveUp("the new process could not take over: " + ack->message, true);
  d_.releaseHandedOver();
  release_();
  // Under systemd the new process becomes the service's main process before this one exits
  // (NotifyAccess=all); the barrier makes sure systemd read it before our exit.
  if (sdNotify("MAINPID=" + std::to_string(new_pid_), true)) {
    LOG_INFO("hand-over: told systemd the main process is now pid %u", new_pid_);
  }
  (void)channel_->send(protocol::Done{});
  unsigned long long pending = 0;
  for (const auto& p : ex.pairs)
    pending += p.state.dirs[0].pending.size() + p.state.dirs[1].pending.size();
  LOG_INFO(
      "hand-over done: %zu connections, %zu listeners, %llu pending bytes; quiesce %lld ms, "
      "transfer %lld ms, adopted after %lld ms; exiting",
      ex.pairs.size(), ex.listeners.size(), pending, quiesce_ms, sent_ms, msSince(t0));
  channel_.reset();
  finished_();
}

void HandOverSender::giveUp(const std::string& why, bool resume) {
  poll_ev_.reset();
  channel_.reset();
  if (resume) d_.resumeAfterHandOver();
  LOG_ERROR("hand-over failed, still serving everything: %s", why.c_str());
}

Result<HandOverReceiver> HandOverReceiver::connect(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.empty()) return makeError("--takeover needs [admin] socket in the config");
  if (path.size() >= sizeof sun.sun_path) return makeError("admin socket path too long");
  memcpy(sun.sun_path, path.data(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) < 0) {
    return makeError("no running tsdirector on " + path + ": " + strerror(errno));
  }
  const char req[] = "takeover\n";
  if (::write(fd.get(), req, sizeof req - 1) != static_cast<ssize_t>(sizeof req - 1)) {
    return makeError("writing to " + path + ": " + strerror(errno));
  }
  auto ch = TakeoverChannel::receiveChannel(fd.get(), std::chrono::seconds(10));
  if (!ch.ok()) return makeError(ch.error());
  HandOverReceiver r(std::move(ch).value());
  auto hello = receiveHello(r.channel_);
  if (!hello.ok()) {
    (void)r.channel_.send(protocol::Ack{false, hello.error()});
    return makeError(hello.error());
  }
  r.old_pid_ = hello->pid;
  if (Status s = sendHello(r.channel_); !s.ok()) return makeError(s.error());
  LOG_INFO("hand-over: taking over from %s (pid %u)", hello->software.c_str(), hello->pid);
  return r;
}

Result<Adopted> HandOverReceiver::receive() {
  // The old process may wait up to its quiesce limit before the first frame.
  channel_.setTimeout(HandOverSender::kQuiesceLimit + HandOverSender::kAdoptLimit);
  return receiveAdopted(channel_);
}

Status HandOverReceiver::acknowledge(const Status& started) {
  protocol::Ack ack{started.ok(), started.ok() ? "" : started.error()};
  if (Status s = channel_.send(ack); !s.ok()) return s;
  if (!started.ok()) return {};
  channel_.setTimeout(std::chrono::seconds(10));
  auto done = channel_.receive();
  // The old process exits right after Done; a close instead still means it let go.
  if (!done.ok()) LOG_WARN("hand-over: no done frame (%s)", done.error().c_str());
  return {};
}

}  // namespace tsd::director
