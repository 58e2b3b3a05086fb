// capget/capset through the raw syscalls, version 3 (64 capability bits in two words).
#include "director/base/capabilities.h"

#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace tsd::director {

bool hasEffectiveCap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

Status setCapabilities(std::initializer_list<int> caps) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int cap : caps) {
    data[cap / 32].permitted |= 1u << (cap % 32);
    data[cap / 32].effective |= 1u << (cap % 32);
  }
  if (syscall(SYS_capset, &hdr, data) != 0) {
    return makeError(std::string("capset: ") + strerror(errno));
  }
  return {};
}

}  // namespace tsd::director
