// TakeoverChannel: the hand-over's unix SOCK_SEQPACKET connection. One frame per message (so
// frame boundaries and the fds that travel with a frame never mix), blocking with a timeout:
// both processes do nothing else while they transfer.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "conf/result.h"
#include "director/base/unique_fd.h"
#include "director/protocol/takeover_codec.h"

namespace tsd::director {

struct Received {
  protocol::Message message;
  std::vector<UniqueFd> fds;
};

class TakeoverChannel {
 public:
  explicit TakeoverChannel(UniqueFd fd) : fd_(std::move(fd)) {}
  // Old side: a new socket pair; `peer` is passed to the new process over the admin socket.
  static Result<TakeoverChannel> pair(UniqueFd* peer);
  // The admin socket carries one byte with the channel's fd (SCM_RIGHTS), then closes.
  static Status sendChannel(int admin_fd, int channel_fd);
  // New side: reads that byte; a JSON error line instead (a refusal) is returned as the error.
  static Result<TakeoverChannel> receiveChannel(int admin_fd, std::chrono::milliseconds timeout);

  void setTimeout(std::chrono::milliseconds t);
  // `fds` must hold exactly protocol::fdCount(m) descriptors; they stay open here.
  Status send(const protocol::Message& m, std::span<const int> fds = {});
  // One frame; fails on EOF, timeout, a bad frame or a wrong number of fds.
  Result<Received> receive();
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace tsd::director
