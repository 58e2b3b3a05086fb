// The socket calls every adapter repeats: a non-blocking connect (optionally transparent), the
// pending error of a connect, and an abortive close. One definition, so they cannot drift.
#pragma once

#include <optional>
#include <string>

#include "conf/sock_addr.h"
#include "director/base/unique_fd.h"

namespace tsd::director {

struct ConnectStart {
  UniqueFd fd;         // valid: the connect is in progress (or done); wait for writability
  std::string error;   // when fd is not valid
  bool local = false;  // the failure is ours (descriptors, memory, bind), not the target's
};

struct ConnectOptions {
  bool no_delay = false;
  // Bind the source to this address with IP_TRANSPARENT (port 0, chosen at connect time).
  std::optional<SockAddr> transparent_source;
};

// socket() + options + connect() on a non-blocking, close-on-exec socket.
ConnectStart connectNonBlocking(const SockAddr& target, const ConnectOptions& opts = {});
// The result of a finished non-blocking connect (SO_ERROR), or errno if that cannot be read.
int takeSocketError(int fd);
// Close with an RST instead of a FIN (SO_LINGER 0): for resets passed on and for probes that
// must not leave TIME_WAIT behind.
void setAbortiveClose(int fd);
// True for connect/socket errors that say nothing about the target.
bool isLocalError(int err);

}  // namespace tsd::director
