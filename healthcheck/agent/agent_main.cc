// tsdirector-agent: runs on each desktop node and answers the director's authenticated polls
// with load, memory, swap and the session inventory. One reply per connection.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "conf/log.h"
#include "conf/sock_addr.h"
#include "healthcheck/agent/agent_collector.h"
#include "healthcheck/agent_protocol.h"

namespace tsd::health {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kCacheFor = std::chrono::seconds(1);  // inventory reuse between polls
constexpr timeval kReadTimeout{2, 0};                // whole request line within this
constexpr timeval kWriteTimeout{5, 0};
constexpr size_t kMaxConnections = 256;

// One allowed source network from --allow.
struct Cidr {
  SockAddr addr;
  int prefix = 0;
  static std::optional<Cidr> parse(std::string_view s) {
    size_t slash = s.find('/');
    auto a = SockAddr::parseHost(s.substr(0, slash), 0);
    if (!a) return std::nullopt;
    int max = a->isV4() ? 32 : 128;
    int prefix = max;
    if (slash != std::string_view::npos) {
      std::string p(s.substr(slash + 1));
      char* end = nullptr;
      long v = std::strtol(p.c_str(), &end, 10);
      if (p.empty() || *end != '\0' || v < 0 || v > max) return std::nullopt;
      prefix = static_cast<int>(v);
    }
    return Cidr{*a, prefix};
  }
  bool matches(const SockAddr& peer) const {
    std::string want = addr.addressBytes();
    std::string got = peer.addressBytes();  // v4-mapped peers come back as 4 bytes
    return want.size() == got.size() && maskPrefix(want, prefix) == maskPrefix(got, prefix);
  }
};

struct Options {
  std::string listen = "0.0.0.0:7801";
  std::string key_file;
  std::vector<Cidr> allow;  // empty: everyone
  CollectorOptions collector;
};

// Collects inventories on its own thread so slow commands never stall the event loop.
class CollectorThread {
 public:
  CollectorThread(CollectorOptions o, int notify_fd)
      : collector_(std::move(o)), notify_fd_(notify_fd), thread_([this] { run(); }) {}
  ~CollectorThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void request() {
    {
      std::lock_guard lock(mu_);
      wanted_ = true;
    }
    cv_.notify_one();
  }
  // The last finished collection and its warnings.
  std::pair<AgentReport, std::vector<std::string>> take() {
    std::lock_guard lock(mu_);
    return {result_, warnings_};
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || wanted_; });
      if (stop_) return;
      wanted_ = false;
      lock.unlock();
      AgentReport r = collector_.collect();
      lock.lock();
      result_ = std::move(r);
      warnings_ = collector_.warnings();
      char one = 1;
      (void)!::write(notify_fd_, &one, 1);
    }
  }

  InventoryCollector collector_;
  int notify_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wanted_ = false;
  AgentReport result_;
  std::vector<std::string> warnings_;
  std::thread thread_;  // last: starts after everything it uses exists
};

class AgentServer {
 public:
  AgentServer(event_base* base, Options o, std::string key)
      : base_(base), opts_(std::move(o)), key_(std::move(key)) {}
  ~AgentServer() {
    for (auto& [bev, c] : conns_) bufferevent_free(bev);
    if (listener_) evconnlistener_free(listener_);
    if (notify_ev_) event_free(notify_ev_);
  }

