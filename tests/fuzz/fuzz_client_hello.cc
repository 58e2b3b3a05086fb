// libFuzzer target: parseClientHelloSni on arbitrary peeked bytes. Checks the documented
// contract, not just "no crash".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sticky/client_hello.h"
#include "sticky/identity.h"

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tsd::sticky::SniStatus;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = tsd::sticky::parseClientHelloSni(in);
  if (r.status == SniStatus::kFound && !tsd::sticky::isValidHostName(r.name)) std::abort();
  if (r.status != SniStatus::kFound && !r.name.empty()) std::abort();
  if (r.status == SniStatus::kMalformed && r.reason.empty()) std::abort();
  if (r.status == SniStatus::kNeedMore && size >= tsd::sticky::kMaxClientHello) std::abort();
  // A final answer never changes when more bytes arrive.
  if (r.status == SniStatus::kFound || r.status == SniStatus::kNoSni) {
    std::string more(in);
    more += "extra";
    auto again = tsd::sticky::parseClientHelloSni(more);
    if (again.status != r.status || again.name != r.name) std::abort();
  }
  return 0;
}
