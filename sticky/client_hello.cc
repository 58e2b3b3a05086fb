// ClientHello parsing: record reassembly, then a bounds-checked walk to the server_name
// extension (RFC 8446 4.1.2, RFC 6066 3). Every read goes through Reader, which never
// reads past its view.
#include "sticky/client_hello.h"

#include <cstdint>

#include "sticky/identity.h"

namespace tsd::sticky {
namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHello = 1;
constexpr size_t kRecordHeader = 5;
constexpr size_t kHandshakeHeader = 4;
constexpr size_t kMaxFragment = 16384;                        // 2^14, plaintext record limit
constexpr size_t kMinHelloBody = 2 + 32 + 1 + 2 + 2 + 1 + 1;  // one suite, one compression
constexpr uint16_t kServerNameExt = 0;
constexpr uint8_t kHostNameType = 0;

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  size_t remaining() const { return d_.size() - pos_; }
  bool u8(uint32_t& v) { return num(1, v); }
  bool u16(uint32_t& v) { return num(2, v); }
  bool bytes(size_t n, std::string_view& out) {
    if (n > remaining()) return false;
    out = d_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(size_t n) {
    std::string_view ignored;
    return bytes(n, ignored);
  }

 private:
  bool num(size_t n, uint32_t& v) {
    if (n > remaining()) return false;
    v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(d_[pos_ + i]);
    pos_ += n;
    return true;
  }
  std::string_view d_;
  size_t pos_ = 0;
};

SniResult malformed(std::string_view why) { return {SniStatus::kMalformed, {}, why}; }

uint32_t be(std::string_view s, size_t at, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

// Checks the part of a record header that is present; false when it cannot be TLS handshake.
bool plausibleRecordHeader(std::string_view h) {
  if (!h.empty() && static_cast<uint8_t>(h[0]) != kHandshakeRecord) return false;
  if (h.size() > 1 && static_cast<uint8_t>(h[1]) != 3) return false;
  if (h.size() >= kRecordHeader) {
    const uint32_t len = be(h, 3, 2);
    if (len == 0 || len > kMaxFragment) return false;
  }
  return true;
}

// Checks the part of the handshake header that is present.
std::string_view handshakeHeaderProblem(std::string_view hs) {
  if (!hs.empty() && static_cast<uint8_t>(hs[0]) != kClientHello) return "not a ClientHello";
  if (hs.size() >= kHandshakeHeader) {
    const uint32_t len = be(hs, 1, 3);
    if (len < kMinHelloBody) return "ClientHello too short";
    if (len > kMaxClientHello - kRecordHeader - kHandshakeHeader) return "ClientHello too large";
  }
  return {};
}

// Concatenates handshake record payloads until the first handshake message is complete.
// Returns kFound with the message in `hs` when complete (status reused as "done").
SniResult reassemble(std::string_view in, std::string& hs) {
  size_t pos = 0;
  for (;;) {
    if (auto why = handshakeHeaderProblem(hs); !why.empty()) return malformed(why);
    if (hs.size() >= kHandshakeHeader && hs.size() >= kHandshakeHeader + be(hs, 1, 3)) {
      return {SniStatus::kFound, {}, {}};
    }
    std::string_view rest = in.substr(pos);
    if (!plausibleRecordHeader(rest.substr(0, kRecordHeader))) {
      return malformed("not a TLS handshake record");
    }
    if (rest.size() < kRecordHeader) return {SniStatus::kNeedMore, {}, {}};
    const size_t len = be(rest, 3, 2);
    std::string_view frag = rest.substr(kRecordHeader, len);
    hs.append(frag);
    if (frag.size() < len) {
      if (auto why = handshakeHeaderProblem(hs); !why.empty()) return malformed(why);
      return {SniStatus::kNeedMore, {}, {}};
    }
    pos += kRecordHeader + len;
  }
}

// server_name extension body: ServerNameList with exactly one host_name entry.
SniResult parseServerName(std::string_view ext) {
  Reader r(ext);
  uint32_t list_len = 0;
  if (!r.u16(list_len) || list_len != r.remaining() || list_len == 0) {
    return malformed("bad server_name list length");
  }
  std::string_view host;
  while (r.remaining() > 0) {
    uint32_t type = 0, len = 0;
    std::string_view name;
    if (!r.u8(type) || !r.u16(len) || !r.bytes(len, name)) return malformed("bad server_name");
    if (type != kHostNameType) return malformed("server_name is not a host_name");
    if (!host.empty()) return malformed("more than one host_name");
    if (!isValidHostName(name)) return malformed("invalid host_name");
    host = name;
  }
  return {SniStatus::kFound, std::string(host), {}};
}

// Walks the extensions block; exactly `r.remaining()` bytes must be covered.
SniResult parseExtensions(Reader& r) {
  uint32_t total = 0;
  if (!r.u16(total) || total != r.remaining()) return malformed("bad extensions length");
  SniResult found{SniStatus::kNoSni, {}, {}};
  while (r.remaining() > 0) {
    uint32_t type = 0, len = 0;
    std::string_view body;
    if (!r.u16(type) || !r.u16(len) || !r.bytes(len, body)) return malformed("bad extension");
    if (type != kServerNameExt) continue;
    if (found.status == SniStatus::kFound) return malformed("duplicate server_name");
    found = parseServerName(body);
    if (found.status != SniStatus::kFound) return found;
  }
  return found;
}

SniResult parseHelloBody(std::string_view body) {
  Reader r(body);
  uint32_t major = 0, minor = 0, sid_len = 0, suites_len = 0, comp_len = 0;
  if (!r.u8(major) || !r.u8(minor) || major != 3) return malformed("bad client version");
  if (!r.skip(32)) return malformed("truncated random");
  if (!r.u8(sid_len) || sid_len > 32 || !r.skip(sid_len)) return malformed("bad session id");
  if (!r.u16(suites_len) || suites_len < 2 || suites_len % 2 != 0 || !r.skip(suites_len)) {
    return malformed("bad cipher suites");
  }
  if (!r.u8(comp_len) || comp_len < 1 || !r.skip(comp_len)) {
    return malformed("bad compression methods");
  }
  if (r.remaining() == 0) return {SniStatus::kNoSni, {}, {}};  // no extensions (TLS <= 1.2)
  return parseExtensions(r);
}

}  // namespace

SniResult parseClientHelloSni(std::string_view peeked) {
  if (peeked.size() > kMaxClientHello) peeked = peeked.substr(0, kMaxClientHello);
  std::string hs;
  SniResult r = reassemble(peeked, hs);
  if (r.status == SniStatus::kNeedMore && peeked.size() >= kMaxClientHello) {
    return malformed("ClientHello does not fit in kMaxClientHello bytes");
  }
  if (r.status != SniStatus::kFound) return r;
  const size_t len = be(hs, 1, 3);
  return parseHelloBody(std::string_view(hs).substr(kHandshakeHeader, len));
}

}  // namespace tsd::sticky
