// Runtime admin overrides on disk (tsdirectorctl drain/maint/weight), next to the sticky state,
// so a restart brings every node back as the admin left it. Each override remembers the file's
// value it overrode: if the config file has changed that setting since, the file wins (the
// same rule a reload applies).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "conf/result.h"

namespace tsd::sticky {

inline constexpr std::string_view kAdminStateFileName = "admin.state";
inline constexpr int kAdminStateFormatVersion = 1;
inline constexpr size_t kMaxAdminStateBytes = 4 << 20;

struct AdminOverride {
  std::string node;
  std::optional<conf::NodeState> state;                   // runtime state, if overridden
  std::optional<int> weight;                              // runtime weight, if overridden
  conf::NodeState file_state = conf::NodeState::kActive;  // the file's values when set
  int file_weight = 1;
  bool operator==(const AdminOverride&) const = default;
};

// Format (docs/operations.md):
//   tsdirector-admin 1
//   desk1 drain - active 1      # node, state or '-', weight or '-', file state, file weight
//   end 1
std::string serializeAdmin(const std::vector<AdminOverride>& overrides);
// Strict: a foreign, newer, truncated or malformed file is an error naming the line.
Result<std::vector<AdminOverride>> parseAdmin(std::string_view data);

}  // namespace tsd::sticky
