// tsdirector: parse the command line, load the config, run the director on one event loop.
#include <getopt.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "conf/config.h"
#include "conf/log.h"
#include "director/daemon.h"
#include "director/director.h"
#include "director/event_util.h"

namespace {

constexpr int kCapBpf = 39;  // CAP_BPF; older uapi headers do not name it

void usage(FILE* out) {
  fprintf(out,
          "usage: tsdirector [-c FILE] [--log-level debug|info|warn|error]\n"
          "       tsdirector --check-config FILE\n"
          "       tsdirector --version\n"
          "  -c, --config FILE     configuration (default /etc/tsdirector/tsdirector.ini)\n"
          "      --check-config F  validate F, print the first error, exit non-zero if invalid\n"
          "Signals: HUP reloads the config (an invalid file changes nothing), TERM/INT stop.\n");
}

void raiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Drops to `user` after the sockets are bound and the fast path is loaded. The capabilities
// the running director still needs are kept: CAP_NET_ADMIN (IP_TRANSPARENT on every node
// connection), CAP_NET_BIND_SERVICE (listeners opened by a reload) and CAP_BPF. The state
// directory is handed to the user so the sticky table can still be saved.
tsd::Status dropPrivileges(const std::string& user, const std::string& state_dir) {
  if (user.empty() || geteuid() != 0) return {};
  passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return tsd::makeError("[director] user '" + user + "' not found");
  mkdir(state_dir.c_str(), 0750);
  if (chown(state_dir.c_str(), pw->pw_uid, pw->pw_gid) < 0) {
    LOG_WARN("chown %s to %s: %s", state_dir.c_str(), user.c_str(), strerror(errno));
  }
  prctl(PR_SET_KEEPCAPS, 1);
  if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
    return tsd::makeError("dropping privileges to " + user + ": " + strerror(errno));
  }
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  auto keep = [&](int cap) {
    data[cap / 32].permitted |= 1u << (cap % 32);
    data[cap / 32].effective |= 1u << (cap % 32);
  };
  keep(CAP_NET_ADMIN);
  keep(CAP_NET_BIND_SERVICE);
  keep(kCapBpf);
  if (syscall(SYS_capset, &hdr, data) < 0) {
    return tsd::makeError(std::string("keeping capabilities after setuid: ") + strerror(errno));
  }
  prctl(PR_SET_KEEPCAPS, 0);
  prctl(PR_SET_DUMPABLE, 0);
  LOG_INFO("running as user %s (uid %d), keeping CAP_NET_ADMIN, CAP_NET_BIND_SERVICE, CAP_BPF",
           user.c_str(), static_cast<int>(pw->pw_uid));
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "/etc/tsdirector/tsdirector.ini";
  std::string check_path;
  enum { kLogLevel = 256, kCheck, kVersion };
  static option opts[] = {{"config", required_argument, nullptr, 'c'},
                          {"log-level", required_argument, nullptr, kLogLevel},
                          {"check-config", required_argument, nullptr, kCheck},
                          {"version", no_argument, nullptr, kVersion},
                          {"help", no_argument, nullptr, 'h'},
                          {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "c:h", opts, nullptr)) != -1) {
    switch (c) {
      case 'c':
        config_path = optarg;
        break;
      case kCheck:
        check_path = optarg;
        break;
      case kLogLevel: {
        auto l = tsd::log::parseLevel(optarg);
        if (!l) {
          fprintf(stderr, "tsdirector: bad --log-level '%s'\n", optarg);
          return 2;
        }
        tsd::log::setLevel(*l);
        break;
      }
      case kVersion:
        printf("tsdirector %s\n", TSD_VERSION);
        return 0;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }
  if (!check_path.empty()) {
    auto cfg = tsd::conf::loadConfig(check_path);
    if (!cfg.ok()) {
      fprintf(stderr, "%s\n", cfg.error().c_str());
      return 1;
    }
    printf("%s: ok (%zu services, %zu nodes)\n", check_path.c_str(), (*cfg)->services.size(),
           (*cfg)->nodes.size());
    return 0;
  }
  auto cfg = tsd::conf::loadConfig(config_path);
  if (!cfg.ok()) {
    fprintf(stderr, "tsdirector: %s\n", cfg.error().c_str());
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  raiseFdLimit();
  // The changelist turns the del+add pairs of an interest change into one epoll_ctl(MOD),
  // applied once per loop iteration: fewer syscalls per connection. We never dup() fds.
  std::unique_ptr<event_config, decltype(&event_config_free)> ecfg(event_config_new(),
                                                                   &event_config_free);
  event_config_set_flag(ecfg.get(), EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  tsd::director::EventBasePtr base(event_base_new_with_config(ecfg.get()));
  tsd::director::Daemon daemon(base.get(), config_path);
  if (tsd::Status s = daemon.start(*cfg); !s.ok()) {
    LOG_ERROR("cannot start: %s", s.error().c_str());
    return 1;
  }
  if (tsd::Status s = dropPrivileges((*cfg)->director.user, (*cfg)->director.state_dir); !s.ok()) {
    LOG_ERROR("%s", s.error().c_str());
    return 1;
  }
  event_base_dispatch(base.get());
  LOG_INFO("tsdirector stopped");
  return 0;
}
