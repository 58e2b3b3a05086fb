// tsdirectorctl: the admin CLI. Sends one request line to the daemon's admin socket and shows
// the JSON reply as a table (or raw with --json). Exit: 0 ok, 1 error, 2 usage.
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "director/admin_commands.h"
#include "director/json.h"
#include "director/base/unique_fd.h"

namespace {

using tsd::director::JsonValue;

constexpr const char* kDefaultSocket = "/run/tsdirector/admin.sock";
constexpr size_t kMaxReply = 64u << 20;
enum Exit { kOk = 0, kError = 1, kUsage = 2 };

struct CommandSpec {
  const char* name;
  size_t min_args, max_args;
  const char* usage;
};
constexpr CommandSpec kSpecs[] = {
    {"nodes", 0, 0, "nodes"},
    {"sessions", 0, 0, "sessions"},
    {"sticky", 0, 1, "sticky [IDENTITY]"},
    {"drain", 1, 1, "drain NODE"},
    {"maint", 1, 1, "maint NODE"},
    {"ready", 1, 1, "ready NODE"},
    {"weight", 2, 2, "weight NODE N        (N: 0..1000)"},
    {"pin", 2, 3, "pin IDENTITY NODE [TTL]   (TTL like 30m, 8h, 2d)"},
    {"unpin", 1, 1, "unpin IDENTITY"},
    {"reload", 0, 0, "reload"},
};

void usage(FILE* out) {
  fprintf(out, "usage: tsdirectorctl [-s SOCKET] [--json] COMMAND [ARGS...]\n\ncommands:\n");
  for (const auto& s : kSpecs) fprintf(out, "  %s\n", s.usage);
  fprintf(out,
          "\n  -s, --socket PATH  admin socket (default %s)\n"
          "      --json         print the daemon's JSON reply as is\n"
          "IDENTITY: a client address (10.0.0.5), a key as `sticky` shows it (10.0.0.0/24), or "
          "sni:HOST\n",
          kDefaultSocket);
}

// Arity and value checks before connecting, so mistakes are usage errors (exit 2).
int checkArgs(const std::vector<std::string>& cmd) {
  for (const auto& s : kSpecs) {
    if (cmd[0] != s.name) continue;
    size_t n = cmd.size() - 1;
    if (n < s.min_args || n > s.max_args) {
      fprintf(stderr, "tsdirectorctl: usage: %s\n", s.usage);
      return kUsage;
    }
    std::string bad;
    if (cmd[0] == "weight") {
      if (auto w = tsd::director::parseWeight(cmd[2]); !w.ok()) bad = w.error();
    }
    if (cmd[0] == "pin" && n == 3) {
      if (auto t = tsd::director::parseTtl(cmd[3]); !t.ok()) bad = t.error();
    }
    if (!bad.empty()) {
      fprintf(stderr, "tsdirectorctl: %s\n", bad.c_str());
      return kUsage;
    }
    return kOk;
  }
  fprintf(stderr, "tsdirectorctl: unknown command '%s'\n", cmd[0].c_str());
  usage(stderr);
  return kUsage;
}

void reportConnectError(const std::string& path, int e) {
  if (e == ENOENT) {
    fprintf(stderr,
            "tsdirectorctl: no admin socket at %s (is tsdirector running? see -s and "
            "[admin] socket)\n",
            path.c_str());
  } else if (e == EACCES || e == EPERM) {
    fprintf(stderr,
            "tsdirectorctl: permission denied on %s: run as root or as the daemon's "
            "user\n",
            path.c_str());
  } else if (e == ECONNREFUSED) {
    fprintf(stderr,
            "tsdirectorctl: nothing listens on %s (stale socket: is tsdirector "
            "running?)\n",
            path.c_str());
  } else {
    fprintf(stderr, "tsdirectorctl: connecting to %s: %s\n", path.c_str(), strerror(e));
  }
}

// One exchange: connect, send the line, read the reply until the daemon closes.
int exchange(const std::string& path, const std::string& line, std::string* reply) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) {
    fprintf(stderr, "tsdirectorctl: socket path too long: %s\n", path.c_str());
    return kUsage;
  }
  memcpy(sun.sun_path, path.data(), path.size());
  tsd::director::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0) {
    reportConnectError(path, errno);
    return kError;
  }
  timeval tv{60, 0};  // a reload may take a moment; never hang forever
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = line + "\n";
  // A send error may mean the daemon refused us and closed: its reply says why, read it first.
  int send_errno = 0;
  if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    send_errno = errno;
  }
  char buf[65536];
  while (reply->size() < kMaxReply) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET && !reply->empty()) break;
      fprintf(stderr, "tsdirectorctl: reading the reply: %s\n", strerror(errno));
      return kError;
    }
    reply->append(buf, static_cast<size_t>(n));
  }
  if (reply->empty() && send_errno != 0) {
    fprintf(stderr, "tsdirectorctl: sending to %s: %s\n", path.c_str(), strerror(send_errno));
    return kError;
  }
  return kOk;
}

void printTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    printf("%s\n", line.c_str());
  }
}

std::string span(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  char buf[32];
  if (seconds >= 86400) {
    snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(seconds / 86400),
             static_cast<long long>(seconds % 86400 / 3600));
  } else if (seconds >= 3600) {
    snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(seconds / 3600),
             static_cast<long long>(seconds % 3600 / 60));
  } else {
    snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(seconds / 60),
             static_cast<long long>(seconds % 60));
  }
  return buf;
}

int64_t untilNow(const JsonValue& unix_time) {
  return static_cast<int64_t>(unix_time.number) - static_cast<int64_t>(time(nullptr));
}

std::string withRuntime(const std::string& v, const JsonValue& runtime) {
  return runtime.boolean ? v + " (runtime)" : v;
}

