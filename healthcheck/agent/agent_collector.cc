// The agent's system side: /proc reading and bounded command runs. Commands are killed with
// their process group at the deadline; tmux clients run as the socket's owner, never as root,
// because a tmux server can ask its client to execute commands.
#include "healthcheck/agent/agent_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <memory>

namespace tsd::health {
namespace {

// Newest first, so the connections a director may still act on survive the reply's cap.
void sortNewestFirst(std::vector<AgentConnection>& c) {
  std::stable_sort(c.begin(), c.end(),
                   [](const auto& a, const auto& b) { return a.since_unix > b.since_unix; });
}

using SteadyClock = std::chrono::steady_clock;
constexpr size_t kMaxTmuxDirs = 256;
constexpr size_t kMaxSocketsPerDir = 16;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::optional<std::string> readFile(const std::string& path, size_t max = 4 << 20) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  std::string out;
  char buf[16384];
  while (out.size() < max) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(std::min<size_t>(n, max - out.size())));
  }
  return out;
}

template <typename T>
std::optional<T> toNumber(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Reads the child's stdout until EOF, the deadline or the size cap.
void drain(int fd, SteadyClock::time_point deadline, size_t max_output, CommandOutput& r) {
  char buf[16384];
  while (true) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      return;
    }
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;  // the deadline check above ends it
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (r.out.size() + static_cast<size_t>(n) > max_output) {
      r.out.append(buf, max_output - r.out.size());
      r.truncated = true;
      return;
    }
    r.out.append(buf, static_cast<size_t>(n));
  }
}

// Waits for the child until the deadline, then kills its whole group (stragglers included)
// while the unreaped leader still reserves the group id, and reaps it.
void finish(pid_t pid, SteadyClock::time_point deadline, CommandOutput& r) {
  bool exited = false;
  while (!r.timed_out && !r.truncated) {
    siginfo_t info{};
    if (::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
      exited = true;
      break;
    }
    if (SteadyClock::now() >= deadline) {
      r.timed_out = true;
      break;
    }
    ::usleep(2000);
  }
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (exited && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
}

// Why a command's output cannot be used, or empty.
std::string commandProblem(const CommandOutput& out) {
  if (out.timed_out) return "timed out";
  if (out.truncated) return "output over the size limit";
  if (out.exit_code != 0) {
    return out.exit_code < 0 ? std::string("killed") : "exit " + std::to_string(out.exit_code);
  }
  return {};
}

}  // namespace

