// Export and adoption of a user-space pair (the live hand-over's data-plane half) over real
// socket pairs: bytes held because the node does not read survive the move, in order, and the
// counters and half-close continue; a failed hand-over resumes the same forwarder.
#include "director/dataplane/pair_state.h"

#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>

#include "director/base/event_util.h"
#include "director/dataplane/data_path.h"

namespace tsd::director {
namespace {

uint8_t pattern(uint64_t i) { return static_cast<uint8_t>((i * 131 + 7) % 251); }

struct Pair {
  int app = -1;       // the client's (or node's) own end
  int director = -1;  // the end the forwarder holds
};

Pair socketPair() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  return {sv[0], sv[1]};
}

class PairStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    auto dp = DataPath::create(base_.get(), conf::FastPath::kUserspace);
    ASSERT_TRUE(dp.ok());
    dp_ = std::move(dp).value();
    conf::DirectorConfig cfg;
    cfg.buffer_size = 64 * 1024;
    dp_->configure(cfg);
    client_ = socketPair();
    node_ = socketPair();
  }
  void TearDown() override {
    for (int fd : {client_.app, client_.director, node_.app, node_.director}) close(fd);
  }

  // Writes the pattern from the client until its socket is full; returns how much.
  uint64_t fillFromClient() {
    std::string buf(64 * 1024, '\0');
    for (;;) {
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>(pattern(written_ + i));
      ssize_t w = send(client_.app, buf.data(), buf.size(), MSG_NOSIGNAL);
      if (w <= 0) return written_;
      written_ += static_cast<uint64_t>(w);
    }
  }
  // Runs the loop until it has nothing more to do (bounded: no timing involved).
  void settle() {
    for (int i = 0; i < 200; ++i) event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }
  // The node reads everything available, checking the pattern.
  void nodeReads() {
    char buf[65536];
    for (;;) {
      ssize_t n = read(node_.app, buf, sizeof buf);
      if (n <= 0) return;
      for (ssize_t i = 0; i < n; ++i) {
        ASSERT_EQ(static_cast<uint8_t>(buf[i]), pattern(received_ + i)) << received_ + i;
      }
      received_ += static_cast<uint64_t>(n);
    }
  }
  Forwarder::Done done() {
    return [this](ForwardEnd e, const ForwardStats&, const HalfState&) { end_ = e; };
  }

  EventBasePtr base_;
  std::unique_ptr<DataPath> dp_;
  Pair client_, node_;
  uint64_t written_ = 0, received_ = 0;
  std::optional<ForwardEnd> end_;
  bool kernel_ = false;
};

TEST_F(PairStateTest, HeldBytesAndHalfCloseSurviveTheMove) {
  std::unique_ptr<Forwarder> f;
  f = dp_->start(client_.director, node_.director, done(), &f, &kernel_);
  ASSERT_FALSE(kernel_);
  // The node does not read: the forwarder ends up holding bytes it read from the client.
  for (int round = 0; round < 4; ++round) {
    fillFromClient();
    settle();
  }
  ASSERT_TRUE(exportReady(*f));
  PairState s = exportPair(*f);
  EXPECT_GT(s.dirs[0].pending.size(), 0u);
  EXPECT_EQ(s.dirs[0].read, s.dirs[0].written + s.dirs[0].pending.size());
  EXPECT_FALSE(s.dirs[0].eof);
  uint64_t written_before = s.dirs[0].written;
  f.reset();  // the old process lets go; the fds stay open

  auto g = adoptPair(*dp_, client_.director, node_.director, s, done());
  EXPECT_EQ(g->stats().up, written_before);  // the counters continue
  shutdown(client_.app, SHUT_WR);
  for (int i = 0; i < 1000 && received_ < written_; ++i) {
    settle();
    nodeReads();
  }
  EXPECT_EQ(received_, written_);
  EXPECT_EQ(g->stats().up, written_);
  settle();
  char c;
  EXPECT_EQ(read(node_.app, &c, 1), 0);  // the client's FIN came through after the bytes
  shutdown(node_.app, SHUT_WR);
  settle();
  EXPECT_EQ(read(client_.app, &c, 1), 0);
  ASSERT_TRUE(end_.has_value());
  EXPECT_EQ(*end_, ForwardEnd::kClosed);
}

TEST_F(PairStateTest, AFailedHandOverResumesWhereItStopped) {
  std::unique_ptr<Forwarder> f;
  f = dp_->start(client_.director, node_.director, done(), &f, &kernel_);
  fillFromClient();
  settle();
  PairState s = exportPair(*f);
  // Stopped: nothing moves while the state is out.
  uint64_t before = f->stats().up;
  nodeReads();
  settle();
  EXPECT_EQ(f->stats().up, before);
  resumePair(*f);
  for (int i = 0; i < 1000 && received_ < written_; ++i) {
    settle();
    nodeReads();
  }
  EXPECT_EQ(received_, written_);
  EXPECT_FALSE(end_.has_value());
}

TEST_F(PairStateTest, AnAdoptedPairWhoseDirectionsEndedFinishesFromTheLoop) {
  PairState s;
  s.dirs[0] = {10, 10, true, true, ""};
  s.dirs[1] = {20, 23, true, false, "abc"};  // FIN read, three bytes still to write
  auto g = adoptPair(*dp_, client_.director, node_.director, s, done());
  EXPECT_FALSE(end_.has_value());  // never from inside adoptPair
  settle();
  char buf[8];
  EXPECT_EQ(read(client_.app, buf, sizeof buf), 3);
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_EQ(read(client_.app, buf, sizeof buf), 0);
  ASSERT_TRUE(end_.has_value());
  EXPECT_EQ(*end_, ForwardEnd::kClosed);
  EXPECT_EQ(g->stats().down, 23u);
}

}  // namespace
}  // namespace tsd::director
