// tsd-desktop-mix: a remote-desktop-like load. N long-lived connections each send keystroke-sized
// messages at 20-50 Hz (echoed back: the round trip is measured) and every few seconds ask for a
// screen burst of 256 KiB-2 MiB towards the client (completion time measured). One JSON object
// on stdout. `--serve ADDR:PORT` is the matching server. Single-threaded epoll, no libraries.
//
// Wire format, both ways: 1 byte type, 4 bytes length (big endian), payload.
//   'K' keystroke: client -> server, echoed back unchanged (payload: 8-byte send time + filler)
//   'B' burst request: client -> server, payload = 4-byte size; the server answers with
//   'S' screen: server -> client, `size` bytes, byte i = i % 251
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void usage(const char* why) {
  fprintf(stderr,
          "tsd-desktop-mix: %s\n"
          "usage: tsd-desktop-mix --target HOST:PORT --connections N --duration SECONDS\n"
          "         [--rate-hz LO-HI] [--burst-min SIZE --burst-max SIZE --burst-every SECONDS]"
          " [--json]\n"
          "       tsd-desktop-mix --serve ADDR:PORT\n",
          why);
  exit(2);
}

bool parseAddr(const std::string& s, sockaddr_storage* out, socklen_t* len) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) return false;
  memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

uint64_t parseSize(const char* s) {
  char* end = nullptr;
  double v = strtod(s, &end);
  if (end == s || v <= 0) usage("bad size");
  switch (*end) {
    case 'k':
    case 'K':
      v *= 1024;
      break;
    case 'm':
    case 'M':
      v *= 1024 * 1024;
      break;
    case '\0':
      break;
    default:
      usage("bad size suffix (k or M)");
  }
  return static_cast<uint64_t>(v);
}

double parseNum(const char* s, const char* what) {
  char* end = nullptr;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || v <= 0) usage(what);
  return v;
}

void putHeader(std::string& out, char type, uint32_t len) {
  uint32_t be = htonl(len);
  out.push_back(type);
  out.append(reinterpret_cast<const char*>(&be), 4);
}

// Outgoing bytes: queued data, then (server) the rest of a screen burst generated on the fly.
struct Output {
  std::deque<std::string> chunks;
  size_t off = 0;  // into chunks.front()
  bool empty() const { return chunks.empty(); }
  // Returns false on a fatal error (errno set).
  bool flush(int fd) {
    while (!chunks.empty()) {
      const std::string& c = chunks.front();
      ssize_t w = send(fd, c.data() + off, c.size() - off, MSG_NOSIGNAL);
      if (w < 0) return errno == EAGAIN || errno == EINTR;
      off += static_cast<size_t>(w);
      if (off == c.size()) {
        chunks.pop_front();
        off = 0;
      }
    }
    return true;
  }
};

const std::string& screenBlock() {
  static std::string b = [] {
    std::string s(251 * 1024, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i % 251);
    return s;
  }();
  return b;
}

// Appends a screen burst of `size` bytes (the pattern restarts at 0 every frame).
void queueScreen(Output& o, uint32_t size) {
  std::string h;
  putHeader(h, 'S', size);
  o.chunks.push_back(h);
  const std::string& b = screenBlock();
  for (uint32_t done = 0; done < size;) {
    uint32_t n = std::min<uint32_t>(size - done, static_cast<uint32_t>(b.size()));
    o.chunks.push_back(b.substr(0, n));  // b.size() is a multiple of 251: the pattern continues
    done += n;
  }
}

// ---------------------------------------------------------------------------------------------
// Server
struct ServerConn {
  int fd;
  std::string in;
  Output out;
  bool want_out = false;
};

