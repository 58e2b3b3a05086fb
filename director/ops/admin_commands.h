// AdminCommands: the admin protocol's command interpreter. One request line (words separated
// by blanks) in, one JSON object line out. No sockets here: the admin server and tests feed
// lines. Reply: {"ok":true,"result":...} or {"ok":false,"error":"why"}; see docs/operations.md.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "conf/result.h"
#include "director/control/director.h"
#include "sticky/identity.h"

namespace tsd::director {

class AdminCommands {
 public:
  using Reload = std::function<Status()>;
  AdminCommands(Director& d, Reload reload) : d_(d), reload_(std::move(reload)) {}

  // Handles one request line (without its newline); returns one reply line with '\n'.
  std::string handle(std::string_view line);

 private:
  using Args = std::vector<std::string>;
  using Json = nlohmann::json;
  Result<Json> run(const Args& a);
  Json sessions() const;
  Json users() const;
  Result<Json> sticky(const Args& a) const;
  Result<Json> setState(const Args& a, conf::NodeState s);
  Result<Json> weight(const Args& a);
  Result<Json> pin(const Args& a);
  Result<Json> unpin(const Args& a);
  Result<Json> reload();
  Error unknownNode(std::string_view name) const;
  Result<sticky::Identity> identity(std::string_view text) const;

  Director& d_;
  Reload reload_;
};

}  // namespace tsd::director
