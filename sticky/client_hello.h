// TLS ClientHello SNI extraction from bytes peeked (MSG_PEEK) at the start of a connection,
// so the director can key stickiness on the server name without terminating TLS.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tsd::sticky {

// The most a caller should peek. A hello needing more is refused: real ones are a few hundred
// bytes (up to ~2 KiB with post-quantum key shares), so more is a broken or hostile client.
inline constexpr size_t kMaxClientHello = size_t{16} * 1024;

enum class SniStatus {
  kNeedMore,   // a valid prefix of a ClientHello: peek again when more bytes arrived
  kFound,      // name holds the host_name from server_name (as sent, validated)
  kNoSni,      // a complete, valid ClientHello without server_name
  kMalformed,  // not TLS, not a ClientHello, bad lengths, bad or non-host_name SNI, too big
};

struct SniResult {
  SniStatus status = SniStatus::kMalformed;
  std::string name;         // kFound only; normalise with normalizeHostName()
  std::string_view reason;  // kMalformed only: a static description for debug logs
};

// Parses the handshake record(s) at the start of `peeked`. The hello may span several
// handshake records (fragmentation is legal TLS); they are reassembled. Bytes after the hello
// are ignored. kNeedMore is never returned once peeked.size() >= kMaxClientHello, so a caller
// that peeks up to that cap always gets a final answer. SSLv2-compatible hellos are kMalformed
// (they cannot carry SNI).
SniResult parseClientHelloSni(std::string_view peeked);

}  // namespace tsd::sticky
