// setuid with PR_SET_KEEPCAPS, then capset to exactly the capabilities still needed.
#include "director/app/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "conf/log.h"
#include "director/base/capabilities.h"

namespace tsd::director {

void raiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

Status dropPrivileges(const std::string& user, const std::string& state_dir) {
  if (user.empty() || geteuid() != 0) return {};
  passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return makeError("[director] user '" + user + "' not found");
  mkdir(state_dir.c_str(), 0750);
  if (chown(state_dir.c_str(), pw->pw_uid, pw->pw_gid) < 0) {
    LOG_WARN("chown %s to %s: %s", state_dir.c_str(), user.c_str(), strerror(errno));
  }
  // CAP_PERFMON, if we have it, lets a fast path loaded later (a reload that turns it on) use
  // the realigning stream parser too (docs/fast-path.md, "The realigning parser").
  bool perfmon = hasEffectiveCap(kCapPerfmon);
  prctl(PR_SET_KEEPCAPS, 1);
  if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
    return makeError("dropping privileges to " + user + ": " + strerror(errno));
  }
  Status kept = perfmon ? setCapabilities({kCapNetAdmin, kCapNetBindService, kCapBpf, kCapPerfmon})
                        : setCapabilities({kCapNetAdmin, kCapNetBindService, kCapBpf});
  if (!kept.ok()) return makeError("keeping capabilities after setuid: " + kept.error());
  prctl(PR_SET_KEEPCAPS, 0);
  prctl(PR_SET_DUMPABLE, 0);
  LOG_INFO("running as user %s (uid %d), keeping CAP_NET_ADMIN, CAP_NET_BIND_SERVICE, CAP_BPF%s",
           user.c_str(), static_cast<int>(pw->pw_uid), perfmon ? ", CAP_PERFMON" : "");
  return {};
}

}  // namespace tsd::director
