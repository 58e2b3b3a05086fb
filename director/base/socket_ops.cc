// Socket helpers shared by the data path, the prober and the agent poller.
#include "director/base/socket_ops.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

namespace tsd::director {
namespace {

std::string errnoText(const std::string& what, int err) { return what + ": " + strerror(err); }

bool bindTransparent(int fd, const SockAddr& target, SockAddr src, std::string* why) {
  // Nodes see the real client address; needs CAP_NET_ADMIN and routing back via us.
  int one = 1;
  int level = target.isV4() ? SOL_IP : SOL_IPV6;
  int opt = target.isV4() ? IP_TRANSPARENT : IPV6_TRANSPARENT;
  setsockopt(fd, level, opt, &one, sizeof one);
  setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  src.setPort(0);
  if (::bind(fd, src.sa(), src.len()) == 0) return true;
  *why = errnoText("transparent bind to " + src.hostString(), errno);
  return false;
}

}  // namespace

bool isLocalError(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EADDRNOTAVAIL;
}

ConnectStart connectNonBlocking(const SockAddr& target, const ConnectOptions& opts) {
  ConnectStart r;
  UniqueFd fd(::socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    r.error = errnoText("socket", errno);
    r.local = true;
    return r;
  }
  if (opts.no_delay) {
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (opts.transparent_source && opts.transparent_source->family() == target.family() &&
      !bindTransparent(fd.get(), target, *opts.transparent_source, &r.error)) {
    r.local = true;
    return r;
  }
  if (::connect(fd.get(), target.sa(), target.len()) < 0 && errno != EINPROGRESS) {
    r.error = errnoText("connect " + target.toString(), errno);
    r.local = isLocalError(errno);
    return r;
  }
  r.fd = std::move(fd);
  return r;
}

int takeSocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

void setAbortiveClose(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

}  // namespace tsd::director
