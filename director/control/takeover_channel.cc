// sendmsg/recvmsg with SCM_RIGHTS. MSG_CMSG_CLOEXEC: received fds never leak into children.
#include "director/control/takeover_channel.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace tsd::director {
namespace {

constexpr size_t kMaxFds = protocol::kMaxFdsPerFrame;

std::string sysError(const char* what) { return std::string(what) + ": " + strerror(errno); }

// Receives one message with up to kMaxFds fds; *n = bytes (0 on EOF).
Status recvWithFds(int fd, char* buf, size_t cap, std::vector<UniqueFd>* fds, size_t* n) {
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)];
  iovec iov{buf, cap};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  ssize_t r;
  do {
    r = ::recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return makeError("hand-over: timed out waiting");
    return makeError(sysError("hand-over: recvmsg"));
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      fds->emplace_back(got);
    }
  }
  if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) return makeError("hand-over: message truncated");
  *n = static_cast<size_t>(r);
  return {};
}

Status sendWithFds(int fd, const void* data, size_t len, std::span<const int> fds) {
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)];
  iovec iov{const_cast<void*>(data), len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (!fds.empty()) {
    if (fds.size() > kMaxFds) return makeError("hand-over: too many fds in one message");
    mh.msg_control = ctl;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t r;
  // ETOOMANYREFS: a sender without CAP_SYS_RESOURCE may have at most RLIMIT_NOFILE fds in
  // flight; wait for the receiver to take some (bounded: 10 s).
  int busy_waits = 0;
  for (;;) {
    r = ::sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (r >= 0 || errno == EINTR) {
      if (r >= 0) break;
      continue;
    }
    if (errno != ETOOMANYREFS || ++busy_waits > 10000) break;
    ::poll(nullptr, 0, 1);
  }
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return makeError("hand-over: peer stopped reading");
    return makeError(sysError("hand-over: sendmsg"));
  }
  if (static_cast<size_t>(r) != len) return makeError("hand-over: short send");
  return {};
}

void setTimeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000),
             static_cast<suseconds_t>(t.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

Result<TakeoverChannel> TakeoverChannel::pair(UniqueFd* peer) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    return makeError(sysError("hand-over: socketpair"));
  }
  // Room for a few full frames in flight: the sender is not paced by every receive.
  int buf = 4 << 20;
  for (int fd : sv) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  *peer = UniqueFd(sv[1]);
  return TakeoverChannel(UniqueFd(sv[0]));
}

Status TakeoverChannel::sendChannel(int admin_fd, int channel_fd) {
  // The admin socket is non-blocking on the server side; one byte always fits.
  int fds[1] = {channel_fd};
  return sendWithFds(admin_fd, "H", 1, fds);
}

Result<TakeoverChannel> TakeoverChannel::receiveChannel(int admin_fd,
                                                        std::chrono::milliseconds timeout) {
  setTimeouts(admin_fd, timeout);
  char buf[4096];
  std::vector<UniqueFd> fds;
  size_t n = 0;
  if (Status s = recvWithFds(admin_fd, buf, sizeof buf, &fds, &n); !s.ok())
    return makeError(s.error());
  if (n == 0) return makeError("the running tsdirector closed the admin connection");
  if (buf[0] == '{') {  // a refusal in the admin protocol's reply format
    std::string line(buf, n);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    return makeError("the running tsdirector refused the hand-over: " + line);
  }
  if (buf[0] != 'H' || fds.size() != 1) return makeError("hand-over: unexpected admin reply");
  TakeoverChannel ch(std::move(fds[0]));
  ch.setTimeout(timeout);
  return ch;
}

void TakeoverChannel::setTimeout(std::chrono::milliseconds t) { setTimeouts(fd_.get(), t); }

Status TakeoverChannel::send(const protocol::Message& m, std::span<const int> fds) {
  if (fds.size() != protocol::fdCount(m)) return makeError("hand-over: fd count mismatch");
  auto frame = protocol::encodeFrame(m);
  if (!frame.ok()) return makeError(frame.error());
  return sendWithFds(fd_.get(), frame->data(), frame->size(), fds);
}

Result<Received> TakeoverChannel::receive() {
  std::string buf(protocol::kFrameHeaderBytes + protocol::kMaxFramePayload + 1, '\0');
  Received out;
  size_t n = 0;
  if (Status s = recvWithFds(fd_.get(), buf.data(), buf.size(), &out.fds, &n); !s.ok()) {
    return makeError(s.error());
  }
  if (n == 0) return makeError("hand-over: the other process closed the channel");
  auto m = protocol::decodeFrame(std::string_view(buf.data(), n));
  if (!m.ok()) return makeError(m.error());
  if (out.fds.size() != protocol::fdCount(*m)) {
    return makeError("hand-over: frame came with " + std::to_string(out.fds.size()) +
                     " fds, expected " + std::to_string(protocol::fdCount(*m)));
  }
  out.message = std::move(m).value();
  return out;
}

}  // namespace tsd::director
