// HealthProber against real loopback listeners: banners, silent ports, closed ports,
// cancellation on destruction. Asserts on outcomes only, never on how long anything took.
#include "director/health_prober.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "director/base/unique_fd.h"
#include "director/event_util.h"

namespace tsd::director {
namespace {

using conf::CheckKind;
using std::chrono::milliseconds;

// A loopback listener. With accept_and_send, each accepted connection gets `greeting` and is
// kept open (or closed when close_after); without it, the kernel completes handshakes in the
// backlog and nothing is ever read or written.
struct Listener {
  UniqueFd fd;
  EventPtr ev;
  SockAddr addr;
  std::string greeting;
  bool close_after = false;
  std::vector<UniqueFd> accepted;

  static void onAccept(evutil_socket_t fd, short, void* arg) {
    auto* l = static_cast<Listener*>(arg);
    UniqueFd c(::accept(fd, nullptr, nullptr));
    if (!c.valid()) return;
    if (!l->greeting.empty()) {
      ASSERT_EQ(::write(c.get(), l->greeting.data(), l->greeting.size()),
                static_cast<ssize_t>(l->greeting.size()));
    }
    if (!l->close_after) l->accepted.push_back(std::move(c));
  }
};

struct Outcome {
  bool called = false;
  bool ok = false;
  std::string why;
};

class HealthProberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    ASSERT_NE(base_, nullptr);
    prober_ = std::make_unique<HealthProber>();
  }

  // Returns nullptr when the address family is not available (e.g. no IPv6 loopback).
  std::unique_ptr<Listener> listen(const char* host, bool accept_and_send, std::string greeting,
                                   bool close_after = false) {
    auto l = std::make_unique<Listener>();
    auto addr = SockAddr::parseHost(host, 0);
    if (!addr.ok()) return nullptr;
    l->fd.reset(::socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!l->fd.valid() || ::bind(l->fd.get(), addr->sa(), addr->len()) != 0 ||
        ::listen(l->fd.get(), 128) != 0) {
      return nullptr;
    }
    l->addr = boundAddr(l->fd.get());
    l->greeting = std::move(greeting);
    l->close_after = close_after;
    if (accept_and_send) {
      l->ev.reset(
          event_new(base_.get(), l->fd.get(), EV_READ | EV_PERSIST, &Listener::onAccept, l.get()));
      event_add(l->ev.get(), nullptr);
    }
    return l;
  }

  static SockAddr boundAddr(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
    return *SockAddr::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }

  // A port nobody listens on: bound (so the kernel picked a free one), then released.
  SockAddr closedPort() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    auto addr = SockAddr::parseHost("127.0.0.1", 0);
    EXPECT_EQ(::bind(fd.get(), addr->sa(), addr->len()), 0);
    return boundAddr(fd.get());
  }

  HealthProber::Done record(Outcome* out, int* remaining = nullptr) {
    return [this, out, remaining](bool ok, std::chrono::microseconds latency, std::string why) {
      EXPECT_FALSE(out->called) << "called twice";
      EXPECT_GE(latency.count(), 0);
      *out = Outcome{true, ok, std::move(why)};
      if (remaining == nullptr || --*remaining == 0) event_base_loopbreak(base_.get());
    };
  }

  // Runs the loop until the callbacks break it; a guard stops a hung probe from hanging the
  // suite (the test then fails on "not called", not on time).
  void runLoop() {
    Timer guard(base_.get(), [this] { event_base_loopbreak(base_.get()); });
    guard.arm(std::chrono::seconds(20));
    event_base_loop(base_.get(), 0);
  }

  Outcome probeOnce(const SockAddr& target, CheckKind kind, milliseconds timeout) {
    Outcome out;
    prober_->probe(base_.get(), target, kind, timeout, record(&out));
    runLoop();
    EXPECT_EQ(prober_->inFlight(), 0u);
    return out;
  }

  EventBasePtr base_;  // declared first: destroyed after everything registered on it
  std::unique_ptr<HealthProber> prober_;
};

