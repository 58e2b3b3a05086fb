// tsd-load: the load generator and backend servers of scripts/bench. One program, one mode per
// run, single-threaded epoll (a benchmark client pinned to one CPU, as the director is pinned to
// another). Every mode prints one line of key=value figures on stdout; errors go to stderr and
// exit 2 (usage) or 1 (could not run).
//
//   tsd-load serve --mode echo|rr|source --ports P1,P2,.. [--banner] [--size B]
//       echo: echoes every byte (after an SSH-like banner line with --banner);
//       rr: reads a --size request, answers one --size reply naming the backend
//           ("tsd-load rr INDEX"), closes first; source: writes to the client as fast as it can.
//   tsd-load rate --ports P[,..] [--conc 50] (--duration S [--warmup W] | --count K [--timeout S])
//       closed loop of --conc clients: connect, send --size bytes, read the reply to EOF, close.
//       Connection rate, latency (connect start to EOF) percentiles, replies per backend.
//   tsd-load ping --port P [--n 20000] [--warmn 100] [--size 64] [--interval-us 0] [--banner]
//       one connection, --size ping-pong; round-trip percentiles (paced with --interval-us).
//   tsd-load idle --ports P[,..] --n N [--conc 256] [--banner] --ready FILE [--maxhold S]
//       opens N connections (each must see the banner with --banner), writes FILE, holds them
//       until SIGTERM or --maxhold, reports how many were open and how many dropped.
//   tsd-load bulk --port P [--streams 1] [--duration 5] [--warmup 1]
//       reads from a `serve --mode source` backend on --streams connections; Gbit/s received.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kBanner = "SSH-2.0-tsd-load\r\n";
volatile sig_atomic_t g_stop = 0;

[[noreturn]] void usageError(const std::string& msg) {
  std::fprintf(stderr,
               "tsd-load: %s (see the comment at the top of tests/bench/load/tsd_load.cc)\n",
               msg.c_str());
  std::exit(2);
}

[[noreturn]] void fail(const std::string& msg) {
  std::fprintf(stderr, "tsd-load: %s: %s\n", msg.c_str(), std::strerror(errno));
  std::exit(1);
}

uint64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Options {
  std::string mode;  // serve: echo|rr|source
  std::string host = "127.0.0.1";
  std::vector<uint16_t> ports;
  bool banner = false;
  int conc = 0;
  int n = 0;
  int warmn = 100;
  int size = 64;
  int streams = 1;
  long count = 0;
  double duration = 5, warmup = 1, interval_us = 0, timeout = 60, maxhold = 120;
  std::string ready;
};

double number(std::string_view flag, std::string_view v, double lo, double hi) {
  double x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x < lo || x > hi) {
    usageError(std::string(flag) + " " + std::string(v) + ": want a number in [" +
               std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return x;
}

std::vector<uint16_t> portList(std::string_view v) {
  std::vector<uint16_t> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = std::min(v.find(',', start), v.size());
    out.push_back(
        static_cast<uint16_t>(number("--ports", v.substr(start, comma - start), 1, 65535)));
    start = comma + 1;
  }
  return out;
}

Options parse(int argc, char** argv, std::string& command) {
  if (argc < 2) usageError("usage: tsd-load serve|rate|ping|idle|bulk [options]");
  command = argv[1];
  Options o;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--banner") {
      o.banner = true;
      continue;
    }
    if (i + 1 >= argc) usageError(std::string(a) + " needs a value");
    std::string_view v = argv[++i];
    if (a == "--mode") {
      o.mode = v;
    } else if (a == "--host") {
      o.host = v;
    } else if (a == "--ports" || a == "--port") {
      o.ports = portList(v);
    } else if (a == "--conc") {
      o.conc = static_cast<int>(number(a, v, 1, 100000));
    } else if (a == "--n") {
      o.n = static_cast<int>(number(a, v, 1, 10000000));
    } else if (a == "--warmn") {
      o.warmn = static_cast<int>(number(a, v, 0, 10000000));
    } else if (a == "--size") {
      o.size = static_cast<int>(number(a, v, 1, 65536));
    } else if (a == "--streams") {
      o.streams = static_cast<int>(number(a, v, 1, 1024));
    } else if (a == "--count") {
      o.count = static_cast<long>(number(a, v, 1, 1e9));
    } else if (a == "--duration") {
      o.duration = number(a, v, 0.1, 3600);
    } else if (a == "--warmup") {
      o.warmup = number(a, v, 0, 3600);
    } else if (a == "--interval-us") {
      o.interval_us = number(a, v, 0, 1e7);
    } else if (a == "--timeout") {
      o.timeout = number(a, v, 0.1, 3600);
    } else if (a == "--maxhold") {
      o.maxhold = number(a, v, 0.1, 86400);
    } else if (a == "--ready") {
      o.ready = v;
    } else {
      usageError("unknown option " + std::string(a));
    }
  }
  if (o.ports.empty()) usageError(command + ": --ports (or --port) is required");
  return o;
}

void raiseFdLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

void onSignal(int) { g_stop = 1; }

sockaddr_in address(const std::string& host, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
    usageError("--host " + host + ": want an IPv4 literal");
  return a;
}

// A non-blocking connect in progress (or done); -1 when the socket could not be made.
int startConnect(const sockaddr_in& to) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

int socketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

struct Percentiles {
  std::vector<uint32_t> ns;  // samples in nanoseconds (capped at ~4 s)
  void add(uint64_t v) { ns.push_back(static_cast<uint32_t>(std::min<uint64_t>(v, 0xffffffffu))); }
  std::string format() {
    std::sort(ns.begin(), ns.end());
    auto at = [&](double q) {
      if (ns.empty()) return 0.0;
      size_t i = std::min(ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())));
      return ns[i] / 1000.0;
    };
    char buf[160];
    std::snprintf(buf, sizeof(buf), "p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f",
                  at(0.50), at(0.90), at(0.99), at(0.999), ns.empty() ? 0.0 : ns.back() / 1000.0);
    return buf;
  }
};

// ---------------------------------------------------------------- serve
struct ServerConn {
  int backend = 0;      // 1-based index of the port it was accepted on
  std::string pending;  // bytes not yet written (echo, banner, rr reply)
  size_t got = 0;       // rr: request bytes read
  bool closeAfterWrite = false;
};

