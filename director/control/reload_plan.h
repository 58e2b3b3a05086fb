// What a reload would change, worked out before anything is touched: a restart-only key that
// changed refuses the reload (naming FILE:LINE), and the rest is listed for the reload log.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace tsd::director {

// Empty when the reload may proceed; otherwise why not, naming the key's line in `next`.
std::string restartOnlyChange(const conf::Config& old, const conf::Config& next);
// "listener 0.0.0.0:22 (service ssh) opened" / "... closed".
std::vector<std::string> listenerChanges(const conf::Config& old, const conf::Config& next);

}  // namespace tsd::director