  bool start() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    notify_rd_ = fds[0];
    notify_wr_ = fds[1];
    notify_ev_ =
        event_new(base_, notify_rd_, EV_READ | EV_PERSIST, &AgentServer::onCollected, this);
    event_add(notify_ev_, nullptr);
    collector_ = std::make_unique<CollectorThread>(opts_.collector, notify_wr_);
    auto addr = SockAddr::parse(opts_.listen);
    if (!addr) {
      LOG_ERROR("--listen %s: %s", opts_.listen.c_str(), addr.error().c_str());
      return false;
    }
    listener_ =
        evconnlistener_new_bind(base_, &AgentServer::onAccept, this,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
                                128, addr->sa(), static_cast<int>(addr->len()));
    if (!listener_) {
      LOG_ERROR("cannot listen on %s: %s", opts_.listen.c_str(), std::strerror(errno));
      return false;
    }
    LOG_INFO("listening on %s as node %s", addr->toString().c_str(),
             opts_.collector.node_name.c_str());
    return true;
  }

  void stop() {
    collector_.reset();  // joins the thread
    if (notify_ev_) event_free(notify_ev_);
    notify_ev_ = nullptr;
    for (int* fd : {&notify_rd_, &notify_wr_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

 private:
  struct Conn {
    SockAddr peer;
    std::string nonce;
    bool waiting = false;
  };

  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* arg) {
    auto* self = static_cast<AgentServer*>(arg);
    auto peer = SockAddr::fromSockaddr(sa, static_cast<socklen_t>(len));
    bool allowed = peer && (self->opts_.allow.empty() ||
                            std::any_of(self->opts_.allow.begin(), self->opts_.allow.end(),
                                        [&](const Cidr& c) { return c.matches(*peer); }));
    if (!allowed || self->conns_.size() >= kMaxConnections) {
      LOG_DEBUG("refused connection from %s (%s)", peer ? peer->toString().c_str() : "?",
                allowed ? "too many connections" : "not in --allow");
      ::close(fd);
      return;
    }
    bufferevent* bev = bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
      ::close(fd);
      return;
    }
    self->conns_.emplace(bev, std::make_unique<Conn>(Conn{*peer, {}, false}));
    bufferevent_setcb(bev, &AgentServer::onRead, &AgentServer::onWritten, &AgentServer::onEvent,
                      self);
    bufferevent_setwatermark(bev, EV_READ, 0, kMaxRequestBytes);
    bufferevent_set_timeouts(bev, &kReadTimeout, &kWriteTimeout);
    bufferevent_enable(bev, EV_READ);
  }

  static void onRead(bufferevent* bev, void* arg) {
    auto* self = static_cast<AgentServer*>(arg);
    Conn& c = *self->conns_.at(bev);
    evbuffer* in = bufferevent_get_input(bev);
    size_t eol_len = 0;
    evbuffer_ptr eol = evbuffer_search_eol(in, nullptr, &eol_len, EVBUFFER_EOL_LF);
    if (eol.pos < 0) {
      if (evbuffer_get_length(in) >= kMaxRequestBytes) self->drop(bev, "request too long");
      return;
    }
    std::string line(static_cast<size_t>(eol.pos) + 1, '\0');
    evbuffer_remove(in, line.data(), line.size());
    auto req = parseRequest(line);
    if (!req) return self->drop(bev, req.error().c_str());
    LOG_DEBUG("poll from %s (director %s)", c.peer.toString().c_str(), req->director_id.c_str());
    c.nonce = req->nonce;
    bufferevent_disable(bev, EV_READ);
    if (self->cache_ && Clock::now() - self->cache_time_ < kCacheFor) return self->reply(bev);
    c.waiting = true;
    if (!self->collecting_) {
      self->collecting_ = true;
      self->collector_->request();
    }
  }

  static void onCollected(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<AgentServer*>(arg);
    char buf[64];
    while (::read(fd, buf, sizeof(buf)) > 0) {
    }
    auto [report, warnings] = self->collector_->take();
    if (warnings != self->last_warnings_) {
      for (const auto& w : warnings) LOG_WARN("%s", w.c_str());
      self->last_warnings_ = warnings;
    }
    self->cache_ = std::move(report);
    self->cache_time_ = Clock::now();
    self->collecting_ = false;
    std::vector<bufferevent*> ready;
    for (auto& [bev, c] : self->conns_) {
      if (c->waiting) ready.push_back(bev);
    }
    for (auto* bev : ready) self->reply(bev);
  }

  void reply(bufferevent* bev) {
    Conn& c = *conns_.at(bev);
    c.waiting = false;
    std::string out = encodeReply(key_, c.nonce, *cache_);
    bufferevent_write(bev, out.data(), out.size());
    bufferevent_enable(bev, EV_WRITE);
  }

  // Output drained: the reply is out, this connection is done.
  static void onWritten(bufferevent* bev, void* arg) {
    auto* self = static_cast<AgentServer*>(arg);
    if (!self->conns_.at(bev)->nonce.empty()) self->close(bev);
  }

  static void onEvent(bufferevent* bev, short what, void* arg) {
    auto* self = static_cast<AgentServer*>(arg);
    self->drop(bev, (what & BEV_EVENT_TIMEOUT) ? "timed out"
                    : (what & BEV_EVENT_EOF)   ? "closed early"
                                               : "socket error");
  }

  void drop(bufferevent* bev, const char* why) {
    LOG_DEBUG("dropping connection from %s: %s", conns_.at(bev)->peer.toString().c_str(), why);
    close(bev);
  }

  void close(bufferevent* bev) {
    conns_.erase(bev);
    bufferevent_free(bev);
  }

  event_base* base_;
  Options opts_;
  std::string key_;
  evconnlistener* listener_ = nullptr;
  event* notify_ev_ = nullptr;
  int notify_rd_ = -1;
  int notify_wr_ = -1;
  std::unique_ptr<CollectorThread> collector_;
  std::unordered_map<bufferevent*, std::unique_ptr<Conn>> conns_;
  std::optional<AgentReport> cache_;
  Clock::time_point cache_time_{};
  bool collecting_ = false;
  std::vector<std::string> last_warnings_;
};

