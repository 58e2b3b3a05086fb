// libFuzzer target: restoreUsers() of users.state. A refused file must leave the table
// unchanged; an accepted one must survive serializeUsers() -> restoreUsers() unchanged.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sticky/user_state.h"

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tsd::sticky::UserTable;
  const UserTable::TimePoint now{std::chrono::milliseconds(1767225600000)};
  const auto max_age = std::chrono::hours(24 * 30);
  UserTable table(1 << 20);  // no evictions: keeps the check exact
  table.learn(tsd::sticky::Identity{"10.9.9.0/24"}, "keep", now);
  const std::string before = tsd::sticky::serializeUsers(table);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = tsd::sticky::restoreUsers(table, in, now, max_age);
  const std::string after = tsd::sticky::serializeUsers(table);
  if (!r.ok()) {
    if (after != before) std::abort();
    return 0;
  }
  UserTable copy(1 << 20);
  // Everything kept is younger than max_age at `now`, so all of it comes back.
  auto again = tsd::sticky::restoreUsers(copy, after, now, max_age);
  if (!again.ok() || tsd::sticky::serializeUsers(copy) != after) std::abort();
  return 0;
}
