// The admin socket's wire protocol, shared by the daemon and tsdirectorctl: one request line of
// words separated by blanks in, one JSON object line out, {"ok":true,"result":...} or
// {"ok":false,"error":"why"} (docs/operations.md). Framing and encoding only; no sockets.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "conf/result.h"

namespace tsd::protocol {

// A request line, without its '\n'; the daemon stops reading past this.
inline constexpr size_t kMaxRequestBytes = 4096;
// The command and its arguments; no command takes more than 3 arguments.
inline constexpr size_t kMaxRequestWords = 8;
// The most of a reply the CLI reads: a sticky table for a large site fits many times over.
inline constexpr size_t kMaxReplyBytes = 64u << 20;
// Nested objects and arrays a decoded reply may have, the envelope included (ours use 3).
inline constexpr int kMaxReplyDepth = 64;

// Splits a request line into words (blanks, tabs and CR separate them; CR so "nodes\r\n" from a
// Windows client works). Refuses an empty or over-long line, more than kMaxRequestWords words,
// and NUL or any other control character, which no command or name contains.
[[nodiscard]] Result<std::vector<std::string>> parseRequest(std::string_view line);

// One reply line ending in '\n', the only newline in it. Strings that are not valid UTF-8 (node
// names from a config file, user names from an agent) are sent with U+FFFD for the bad bytes.
// The ordered_json overload keeps the members in the order the daemon wrote them.
std::string encodeOk(const nlohmann::json& result);
std::string encodeOk(const nlohmann::ordered_json& result);
std::string encodeError(std::string_view why);

struct Reply {
  bool ok = false;
  std::string error;      // when !ok
  nlohmann::json result;  // when ok; may be null
  bool operator==(const Reply&) const = default;
};

// Reads one reply, strictly: a single JSON object (trailing blank space allowed, nothing else)
// with a boolean "ok", a string "error" when ok is false, a "result" when ok is true; at most
// kMaxReplyBytes and kMaxReplyDepth. Never throws; a hostile or broken reply is an error.
[[nodiscard]] Result<Reply> decodeReply(std::string_view text);

}  // namespace tsd::protocol
