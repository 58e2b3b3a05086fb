// The per-connection state machine: [peek SNI] -> decide -> connect (retry) -> forward -> done.
#include "director/connection.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "conf/log.h"
#include "director/node_table.h"
#include "sticky/client_hello.h"

namespace tsd::director {

std::string_view toString(Reason r) {
  switch (r) {
    case Reason::kManual:
      return "manual";
    case Reason::kSession:
      return "session";
    case Reason::kSticky:
      return "sticky";
    case Reason::kScheduler:
      return "scheduler";
    case Reason::kFallback:
      return "fallback";
  }
  return "?";
}

Connection::Connection(ConnectionHost& host, std::string service, UniqueFd client,
                       const SockAddr& peer, NodeRuntime* manual_node)
    : host_(host),
      service_(std::move(service)),
      client_(std::move(client)),
      peer_(peer),
      manual_node_(manual_node) {}

Connection::~Connection() = default;

ForwardStats Connection::stats() const {
  ForwardStats s = before_demotion_;
  if (forwarder_) {
    ForwardStats f = forwarder_->stats();
    s.up += f.up;
    s.down += f.down;
  }
  return s;
}

void Connection::start() {
  const conf::Config& cfg = host_.config();
  const conf::ServiceConfig* svc = cfg.findService(service_);
  conf::StickyKey key = svc != nullptr ? svc->sticky_key : conf::StickyKey::kSrc;
  if (manual_node_ == nullptr && key == conf::StickyKey::kSni) {
    hello_deadline_ = std::chrono::steady_clock::now() + cfg.director.connect_timeout;
    ev_.reset(event_new(host_.base(), client_.get(), EV_READ | EV_PERSIST,
                        &Connection::onSniReadable, this));
    timeval tv = toTimeval(cfg.director.connect_timeout);
    event_add(ev_.get(), &tv);
    return;
  }
  if (key == conf::StickyKey::kSrc) {
    identity_ = sticky::identityFromAddress(peer_, cfg.sticky.ipv4_prefix, cfg.sticky.ipv6_prefix);
  }
  decideAndConnect();
}

void Connection::onSniReadable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (what & EV_TIMEOUT) return self->refuse(Refusal::kHelloTimeout);
  self->peekHello();
}

