// SockAddr: an IPv4/IPv6 socket address with port, parsed from "1.2.3.4:22", "[::1]:22".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/result.h"

namespace tsd {

class SockAddr {
 public:
  SockAddr() = default;
  static std::optional<SockAddr> fromSockaddr(const sockaddr* sa, socklen_t len);
  // "1.2.3.4:22" or "[::1]:22". With default_port, the port may be left out ("1.2.3.4", "::1").
  static Result<SockAddr> parse(std::string_view text, std::optional<uint16_t> default_port = {});
  // An IP literal without a port ("10.0.0.1", "fe80::1").
  static Result<SockAddr> parseHost(std::string_view text, uint16_t port);

  int family() const { return u_.sa.sa_family; }
  bool isV4() const { return family() == AF_INET; }
  bool isV6() const { return family() == AF_INET6; }
  bool valid() const { return family() == AF_INET || family() == AF_INET6; }
  uint16_t port() const;
  void setPort(uint16_t port);
  const sockaddr* sa() const { return &u_.sa; }
  socklen_t len() const { return isV4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6); }
  // Address bytes in network order: 4 for IPv4, 16 for IPv6 (v4-mapped v6 is reported as v4).
  std::string addressBytes() const;
  std::string hostString() const;  // "1.2.3.4" or "::1"
  std::string toString() const;    // "1.2.3.4:22" or "[::1]:22"
  bool operator==(const SockAddr& o) const;

 private:
  // 28 bytes rather than sockaddr_storage's 128: one is kept per client connection.
  union {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } u_{};
};

// Keeps the first `prefix` bits of address bytes (as addressBytes() gives them) and zeroes
// the rest; prefix is clamped to 0..8*size. Client identities and agent allow-lists use it.
std::string maskPrefix(std::string bytes, int prefix);

}  // namespace tsd
