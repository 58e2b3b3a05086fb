// The agent's server: polls are read, checked and answered on the event loop from the latest
// snapshot; collections run on their own thread and only hand over a finished snapshot.
#include "healthcheck/agent/agent_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "conf/log.h"

namespace tsd::health {
namespace {

constexpr timeval kReadTimeout{2, 0};  // whole request line within this
constexpr timeval kWriteTimeout{5, 0};
constexpr size_t kMaxConnections = 256;
constexpr auto kMaxPause = std::chrono::minutes(1);

uint64_t ageMs(const Snapshot& s) {
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(AgentClock::now() - s.taken);
  return static_cast<uint64_t>(std::max<int64_t>(0, age.count()));
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view s) {
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

bool Cidr::matches(const SockAddr& peer) const {
  std::string want = addr.addressBytes();
  std::string got = peer.addressBytes();  // v4-mapped peers come back as 4 bytes
  return want.size() == got.size() && maskPrefix(want, prefix) == maskPrefix(got, prefix);
}

std::chrono::milliseconds nextCollectDelay(std::chrono::milliseconds interval,
                                           std::chrono::milliseconds took,
                                           std::chrono::milliseconds max_pause) {
  if (took < interval) return interval - took;
  return std::min(took, max_pause);
}

std::chrono::milliseconds nextRefreshDelay(std::chrono::milliseconds took) {
  return std::max(kConnectionRefresh, took * 10);
}

CollectorThread::CollectorThread(CollectorOptions o, std::chrono::milliseconds interval,
                                 int notify_fd)
    : collector_(std::move(o)),
      interval_(interval),
      notify_fd_(notify_fd),
      thread_([this] { run(); }) {}

CollectorThread::~CollectorThread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();  // a collection in progress ends within --command-timeout per command
}

std::shared_ptr<const Snapshot> CollectorThread::latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

uint64_t CollectorThread::collections() const {
  std::lock_guard lock(mu_);
  return collections_;
}

uint64_t CollectorThread::refreshes() const {
  std::lock_guard lock(mu_);
  return refreshes_;
}

void CollectorThread::refreshUntil(std::unique_lock<std::mutex>& lock,
                                   AgentClock::time_point until) {
  auto every = kConnectionRefresh;
  while (!stop_) {
    if (AgentClock::now() + every >= until) {
      cv_.wait_until(lock, until, [this] { return stop_; });
      return;
    }
    if (cv_.wait_for(lock, every, [this] { return stop_; })) return;
    AgentReport report = latest_->report;  // only this thread replaces latest_
    lock.unlock();
    auto start = AgentClock::now();
    collector_.refreshLogins(report);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(AgentClock::now() - start);
    lock.lock();
    // The snapshot keeps its collection's time (taken): the figures, tmux, X2Go and command
    // sessions are that old; only the sshd logins (sessions and connections) are newer.
    auto snap = std::make_shared<Snapshot>(*latest_);
    snap->report = std::move(report);
    latest_ = std::move(snap);
    ++refreshes_;
    every = nextRefreshDelay(took);
  }
}

void CollectorThread::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto start = AgentClock::now();
    auto snap = std::make_shared<Snapshot>();
    snap->report = collector_.collect();
    snap->report.warnings = collector_.warnings();
    snap->taken = start;
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(AgentClock::now() - start);
    lock.lock();
    latest_ = std::move(snap);
    ++collections_;
    char one = 1;
    (void)!::write(notify_fd_, &one, 1);
    auto pause = nextCollectDelay(interval_, took, kMaxPause);
    if (took >= interval_) {
      LOG_DEBUG("collection took %lldms (interval %lldms): next in %lldms",
                static_cast<long long>(took.count()), static_cast<long long>(interval_.count()),
                static_cast<long long>(pause.count()));
    }
    refreshUntil(lock, AgentClock::now() + pause);
  }
}

AgentServer::AgentServer(event_base* base, AgentServerOptions o, std::string key)
    : base_(base), opts_(std::move(o)), key_(std::move(key)) {}

