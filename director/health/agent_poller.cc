// Agent polls as small state machines on raw non-blocking sockets: connect, write the request
// line, read to EOF with a cap, verify. One timer bounds the whole exchange, so a hanging agent
// costs a socket and a timer, never the event loop.
#include "director/health/agent_poller.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include "director/base/event_util.h"
#include "director/base/socket_ops.h"
#include "director/base/unique_fd.h"

namespace tsd::director {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string errnoText(const char* what, const SockAddr& to, int err) {
  return std::string(what) + " " + to.toString() + ": " + strerror(err);
}

}  // namespace

struct AgentPoller::Poll {
  AgentPoller* owner = nullptr;
  SockAddr agent;
  UniqueFd fd;  // declared before the events: they are freed first
  EventPtr wev;
  EventPtr rev;
  EventPtr timer;
  std::string key;
  std::string expected_node;
  std::string nonce;
  std::string request;
  size_t sent = 0;
  bool connected = false;
  std::string reply;
  std::optional<std::string> early_error;  // delivered from the loop, never inside poll()
  Duration timeout{};
  Done done;
  SteadyClock::time_point start;
};

AgentPoller::AgentPoller(std::string director_id) : director_id_(std::move(director_id)) {}

AgentPoller::~AgentPoller() = default;

void AgentPoller::poll(event_base* base, const SockAddr& agent, std::string key, Duration timeout,
                       Done done, std::string expected_node) {
  auto owned = std::make_unique<Poll>();
  Poll* p = owned.get();
  polls_.emplace(p, std::move(owned));
  p->owner = this;
  p->agent = agent;
  p->key = std::move(key);
  p->expected_node = std::move(expected_node);
  p->nonce = health::makeNonce();
  p->request = health::encodeRequest(p->nonce, director_id_);
  p->timeout = timeout;
  p->done = std::move(done);
  p->start = SteadyClock::now();
  p->timer.reset(evtimer_new(base, &AgentPoller::onTimer, p));
  ConnectStart c = connectNonBlocking(agent);
  if (!c.fd.valid()) p->early_error = "agent " + agent.toString() + ": " + c.error;
  p->fd = std::move(c.fd);
  if (p->early_error) {
    event_active(p->timer.get(), EV_TIMEOUT, 0);
    return;
  }
  p->wev.reset(event_new(base, p->fd.get(), EV_WRITE, &AgentPoller::onWritable, p));
  p->rev.reset(event_new(base, p->fd.get(), EV_READ | EV_PERSIST, &AgentPoller::onReadable, p));
  event_add(p->wev.get(), nullptr);
  timeval tv = toTimeval(timeout);
  evtimer_add(p->timer.get(), &tv);
}

void AgentPoller::onTimer(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<Poll*>(arg);
  if (p->early_error) return p->owner->fail(*p, PollError::kUnreachable, *p->early_error);
  p->owner->fail(*p, PollError::kTimeout,
                 "no reply from " + p->agent.toString() + " within " +
                     std::to_string(p->timeout.count()) + "ms (timed out)");
}

void AgentPoller::onWritable(evutil_socket_t fd, short, void* arg) {
  auto* p = static_cast<Poll*>(arg);
  if (!p->connected) {
    int err = takeSocketError(fd);
    if (err != 0) {
      return p->owner->fail(*p, PollError::kUnreachable, errnoText("connect to", p->agent, err));
    }
    p->connected = true;
  }
  p->owner->sendRequest(*p);
}

void AgentPoller::sendRequest(Poll& p) {
  while (p.sent < p.request.size()) {
    ssize_t n =
        ::send(p.fd.get(), p.request.data() + p.sent, p.request.size() - p.sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      event_add(p.wev.get(), nullptr);
      return;
    }
    if (n < 0) return fail(p, PollError::kUnreachable, errnoText("send to", p.agent, errno));
    p.sent += static_cast<size_t>(n);
  }
  event_add(p.rev.get(), nullptr);
}

void AgentPoller::onReadable(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<Poll*>(arg);
  p->owner->readReply(*p);
}

void AgentPoller::readReply(Poll& p) {
  char buf[16384];
  while (true) {
    // Read at most one byte past the cap: enough to know the reply is oversized.
    size_t room = health::kMaxReplyBytes + 1 - p.reply.size();
    ssize_t n = ::read(p.fd.get(), buf, std::min(room, sizeof(buf)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) return fail(p, PollError::kUnreachable, errnoText("read from", p.agent, errno));
    if (n == 0) break;
    p.reply.append(buf, static_cast<size_t>(n));
    if (p.reply.size() > health::kMaxReplyBytes) {
      return fail(p, PollError::kRejected, "oversized reply");
    }
  }
  if (p.reply.empty()) {
    return fail(p, PollError::kUnreachable,
                "agent " + p.agent.toString() + " closed the connection without a reply");
  }
  auto report = health::verifyAndParseReply(p.key, p.nonce, p.reply);
  if (!report) return fail(p, PollError::kRejected, report.error());
  if (!p.expected_node.empty() && report->node != p.expected_node) {
    return fail(p, PollError::kWrongNode,
                "agent " + p.agent.toString() + " reports node '" + report->node +
                    "', polled as node '" + p.expected_node + "'");
  }
  finish(p, PollResult(std::move(report).value()));
}

void AgentPoller::fail(Poll& p, PollError kind, std::string error) {
  finish(p, PollResult(kind, std::move(error)));
}

void AgentPoller::finish(Poll& p, PollResult result) {
  auto latency =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - p.start);
  Done done = std::move(p.done);
  polls_.erase(&p);  // closes the socket and frees the events
  // Last: the callback may start new polls or even destroy this poller.
  done(std::move(result), latency);
}

}  // namespace tsd::director
