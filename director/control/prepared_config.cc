// Reading what a config refers to, with errors that point at the key that names it.
#include "director/control/prepared_config.h"

#include "healthcheck/agent_auth.h"

namespace tsd::director {

Result<PreparedConfig> prepare(conf::ConfigPtr cfg) {
  PreparedConfig p{cfg, {}};
  if (!cfg->agent.key_file.empty()) {
    // The same check the agent makes: missing, unreadable, group/other-readable or short keys
    // fail here, not later as silently disabled polls.
    auto key = health::loadKey(cfg->agent.key_file);
    if (!key.ok())
      return makeError(cfg->location("agent", "key_file") + ": key_file: " + key.error());
    p.agent_key = std::move(key).value();
  }
  return p;
}

Result<PreparedConfig> prepareFile(const std::string& path) {
  auto cfg = conf::loadConfig(path);
  if (!cfg.ok()) return makeError(cfg.error());
  return prepare(*cfg);
}

}  // namespace tsd::director
