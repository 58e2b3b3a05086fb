// tsdirectorctl: the admin CLI. Sends one request line to the daemon's admin socket and shows
// the JSON reply as a table (or raw with --json). Exit: 0 ok, 1 error, 2 usage.
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "director/base/unique_fd.h"
#include "director/protocol/admin_protocol.h"
#include "director/protocol/commands.h"
#include "director/protocol/reply_fields.h"

namespace {

namespace proto = tsd::protocol;
using nlohmann::json;

constexpr const char* kDefaultSocket = "/run/tsdirector/admin.sock";
constexpr const char* kPackagedConfig = "/etc/tsdirector/tsdirector.ini";
constexpr const char* kSocketEnv = "TSDIRECTORCTL_SOCKET";
enum Exit { kOk = 0, kError = 1, kUsage = 2 };

// "weight NODE N             (N: 0..1000)": hints line up in the help.
std::string usageLine(const proto::CommandSpec& c) {
  std::string line(c.usage);
  if (c.hint.empty()) return line;
  line.resize(std::max<size_t>(line.size(), 24), ' ');
  return line + "  (" + std::string(c.hint) + ")";
}

void usage(FILE* out) {
  fprintf(out,
          "usage: tsdirectorctl [-c CONFIG | -s SOCKET] [--json] COMMAND [ARGS...]\n\n"
          "commands:\n");
  for (const auto& c : proto::commands()) fprintf(out, "  %s\n", usageLine(c).c_str());
  fprintf(out,
          "\n  -c, --config FILE  use the admin socket named by FILE's [admin] socket\n"
          "  -s, --socket PATH  admin socket\n"
          "      --json         print the daemon's JSON reply as is\n"
          "The socket, first found: -s, -c, $%s, [admin] socket in %s, %s.\n"
          "IDENTITY: a client address (10.0.0.5), a key as `sticky` shows it (10.0.0.0/24), or "
          "sni:HOST\n",
          kSocketEnv, kPackagedConfig, kDefaultSocket);
}

std::string joinWords(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) line += (line.empty() ? "" : " ") + w;
  return line;
}

// Values the daemon would refuse, checked here so that they are usage errors (exit 2).
tsd::Status checkValues(const std::vector<std::string>& cmd) {
  if (cmd[0] == "weight") {
    if (auto w = proto::parseWeight(cmd[2]); !w.ok()) return tsd::makeError(w.error());
  }
  if (cmd[0] == "pin" && cmd.size() == 4) {
    if (auto t = proto::parseTtl(cmd[3]); !t.ok()) return tsd::makeError(t.error());
  }
  // The daemon splits the line on blanks: an argument must arrive as the word it is.
  auto words = proto::parseRequest(joinWords(cmd));
  if (!words.ok()) return tsd::makeError(words.error());
  if (*words != cmd) return tsd::makeError("an argument is empty or contains blanks");
  return {};
}

// Arity and value checks before connecting, so mistakes are usage errors (exit 2).
int checkArgs(const std::vector<std::string>& cmd) {
  const proto::CommandSpec* spec = proto::findCommand(cmd[0]);
  if (spec == nullptr) {
    fprintf(stderr, "tsdirectorctl: unknown command '%s'\n", cmd[0].c_str());
    usage(stderr);
    return kUsage;
  }
  if (!proto::checkArity(cmd).ok()) {
    fprintf(stderr, "tsdirectorctl: usage: %s\n", usageLine(*spec).c_str());
    return kUsage;
  }
  if (tsd::Status s = checkValues(cmd); !s.ok()) {
    fprintf(stderr, "tsdirectorctl: %s\n", s.error().c_str());
    return kUsage;
  }
  return kOk;
}

void reportConnectError(const std::string& path, const std::string& source, int e) {
  if (e == ENOENT) {
    fprintf(stderr,
            "tsdirectorctl: no admin socket at %s (%s): is tsdirector running? Name its "
            "config with -c FILE or the socket with -s PATH\n",
            path.c_str(), source.c_str());
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

// Reads until the daemon closes, or until the reply is past the cap (decodeReply refuses it).
int readReply(int fd, std::string* reply) {
  char buf[65536];
  while (reply->size() <= proto::kMaxReplyBytes) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET && !reply->empty()) break;
      fprintf(stderr, "tsdirectorctl: reading the reply: %s\n", strerror(errno));
      return kError;
    }
    reply->append(buf, static_cast<size_t>(n));
  }
  return kOk;
}