TEST_F(HealthProberTest, SshBannerIsUp) {
  auto l = listen("127.0.0.1", true, "SSH-2.0-test\r\n");
  ASSERT_NE(l, nullptr);
  const Outcome o = probeOnce(l->addr, CheckKind::kSsh, milliseconds(5000));
  EXPECT_TRUE(o.called);
  EXPECT_TRUE(o.ok) << o.why;
}

TEST_F(HealthProberTest, SshBannerAfterOtherLinesIsUp) {
  auto l = listen("127.0.0.1", true, "Welcome\r\n\r\nnot SSH-\r\nSSH-2.0-test\r\n");
  ASSERT_NE(l, nullptr);
  const Outcome o = probeOnce(l->addr, CheckKind::kSsh, milliseconds(5000));
  EXPECT_TRUE(o.called);
  EXPECT_TRUE(o.ok) << o.why;
}

TEST_F(HealthProberTest, SshAcceptedButSilentIsDown) {
  auto l = listen("127.0.0.1", true, "");
  ASSERT_NE(l, nullptr);
  const Outcome o = probeOnce(l->addr, CheckKind::kSsh, milliseconds(300));
  EXPECT_TRUE(o.called);
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.why.find("timeout"), std::string::npos) << o.why;
  EXPECT_EQ(l->accepted.size(), 1u);  // it really was accepted, then wedged
}

TEST_F(HealthProberTest, SshBacklogOnlyIsDown) {
  auto l = listen("127.0.0.1", false, "");
  ASSERT_NE(l, nullptr);
  const Outcome o = probeOnce(l->addr, CheckKind::kSsh, milliseconds(300));
  EXPECT_TRUE(o.called);
  EXPECT_FALSE(o.ok);
}

TEST_F(HealthProberTest, SshWrongProtocolIsDown) {
  auto l = listen("127.0.0.1", true, "HTTP/1.0 400 Bad Request\r\n\r\n", /*close_after=*/true);
  ASSERT_NE(l, nullptr);
  const Outcome o = probeOnce(l->addr, CheckKind::kSsh, milliseconds(5000));
  EXPECT_TRUE(o.called);
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.why.find("closed"), std::string::npos) << o.why;
}

TEST_F(HealthProberTest, SshEndlessPreambleIsDown) {
  auto l = listen("127.0.0.1", true, std::string(HealthProber::kMaxBannerBytes + 100, 'x'));
  ASSERT_NE(l, nullptr);
  const Outcome o = probeOnce(l->addr, CheckKind::kSsh, milliseconds(5000));
  EXPECT_TRUE(o.called);
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.why.find("no SSH- line"), std::string::npos) << o.why;
}

TEST_F(HealthProberTest, TcpPlainListenerIsUp) {
  auto l = listen("127.0.0.1", false, "");
  ASSERT_NE(l, nullptr);
  const Outcome o = probeOnce(l->addr, CheckKind::kTcp, milliseconds(5000));
  EXPECT_TRUE(o.called);
  EXPECT_TRUE(o.ok) << o.why;
}

TEST_F(HealthProberTest, TcpIpv6LoopbackIsUp) {
  auto l = listen("::1", false, "");
  if (l == nullptr) GTEST_SKIP() << "no IPv6 loopback on this host";
  const Outcome o = probeOnce(l->addr, CheckKind::kTcp, milliseconds(5000));
  EXPECT_TRUE(o.called);
  EXPECT_TRUE(o.ok) << o.why;
}

TEST_F(HealthProberTest, ClosedPortIsDown) {
  for (CheckKind kind : {CheckKind::kTcp, CheckKind::kSsh}) {
    const Outcome o = probeOnce(closedPort(), kind, milliseconds(5000));
    EXPECT_TRUE(o.called);
    EXPECT_FALSE(o.ok);
    EXPECT_NE(o.why.find("connect"), std::string::npos) << o.why;
  }
}

