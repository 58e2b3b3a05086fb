// libFuzzer target for agent replies. Raw input exercises framing and MAC checks; the same input
// signed with the right key reaches the body parser, and whatever it accepts must survive an
// encode/parse round trip unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "healthcheck/agent_protocol.h"

namespace {
const std::string kKey = "fuzz-key-0123456789abcdef";
const std::string kNonce = "00112233445566778899aabbccddeeff";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tsd::health;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)verifyAndParseReply(kKey, kNonce, in);
  (void)parseRequest(in);

  // Odd first byte: the fuzzer gets the header for free and only has to invent the body lines.
  std::string body;
  if (size > 0 && (data[0] & 1)) {
    body = "TSDAGENT/1 reply " + kNonce + "\n";
    in.remove_prefix(1);
  }
  body.append(in);
  auto parsed = verifyAndParseReply(kKey, kNonce, signBody(kKey, kNonce, body));
  if (!parsed.ok()) return 0;
  auto again = verifyAndParseReply(kKey, kNonce, encodeReply(kKey, kNonce, *parsed));
  if (!again.ok() || !(*again == *parsed)) std::abort();
  return 0;
}
