// A small in-test agent for the health tests: a thread with blocking sockets on
// 127.0.0.1:<ephemeral> that reads each connection's request line and answers as its script
// says, until destroyed. A line that is not a valid request is closed without a reply.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <string>
#include <thread>

#include "conf/sock_addr.h"
#include "healthcheck/agent_protocol.h"

namespace tsd::director::healthtest {

// What the agent does with one valid request.
struct Answer {
  std::string bytes;  // sent as is (empty: nothing)
  bool hold = false;  // then keep reading until the peer closes or the agent is destroyed
};
using Script = std::function<Answer(const health::AgentRequest&)>;

// Answers every poll with `report`, signed with `key`.
inline Script replyWith(std::string key, health::AgentReport report) {
  return [key = std::move(key), report = std::move(report)](const health::AgentRequest& req) {
    return Answer{health::encodeReply(key, req.nonce, report)};
  };
}

// Reads the request, then answers nothing until the poller gives up.
inline Script hang() {
  return [](const health::AgentRequest&) { return Answer{{}, true}; };
}

class LoopbackAgent {
 public:
  explicit LoopbackAgent(Script script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    addr_ = *SockAddr::fromSockaddr(reinterpret_cast<sockaddr*>(&a), len);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackAgent() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
  }
  LoopbackAgent(const LoopbackAgent&) = delete;
  LoopbackAgent& operator=(const LoopbackAgent&) = delete;

  const SockAddr& addr() const { return addr_; }
  int port() const { return addr_.port(); }
  int served() const { return served_; }  // connections handled and closed

 private:
  void serve() {
    while (true) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      handle(c);
      ::close(c);
      ++served_;
    }
  }
  void handle(int c) {
    // Short read timeouts throughout, so a destroyed agent stops even if its peer never
    // writes (a poller whose loop ended between connect and request) nor closes.
    timeval tv{0, 200000};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    auto retry = [] { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; };
    std::string line;
    char ch;
    while (line.size() < health::kMaxRequestBytes && !stop_) {
      ssize_t n = ::read(c, &ch, 1);
      if (n == 1) {
        line.push_back(ch);
        if (ch == '\n') break;
      } else if (n == 0 || !retry()) {
        break;
      }
    }
    auto req = health::parseRequest(line);
    if (!req.ok()) return;
    Answer a = script_(*req);
    if (!a.bytes.empty()) ::send(c, a.bytes.data(), a.bytes.size(), MSG_NOSIGNAL);
    if (!a.hold) return;
    while (!stop_) {
      ssize_t n = ::read(c, &ch, 1);
      if (n == 0 || (n < 0 && !retry())) return;
    }
  }

  Script script_;
  int fd_ = -1;
  SockAddr addr_;
  std::atomic<int> served_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tsd::director::healthtest