void serverUpdate(int ep, ServerConn* c) {
  bool want = !c->out.empty();
  if (want == c->want_out) return;
  c->want_out = want;
  epoll_event ev{};
  ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

// Parses whole frames; false on a protocol error.
bool serverParse(ServerConn* c) {
  size_t pos = 0;
  while (c->in.size() - pos >= 5) {
    uint32_t len;
    memcpy(&len, c->in.data() + pos + 1, 4);
    len = ntohl(len);
    if (len > (64u << 20)) return false;
    if (c->in.size() - pos < 5 + len) break;
    char type = c->in[pos];
    if (type == 'K') {
      c->out.chunks.push_back(c->in.substr(pos, 5 + len));
    } else if (type == 'B' && len == 4) {
      uint32_t size;
      memcpy(&size, c->in.data() + pos + 5, 4);
      queueScreen(c->out, ntohl(size));
    } else {
      return false;
    }
    pos += 5 + len;
  }
  c->in.erase(0, pos);
  return true;
}

int serve(const std::string& addr) {
  sockaddr_storage sa{};
  socklen_t sl;
  if (!parseAddr(addr, &sa, &sl)) usage("bad --serve address");
  int lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&sa), sl) != 0 || listen(lfd, 4096) != 0) {
    fprintf(stderr, "tsd-desktop-mix: listen %s: %s\n", addr.c_str(), strerror(errno));
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  fprintf(stderr, "tsd-desktop-mix: serving on %s\n", addr.c_str());
  std::vector<epoll_event> evs(256);
  char buf[64 * 1024];
  for (;;) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), -1);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<ServerConn*>(evs[i].data.ptr);
      if (c == nullptr) {
        int fd;
        while ((fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto* nc = new ServerConn{fd, {}, {}, false};
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = nc;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      bool dead = false;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r > 0) {
          c->in.append(buf, static_cast<size_t>(r));
          dead = !serverParse(c);
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          dead = true;
        }
      }
      if (!dead) dead = !c->out.flush(c->fd);
      if (dead) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
        close(c->fd);
        delete c;
        continue;
      }
      serverUpdate(ep, c);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Client
struct Options {
  std::string target;
  int connections = 0;
  double duration = 0;
  double rate_lo = 20, rate_hi = 50;
  uint64_t burst_min = 256 << 10, burst_max = 2 << 20;
  double burst_every = 3;
};

struct ClientConn {
  int fd = -1;
  bool connected = false, dead = false, want_out = false;
  double rate = 30;
  std::string in;
  Output out;
  std::deque<int64_t> key_sent;  // send times of keystrokes not yet echoed (FIFO: echo in order)
  std::deque<int64_t> burst_sent;
  uint64_t screen_left = 0, screen_pos = 0;
  bool in_screen = false;
};

struct Stats {
  std::vector<double> rtt_us, burst_ms;
  uint64_t resets = 0, errors = 0;
  // Errors by cause: "closed" (the director or server closed first), "corrupt" (a reply out of
  // order or not as sent), "drain_timeout" (not ended within 10 s of our FIN), "connect", or
  // the errno's name.
  std::map<std::string, uint64_t> error_kinds;
  void error(const std::string& why) {
    ++errors;
    ++error_kinds[why];
  }
};

enum class Ev : uint8_t { kKey, kBurst };
struct Timer {
  int64_t at;
  uint32_t conn;
  Ev ev;
  bool operator>(const Timer& o) const { return at > o.at; }
};

void clientFail(ClientConn& c, Stats& st, int err) {
  if (c.dead) return;
  c.dead = true;
  if (err == ECONNRESET || err == EPIPE) {
    ++st.resets;
  } else {
    st.error(err == 0 ? "closed" : err == EBADMSG ? "corrupt" : strerrorname_np(err));
  }
  close(c.fd);
}

// The orderly end of a run: FIN each way, every connection read to its end (bytes still on
// their way are discarded), then closed. Closing with unread bytes would send RST, which the
// director rightly counts as a reset. A reset or a connection not ended within 10 s counts.
void drainAndClose(int ep, std::vector<ClientConn>& conns, Stats& st, char* buf, size_t len) {
  size_t open = 0;
  for (uint32_t i = 0; i < conns.size(); ++i) {
    ClientConn& c = conns[i];
    if (c.dead) continue;
    if (!c.connected) {
      c.dead = true;
      close(c.fd);
      continue;
    }
    shutdown(c.fd, SHUT_WR);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    ++open;
  }
  const int64_t deadline = nowNs() + 10'000'000'000LL;
  std::vector<epoll_event> evs(512);
  while (open > 0 && nowNs() < deadline) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int i = 0; i < n; ++i) {
      ClientConn& c = conns[evs[i].data.u32];
      if (c.dead) continue;
      for (;;) {
        ssize_t r = recv(c.fd, buf, len, 0);
        if (r > 0) continue;
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (r < 0) {
          clientFail(c, st, errno);
        } else {
          c.dead = true;
          close(c.fd);
        }
        --open;
        break;
      }
    }
  }
  for (ClientConn& c : conns) {
    if (c.dead) continue;
    st.error("drain_timeout");  // did not end within the deadline
    c.dead = true;
    close(c.fd);
  }
}

