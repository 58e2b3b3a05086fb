// Parsing and printing of socket addresses; IP literals only (no DNS at config time).
#include "conf/sock_addr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace tsd {
namespace {

std::optional<uint16_t> parsePort(std::string_view s) {
  unsigned v = 0;
  if (s.empty() || s.size() > 5) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

std::optional<SockAddr> SockAddr::fromSockaddr(const sockaddr* sa, socklen_t len) {
  SockAddr a;
  if (sa == nullptr || len > sizeof(a.u_)) return std::nullopt;
  if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) return std::nullopt;
  std::memcpy(&a.u_, sa, len);
  return a;
}

Result<SockAddr> SockAddr::parseHost(std::string_view text, uint16_t port) {
  // inet_pton stops at a NUL, so "1.2.3.4\0junk" would otherwise pass as 1.2.3.4.
  if (text.find('\0') != std::string_view::npos) return makeError("NUL byte in address");
  std::string host(text);
  SockAddr a;
  auto* v4 = &a.u_.v4;
  auto* v6 = &a.u_.v6;
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return a;
  }
  a.u_ = {};
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return a;
  }
  return makeError("'" + host + "' is not an IPv4 or IPv6 address");
}

Result<SockAddr> SockAddr::parse(std::string_view text, std::optional<uint16_t> default_port) {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return makeError("missing ']' in '" + std::string(text) + "'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return makeError("expected ':PORT' after ']' in '" + std::string(text) + "'");
      port = rest.substr(1);
      if (port.empty()) return makeError("empty port in '" + std::string(text) + "'");
    }
  } else {
    auto colon = text.rfind(':');
    // More than one colon without brackets: a bare IPv6 address, no port.
    if (colon != std::string_view::npos && text.find(':') == colon) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) return makeError("empty port in '" + std::string(text) + "'");
    }
  }
  uint16_t p = 0;
  if (!port.empty()) {
    auto parsed = parsePort(port);
    if (!parsed) return makeError("bad port '" + std::string(port) + "' (1-65535)");
    p = *parsed;
  } else if (default_port) {
    p = *default_port;
  } else {
    return makeError("'" + std::string(text) + "' has no port (use HOST:PORT or [V6]:PORT)");
  }
  if (host.empty()) return makeError("empty address in '" + std::string(text) + "'");
  return parseHost(host, p);
}

uint16_t SockAddr::port() const {
  if (isV4()) return ntohs((&u_.v4)->sin_port);
  if (isV6()) return ntohs((&u_.v6)->sin6_port);
  return 0;
}

void SockAddr::setPort(uint16_t port) {
  if (isV4()) (&u_.v4)->sin_port = htons(port);
  if (isV6()) (&u_.v6)->sin6_port = htons(port);
}

std::string SockAddr::addressBytes() const {
  if (isV4()) {
    const auto* a = (&u_.v4);
    return std::string(reinterpret_cast<const char*>(&a->sin_addr), 4);
  }
  if (isV6()) {
    const auto* a = (&u_.v6);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      return std::string(reinterpret_cast<const char*>(&a->sin6_addr) + 12, 4);
    }
    return std::string(reinterpret_cast<const char*>(&a->sin6_addr), 16);
  }
  return {};
}

std::string SockAddr::hostString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (isV4()) {
    inet_ntop(AF_INET, &(&u_.v4)->sin_addr, buf, sizeof buf);
  } else if (isV6()) {
    inet_ntop(AF_INET6, &(&u_.v6)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::string SockAddr::toString() const {
  if (isV6()) return "[" + hostString() + "]:" + std::to_string(port());
  return hostString() + ":" + std::to_string(port());
}

bool SockAddr::operator==(const SockAddr& o) const {
  return family() == o.family() && port() == o.port() && addressBytes() == o.addressBytes();
}

std::string maskPrefix(std::string bytes, int prefix) {
  const int bits = static_cast<int>(bytes.size()) * 8;
  prefix = std::clamp(prefix, 0, bits);
  for (int i = 0; i < static_cast<int>(bytes.size()); ++i) {
    const int keep = std::clamp(prefix - i * 8, 0, 8);
    bytes[i] = static_cast<char>(static_cast<unsigned char>(bytes[i]) & (0xff00 >> keep));
  }
  return bytes;
}

}  // namespace tsd
