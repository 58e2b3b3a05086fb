// libFuzzer target: parseAdmin() of the admin state file. An accepted file must survive
// serializeAdmin() -> parseAdmin() unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sticky/admin_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = tsd::sticky::parseAdmin(text);
  if (!parsed.ok()) return 0;
  auto again = tsd::sticky::parseAdmin(tsd::sticky::serializeAdmin(*parsed));
  if (!again.ok() || *again != *parsed) std::abort();
  return 0;
}