// Consumes server frames; false on corrupt data.
bool clientParse(ClientConn& c, Stats& st, int64_t now) {
  size_t pos = 0;
  for (;;) {
    if (c.in_screen) {
      size_t n = std::min<uint64_t>(c.screen_left, c.in.size() - pos);
      for (size_t i = 0; i < n; ++i) {
        if (static_cast<uint8_t>(c.in[pos + i]) != (c.screen_pos + i) % 251) return false;
      }
      c.screen_pos += n;
      c.screen_left -= n;
      pos += n;
      if (c.screen_left > 0) break;
      c.in_screen = false;
      if (c.burst_sent.empty()) return false;
      st.burst_ms.push_back(static_cast<double>(now - c.burst_sent.front()) / 1e6);
      c.burst_sent.pop_front();
      continue;
    }
    if (c.in.size() - pos < 5) break;
    uint32_t len;
    memcpy(&len, c.in.data() + pos + 1, 4);
    len = ntohl(len);
    char type = c.in[pos];
    if (type == 'S') {
      c.in_screen = true;
      c.screen_left = len;
      c.screen_pos = 0;
      pos += 5;
      continue;
    }
    if (type != 'K' || len < 8 || len > 4096) return false;
    if (c.in.size() - pos < 5 + len) break;
    int64_t sent;
    memcpy(&sent, c.in.data() + pos + 5, 8);
    if (c.key_sent.empty() || c.key_sent.front() != sent) return false;
    c.key_sent.pop_front();
    st.rtt_us.push_back(static_cast<double>(now - sent) / 1e3);
    pos += 5 + len;
  }
  c.in.erase(0, pos);
  return true;
}

