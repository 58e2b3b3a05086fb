// Derivation of client identities from addresses and SNI names, and their validation.
#include "sticky/identity.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace tsd::sticky {
namespace {

// Keeps the first `prefix` bits of `bytes` and prints "ADDR/PREFIX".
std::string prefixKey(std::string bytes, int prefix) {
  const bool v4 = bytes.size() == 4;
  prefix = std::clamp(prefix, 0, static_cast<int>(bytes.size()) * 8);
  bytes = maskPrefix(std::move(bytes), prefix);
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(v4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf) == nullptr) return {};
  return std::string(buf) + "/" + std::to_string(prefix);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool hostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

Identity identityFromAddress(const SockAddr& client, int ipv4_prefix, int ipv6_prefix) {
  if (!client.valid()) return {};
  std::string bytes = client.addressBytes();  // v4-mapped v6 comes back as 4 bytes
  if (bytes.size() != 4 && bytes.size() != 16) return {};
  const int prefix = bytes.size() == 4 ? ipv4_prefix : ipv6_prefix;
  return Identity{prefixKey(std::move(bytes), prefix)};
}

std::optional<Identity> identityFromAddressString(std::string_view ip, int ipv4_prefix,
                                                  int ipv6_prefix) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  // A zone ("fe80::1%eth0") says which link, not who the client is.
  if (auto pct = ip.find('%'); pct != std::string_view::npos) ip = ip.substr(0, pct);
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  auto addr = SockAddr::parseHost(ip, 0);
  if (!addr.ok()) return std::nullopt;
  Identity id = identityFromAddress(*addr, ipv4_prefix, ipv6_prefix);
  if (id.empty()) return std::nullopt;
  return id;
}

bool isValidHostName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (!hostChar(c) || ++label > 63) {
      return false;
    }
  }
  return label != 0;
}

std::string normalizeHostName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

Identity identityFromSni(std::string_view name) {
  return Identity{"sni:" + normalizeHostName(name)};
}

bool isCanonicalIdentityKey(std::string_view key) {
  if (key.starts_with("sni:")) {
    std::string_view name = key.substr(4);
    return isValidHostName(name) && normalizeHostName(name) == name;
  }
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view digits = key.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.size() > 3) return false;
  auto id = identityFromAddressString(key.substr(0, slash), prefix, prefix);
  return id && id->key == key;
}

}  // namespace tsd::sticky