void usage(FILE* out) {
  std::fputs(
      "usage: tsdirector-agent --key-file FILE [--listen ADDR:PORT] [--node-name NAME]\n"
      "         [--sessions-command CMD] [--allow ADDR[/PREFIX],...] [--command-timeout MS]\n"
      "         [--tmux-dir DIR] [--log-level debug|info|warn|error]\n"
      "Answers tsdirector polls (default listen 0.0.0.0:7801). See docs/agent.md.\n",
      out);
}

std::optional<Options> parseArgs(int argc, char** argv) {
  Options o;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  o.collector.node_name = std::string(host).substr(0, std::string(host).find('.'));
  if (const char* dir = std::getenv("TMUX_TMPDIR"); dir && *dir) o.collector.tmux_tmpdir = dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) return std::nullopt;
    std::string v = argv[++i];
    if (a == "--listen") {
      o.listen = v;
    } else if (a == "--key-file") {
      o.key_file = v;
    } else if (a == "--node-name") {
      o.collector.node_name = v;
    } else if (a == "--tmux-dir") {
      o.collector.tmux_tmpdir = v;
    } else if (a == "--sessions-command") {
      o.collector.sessions_command = v;
    } else if (a == "--command-timeout") {
      o.collector.command_timeout = std::chrono::milliseconds(std::atoi(v.c_str()));
      if (o.collector.command_timeout.count() <= 0) return std::nullopt;
    } else if (a == "--allow") {
      for (size_t start = 0; start <= v.size();) {
        size_t comma = std::min(v.find(',', start), v.size());
        auto c = Cidr::parse(std::string_view(v).substr(start, comma - start));
        if (!c) return std::nullopt;
        o.allow.push_back(*c);
        start = comma + 1;
      }
    } else if (a == "--log-level") {
      auto level = log::parseLevel(v);
      if (!level) return std::nullopt;
      log::setLevel(*level);
    } else {
      return std::nullopt;
    }
  }
  if (o.key_file.empty() || !validName(o.collector.node_name)) return std::nullopt;
  return o;
}

int run(int argc, char** argv) {
  auto opts = parseArgs(argc, argv);
  if (!opts) {
    usage(stderr);
    return 2;
  }
  auto key = loadKey(opts->key_file);
  if (!key) {
    LOG_ERROR("%s", key.error().c_str());
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<event_base, void (*)(event_base*)> base(event_base_new(), event_base_free);
  if (!base) return 1;
  int rc = 0;
  {
    AgentServer server(base.get(), *opts, std::move(*key));
    if (!server.start()) {
      rc = 1;
    } else {
      auto stop = [](evutil_socket_t sig, short, void* b) {
        LOG_INFO("signal %d, exiting", static_cast<int>(sig));
        event_base_loopexit(static_cast<event_base*>(b), nullptr);
      };
      std::unique_ptr<event, void (*)(event*)> term(
          evsignal_new(base.get(), SIGTERM, stop, base.get()), event_free);
      std::unique_ptr<event, void (*)(event*)> intr(
          evsignal_new(base.get(), SIGINT, stop, base.get()), event_free);
      event_add(term.get(), nullptr);
      event_add(intr.get(), nullptr);
      event_base_dispatch(base.get());
    }
    server.stop();
  }
  return rc;
}

}  // namespace
}  // namespace tsd::health

int main(int argc, char** argv) { return tsd::health::run(argc, argv); }
