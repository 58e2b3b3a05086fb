// libFuzzer target for the admin protocol: the daemon's request framing and the CLI's reply
// decoder. Whatever decodes must encode to one line that decodes to the same reply, and the
// CLI's accessors must read any result without throwing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "director/protocol/admin_protocol.h"
#include "director/protocol/commands.h"
#include "director/protocol/reply_fields.h"

namespace {

using namespace tsd::protocol;

void checkRequest(std::string_view in) {
  auto words = parseRequest(in);
  if (!words.ok()) return;
  if (words->empty() || words->size() > kMaxRequestWords) std::abort();
  std::string line;
  for (const auto& w : *words) {
    if (w.empty()) std::abort();
    line += (line.empty() ? "" : " ") + w;
  }
  auto again = parseRequest(line);
  if (!again.ok() || *again != *words) std::abort();
  (void)checkArity(*words);
}

bool oneLine(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

// What the CLI's tables do with a result: members of members, as text and as numbers.
void readAsTheCliDoes(const nlohmann::json& result) {
  (void)displayText(result);
  if (!result.is_array() && !result.is_object()) return;
  for (const auto& row : result) {
    for (const char* key : {"name", "state", "expires", "connections", "pinned", "until"}) {
      const nlohmann::json& v = member(row, key);
      (void)displayText(v);
      (void)integer(v);
      (void)number(v);
      (void)isTrue(v);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  checkRequest(raw);

  // A first byte 0x01 (never the start of a reply): the envelope comes for free and the fuzzer
  // only invents the result.
  std::string text;
  if (size > 0 && data[0] == 0x01) {
    text = "{\"ok\":true,\"result\":" + std::string(raw.substr(1)) + "}";
  } else {
    text = raw;
  }
  auto reply = decodeReply(text);
  if (!reply.ok()) return 0;
  std::string line = reply->ok ? encodeOk(reply->result) : encodeError(reply->error);
  if (!oneLine(line)) std::abort();
  auto again = decodeReply(line);
  if (!again.ok() || !(*again == *reply)) std::abort();
  readAsTheCliDoes(reply->result);
  return 0;
}
