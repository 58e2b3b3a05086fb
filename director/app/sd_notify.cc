// A datagram to $NOTIFY_SOCKET ('@' = abstract namespace); the barrier is BARRIER=1 with the
// write end of a pipe, which systemd closes once it processed the message.
#include "director/app/sd_notify.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "director/base/unique_fd.h"

namespace tsd::director {
namespace {

bool sendState(int sock, const sockaddr_un& sun, socklen_t len, const std::string& state, int fd) {
  iovec iov{const_cast<char*>(state.data()), state.size()};
  msghdr mh{};
  mh.msg_name = const_cast<sockaddr_un*>(&sun);
  mh.msg_namelen = len;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  return ::sendmsg(sock, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(state.size());
}

}  // namespace

bool sdNotify(const std::string& state, bool barrier) {
  const char* path = getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return false;
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  size_t n = strlen(path);
  if (n >= sizeof sun.sun_path) return false;
  memcpy(sun.sun_path, path, n);
  if (sun.sun_path[0] == '@') sun.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid() || !sendState(sock.get(), sun, len, state, -1)) return false;
  if (!barrier) return true;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return false;
  UniqueFd rd(p[0]), wr(p[1]);
  if (!sendState(sock.get(), sun, len, "BARRIER=1", wr.get())) return false;
  wr.reset();
  pollfd pfd{rd.get(), POLLIN, 0};
  return ::poll(&pfd, 1, 5000) == 1;
}

}  // namespace tsd::director