// One exchange: connect, send the line, read the reply until the daemon closes.
int exchange(const std::string& path, const std::string& source, const std::string& line,
             std::string* reply) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) {
    fprintf(stderr, "tsdirectorctl: socket path too long: %s\n", path.c_str());
    return kUsage;
  }
  memcpy(sun.sun_path, path.data(), path.size());
  tsd::director::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0) {
    reportConnectError(path, source, errno);
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
  if (int rc = readReply(fd.get(), reply); rc != kOk) return rc;
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

// "in 2h05m"-style text for a Unix time member: `none` when it is null or missing, the value
// as is when it is not a time (a newer daemon), else prefix + the span until it.
std::string untilText(const json& unix_time, const char* prefix, const std::string& none) {
  if (auto t = proto::integer(unix_time)) {
    return prefix + span(*t - static_cast<int64_t>(time(nullptr)));
  }
  return unix_time.is_null() ? none : proto::displayText(unix_time);
}

std::string cell(const json& object, const char* key) {
  return proto::displayText(proto::member(object, key));
}

std::string withRuntime(const std::string& v, const json& runtime) {
  return proto::isTrue(runtime) ? v + " (runtime)" : v;
}

void showNodes(const json& r) {
  std::vector<std::vector<std::string>> rows{
      {"NODE", "STATUS", "LOAD", "SESSIONS", "ACTIVE", "WEIGHT", "EFFECTIVE", "STATE", "ADDRESS"}};
  for (const auto& n : r) {
    using proto::member;
    std::string state = proto::isTrue(member(n, "removed"))
                            ? "removed"
                            : withRuntime(cell(n, "state"), member(n, "state_runtime"));
    std::string eff = "-";
    if (auto w = proto::number(member(n, "effective_weight"))) {
      char buf[32];
      snprintf(buf, sizeof buf, "%.2f", *w);
      eff = buf;
    }
    rows.push_back({cell(n, "name"), cell(n, "status"), cell(n, "load"), cell(n, "sessions"),
                    cell(n, "active"), withRuntime(cell(n, "weight"), member(n, "weight_runtime")),
                    eff, state, cell(n, "address")});
  }
  printTable(rows);
}

void showSessions(const json& r) {
  if (r.empty()) return (void)printf("no sessions reported by node agents\n");
  std::vector<std::vector<std::string>> rows{
      {"IDENTITY", "NODE", "USER", "STATE", "CLIENT", "AGE"}};
  for (const auto& s : r) {
    auto since = proto::integer(proto::member(s, "since"));
    std::string age =
        since && *since > 0 ? span(static_cast<int64_t>(time(nullptr)) - *since) : "-";
    rows.push_back({cell(s, "identity"), cell(s, "node"), cell(s, "user"), cell(s, "state"),
                    cell(s, "client"), age});
  }
  printTable(rows);
}

void showSticky(const json& r) {
  if (r.empty()) return (void)printf("no sticky entries\n");
  std::vector<std::vector<std::string>> rows{
      {"IDENTITY", "NODE", "CONNECTIONS", "EXPIRES", "PINNED"}};
  for (const auto& e : r) {
    using proto::member;
    bool connected = proto::number(member(e, "connections")).value_or(0) > 0;
    std::string expires =
        untilText(member(e, "expires"), "in ", connected ? "while connected" : "never");
    std::string pinned = proto::isTrue(member(e, "pinned"))
                             ? untilText(member(e, "pinned_until"), "for ", "yes")
                             : "no";
    rows.push_back({cell(e, "identity"), cell(e, "node"), cell(e, "connections"), expires, pinned});
  }
  printTable(rows);
}

void showUsers(const json& r) {
  if (r.empty()) return (void)printf("no users known\n");
  std::vector<std::vector<std::string>> rows{{"USER", "HOME", "STATE", "IDENTITIES", "LAST SEEN"}};
  for (const auto& u : r) {
    using proto::member;
    std::string ids;
    const json& list = member(u, "identities");
    if (list.is_array()) {
      for (const auto& id : list) ids += (ids.empty() ? "" : ",") + proto::displayText(id);
    }
    auto seen = proto::integer(member(u, "last_seen"));
    std::string last = seen ? span(static_cast<int64_t>(time(nullptr)) - *seen) + " ago" : "-";
    rows.push_back(
        {cell(u, "user"), cell(u, "home"), cell(u, "home_state"), ids.empty() ? "-" : ids, last});
  }
  printTable(rows);
}

// Prints one command's result; a result of the wrong shape (a broken or much newer daemon) is
// an error rather than an empty table.
int show(const std::string& cmd, const json& r) {
  bool table = cmd == "nodes" || cmd == "sessions" || cmd == "sticky" || cmd == "users";
  if (table ? !r.is_array() : !r.is_object()) {
    fprintf(stderr, "tsdirectorctl: unexpected reply from the daemon: '%s' gave no %s\n",
            cmd.c_str(), table ? "list" : "object");
    return kError;
  }
  const char* runtime =
      proto::isTrue(proto::member(r, "runtime")) ? " (runtime override)" : " (as configured)";
  if (cmd == "nodes") {
    showNodes(r);
  } else if (cmd == "sessions") {
    showSessions(r);
  } else if (cmd == "sticky") {
    showSticky(r);
  } else if (cmd == "users") {
    showUsers(r);
  } else if (cmd == "drain" || cmd == "maint" || cmd == "ready") {
    printf("node %s: %s%s\n", cell(r, "node").c_str(), cell(r, "state").c_str(), runtime);
  } else if (cmd == "weight") {
    printf("node %s: weight %s%s\n", cell(r, "node").c_str(), cell(r, "weight").c_str(), runtime);
  } else if (cmd == "pin") {
    std::string until = untilText(proto::member(r, "until"), "for ", "until unpinned");
    printf("%s pinned to node %s %s\n", cell(r, "identity").c_str(), cell(r, "node").c_str(),
           until.c_str());
  } else if (cmd == "unpin") {
    printf("%s unpinned\n", cell(r, "identity").c_str());
  } else if (cmd == "reload") {
    printf("reloaded: configuration generation %s\n", cell(r, "generation").c_str());
  }
  return kOk;
}

struct Options {
  std::string socket_path;  // -s
  std::string config_path;  // -c
  bool json = false;
  std::vector<std::string> command;
};

// Returns an exit code when the program is done (help, version, usage error).
std::optional<int> parseOptions(int argc, char** argv, Options* o) {
  enum { kJson = 256, kVersion };
  static option opts[] = {
      {"socket", required_argument, nullptr, 's'}, {"config", required_argument, nullptr, 'c'},
      {"json", no_argument, nullptr, kJson},       {"version", no_argument, nullptr, kVersion},
      {"help", no_argument, nullptr, 'h'},         {nullptr, 0, nullptr, 0}};
  int c;
  // "+": stop at the command, so its arguments are never taken for options.
  while ((c = getopt_long(argc, argv, "+s:c:h", opts, nullptr)) != -1) {
    switch (c) {
      case 's':
        o->socket_path = optarg;
        break;
      case 'c':
        o->config_path = optarg;
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
  if (!o->socket_path.empty() && !o->config_path.empty()) {
    fprintf(stderr, "tsdirectorctl: give -s SOCKET or -c CONFIG, not both\n");
    return kUsage;
  }
  o->command.assign(argv + optind, argv + argc);
  return std::nullopt;
}

// The reply, checked before anything is printed, even with --json: a script reading our output
// gets either the daemon's one valid JSON line or nothing.
int report(const Options& o, const std::string& text) {
  if (text.empty()) {
    fprintf(stderr, "tsdirectorctl: the daemon closed the connection without a reply\n");
    return kError;
  }
  auto reply = proto::decodeReply(text);
  if (!reply.ok()) {
    fprintf(stderr, "tsdirectorctl: unreadable reply from the daemon: %s\n", reply.error().c_str());
    return kError;
  }
  if (o.json) {
    fputs(text.c_str(), stdout);
    if (text.back() != '\n') fputc('\n', stdout);
    return reply->ok ? kOk : kError;
  }
  if (!reply->ok) {
    fprintf(stderr, "tsdirectorctl: %s\n", proto::displayText(json(reply->error)).c_str());
    return kError;
  }
  return show(o.command[0], reply->result);
}

struct SocketChoice {
  std::string path;
  std::string source;  // where the path came from, for messages
};

// [admin] socket of a config file, parsed and validated as the daemon would.
tsd::Result<std::string> socketOfConfig(const std::string& file) {
  auto cfg = tsd::conf::loadConfig(file);
  if (!cfg.ok()) return tsd::makeError(cfg.error());
  if ((*cfg)->admin.socket.empty()) {
    return tsd::makeError(file + ": [admin] socket is empty: that daemon has no admin socket");
  }
  return (*cfg)->admin.socket;
}

// First found: -s, -c FILE, $TSDIRECTORCTL_SOCKET, the packaged config (when it exists), the
// built-in default. Explicit choices that fail are errors; the packaged config is a guess, so
// an unreadable one is passed over with a warning.
tsd::Result<SocketChoice> findSocket(const Options& o) {
  if (!o.socket_path.empty()) return SocketChoice{o.socket_path, "from -s"};
  if (!o.config_path.empty()) {
    auto s = socketOfConfig(o.config_path);
    if (!s.ok()) return tsd::makeError(s.error());
    return SocketChoice{*s, "[admin] socket in " + o.config_path};
  }
  if (const char* env = getenv(kSocketEnv); env != nullptr && *env != '\0') {
    return SocketChoice{env, std::string("from $") + kSocketEnv};
  }
  if (access(kPackagedConfig, F_OK) == 0) {
    auto s = socketOfConfig(kPackagedConfig);
    if (s.ok()) return SocketChoice{*s, std::string("[admin] socket in ") + kPackagedConfig};
    fprintf(stderr, "tsdirectorctl: warning: %s (using the default socket)\n", s.error().c_str());
  }
  return SocketChoice{kDefaultSocket, "the default"};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (auto rc = parseOptions(argc, argv, &o)) return *rc;
  if (int rc = checkArgs(o.command); rc != kOk) return rc;
  auto sock = findSocket(o);
  if (!sock.ok()) {
    fprintf(stderr, "tsdirectorctl: %s\n", sock.error().c_str());
    return kError;
  }
  std::string reply;
  if (int rc = exchange(sock->path, sock->source, joinWords(o.command), &reply); rc != kOk) {
    return rc;
  }
  return report(o, reply);
}
