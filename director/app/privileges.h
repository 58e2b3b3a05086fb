// Dropping root after the sockets are bound and the fast path is loaded, keeping only the
// capabilities the running director still needs.
#pragma once

#include <string>

#include "conf/result.h"

namespace tsd::director {

// Raises the soft open-file limit to the hard limit (every connection costs two descriptors).
void raiseFdLimit();
// Switches to `user` (no-op when empty or not root). Keeps CAP_NET_ADMIN (IP_TRANSPARENT on
// every node connection), CAP_NET_BIND_SERVICE (listeners opened by a reload) and CAP_BPF, and
// hands the state directory to the user so the sticky table can still be saved.
Status dropPrivileges(const std::string& user, const std::string& state_dir);

}  // namespace tsd::director