std::string findExecutable(const std::string& name) {
  auto usable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return usable(name) ? name : std::string();
  const char* env = std::getenv("PATH");
  std::string_view path = env && *env ? env : kDefaultPath;
  while (true) {
    size_t colon = path.find(':');
    std::string dir(path.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (usable(candidate)) return candidate;
    if (colon == std::string_view::npos) return {};
    path.remove_prefix(colon + 1);
  }
}

Result<CommandOutput> runCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout, size_t max_output,
                                 std::optional<uid_t> as_uid) {
  if (argv.empty()) return makeError("empty command");
  std::string path = findExecutable(argv[0]);
  if (path.empty()) return makeError(argv[0] + ": not found");
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  gid_t gid = 0;
  bool drop = as_uid && ::geteuid() == 0 && *as_uid != 0;
  if (drop) {
    passwd pw{};
    passwd* found = nullptr;
    char buf[4096];
    if (::getpwuid_r(*as_uid, &pw, buf, sizeof(buf), &found) != 0 || !found) {
      return makeError("uid " + std::to_string(*as_uid) + " has no passwd entry");
    }
    gid = pw.pw_gid;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return makeError("pipe2 failed");
  Fd rd(fds[0]);
  Fd wr(fds[1]);
  Fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  auto deadline = SteadyClock::now() + timeout;
  pid_t pid = ::fork();
  if (pid < 0) return makeError("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);  // the agent ignores it; an ignored signal would survive exec
    ::dup2(null.get(), 0);
    ::dup2(wr.get(), 1);
    ::dup2(null.get(), 2);
    if (drop && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(*as_uid) != 0)) {
      ::_exit(126);
    }
    ::execv(path.c_str(), cargv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so the group exists before any kill below
  wr.reset();
  CommandOutput r;
  drain(rd.get(), deadline, max_output, r);
  finish(pid, deadline, r);
  return r;
}

InventoryCollector::InventoryCollector(CollectorOptions options) : options_(std::move(options)) {}

AgentReport InventoryCollector::collect() {
  warnings_.clear();
  AgentReport r;
  r.node = options_.node_name;
  collectFigures(r);
  auto boot = parseBootTime(readFile(options_.proc_dir + "/stat").value_or(""));
  if (!boot) warnings_.push_back("no btime in /proc/stat; ssh session start times unknown");
  auto logins = collectSsh(boot.value_or(0));
  auto& ssh = logins.sessions;
  memory_.remember(ssh);
  r.version = kProtocolVersion;
  r.connections = std::move(logins.connections);
  sortNewestFirst(r.connections);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto tmux = collectTmux(ssh);
  auto x2go = collectX2go(now);
  auto external = collectExternal();
  others_.clear();
  for (auto* part : {&tmux, &x2go, &external}) {
    others_.insert(others_.end(), part->begin(), part->end());
  }
  assembleSessions(r, std::move(ssh));
  return r;
}

void InventoryCollector::assembleSessions(AgentReport& r, std::vector<AgentSession> ssh) const {
  r.sessions = std::move(ssh);
  r.sessions.insert(r.sessions.end(), others_.begin(), others_.end());
  mergeDesktops(r.sessions);
  // Suspended and recent sessions first, so they survive the kMaxSessions cap of the reply.
  std::stable_sort(r.sessions.begin(), r.sessions.end(), [](const auto& a, const auto& b) {
    if (a.suspended != b.suspended) return a.suspended;
    return a.since_unix > b.since_unix;
  });
  countSessions(r);
}

void InventoryCollector::refreshLogins(AgentReport& r) {
  size_t warned = warnings_.size();  // the last collect()'s warnings stay as they were
  auto boot = parseBootTime(readFile(options_.proc_dir + "/stat").value_or(""));
  auto logins = collectSsh(boot.value_or(0));
  warnings_.resize(warned);
  memory_.remember(logins.sessions);
  r.connections = std::move(logins.connections);
  sortNewestFirst(r.connections);
  // A connection and its session always travel together: the director ranks a user's home
  // from the sessions, so a fresh login listed only as a connection would look away from home.
  assembleSessions(r, std::move(logins.sessions));
}

void InventoryCollector::collectFigures(AgentReport& r) {
  long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  auto load = parseLoadAvg(readFile(options_.proc_dir + "/loadavg").value_or(""));
  if (load) r.load_per_cpu = std::min(*load / static_cast<double>(cpus), kMaxLoadPerCpu);
  if (!load) warnings_.push_back("/proc/loadavg: " + load.error());
  auto mem = parseMemAvailableKib(readFile(options_.proc_dir + "/meminfo").value_or(""));
  if (mem) r.mem_available_kib = std::min(*mem, kMaxMemAvailableKib);
  if (!mem) warnings_.push_back("/proc/meminfo: " + mem.error());
  auto pswpin = parsePswpin(readFile(options_.proc_dir + "/vmstat").value_or(""));
  if (pswpin) r.swap_in_per_s = std::min(swap_.update(*pswpin, SteadyClock::now()), kMaxSwapInPerS);
  if (!pswpin) warnings_.push_back("/proc/vmstat: " + pswpin.error());
}

SshLogins InventoryCollector::collectSsh(int64_t boot_unix) {
  DirPtr dir(::opendir(options_.proc_dir.c_str()));
  if (!dir) {
    warnings_.push_back(options_.proc_dir + ": cannot list processes");
    return {};
  }
  long ticks = std::max(1L, ::sysconf(_SC_CLK_TCK));
  std::vector<ProcInfo> procs;
  while (dirent* e = ::readdir(dir.get())) {
    auto pid = toNumber<int>(e->d_name);
    if (!pid) continue;
    std::string base = options_.proc_dir + "/" + e->d_name;
    auto comm = readFile(base + "/comm", 256);
    if (!comm || !isSshdComm(*comm)) continue;
    ProcInfo p{*pid, *comm, readFile(base + "/cmdline", 4096).value_or(""), 0, {}};
    auto start = parseStartTicks(readFile(base + "/stat", 4096).value_or(""));
    if (start && boot_unix > 0) p.start_unix = boot_unix + static_cast<int64_t>(*start) / ticks;
    DirPtr fds(::opendir((base + "/fd").c_str()));
    while (dirent* f = fds ? ::readdir(fds.get()) : nullptr) {
      char link[64];
      ssize_t n = ::readlinkat(::dirfd(fds.get()), f->d_name, link, sizeof(link) - 1);
      std::string_view l(link, n > 0 ? static_cast<size_t>(n) : 0);
      if (!l.starts_with("socket:[") || !l.ends_with("]")) continue;
      if (auto ino = toNumber<uint64_t>(l.substr(8, l.size() - 9))) p.socket_inodes.push_back(*ino);
    }
    procs.push_back(std::move(p));
  }
  auto sockets = parseProcNetTcp(readFile(options_.proc_dir + "/net/tcp").value_or(""));
  auto v6 = parseProcNetTcp(readFile(options_.proc_dir + "/net/tcp6").value_or(""));
  sockets.insert(sockets.end(), v6.begin(), v6.end());
  return sshLogins(procs, sockets, options_.node_addresses);
}

std::vector<AgentSession> InventoryCollector::collectX2go(int64_t now_unix) {
  if (findExecutable(options_.x2go_command).empty()) return {};  // X2Go not installed
  auto out = runCommand({options_.x2go_command}, options_.command_timeout);
  std::string why = !out ? out.error() : commandProblem(*out);
  if (!why.empty()) return fallback(x2go_last_, options_.x2go_command, why);
  x2go_last_ = {parseX2goList(out->out, now_unix), SteadyClock::now(), true};
  return x2go_last_.sessions;
}

std::vector<AgentSession> InventoryCollector::fallback(LastGood& last, const std::string& what,
                                                       const std::string& why) {
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - last.at);
  if (!last.valid || age > options_.keep_for) {
    last.valid = false;
    warnings_.push_back(what + ": " + why + "; its sessions are left out");
    return {};
  }
  warnings_.push_back(what + ": " + why + "; reporting its last good output (" +
                      std::to_string(age.count() / 1000) + "s old)");
  return last.sessions;
}

std::vector<AgentSession> InventoryCollector::collectTmux(const std::vector<AgentSession>& ssh) {
  std::vector<AgentSession> out;
  if (findExecutable(options_.tmux_command).empty()) return out;
  DirPtr dir(::opendir(options_.tmux_tmpdir.c_str()));
  size_t dirs = 0;
  while (dir && dirs < kMaxTmuxDirs) {
    dirent* e = ::readdir(dir.get());
    if (!e) break;
    std::string_view name = e->d_name;
    if (!name.starts_with("tmux-")) continue;
    auto parsed = toNumber<uid_t>(name.substr(5));
    if (!parsed) continue;
    uid_t uid = *parsed;
    std::string path = options_.tmux_tmpdir + "/" + e->d_name;
    struct stat st {};
    // tmux itself only trusts a directory its user owns; so do we (no one can speak for alice).
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid) continue;
    ++dirs;
    passwd pw{};
    passwd* found = nullptr;
    char buf[4096];
    if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 || !found) continue;
    std::string user = pw.pw_name;
    DirPtr sockets(::opendir(path.c_str()));
    size_t count = 0;
    while (sockets && count < kMaxSocketsPerDir) {
      dirent* s = ::readdir(sockets.get());
      if (!s) break;
      std::string socket = path + "/" + s->d_name;
      if (::lstat(socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != uid) continue;
      ++count;
      tmuxSocket(socket, user, ssh, out);
    }
  }
  return out;
}