AgentServer::~AgentServer() {
  stop();
  for (auto& [bev, c] : conns_) bufferevent_free(bev);
  if (listener_) evconnlistener_free(listener_);
}

bool AgentServer::start() {
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
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(evconnlistener_get_fd(listener_), reinterpret_cast<sockaddr*>(&ss), &len);
  bound_ = SockAddr::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).value_or(*addr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  notify_rd_ = fds[0];
  notify_wr_ = fds[1];
  notify_ev_ = event_new(base_, notify_rd_, EV_READ | EV_PERSIST, &AgentServer::onCollected, this);
  event_add(notify_ev_, nullptr);
  collector_ =
      std::make_unique<CollectorThread>(opts_.collector, opts_.collect_interval, notify_wr_);
  LOG_INFO("listening on %s as node %s, collecting every %lldms", bound_.toString().c_str(),
           opts_.collector.node_name.c_str(),
           static_cast<long long>(opts_.collect_interval.count()));
  return true;
}

void AgentServer::stop() {
  collector_.reset();  // joins the thread
  if (notify_ev_) event_free(notify_ev_);
  notify_ev_ = nullptr;
  for (int* fd : {&notify_rd_, &notify_wr_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void AgentServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* arg) {
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

void AgentServer::onRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<AgentServer*>(arg);
  Conn& c = *self->conns_.at(bev);
  evbuffer* in = bufferevent_get_input(bev);
  if (!c.nonce.empty()) {  // one request per connection: anything after it is ignored
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
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
  if (auto snap = self->collector_->latest()) {
    bufferevent_disable(bev, EV_READ);
    return self->reply(bev, *snap);
  }
  // The first collection is still running; it answers this poll. Reading stays on, so a
  // poller that gives up (EOF) or the read timeout frees the connection meanwhile.
  c.waiting = true;
}

void AgentServer::onCollected(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<AgentServer*>(arg);
  char buf[64];
  while (::read(fd, buf, sizeof(buf)) > 0) {
  }
  auto snap = self->collector_->latest();
  if (!snap) return;
  const auto& warnings = snap->report.warnings;
  if (warnings != self->last_warnings_) {
    for (const auto& w : warnings) LOG_WARN("%s", w.c_str());
    if (warnings.empty()) LOG_INFO("collection is clean again");
    self->last_warnings_ = warnings;
  }
  std::vector<bufferevent*> ready;
  for (auto& [bev, c] : self->conns_) {
    if (c->waiting) ready.push_back(bev);
  }
  for (auto* bev : ready) self->reply(bev, *snap);
}

void AgentServer::reply(bufferevent* bev, const Snapshot& snap) {
  Conn& c = *conns_.at(bev);
  c.waiting = false;
  bufferevent_disable(bev, EV_READ);
  AgentReport r = snap.report;
  r.age_ms = ageMs(snap);
  std::string out = encodeReply(key_, c.nonce, r);
  bufferevent_write(bev, out.data(), out.size());
  bufferevent_enable(bev, EV_WRITE);
}

// Output drained: the reply is out, this connection is done.
void AgentServer::onWritten(bufferevent* bev, void* arg) {
  auto* self = static_cast<AgentServer*>(arg);
  if (!self->conns_.at(bev)->nonce.empty()) self->close(bev);
}

void AgentServer::onEvent(bufferevent* bev, short what, void* arg) {
  auto* self = static_cast<AgentServer*>(arg);
  self->drop(bev, (what & BEV_EVENT_TIMEOUT) ? "timed out"
                  : (what & BEV_EVENT_EOF)   ? "closed early"
                                             : "socket error");
}

void AgentServer::drop(bufferevent* bev, const char* why) {
  LOG_DEBUG("dropping connection from %s: %s", conns_.at(bev)->peer.toString().c_str(), why);
  close(bev);
}

void AgentServer::close(bufferevent* bev) {
  conns_.erase(bev);
  bufferevent_free(bev);
}

}  // namespace tsd::health
