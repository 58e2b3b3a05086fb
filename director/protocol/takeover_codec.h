// The hand-over wire format between a running tsdirector and the one taking over (pure: bytes
// in, messages out; the file descriptors travel beside the frames, see takeover_channel.h).
// docs/operations.md, "Hand-over", describes the exchange; bump kTakeoverVersion on any change.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "conf/result.h"

namespace tsd::protocol {

inline constexpr uint32_t kTakeoverMagic = 0x54534448;  // "TSDH"
inline constexpr uint16_t kTakeoverVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 12;  // magic u32, version u16, type u8, 0 u8, len u32
inline constexpr size_t kMaxFramePayload = 128 * 1024;
inline constexpr size_t kMaxDataChunk = 64 * 1024;  // pending bytes per PairData frame
inline constexpr size_t kMaxFdsPerFrame = 200;      // SCM_RIGHTS takes at most 253 per message
inline constexpr size_t kPairsPerBatch = kMaxFdsPerFrame / 2;

enum class FrameType : uint8_t {
  kHello = 1,      // both ways, first
  kListeners = 2,  // old -> new, one fd per listener
  kPairs = 3,      // old -> new, two fds (client, node) per pair
  kPairData = 4,   // old -> new, pending bytes of one direction of one pair
  kEnd = 5,        // old -> new: everything sent
  kAck = 6,        // new -> old: adopted (ok) or refused (ok = false, why)
  kDone = 7,       // old -> new: released the admin socket; exiting
};

struct Hello {
  uint16_t version = kTakeoverVersion;
  uint32_t pid = 0;
  std::string software;  // "tsdirector 0.x", for the log
};

struct ListenerRecord {
  std::string address;  // SockAddr::toString(): the key the new config is matched by
};
struct Listeners {
  std::vector<ListenerRecord> items;
};

// One direction as the old process left it (no read after this was captured).
struct DirectionRecord {
  uint64_t written = 0;  // bytes written to the destination so far
  uint64_t read = 0;     // bytes read from the source so far
  bool eof = false;      // the source sent FIN (read 0)
  bool shut = false;     // ...and it was passed on (the destination's write side is shut)
  uint32_t pending = 0;  // bytes read but not yet written; they follow in PairData frames
};

struct PairRecord {
  uint32_t index = 0;  // 0.. in order over the whole transfer
  std::string service;
  std::string node;
  std::string peer;      // client address
  std::string identity;  // canonical sticky key, may be empty
  std::string sni;
  std::string reason;  // toString(Reason)
  bool ambiguous = false;
  bool sticky_replaced = false;
  bool sticky_open = false;
  int64_t started_unix_ms = 0;
  uint8_t attempts = 1;
  DirectionRecord dirs[2];  // [0] client -> node, [1] node -> client
};
struct Pairs {
  std::vector<PairRecord> items;
};

struct PairData {
  uint32_t index = 0;
  uint8_t dir = 0;
  std::string bytes;
};

struct End {
  uint32_t listeners = 0;
  uint32_t pairs = 0;
};

struct Ack {
  bool ok = false;
  std::string message;
};

struct Done {};

using Message = std::variant<Hello, Listeners, Pairs, PairData, End, Ack, Done>;

// How many fds travel with this message (0 for all but Listeners and Pairs).
size_t fdCount(const Message& m);

// One frame: header + payload. Fails only if the payload would exceed kMaxFramePayload.
Result<std::string> encodeFrame(const Message& m);

// Parses one whole frame (a SOCK_SEQPACKET message). Rejects a wrong magic, an unknown
// version (with both numbers in the message), a length that does not match, unknown types and
// truncated or trailing fields.
Result<Message> decodeFrame(std::string_view frame);

}  // namespace tsd::protocol