void clientInterest(int ep, ClientConn& c, uint32_t idx) {
  bool want = !c.out.empty() || !c.connected;
  if (want == c.want_out) return;
  c.want_out = want;
  epoll_event ev{};
  ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  ev.data.u32 = idx;
  epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int runClient(const Options& o, bool json) {
  sockaddr_storage sa{};
  socklen_t sl;
  if (!parseAddr(o.target, &sa, &sl)) usage("bad --target address");
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<uint64_t> burst_size(o.burst_min, o.burst_max);
  std::uniform_int_distribution<int> key_len(16, 64);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<ClientConn> conns(static_cast<size_t>(o.connections));
  Stats st;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  int one = 1;
  const int64_t start = nowNs();
  const int64_t end = start + static_cast<int64_t>(o.duration * 1e9);
  for (uint32_t i = 0; i < conns.size(); ++i) {
    ClientConn& c = conns[i];
    c.fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c.fd < 0 ||
        (connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sl) != 0 && errno != EINPROGRESS)) {
      c.dead = true;
      st.error("connect");
      if (c.fd >= 0) close(c.fd);
      continue;
    }
    c.rate = o.rate_lo + (o.rate_hi - o.rate_lo) * unit(rng);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = i;
    c.want_out = true;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    timers.push({start + static_cast<int64_t>(1e9 / c.rate * unit(rng)), i, Ev::kKey});
    timers.push({start + static_cast<int64_t>(o.burst_every * 1e9 * unit(rng)), i, Ev::kBurst});
  }
  std::vector<epoll_event> evs(512);
  char buf[256 * 1024];
  for (;;) {
    int64_t now = nowNs();
    if (now >= end) break;
    while (!timers.empty() && timers.top().at <= now) {
      Timer t = timers.top();
      timers.pop();
      ClientConn& c = conns[t.conn];
      if (c.dead) continue;
      if (c.connected) {
        std::string f;
        if (t.ev == Ev::kKey) {
          int len = key_len(rng);
          putHeader(f, 'K', static_cast<uint32_t>(len));
          f.append(reinterpret_cast<const char*>(&now), 8);
          f.append(static_cast<size_t>(len - 8), 'k');
          c.key_sent.push_back(now);
        } else {
          putHeader(f, 'B', 4);
          uint32_t be = htonl(static_cast<uint32_t>(burst_size(rng)));
          f.append(reinterpret_cast<const char*>(&be), 4);
          c.burst_sent.push_back(now);
        }
        c.out.chunks.push_back(std::move(f));
        if (!c.out.flush(c.fd)) clientFail(c, st, errno);
        if (!c.dead) clientInterest(ep, c, t.conn);
      }
      double gap = t.ev == Ev::kKey ? 1e9 / c.rate : o.burst_every * 1e9;
      timers.push({t.at + static_cast<int64_t>(gap), t.conn, t.ev});
    }
    int64_t wait_ns = timers.empty() ? end - now : std::min(end, timers.top().at) - now;
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()),
                       static_cast<int>(std::max<int64_t>(0, wait_ns / 1000000)));
    now = nowNs();
    for (int i = 0; i < n; ++i) {
      uint32_t idx = evs[i].data.u32;
      ClientConn& c = conns[idx];
      if (c.dead) continue;
      if (!c.connected && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
          clientFail(c, st, err);
          continue;
        }
        c.connected = true;
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (int k = 0; k < 8; ++k) {
          ssize_t r = recv(c.fd, buf, sizeof buf, 0);
          if (r > 0) {
            c.in.append(buf, static_cast<size_t>(r));
            if (static_cast<size_t>(r) < sizeof buf) break;
            continue;
          }
          if (r == 0) clientFail(c, st, 0);  // the server or director closed: an error
          if (r < 0 && errno != EAGAIN && errno != EINTR) clientFail(c, st, errno);
          break;
        }
        if (!c.dead && !clientParse(c, st, now)) clientFail(c, st, EBADMSG);
      }
      if (!c.dead && !c.out.flush(c.fd)) clientFail(c, st, errno);
      if (!c.dead) clientInterest(ep, c, idx);
    }
  }
  int alive = 0;
  for (ClientConn& c : conns) {
    if (!c.dead && c.connected) ++alive;
  }
  drainAndClose(ep, conns, st, buf, sizeof buf);
  double k50 = percentile(st.rtt_us, 0.5), k99 = percentile(st.rtt_us, 0.99);
  double b50 = percentile(st.burst_ms, 0.5), b99 = percentile(st.burst_ms, 0.99);
  std::string kinds;
  for (const auto& [why, n] : st.error_kinds) {
    kinds += (kinds.empty() ? "\"" : ", \"") + why + "\": " + std::to_string(n);
  }
  if (json) {
    printf(
        "{\"connections\": %d, \"keystroke_rtt_us\": {\"p50\": %.1f, \"p99\": %.1f}, "
        "\"burst_ms\": {\"p50\": %.2f, \"p99\": %.2f}, \"resets\": %llu, \"errors\": %llu, "
        "\"error_kinds\": {%s}, \"keystrokes\": %zu, \"bursts\": %zu}\n",
        alive, k50, k99, b50, b99, static_cast<unsigned long long>(st.resets),
        static_cast<unsigned long long>(st.errors), kinds.c_str(), st.rtt_us.size(),
        st.burst_ms.size());
  } else {
    printf(
        "connections %d keystrokes %zu rtt p50 %.1f us p99 %.1f us bursts %zu p50 %.2f ms "
        "p99 %.2f ms resets %llu errors %llu\n",
        alive, st.rtt_us.size(), k50, k99, st.burst_ms.size(), b50, b99,
        static_cast<unsigned long long>(st.resets), static_cast<unsigned long long>(st.errors));
  }
  return st.resets + st.errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Options o;
  bool json = false;
  std::string serve_addr;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--serve") {
      serve_addr = val();
    } else if (a == "--target") {
      o.target = val();
    } else if (a == "--connections") {
      o.connections = static_cast<int>(parseNum(val(), "bad --connections"));
    } else if (a == "--duration") {
      o.duration = parseNum(val(), "bad --duration");
    } else if (a == "--rate-hz") {
      std::string r = val();
      size_t dash = r.find('-');
      o.rate_lo = parseNum(r.substr(0, dash).c_str(), "bad --rate-hz");
      o.rate_hi = dash == std::string::npos ? o.rate_lo
                                            : parseNum(r.substr(dash + 1).c_str(), "bad --rate-hz");
      if (o.rate_hi < o.rate_lo) usage("bad --rate-hz (LO-HI)");
    } else if (a == "--burst-min") {
      o.burst_min = parseSize(val());
    } else if (a == "--burst-max") {
      o.burst_max = parseSize(val());
    } else if (a == "--burst-every") {
      o.burst_every = parseNum(val(), "bad --burst-every");
    } else if (a == "--json") {
      json = true;
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (!serve_addr.empty()) return serve(serve_addr);
  if (o.target.empty() || o.connections <= 0 || o.duration <= 0) {
    usage("--target, --connections and --duration are required");
  }
  if (o.burst_max < o.burst_min || o.burst_max > (64u << 20)) usage("bad burst sizes");
  return runClient(o, json);
}