void Connection::peekHello() {
  // Only MSG_PEEK: the hello must reach the node untouched, and nothing may be consumed
  // before a fast-path hand-off.
  char buf[sticky::kMaxClientHello];
  ssize_t n = ::recv(client_.get(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return refuse(Refusal::kBadHello);
  sticky::SniResult r = sticky::parseClientHelloSni(std::string_view(buf, n));
  if (r.status == sticky::SniStatus::kNeedMore) {
    if (static_cast<size_t>(n) >= sizeof buf) return refuse(Refusal::kBadHello);
    if (std::chrono::steady_clock::now() >= hello_deadline_) {
      return refuse(Refusal::kHelloTimeout);
    }
    // The bytes stay queued, so the socket stays readable: wait a little instead of spinning.
    event_del(ev_.get());
    ev_.reset(evtimer_new(
        host_.base(),
        [](evutil_socket_t, short, void* a) { static_cast<Connection*>(a)->peekHello(); }, this));
    timeval tv{0, 20000};
    evtimer_add(ev_.get(), &tv);
    return;
  }
  if (r.status == sticky::SniStatus::kMalformed) return refuse(Refusal::kBadHello);
  ev_.reset();
  if (r.status == sticky::SniStatus::kFound) {
    sni_ = r.name;
    identity_ = sticky::identityFromSni(r.name);
  }
  decideAndConnect();
}

void Connection::decideAndConnect() {
  const conf::Config& cfg = host_.config();
  while (static_cast<int>(tried_.size()) < cfg.director.connect_attempts) {
    Decision d = host_.decide(*this, tried_);
    if (d.node == nullptr) break;
    tried_.push_back(d.node->id);
    std::string why;
    node_ = d.node;
    reason_ = d.reason;
    Start st = startConnect(*d.node, &why);
    if (st == Start::kStarted) return;
    host_.connectFailed(*this, *d.node, why, st == Start::kNodeFailed);
    node_ = nullptr;
    if (st == Start::kLocalError) break;  // another node would fail the same way
  }
  refuse(tried_.empty() ? (manual_node_ ? Refusal::kManualDown : Refusal::kNoNode)
                        : Refusal::kConnectFailed);
}

Connection::Start Connection::startConnect(NodeRuntime& node, std::string* why) {
  const conf::Config& cfg = host_.config();
  const conf::ServiceConfig* svc = cfg.findService(service_);
  if (svc == nullptr) {
    *why = "service gone";
    return Start::kLocalError;
  }
  SockAddr target = node.cfg.addressFor(*svc);
  UniqueFd fd(::socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    *why = std::string("socket: ") + strerror(errno);
    return Start::kLocalError;
  }
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cfg.director.transparent && peer_.family() == target.family()) {
    // Nodes see the real client address; needs CAP_NET_ADMIN and routing back via us.
    int level = target.isV4() ? SOL_IP : SOL_IPV6;
    int opt = target.isV4() ? IP_TRANSPARENT : IPV6_TRANSPARENT;
    setsockopt(fd.get(), level, opt, &one, sizeof one);
    setsockopt(fd.get(), SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    SockAddr src = peer_;
    src.setPort(0);
    if (::bind(fd.get(), src.sa(), src.len()) < 0) {
      *why = std::string("transparent bind to ") + src.hostString() + ": " + strerror(errno);
      return Start::kLocalError;
    }
  }
  if (::connect(fd.get(), target.sa(), target.len()) < 0 && errno != EINPROGRESS) {
    *why = std::string("connect ") + target.toString() + ": " + strerror(errno);
    bool local = errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM ||
                 errno == EADDRNOTAVAIL;
    return local ? Start::kLocalError : Start::kNodeFailed;
  }
  upstream_ = std::move(fd);
  ev_.reset(event_new(host_.base(), upstream_.get(), EV_WRITE, &Connection::onConnectEvent, this));
  timeval tv = toTimeval(cfg.director.connect_timeout);
  event_add(ev_.get(), &tv);
  return Start::kStarted;
}

void Connection::onConnectEvent(evutil_socket_t fd, short what, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (what & EV_TIMEOUT) return self->connectDone(false, "connect timeout");
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  self->connectDone(err == 0, err == 0 ? "" : std::string("connect: ") + strerror(err));
}

void Connection::connectDone(bool ok, const std::string& why) {
  ev_.reset();
  if (!ok) {
    upstream_.reset();
    NodeRuntime* failed = node_;
    node_ = nullptr;
    host_.connectFailed(*this, *failed, why, true);
    return decideAndConnect();
  }
  forwarder_ = host_.connected(*this, makeDone());
  if (!forwarder_) return refuse(Refusal::kConnectFailed);
}

Forwarder::Done Connection::makeDone() {
  return [this](ForwardEnd end, const ForwardStats& st, const HalfState& hs) {
    forwardDone(end, st, hs);
  };
}

void Connection::forwardDone(ForwardEnd end, const ForwardStats& st, const HalfState& hs) {
  ForwardStats total = before_demotion_;
  if (end == ForwardEnd::kDemote && !demoted_) {
    // One-way demotion: the kernel path is never used again for this pair.
    demoted_ = true;
    before_demotion_ = st;
    retired_ = std::move(forwarder_);
    forwarder_ = host_.demoted(*this, hs, makeDone());
    if (forwarder_) return;
    end = ForwardEnd::kReset;
    total = st;
  } else {
    total.up += st.up;
    total.down += st.down;
  }
  done_ = true;
  if (forwarder_) retired_ = std::move(forwarder_);  // we are inside its callback: free it later
  host_.finished(*this, end, total);
}

void Connection::refuse(Refusal why) {
  if (done_) return;
  done_ = true;
  ev_.reset();
  upstream_.reset();
  host_.refused(*this, why);  // the host closes the client: a plain FIN, no half-open socket
}

void Connection::abort() {
  if (done_) return;
  if (forwarder_) return forwarder_->abort();
  refuse(Refusal::kConnectFailed);
}

}  // namespace tsd::director
