// The per-connection state machine: [peek SNI] -> reserve a node -> connect (retry) ->
// forward -> closed. Every step that needs a decision asks the host; nothing is counted here.
#include "director/dataplane/connection.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "director/base/socket_ops.h"
#include "sticky/client_hello.h"

namespace tsd::director {

Connection::Connection(ConnectionHost& host, const ConnectionParams& params, UniqueFd client,
                       const SockAddr& peer)
    : host_(host), params_(params), client_(std::move(client)), peer_(peer) {
  started_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
}

Connection::~Connection() = default;

NodeId Connection::node() const {
  if (attempts_.empty()) return kNoId;
  const Attempt& a = attempts_.back();
  bool holds = a.outcome == Attempt::Outcome::kPending || a.outcome == Attempt::Outcome::kConnected;
  return holds ? a.node : kNoId;
}

std::optional<Reason> Connection::reason() const {
  if (attempts_.empty()) return std::nullopt;
  return attempts_.back().reason;
}

ForwardStats Connection::stats() const {
  return forwarding() ? forwarder_->stats() : ForwardStats{};
}

const std::string& Connection::sni() const {
  static const std::string kNone;
  return hello_ ? hello_->sni : kNone;
}

void Connection::start() {
  if (params_.manual == kNoId && params_.sticky_key == conf::StickyKey::kSni) {
    hello_ = std::make_unique<Hello>();
    hello_->deadline = std::chrono::steady_clock::now() + params_.connect_timeout;
    ev_.reset(event_new(host_.base(), client_.get(), EV_READ | EV_PERSIST,
                        &Connection::onSniReadable, this));
    timeval tv = toTimeval(params_.connect_timeout);
    event_add(ev_.get(), &tv);
    return;
  }
  if (params_.sticky_key == conf::StickyKey::kSrc) {
    identity_ = sticky::identityFromAddress(peer_, params_.ipv4_prefix, params_.ipv6_prefix);
  }
  connectNext();
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
    if (std::chrono::steady_clock::now() >= hello_->deadline) {
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
    hello_->sni = r.name;
    identity_ = sticky::identityFromSni(r.name);
  }
  connectNext();
}

void Connection::connectNext() {
  while (static_cast<int>(attempts_.size()) < params_.connect_attempts) {
    std::optional<Route> r = host_.reserve(*this);
    if (!r) break;
    attempts_.push(
        {r->node, r->reason, Attempt::Outcome::kPending, r->ambiguous, r->sticky_replaced},
        params_.connect_attempts);
    std::string why;
    if (startAttempt(*r, &why)) return;
    host_.attemptFailed(*this, why);
    // A local error (out of descriptors) would fail the same way on another node.
    if (attempts_.back().outcome == Attempt::Outcome::kLocalError) break;
  }
  refuse(attempts_.empty() ? (params_.manual != kNoId ? Refusal::kManualDown : Refusal::kNoNode)
                           : Refusal::kConnectFailed);
}

bool Connection::startAttempt(const Route& r, std::string* why) {
  ConnectOptions opts;
  opts.no_delay = true;
  if (params_.transparent) opts.transparent_source = peer_;
  ConnectStart c = connectNonBlocking(r.target, opts);
  if (!c.fd.valid()) {
    attempts_.back().outcome =
        c.local ? Attempt::Outcome::kLocalError : Attempt::Outcome::kNodeFailed;
    *why = std::move(c.error);
    return false;
  }
  upstream_ = std::move(c.fd);
  ev_.reset(event_new(host_.base(), upstream_.get(), EV_WRITE, &Connection::onConnectEvent, this));
  timeval tv = toTimeval(params_.connect_timeout);
  event_add(ev_.get(), &tv);
  return true;
}

void Connection::onConnectEvent(evutil_socket_t fd, short what, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (what & EV_TIMEOUT) return self->attemptDone(false, "connect timeout");
  int err = takeSocketError(fd);
  self->attemptDone(err == 0, err == 0 ? "" : std::string("connect: ") + strerror(err));
}

void Connection::attemptDone(bool ok, const std::string& why) {
  ev_.reset();
  if (!ok) {
    upstream_.reset();
    attempts_.back().outcome = Attempt::Outcome::kNodeFailed;
    host_.attemptFailed(*this, why);
    return connectNext();
  }
  attempts_.back().outcome = Attempt::Outcome::kConnected;
  forwarder_ = host_.forward(*this, makeDone());
  if (!forwarder_) return refuse(Refusal::kConnectFailed);
}

void Connection::adoptForwarding(UniqueFd node_fd, sticky::Identity id, std::string sni,
                                 Attempt last, const MakeForwarder& make) {
  upstream_ = std::move(node_fd);
  identity_ = std::move(id);
  if (!sni.empty()) {
    hello_ = std::make_unique<Hello>();
    hello_->sni = std::move(sni);
  }
  attempts_.assignOne(last);
  forwarder_ = make(makeDone());
}

Forwarder::Done Connection::makeDone() {
  return [this](ForwardEnd end, const ForwardStats& st, const HalfState&) { forwardDone(end, st); };
}

void Connection::forwardDone(ForwardEnd end, const ForwardStats& st) {
  done_ = true;  // we are inside the forwarder's callback: it is freed with us
  host_.closed(*this, ConnectionEnd{std::nullopt, end, st});
}

void Connection::refuse(Refusal why) {
  if (done_) return;
  done_ = true;
  ev_.reset();
  upstream_.reset();
  host_.closed(*this, ConnectionEnd{why, ForwardEnd::kClosed, {}});  // the host closes the client
}

void Connection::abort() {
  if (done_) return;
  if (forwarder_) return forwarder_->abort();
  refuse(Refusal::kConnectFailed);
}

}  // namespace tsd::director
