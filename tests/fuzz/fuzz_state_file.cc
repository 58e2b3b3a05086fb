// libFuzzer target: restore() of the sticky state file. A refused file must leave the table
// unchanged; an accepted one must survive serialize() -> restore() unchanged.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sticky/persistence.h"

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tsd::sticky::StickyTable;
  const StickyTable::TimePoint now{std::chrono::milliseconds(1767225600000)};
  StickyTable table(1 << 20, std::chrono::hours(8));  // no evictions: keeps the check exact
  table.assign(tsd::sticky::Identity{"10.9.9.0/24"}, "keep", now);
  const std::string before = tsd::sticky::serialize(table, now);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = tsd::sticky::restore(table, in, now);
  const std::string after = tsd::sticky::serialize(table, now);
  if (!r.ok()) {
    if (after != before) std::abort();
    return 0;
  }
  StickyTable copy(1 << 20, std::chrono::hours(8));
  auto again = tsd::sticky::restore(copy, after, now);
  if (!again.ok() || tsd::sticky::serialize(copy, now) != after) std::abort();
  return 0;
}