TEST_F(HealthProberTest, NeverCallsBackFromInsideProbe) {
  Outcome refused, unsupported, invalid;
  int remaining = 3;
  prober_->probe(base_.get(), closedPort(), CheckKind::kTcp, milliseconds(5000),
                 record(&refused, &remaining));
  prober_->probe(base_.get(), closedPort(), CheckKind::kAgent, milliseconds(5000),
                 record(&unsupported, &remaining));
  prober_->probe(base_.get(), SockAddr(), CheckKind::kTcp, milliseconds(5000),
                 record(&invalid, &remaining));
  EXPECT_FALSE(refused.called);
  EXPECT_FALSE(unsupported.called);
  EXPECT_FALSE(invalid.called);
  EXPECT_EQ(prober_->inFlight(), 3u);
  runLoop();
  EXPECT_TRUE(refused.called && unsupported.called && invalid.called);
  EXPECT_FALSE(refused.ok || unsupported.ok || invalid.ok);
  EXPECT_NE(unsupported.why.find("not supported"), std::string::npos) << unsupported.why;
}

TEST_F(HealthProberTest, ManyConcurrentProbesAllComplete) {
  auto l = listen("127.0.0.1", false, "");
  ASSERT_NE(l, nullptr);
  constexpr int kProbes = 50;
  std::vector<Outcome> out(kProbes);
  int remaining = kProbes;
  for (Outcome& o : out) {
    prober_->probe(base_.get(), l->addr, CheckKind::kTcp, milliseconds(5000),
                   record(&o, &remaining));
  }
  runLoop();
  for (const Outcome& o : out) {
    EXPECT_TRUE(o.called);
    EXPECT_TRUE(o.ok) << o.why;
  }
  EXPECT_EQ(prober_->inFlight(), 0u);
}

TEST_F(HealthProberTest, DestroyingRightAfterProbeCancelsAll) {
  auto l = listen("127.0.0.1", false, "");  // registers nothing on the loop
  ASSERT_NE(l, nullptr);
  bool called = false;
  auto done = [&called](bool, std::chrono::microseconds, const std::string&) { called = true; };
  prober_->probe(base_.get(), l->addr, CheckKind::kSsh, milliseconds(60000), done);
  prober_->probe(base_.get(), closedPort(), CheckKind::kTcp, milliseconds(60000), done);
  prober_->probe(base_.get(), l->addr, CheckKind::kAgent, milliseconds(60000), done);
  EXPECT_EQ(prober_->inFlight(), 3u);
  prober_.reset();
  // With the prober gone nothing is left on the loop: it returns at once (1 = no events).
  EXPECT_EQ(event_base_loop(base_.get(), 0), 1);
  EXPECT_FALSE(called);
}

TEST_F(HealthProberTest, DestroyingWhileWaitingForBannerCancels) {
  auto l = listen("127.0.0.1", false, "");
  ASSERT_NE(l, nullptr);
  bool called = false;
  prober_->probe(base_.get(), l->addr, CheckKind::kSsh, milliseconds(60000),
                 [&called](bool, std::chrono::microseconds, const std::string&) { called = true; });
  // Let the connect complete so the probe sits on its read event.
  for (int i = 0; i < 5; ++i) event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  EXPECT_EQ(prober_->inFlight(), 1u);
  prober_.reset();
  EXPECT_EQ(event_base_loop(base_.get(), 0), 1);
  EXPECT_FALSE(called);
}

TEST_F(HealthProberTest, CallbackMayDestroyProber) {
  auto l = listen("127.0.0.1", false, "");
  ASSERT_NE(l, nullptr);
  bool called = false;
  prober_->probe(base_.get(), l->addr, CheckKind::kTcp, milliseconds(5000),
                 [&](bool ok, std::chrono::microseconds, const std::string&) {
                   called = ok;
                   prober_.reset();
                   event_base_loopbreak(base_.get());
                 });
  runLoop();
  EXPECT_TRUE(called);
  EXPECT_EQ(prober_, nullptr);
}

TEST_F(HealthProberTest, CallbackMayStartNextProbe) {
  auto l = listen("127.0.0.1", false, "");
  ASSERT_NE(l, nullptr);
  Outcome second;
  prober_->probe(base_.get(), l->addr, CheckKind::kTcp, milliseconds(5000),
                 [&](bool, std::chrono::microseconds, const std::string&) {
                   prober_->probe(base_.get(), l->addr, CheckKind::kTcp, milliseconds(5000),
                                  record(&second));
                 });
  runLoop();
  EXPECT_TRUE(second.called);
  EXPECT_TRUE(second.ok) << second.why;
}

}  // namespace
}  // namespace tsd::director