void showNodes(const JsonValue& r) {
  std::vector<std::vector<std::string>> rows{
      {"NODE", "STATUS", "LOAD", "SESSIONS", "ACTIVE", "WEIGHT", "EFFECTIVE", "STATE", "ADDRESS"}};
  for (const auto& n : r.array) {
    std::string state =
        n["removed"].boolean ? "removed" : withRuntime(n["state"].text(), n["state_runtime"]);
    char eff[32];
    snprintf(eff, sizeof eff, "%.2f", n["effective_weight"].number);
    rows.push_back({n["name"].text(), n["status"].text(), n["load"].text(), n["sessions"].text(),
                    n["active"].text(), withRuntime(n["weight"].text(), n["weight_runtime"]), eff,
                    state, n["address"].text()});
  }
  printTable(rows);
}

void showSessions(const JsonValue& r) {
  if (r.array.empty()) return (void)printf("no sessions reported by node agents\n");
  std::vector<std::vector<std::string>> rows{
      {"IDENTITY", "NODE", "USER", "STATE", "CLIENT", "AGE"}};
  for (const auto& s : r.array) {
    std::string age = s["since"].number > 0 ? span(-untilNow(s["since"])) : "-";
    rows.push_back({s["identity"].text(), s["node"].text(), s["user"].text(), s["state"].text(),
                    s["client"].text(), age});
  }
  printTable(rows);
}

void showSticky(const JsonValue& r) {
  if (r.array.empty()) return (void)printf("no sticky entries\n");
  std::vector<std::vector<std::string>> rows{
      {"IDENTITY", "NODE", "CONNECTIONS", "EXPIRES", "PINNED"}};
  for (const auto& e : r.array) {
    std::string expires = !e["expires"].isNull()        ? "in " + span(untilNow(e["expires"]))
                          : e["connections"].number > 0 ? "while connected"
                                                        : "never";
    std::string pinned = !e["pinned"].boolean         ? "no"
                         : e["pinned_until"].isNull() ? "yes"
                                                      : "for " + span(untilNow(e["pinned_until"]));
    rows.push_back(
        {e["identity"].text(), e["node"].text(), e["connections"].text(), expires, pinned});
  }
  printTable(rows);
}

void show(const std::string& cmd, const JsonValue& r) {
  if (cmd == "nodes") return showNodes(r);
  if (cmd == "sessions") return showSessions(r);
  if (cmd == "sticky") return showSticky(r);
  if (cmd == "drain" || cmd == "maint" || cmd == "ready") {
    printf("node %s: %s%s\n", r["node"].text().c_str(), r["state"].text().c_str(),
           r["runtime"].boolean ? " (runtime override)" : " (as configured)");
  } else if (cmd == "weight") {
    printf("node %s: weight %s%s\n", r["node"].text().c_str(), r["weight"].text().c_str(),
           r["runtime"].boolean ? " (runtime override)" : " (as configured)");
  } else if (cmd == "pin") {
    std::string until =
        r["until"].isNull() ? "until unpinned" : "for " + span(untilNow(r["until"]));
    printf("%s pinned to node %s %s\n", r["identity"].text().c_str(), r["node"].text().c_str(),
           until.c_str());
  } else if (cmd == "unpin") {
    printf("%s unpinned\n", r["identity"].text().c_str());
  } else if (cmd == "reload") {
    printf("reloaded: configuration generation %s\n", r["generation"].text().c_str());
  }
}

struct Options {
  std::string socket_path = kDefaultSocket;
  bool json = false;
  std::vector<std::string> command;
};

// Returns an exit code when the program is done (help, version, usage error).
std::optional<int> parseOptions(int argc, char** argv, Options* o) {
  enum { kJson = 256, kVersion };
  static option opts[] = {{"socket", required_argument, nullptr, 's'},
                          {"json", no_argument, nullptr, kJson},
                          {"version", no_argument, nullptr, kVersion},
                          {"help", no_argument, nullptr, 'h'},
                          {nullptr, 0, nullptr, 0}};
  int c;
  // "+": stop at the command, so its arguments are never taken for options.
  while ((c = getopt_long(argc, argv, "+s:h", opts, nullptr)) != -1) {
    switch (c) {
      case 's':
        o->socket_path = optarg;
        break;
      case kJson:
        o->json = true;
        break;
      case kVersion:
        printf("tsdirectorctl %s\n", TSD_VERSION);
        return kOk;
      case 'h':
        usage(stdout);
        return kOk;
      default:
        usage(stderr);
        return kUsage;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return kUsage;
  }
  o->command.assign(argv + optind, argv + argc);
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (auto rc = parseOptions(argc, argv, &o)) return *rc;
  const std::vector<std::string>& cmd = o.command;
  if (int rc = checkArgs(cmd); rc != kOk) return rc;
  std::string line;
  for (const auto& a : cmd) line += (line.empty() ? "" : " ") + a;
  std::string reply;
  if (int rc = exchange(o.socket_path, line, &reply); rc != kOk) return rc;
  auto v = tsd::director::parseJson(reply);
  if (!v.ok() || v->type != JsonValue::Type::kObject) {
    fprintf(stderr, "tsdirectorctl: unreadable reply from the daemon: %s\n",
            v.ok() ? "not an object" : v.error().c_str());
    return kError;
  }
  bool ok = (*v)["ok"].boolean;
  if (o.json) {
    fputs(reply.c_str(), stdout);
    if (!reply.empty() && reply.back() != '\n') fputc('\n', stdout);
  } else if (!ok) {
    fprintf(stderr, "tsdirectorctl: %s\n", (*v)["error"].text().c_str());
  } else {
    show(cmd[0], (*v)["result"]);
  }
  return ok ? kOk : kError;
}
