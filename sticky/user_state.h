// The learned identity -> user pairs on disk (users.state, next to sticky.state): a versioned
// text format of its own, so a director that predates it still reads sticky.state. Homes are
// not stored: they are rebuilt from the first inventories after a start.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "conf/result.h"
#include "sticky/user_table.h"

namespace tsd::sticky {

inline constexpr std::string_view kUserStateFileName = "users.state";
inline constexpr int kUserStateFormatVersion = 1;
inline constexpr size_t kMaxUserStateFileBytes = 64 << 20;

// Format (docs/sticky.md):
//   tsdirector-users 1
//   # identity user last-seen-unix-ms
//   10.1.2.0/24 alice 1767225600000
//   end 1
// Fields are %XX-escaped like sticky.state's; `end N` makes truncation detectable.
std::string serializeUsers(const UserTable& table);

// All-or-nothing like restore(): a bad file (foreign, newer version, bad line, truncated, a
// pair listed twice) returns an error naming the line and leaves the table unchanged. Pairs
// last seen more than max_age before now are skipped. Returns how many were learned.
Result<size_t> restoreUsers(UserTable& table, std::string_view data, UserTable::TimePoint now,
                            UserTable::Duration max_age);

}  // namespace tsd::sticky
