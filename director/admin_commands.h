// AdminCommands: the admin protocol's command interpreter. One request line (words separated
// by blanks) in, one JSON object out. No sockets here: the admin server and tests feed lines.
//
// Reply: {"ok":true,"result":...} or {"ok":false,"error":"why"}; see docs/operations.md.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/result.h"
#include "director/director.h"
#include "director/json.h"
#include "sticky/identity.h"

namespace tsd::director {

inline constexpr int kMaxAdminWeight = 1000;

// Shared with tsdirectorctl, which checks arguments before it connects.
Result<int> parseWeight(std::string_view s);
Result<conf::Duration> parseTtl(std::string_view s);

class AdminCommands {
 public:
  using Reload = std::function<Status()>;
  AdminCommands(Director& d, Reload reload) : d_(d), reload_(std::move(reload)) {}

  // Handles one request line (without its newline); returns one reply line with '\n'.
  std::string handle(std::string_view line);

 private:
  using Args = std::vector<std::string_view>;
  Status run(const Args& a, JsonWriter& w);
  Status nodes(JsonWriter& w);
  Status sessions(JsonWriter& w);
  Status sticky(const Args& a, JsonWriter& w);
  Status setState(const Args& a, conf::NodeState s, JsonWriter& w);
  Status weight(const Args& a, JsonWriter& w);
  Status pin(const Args& a, JsonWriter& w);
  Status unpin(const Args& a, JsonWriter& w);
  Status reload(JsonWriter& w);
  Result<NodeRuntime*> node(std::string_view name);
  Result<sticky::Identity> identity(std::string_view text);

  Director& d_;
  Reload reload_;
};

}  // namespace tsd::director
