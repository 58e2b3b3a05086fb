// tsdirector: parse the command line, load the config, run the director on one event loop.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "conf/config.h"
#include "conf/log.h"
#include "director/app/daemon.h"
#include "director/app/handover.h"
#include "director/app/privileges.h"
#include "director/app/sd_notify.h"
#include "director/base/event_util.h"
#include "director/control/prepared_config.h"

namespace {

// "1 service", "2 services": log and check-config lines read as sentences.
std::string counted(size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

void usage(FILE* out) {
  fprintf(out,
          "usage: tsdirector [-c FILE] [--log-level debug|info|warn|error]\n"
          "       tsdirector --takeover [-c FILE]\n"
          "       tsdirector --check-config FILE\n"
          "       tsdirector --version\n"
          "  -c, --config FILE     configuration (default /etc/tsdirector/tsdirector.ini)\n"
          "      --check-config F  validate F, print the first error, exit non-zero if invalid\n"
          "      --takeover        take over the listeners and live connections of the\n"
          "                        tsdirector running on the config's [admin] socket; the\n"
          "                        config is checked first, a failure leaves it serving\n"
          "      --detach          with --takeover: return once the hand-over is done (exit 0)\n"
          "                        or failed (exit 1) and keep running in the background\n"
          "                        (systemd's ExecReload)\n"
          "Signals: HUP reloads the config (an invalid file changes nothing), TERM/INT stop.\n");
}

// --detach: the parent waits for one status byte from the child (which goes on as the daemon)
// and exits with it; a child that dies before sending it makes the parent exit 1.
int detachProcess() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid > 0) {
    ::close(p[1]);
    char c = '1';
    ssize_t n;
    do {
      n = ::read(p[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    _exit(n == 1 && c == '0' ? 0 : 1);
  }
  ::close(p[0]);
  return p[1];
}

// tsdirector --takeover: receive everything, start with it, acknowledge. Any failure before
// the acknowledgement leaves the old process serving.
int takeOver(tsd::director::Daemon& daemon, tsd::director::PreparedConfig cfg) {
  auto t0 = std::chrono::steady_clock::now();
  auto rx = tsd::director::HandOverReceiver::connect(cfg.cfg->admin.socket);
  if (!rx.ok()) {
    LOG_ERROR("no hand-over: %s", rx.error().c_str());
    return 1;
  }
  auto adopted = rx->receive();
  if (!adopted.ok()) {
    LOG_ERROR("no hand-over (the running tsdirector resumes): %s", adopted.error().c_str());
    return 1;
  }
  size_t pairs = adopted->pairs.size();
  bool refused = false;
  tsd::Status s = daemon.start(std::move(cfg), &*adopted, [&](const tsd::Status& started) {
    refused = !started.ok();
    return rx->acknowledge(started);
  });
  if (!s.ok() || refused) {
    LOG_ERROR("no hand-over (the running tsdirector resumes): %s", s.error().c_str());
    return 1;
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  LOG_INFO("hand-over from pid %u complete: %zu connections continue (%lld ms)", rx->oldPid(),
           pairs, static_cast<long long>(ms));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "/etc/tsdirector/tsdirector.ini";
  std::string check_path;
  bool takeover = false;
  bool detach = false;
  enum { kLogLevel = 256, kCheck, kVersion, kTakeover, kDetach };
  static option opts[] = {{"config", required_argument, nullptr, 'c'},
                          {"log-level", required_argument, nullptr, kLogLevel},
                          {"check-config", required_argument, nullptr, kCheck},
                          {"version", no_argument, nullptr, kVersion},
                          {"takeover", no_argument, nullptr, kTakeover},
                          {"detach", no_argument, nullptr, kDetach},
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
      case kTakeover:
        takeover = true;
        break;
      case kDetach:
        detach = true;
        break;
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
    // The same preparation as start and reload: the agent key is read and checked too.
    auto p = tsd::director::prepareFile(check_path);
    if (!p.ok()) {
      fprintf(stderr, "%s\n", p.error().c_str());
      return 1;
    }
    printf("%s: ok (%s, %s)\n", check_path.c_str(),
           counted(p->cfg->services.size(), "service").c_str(),
           counted(p->cfg->nodes.size(), "node").c_str());
    return 0;
  }
  // Before anything else, and before a hand-over contacts the running process.
  auto cfg = tsd::director::prepareFile(config_path);
  if (!cfg.ok()) {
    fprintf(stderr, "tsdirector: %s\n", cfg.error().c_str());
    if (takeover)
      fprintf(stderr,
              "tsdirector: no hand-over; the running tsdirector was not "
              "contacted and keeps serving\n");
    return 1;
  }
  if (detach && !takeover) {
    fprintf(stderr, "tsdirector: --detach goes with --takeover\n");
    return 2;
  }
  int detached_status = detach ? detachProcess() : -1;
  signal(SIGPIPE, SIG_IGN);
  tsd::director::raiseFdLimit();
  // The changelist turns the del+add pairs of an interest change into one epoll_ctl(MOD),
  // applied once per loop iteration: fewer syscalls per connection. We never dup() fds.
  std::unique_ptr<event_config, decltype(&event_config_free)> ecfg(event_config_new(),
                                                                   &event_config_free);
  event_config_set_flag(ecfg.get(), EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  tsd::director::EventBasePtr base(event_base_new_with_config(ecfg.get()));
  tsd::director::Daemon daemon(base.get(), config_path);
  tsd::conf::ConfigPtr snapshot = cfg->cfg;
  if (takeover) {
    if (int rc = takeOver(daemon, std::move(cfg).value()); rc != 0) return rc;
    if (detached_status >= 0) {
      (void)!::write(detached_status, "0", 1);  // the waiting parent exits 0
      ::close(detached_status);
    }
  } else if (tsd::Status s = daemon.start(std::move(cfg).value()); !s.ok()) {
    LOG_ERROR("cannot start: %s", s.error().c_str());
    return 1;
  }
  if (tsd::Status s =
          tsd::director::dropPrivileges(snapshot->director.user, snapshot->director.state_dir);
      !s.ok()) {
    LOG_ERROR("%s", s.error().c_str());
    return 1;
  }
  tsd::director::sdNotify("READY=1\nMAINPID=" + std::to_string(getpid()));
  event_base_dispatch(base.get());
  LOG_INFO("tsdirector stopped");
  return 0;
}
