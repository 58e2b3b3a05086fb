// Client identity: what the director can see of a user at Layer 4 (the source address reduced
// to a prefix, or a TLS SNI name). Sticky table and session index are keyed by it.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "conf/sock_addr.h"

namespace tsd::sticky {

// The key is canonical text, so equal identities compare equal as strings and the key can be
// shown by the admin CLI and written to the state file as is:
//   "10.1.2.0/24", "10.0.0.5/32", "2001:db8::/64", "sni:desk.example.org".
struct Identity {
  std::string key;

  bool empty() const { return key.empty(); }
  friend bool operator==(const Identity&, const Identity&) = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads defaulted <=>
  friend auto operator<=>(const Identity&, const Identity&) = default;
};

struct IdentityHash {
  size_t operator()(const Identity& id) const noexcept { return std::hash<std::string>{}(id.key); }
};

// Source address -> prefix identity. A v4-mapped IPv6 address ("::ffff:10.0.0.5", what a dual
// stack listener reports for IPv4 clients) counts as IPv4, so one client has one identity on
// every listener. Prefixes are clamped to 0..32 and 0..128. An invalid address gives an empty
// identity.
Identity identityFromAddress(const SockAddr& client, int ipv4_prefix, int ipv6_prefix);

// An IP literal as reported by a node agent ("10.0.0.5", "::1", "::ffff:10.0.0.5",
// "[2001:db8::1]", "fe80::1%eth0") -> identity; nullopt when it is not an IP literal.
std::optional<Identity> identityFromAddressString(std::string_view ip, int ipv4_prefix,
                                                  int ipv6_prefix);

// A DNS host name as SNI may carry it: 1..253 characters (one trailing dot allowed), labels of
// 1..63 letters, digits, '-' or '_' separated by single dots. No IP literals with ':'.
bool isValidHostName(std::string_view name);

// Host name as DNS compares it: ASCII lowercase, one trailing dot removed.
std::string normalizeHostName(std::string_view name);

// SNI name -> identity "sni:<normalized name>".
Identity identityFromSni(std::string_view name);

// True when `key` is a canonical identity key (what the functions above produce): used to
// validate keys read back from the state file.
bool isCanonicalIdentityKey(std::string_view key);

}  // namespace tsd::sticky

template <>
struct std::hash<tsd::sticky::Identity> {
  size_t operator()(const tsd::sticky::Identity& id) const noexcept {
    return tsd::sticky::IdentityHash{}(id);
  }
};