int runServe(const Options& o) {
  if (o.mode != "echo" && o.mode != "rr" && o.mode != "source")
    usageError("serve: --mode echo|rr|source");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::map<int, int> listeners;  // fd -> backend index
  for (size_t i = 0; i < o.ports.size(); ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a = address(o.host, o.ports[i]);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0 || listen(fd, 4096) < 0) {
      fail("listen " + o.host + ":" + std::to_string(o.ports[i]));
    }
    listeners[fd] = static_cast<int>(i + 1);
    epoll_event ev{EPOLLIN, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  std::map<int, ServerConn> conns;
  std::vector<char> buf(256 * 1024, 'x');
  auto drop = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  // Writes what is pending; false when the connection is gone.
  auto flush = [&](int fd, ServerConn& c) {
    while (!c.pending.empty()) {
      ssize_t w = send(fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
      if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (w <= 0) return false;
      c.pending.erase(0, static_cast<size_t>(w));
    }
    epoll_event ev{
        static_cast<uint32_t>(EPOLLIN | (c.pending.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT))),
        {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    return !(c.pending.empty() && c.closeAfterWrite);
  };
  std::vector<epoll_event> events(512);
  while (!g_stop) {
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
    for (int e = 0; e < k; ++e) {
      int fd = events[e].data.fd;
      if (auto l = listeners.find(fd); l != listeners.end()) {
        for (int c; (c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          ServerConn& sc = conns[c];
          sc.backend = l->second;
          if (o.banner && o.mode == "echo") sc.pending = kBanner;
          uint32_t want = o.mode == "source" ? EPOLLOUT : EPOLLIN;
          epoll_event ev{want, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
          if (!sc.pending.empty() && !flush(c, sc)) drop(c);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      ServerConn& c = it->second;
      if (o.mode == "source") {
        bool alive = true;
        for (int burst = 0; burst < 16; ++burst) {
          ssize_t w = send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
          if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
          if (w <= 0) {
            alive = false;
            break;
          }
        }
        if (!alive || (events[e].events & (EPOLLERR | EPOLLHUP))) drop(fd);
        continue;
      }
      if (events[e].events & EPOLLOUT) {
        if (!flush(fd, c)) {
          drop(fd);
          continue;
        }
      }
      if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      ssize_t r = recv(fd, buf.data(), buf.size(), 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        drop(fd);
        continue;
      }
      if (o.mode == "echo") {
        c.pending.append(buf.data(), static_cast<size_t>(r));
      } else {  // rr: one request, one reply naming the backend, then we close
        c.got += static_cast<size_t>(r);
        if (c.got < static_cast<size_t>(o.size) || c.closeAfterWrite) continue;
        std::string reply = "tsd-load rr " + std::to_string(c.backend) + "\n";
        reply.resize(std::max<size_t>(reply.size(), static_cast<size_t>(o.size)), '.');
        c.pending = reply;
        c.closeAfterWrite = true;
      }
      if (!flush(fd, c)) drop(fd);
    }
  }
  return 0;
}

// ---------------------------------------------------------------- rate (and balance)
int runRate(const Options& o) {
  int conc = o.conc ? o.conc : 50;
  bool byCount = o.count > 0;
  std::vector<sockaddr_in> targets;
  for (uint16_t p : o.ports) targets.push_back(address(o.host, p));
  std::string request(static_cast<size_t>(o.size), 'q');
  struct Slot {
    int fd = -1;
    uint64_t started = 0;
    bool sent = false;
    std::string reply;
  };
  std::vector<Slot> slots(static_cast<size_t>(conc));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  uint64_t t0 = nowNs();
  uint64_t w0 = byCount ? t0 : t0 + static_cast<uint64_t>(o.warmup * 1e9);
  uint64_t w1 = byCount ? t0 + static_cast<uint64_t>(o.timeout * 1e9)
                        : w0 + static_cast<uint64_t>(o.duration * 1e9);
  long started = 0, done = 0, errors = 0, bad = 0, next = 0;
  std::map<int, long> perBackend;
  Percentiles lat;
  auto launch = [&](size_t i) {
    Slot& s = slots[i];
    s = Slot{};
    if (g_stop || (byCount && started >= o.count) || (!byCount && nowNs() >= w1)) return;
    s.fd = startConnect(targets[static_cast<size_t>(next++) % targets.size()]);
    s.started = nowNs();
    ++started;
    if (s.fd < 0) {
      ++errors;
      return;
    }
    epoll_event ev{EPOLLOUT | EPOLLIN, {.u64 = i}};
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
  };
  auto finish = [&](size_t i, bool ok) {
    Slot& s = slots[i];
    uint64_t t = nowNs();
    epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
    close(s.fd);
    s.fd = -1;
    bool inWindow = t >= w0 && t <= w1;
    if (!ok) {
      if (inWindow || byCount) ++errors;
    } else {
      int backend = 0;
      if (s.reply.rfind("tsd-load rr ", 0) == 0) backend = std::atoi(s.reply.c_str() + 12);
      if (backend <= 0 || s.reply.size() != static_cast<size_t>(o.size)) {
        if (inWindow || byCount) ++bad;
      } else if (inWindow || byCount) {
        ++done;
        ++perBackend[backend];
        lat.add(t - s.started);
      }
    }
    launch(i);
  };
  for (size_t i = 0; i < slots.size(); ++i) launch(i);
  std::vector<epoll_event> events(1024);
  std::vector<char> buf(4096);
  while (!g_stop) {
    uint64_t t = nowNs();
    if (t > w1) break;
    bool any = std::any_of(slots.begin(), slots.end(), [](const Slot& s) { return s.fd >= 0; });
    if (!any) {
      // Every slot idle: either done (count reached) or a socket could not be made.
      if (byCount && started >= o.count) break;
      for (size_t i = 0; i < slots.size(); ++i) launch(i);
      continue;
    }
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < k; ++e) {
      size_t i = events[e].data.u64;
      Slot& s = slots[i];
      if (s.fd < 0) continue;
      if (!s.sent) {
        if (socketError(s.fd) != 0) {
          finish(i, false);
          continue;
        }
        if (send(s.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(request.size())) {
          finish(i, false);
          continue;
        }
        s.sent = true;
        epoll_event ev{EPOLLIN, {.u64 = i}};
        epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
        continue;
      }
      for (;;) {
        ssize_t r = recv(s.fd, buf.data(), buf.size(), 0);
        if (r > 0) {
          s.reply.append(buf.data(), static_cast<size_t>(r));
          continue;
        }
        if (r < 0 && errno == EAGAIN) break;
        finish(i, r == 0);  // EOF after the reply: a good connection; an error: a failed one
        break;
      }
    }
  }
  uint64_t end = byCount ? nowNs() : w1;
  for (Slot& s : slots) {
    if (s.fd >= 0) close(s.fd);
  }
  double secs = static_cast<double>(end - w0) / 1e9;
  std::string pb;
  int maxBackend = static_cast<int>(o.ports.size());
  if (!perBackend.empty()) maxBackend = std::max(maxBackend, perBackend.rbegin()->first);
  for (int b = 1; b <= maxBackend; ++b) {
    pb += (pb.empty() ? "" : ",") + std::to_string(b) + ":" + std::to_string(perBackend[b]);
  }
  if (byCount && done + errors + bad < o.count) errors += o.count - (done + errors + bad);
  std::printf("conns=%ld secs=%.3f cps=%.1f %s errors=%ld bad=%ld per_backend=%s\n", done, secs,
              secs > 0 ? static_cast<double>(done) / secs : 0.0, lat.format().c_str(), errors, bad,
              pb.c_str());
  return 0;
}

// ---------------------------------------------------------------- ping
bool waitFd(int fd, short what, uint64_t deadline) {
  for (;;) {
    uint64_t t = nowNs();
    if (t >= deadline || g_stop) return false;
    pollfd p{fd, what, 0};
    int r = poll(&p, 1, static_cast<int>((deadline - t) / 1000000 + 1));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

int runPing(const Options& o) {
  int n = o.n ? o.n : 20000;
  uint64_t deadline = nowNs() + static_cast<uint64_t>(o.timeout * 1e9);
  int fd = startConnect(address(o.host, o.ports[0]));
  if (fd < 0 || !waitFd(fd, POLLOUT, deadline) || socketError(fd) != 0) fail("ping: connect");
  std::vector<char> msg(static_cast<size_t>(o.size), 'p'), in(65536);
  if (o.banner) {  // an SSH-like server speaks first: read its line
    std::string line;
    while (line.find('\n') == std::string::npos) {
      if (!waitFd(fd, POLLIN, deadline)) fail("ping: no banner");
      ssize_t r = recv(fd, in.data(), in.size(), 0);
      if (r <= 0 && errno != EAGAIN) fail("ping: banner");
      if (r > 0) line.append(in.data(), static_cast<size_t>(r));
    }
  }
  Percentiles rtt;
  long errors = 0;
  uint64_t tick = nowNs();
  for (int i = 0; i < n + o.warmn && !g_stop; ++i) {
    if (o.interval_us > 0) {
      tick += static_cast<uint64_t>(o.interval_us * 1000);
      timespec ts{static_cast<time_t>(tick / 1000000000ull),
                  static_cast<long>(tick % 1000000000ull)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
    uint64_t t0 = nowNs();
    if (send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
      ++errors;
      break;
    }
    size_t got = 0;
    while (got < msg.size()) {
      ssize_t r = recv(fd, in.data(), msg.size() - got, 0);
      if (r > 0) {
        got += static_cast<size_t>(r);
      } else if (r < 0 && errno == EAGAIN) {
        if (!waitFd(fd, POLLIN, deadline)) break;
      } else {
        break;
      }
    }
    if (got < msg.size()) {
      ++errors;
      break;
    }
    if (i >= o.warmn) rtt.add(nowNs() - t0);
  }
  close(fd);
  std::printf("n=%zu %s errors=%ld\n", rtt.ns.size(), rtt.format().c_str(), errors);
  return 0;
}

// ---------------------------------------------------------------- idle
int runIdle(const Options& o) {
  if (o.n <= 0) usageError("idle: --n is required");
  if (o.ready.empty()) usageError("idle: --ready FILE is required");
  int conc = o.conc ? o.conc : 256;
  std::vector<sockaddr_in> targets;
  for (uint16_t p : o.ports) targets.push_back(address(o.host, p));
  enum State : uint8_t { kConnecting, kBanner, kOpen, kDead };
  std::vector<int> fds;
  std::vector<State> state;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  long opened = 0, failed = 0, dropped = 0, inflight = 0, next = 0;
  uint64_t t0 = nowNs(), deadline = t0 + static_cast<uint64_t>(o.timeout * 1e9);
  std::vector<char> buf(4096);
  std::vector<epoll_event> events(1024);
  auto closeOne = [&](size_t i, bool wasOpen) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
    close(fds[i]);
    if (wasOpen) {
      ++dropped;
    } else {
      ++failed;
      --inflight;
    }
    state[i] = kDead;
  };
  auto handle = [&](size_t i, uint32_t ev) {
    if (state[i] == kConnecting) {
      if (socketError(fds[i]) != 0) return closeOne(i, false);
      state[i] = o.banner ? kBanner : kOpen;
      epoll_event e{EPOLLIN | EPOLLRDHUP, {.u64 = i}};
      epoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &e);
      if (state[i] == kOpen) {
        ++opened;
        --inflight;
      }
      return;
    }
    ssize_t r = recv(fds[i], buf.data(), buf.size(), 0);
    if (r < 0 && errno == EAGAIN && !(ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
    if (r <= 0) return closeOne(i, state[i] == kOpen);
    if (state[i] == kBanner && std::memchr(buf.data(), '\n', static_cast<size_t>(r))) {
      state[i] = kOpen;
      ++opened;
      --inflight;
    }
  };
  while (!g_stop && (next < o.n || inflight > 0)) {
    while (next < o.n && inflight < conc) {
      int fd = startConnect(targets[static_cast<size_t>(next) % targets.size()]);
      ++next;
      if (fd < 0) {
        ++failed;
        continue;
      }
      fds.push_back(fd);
      state.push_back(kConnecting);
      ++inflight;
      epoll_event e{EPOLLOUT | EPOLLIN | EPOLLRDHUP, {.u64 = fds.size() - 1}};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
    if (nowNs() > deadline) break;
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < k; ++e) {
      size_t i = events[e].data.u64;
      if (state[i] != kDead) handle(i, events[e].events);
    }
  }
  for (size_t i = 0; i < state.size(); ++i) {  // still connecting at the deadline: failed
    if (state[i] == kConnecting || state[i] == kBanner) closeOne(i, false);
  }
  double openSecs = static_cast<double>(nowNs() - t0) / 1e9;
  if (FILE* f = std::fopen(o.ready.c_str(), "w")) {
    std::fprintf(f, "%ld\n", opened);
    std::fclose(f);
  } else {
    fail("--ready " + o.ready);
  }
  uint64_t holdUntil = nowNs() + static_cast<uint64_t>(o.maxhold * 1e9);
  while (!g_stop && nowNs() < holdUntil) {
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
    for (int e = 0; e < k; ++e) {
      size_t i = events[e].data.u64;
      if (state[i] == kOpen) handle(i, events[e].events);
    }
  }
  long alive = opened - dropped;
  std::printf("requested=%d opened=%ld failed=%ld open_secs=%.2f dropped=%ld alive_at_end=%ld\n",
              o.n, opened, failed, openSecs, dropped, alive);
  std::fflush(stdout);
  for (size_t i = 0; i < state.size(); ++i) {
    if (state[i] == kOpen) close(fds[i]);
  }
  return 0;
}

// ---------------------------------------------------------------- bulk
int runBulk(const Options& o) {
  sockaddr_in to = address(o.host, o.ports[0]);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> fds;
  uint64_t deadline = nowNs() + 10'000'000'000ull;
  for (int s = 0; s < o.streams; ++s) {
    int fd = startConnect(to);
    if (fd < 0 || !waitFd(fd, POLLOUT, deadline) || socketError(fd) != 0) fail("bulk: connect");
    epoll_event e{EPOLLIN, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    fds.push_back(fd);
  }
  uint64_t t0 = nowNs();
  uint64_t w0 = t0 + static_cast<uint64_t>(o.warmup * 1e9),
           w1 = w0 + static_cast<uint64_t>(o.duration * 1e9);
  uint64_t bytes = 0;
  long closed = 0;
  std::vector<char> buf(1 << 20);
  std::vector<epoll_event> events(64);
  while (!g_stop && closed < o.streams) {
    uint64_t t = nowNs();
    if (t >= w1) break;
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < k; ++e) {
      ssize_t r = recv(events[e].data.fd, buf.data(), buf.size(), 0);
      if (r > 0) {
        if (nowNs() >= w0) bytes += static_cast<uint64_t>(r);
      } else if (!(r < 0 && errno == EAGAIN)) {
        epoll_ctl(ep, EPOLL_CTL_DEL, events[e].data.fd, nullptr);
        ++closed;
      }
    }
  }
  for (int fd : fds) close(fd);
  double secs = o.duration;
  std::printf("streams=%d bytes=%llu secs=%.3f gbps=%.3f closed_early=%ld\n", o.streams,
              static_cast<unsigned long long>(bytes), secs,
              static_cast<double>(bytes) * 8 / secs / 1e9, closed);
  return closed > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command;
  Options o = parse(argc, argv, command);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  raiseFdLimit();
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (command == "serve") return runServe(o);
  if (command == "rate") return runRate(o);
  if (command == "ping") return runPing(o);
  if (command == "idle") return runIdle(o);
  if (command == "bulk") return runBulk(o);
  usageError("unknown mode " + command + ": want serve|rate|ping|idle|bulk");
}
