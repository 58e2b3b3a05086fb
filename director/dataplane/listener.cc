// Listening sockets: SO_REUSEADDR, IPV6_V6ONLY for [::] so IPv4 and IPv6 can both be listed.
#include "director/dataplane/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "conf/log.h"

namespace tsd::director {
namespace {
constexpr int kAcceptsPerWakeup = 64;
}

Result<UniqueFd> Listener::bindSocket(const SockAddr& addr, int backlog) {
  UniqueFd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return makeError("socket(): " + std::string(strerror(errno)));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.isV6()) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), addr.sa(), addr.len()) < 0) {
    return makeError("bind " + addr.toString() + ": " + strerror(errno));
  }
  if (::listen(fd.get(), backlog) < 0) {
    return makeError("listen " + addr.toString() + ": " + strerror(errno));
  }
  return fd;
}

Listener::Listener(event_base* base, SockAddr addr, UniqueFd fd, OnAccept cb)
    : base_(base), addr_(addr), fd_(std::move(fd)), cb_(std::move(cb)) {
  // No Nagle towards clients, as towards nodes: a keystroke echo written while a screen
  // update is still unacknowledged would otherwise wait for the client's delayed ACK (tens
  // of ms). Accepted sockets inherit it; set here, not at bind, so a listener adopted in a
  // hand-over from an older process gets it too.
  int one = 1;
  setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ev_.reset(event_new(base_, fd_.get(), EV_READ | EV_PERSIST, &Listener::onReadable, this));
  retry_.reset(evtimer_new(
      base_, [](evutil_socket_t, short, void* arg) { static_cast<Listener*>(arg)->resume(); },
      this));
  resume();
}

Listener::~Listener() = default;

void Listener::pause() { event_del(ev_.get()); }
void Listener::resume() { event_add(ev_.get(), nullptr); }

void Listener::onReadable(evutil_socket_t, short, void* arg) {
  static_cast<Listener*>(arg)->acceptSome();
}

void Listener::acceptSome() {
  for (int i = 0; i < kAcceptsPerWakeup; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd =
        ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      ++accept_errors_;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection stays in the backlog. Back off instead
        // of spinning on a listener that stays readable.
        LOG_WARN("accept on %s: %s; pausing accepts for 100ms", addr_.toString().c_str(),
                 strerror(errno));
        pause();
        timeval tv{0, 100000};
        evtimer_add(retry_.get(), &tv);
        return;
      }
      LOG_WARN("accept on %s: %s", addr_.toString().c_str(), strerror(errno));
      return;
    }
    UniqueFd client(fd);
    auto peer = SockAddr::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (!peer) continue;
    cb_(std::move(client), *peer);
  }
}

}  // namespace tsd::director
