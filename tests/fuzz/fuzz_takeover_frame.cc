// libFuzzer target: decodeFrame() of the hand-over format. An accepted frame must re-encode
// to the very same bytes (the format has one encoding per message).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "director/protocol/takeover_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  auto m = tsd::protocol::decodeFrame(frame);
  if (!m.ok()) return 0;
  auto again = tsd::protocol::encodeFrame(*m);
  if (!again.ok() || *again != frame) std::abort();
  return 0;
}
