// The listener against real loopback sockets: what every accepted client socket is given.
#include "director/dataplane/listener.h"

#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>

namespace tsd::director {
namespace {

// 127.0.0.1, port 0 (any free one).
sockaddr_in loopbackAnyPort() {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sin;
}

int noDelay(int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  return v;
}

// One connection to `listen_fd` through a Listener; returns the accepted socket's TCP_NODELAY.
int acceptedNoDelay(UniqueFd listen_fd) {
  sockaddr_in sin{};
  socklen_t len = sizeof sin;
  EXPECT_EQ(getsockname(listen_fd.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  auto addr = SockAddr::fromSockaddr(reinterpret_cast<sockaddr*>(&sin), len);
  EXPECT_TRUE(addr.has_value());
  event_base* base = event_base_new();
  std::optional<int> seen;
  {
    Listener l(base, *addr, std::move(listen_fd),
               [&](UniqueFd fd, const SockAddr&) { seen = noDelay(fd.get()); });
    UniqueFd client(socket(AF_INET, SOCK_STREAM, 0));
    EXPECT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!seen && std::chrono::steady_clock::now() < deadline) {
      timeval tv{0, 20000};
      event_base_loopexit(base, &tv);
      event_base_loop(base, EVLOOP_ONCE);
    }
  }
  event_base_free(base);
  EXPECT_TRUE(seen.has_value()) << "nothing accepted";
  return seen.value_or(-1);
}

TEST(ListenerTest, AcceptedClientSocketsHaveNoNagle) {
  sockaddr_in sin = loopbackAnyPort();
  auto addr = SockAddr::fromSockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  ASSERT_TRUE(addr.has_value());
  auto fd = Listener::bindSocket(*addr);
  ASSERT_TRUE(fd.ok()) << fd.error();
  EXPECT_EQ(acceptedNoDelay(std::move(fd).value()), 1);
}

// A listening socket made elsewhere (an older process's, adopted in a live hand-over).
TEST(ListenerTest, AnAdoptedListeningSocketGetsNoNagleToo) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  sockaddr_in sin = loopbackAnyPort();
  ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(listen(fd.get(), 16), 0);
  ASSERT_EQ(noDelay(fd.get()), 0);
  EXPECT_EQ(acceptedNoDelay(std::move(fd)), 1);
}

}  // namespace
}  // namespace tsd::director
