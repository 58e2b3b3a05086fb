// A config ready to apply: the parsed snapshot plus everything it names that must be read
// and checked before anything changes (the agent key). `tsdirector --check-config`, start and
// reload all go through prepare(), so what the check accepts is what the daemon runs.
#pragma once

#include <string>

#include "conf/config.h"
#include "conf/result.h"

namespace tsd::director {

struct PreparedConfig {
  conf::ConfigPtr cfg;
  std::string agent_key;  // empty: no [agent] key_file (agent polls off)
};

Result<PreparedConfig> prepare(conf::ConfigPtr cfg);
Result<PreparedConfig> prepareFile(const std::string& path);

}  // namespace tsd::director
