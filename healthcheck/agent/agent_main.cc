// tsdirector-agent: runs on each desktop node and answers the director's authenticated polls
// with load, memory, swap and the session inventory (see agent_server.h); --check prints one
// collection for an admin setting up a node.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "conf/log.h"
#include "healthcheck/agent/agent_server.h"
#include "healthcheck/agent_protocol.h"

namespace tsd::health {
namespace {

struct Options {
  AgentServerOptions server;
  std::string key_file;
  bool check = false;
};

void usage(FILE* out) {
  std::fputs(
      "usage: tsdirector-agent --key-file FILE [--listen ADDR:PORT] [--node-name NAME]\n"
      "         [--node-address ADDR,...] [--sessions-command CMD] [--allow ADDR[/PREFIX],...]\n"
      "         [--collect-interval MS] [--command-timeout MS] [--keep-for MS]\n"
      "         [--tmux-dir DIR] [--log-level debug|info|warn|error]\n"
      "       tsdirector-agent --check [--key-file FILE] [options as above]\n"
      "Answers tsdirector polls (default listen 0.0.0.0:7801); --check prints what it would\n"
      "report and exits. See docs/agent.md.\n",
      out);
}

std::optional<std::chrono::milliseconds> positiveMs(const std::string& v, long max) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n <= 0 || n > max) return std::nullopt;
  return std::chrono::milliseconds(n);
}

// A comma-separated list; false when an item is refused.
template <typename Fn>
bool eachItem(const std::string& v, Fn fn) {
  for (size_t start = 0; start <= v.size();) {
    size_t comma = std::min(v.find(',', start), v.size());
    if (!fn(std::string_view(v).substr(start, comma - start))) return false;
    start = comma + 1;
  }
  return true;
}

// One "--name value" pair; false when it is unknown or its value is refused.
bool applyOption(const std::string& a, const std::string& v, Options& o) {
  auto& c = o.server.collector;
  constexpr long kHour = 3600 * 1000;
  if (a == "--listen") {
    o.server.listen = v;
  } else if (a == "--key-file") {
    o.key_file = v;
  } else if (a == "--node-name") {
    c.node_name = v;
  } else if (a == "--tmux-dir") {
    c.tmux_tmpdir = v;
  } else if (a == "--sessions-command") {
    c.sessions_command = v;
  } else if (a == "--command-timeout" || a == "--collect-interval" || a == "--keep-for") {
    auto ms = positiveMs(v, a == "--keep-for" ? 24 * kHour : kHour);
    if (!ms) return false;
    (a == "--command-timeout" ? c.command_timeout
     : a == "--keep-for"      ? c.keep_for
                              : o.server.collect_interval) = *ms;
  } else if (a == "--node-address") {
    return eachItem(v, [&](std::string_view item) {
      std::string n = normalizeAddress(item);
      if (n == "-") return false;
      c.node_addresses.push_back(n);
      return true;
    });
  } else if (a == "--allow") {
    return eachItem(v, [&](std::string_view item) {
      auto cidr = Cidr::parse(item);
      if (cidr) o.server.allow.push_back(*cidr);
      return cidr.has_value();
    });
  } else if (a == "--log-level") {
    auto level = log::parseLevel(v);
    if (!level) return false;
    log::setLevel(*level);
  } else {
    return false;
  }
  return true;
}

std::optional<Options> parseArgs(int argc, char** argv) {
  Options o;
  auto& c = o.server.collector;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  c.node_name = std::string(host).substr(0, std::string(host).find('.'));
  if (const char* dir = std::getenv("TMUX_TMPDIR"); dir && *dir) c.tmux_tmpdir = dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (a == "--check") {
      o.check = true;
      continue;
    }
    if (i + 1 >= argc || !applyOption(a, argv[i + 1], o)) {
      std::fprintf(stderr, "tsdirector-agent: bad option or value: %s\n", a.c_str());
      return std::nullopt;
    }
    ++i;
  }
  if (!validName(c.node_name)) {
    std::fprintf(stderr, "tsdirector-agent: invalid node name '%s' (use --node-name)\n",
                 c.node_name.c_str());
    return std::nullopt;
  }
  if (o.key_file.empty() && !o.check) {
    std::fprintf(stderr, "tsdirector-agent: --key-file is required\n");
    return std::nullopt;
  }
  return o;
}

// --check: one collection, printed as the reply body a director would get, then the warnings.
int check(const Options& o) {
  int rc = 0;
  if (!o.key_file.empty()) {
    auto key = loadKey(o.key_file);
    std::printf("# key %s: %s\n", o.key_file.c_str(), key ? "ok" : key.error().c_str());
    if (!key) rc = 1;
  }
  InventoryCollector collector(o.server.collector);
  AgentReport r = collector.collect();
  r.warnings = collector.warnings();
  std::fputs(encodeBody(r, "check").c_str(), stdout);
  std::printf(
      "# %zu session(s), %zu warning(s)%s\n", r.sessions.size(), r.warnings.size(),
      o.server.collector.node_addresses.empty() ? "" : "; only this node's addresses counted");
  return rc;
}

int serve(const Options& o) {
  auto key = loadKey(o.key_file);
  if (!key) {
    LOG_ERROR("%s", key.error().c_str());
    return 1;
  }
  std::unique_ptr<event_base, void (*)(event_base*)> base(event_base_new(), event_base_free);
  if (!base) return 1;
  AgentServer server(base.get(), o.server, std::move(*key));
  if (!server.start()) return 1;
  auto stop = [](evutil_socket_t sig, short, void* b) {
    LOG_INFO("signal %d, exiting", static_cast<int>(sig));
    event_base_loopexit(static_cast<event_base*>(b), nullptr);
  };
  std::unique_ptr<event, void (*)(event*)> term(evsignal_new(base.get(), SIGTERM, stop, base.get()),
                                                event_free);
  std::unique_ptr<event, void (*)(event*)> intr(evsignal_new(base.get(), SIGINT, stop, base.get()),
                                                event_free);
  event_add(term.get(), nullptr);
  event_add(intr.get(), nullptr);
  event_base_dispatch(base.get());
  server.stop();
  return 0;
}

int run(int argc, char** argv) {
  auto opts = parseArgs(argc, argv);
  if (!opts) {
    usage(stderr);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  return opts->check ? check(*opts) : serve(*opts);
}

}  // namespace
}  // namespace tsd::health

int main(int argc, char** argv) { return tsd::health::run(argc, argv); }