void InventoryCollector::tmuxSocket(const std::string& socket, const std::string& user,
                                    const std::vector<AgentSession>& ssh,
                                    std::vector<AgentSession>& out) {
  struct stat st {};
  if (::lstat(socket.c_str(), &st) != 0) return;
  const auto& tmux = options_.tmux_command;
  auto list = runCommand({tmux, "-S", socket, "list-sessions", "-F",
                          "#{session_name} #{session_attached} #{session_created}"},
                         options_.command_timeout, 1 << 20, st.st_uid);
  // A stale socket (no server) exits non-zero: no sessions, not worth a warning.
  if (!list || list->exit_code != 0 || !validName(user)) return;
  const auto& ours = options_.node_addresses;
  for (const auto& t : parseTmuxList(list->out)) {
    std::optional<std::string> env_text;
    auto fetch = [&]() -> const std::string& {
      if (!env_text) {
        auto e = runCommand(
            {tmux, "-S", socket, "show-environment", "-t", "=" + t.name, "SSH_CONNECTION"},
            options_.command_timeout, 4096, st.st_uid);
        env_text = e && e->exit_code == 0 ? e->out : std::string();
      }
      return *env_text;
    };
    // Nodes sharing a host share tmux sockets: a session is this node's only when it was
    // started or last attached through an ssh connection to this node's address.
    if (!ours.empty() &&
        std::find(ours.begin(), ours.end(), parseSshConnectionServer(fetch())) == ours.end()) {
      continue;
    }
    auto env = [&]() { return parseSshConnection(fetch()); };
    out.push_back(AgentSession{user, SessionKind::kTmux, !t.attached,
                               tmuxClientAddress(user, ssh, memory_, env), t.created});
  }
}

std::vector<AgentSession> InventoryCollector::collectExternal() {
  if (options_.sessions_command.empty()) return {};
  auto out = runCommand({"/bin/sh", "-c", options_.sessions_command}, options_.command_timeout);
  std::string why = !out ? out.error() : commandProblem(*out);
  if (!why.empty()) return fallback(external_last_, "sessions command", why);
  auto parsed = parseSessionLines(out->out);
  if (parsed.sessions.empty() && parsed.bad_lines > 0) {
    return fallback(external_last_, "sessions command",
                    "no valid line, " + std::to_string(parsed.bad_lines) + " invalid");
  }
  if (parsed.bad_lines > 0) {
    warnings_.push_back("sessions command: " + std::to_string(parsed.bad_lines) +
                        " invalid line(s) ignored");
  }
  external_last_ = {std::move(parsed.sessions), SteadyClock::now(), true};
  return external_last_.sessions;
}

}  // namespace tsd::health
