// Daemon: the composition root of the tsdirector process: the director, its signal handlers
// (HUP reload, TERM/INT stop), the metrics HTTP listener and the admin socket.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string>

#include "conf/config.h"
#include "director/base/event_util.h"
#include "director/control/director.h"
#include "director/control/prepared_config.h"

namespace tsd::director {
class AdminCommands;
class HandOverSender;
class AdminServer;
class HttpServer;
class MetricsCollector;
}  // namespace tsd::director

namespace tsd::director {

class Daemon {
 public:
  Daemon(event_base* base, std::string config_path);
  ~Daemon();
  // With `adopted` (tsdirector --takeover), `handed_over` runs once the director continues
  // the adopted connections, with how that went: it acknowledges to the old process and waits
  // until that one released the admin socket and metrics port, which are opened after it.
  Status start(PreparedConfig cfg, Adopted* adopted = nullptr,
               std::function<Status(const Status&)> handed_over = {});
  Status reload();  // SIGHUP and `tsdirectorctl reload`
  void stop();      // SIGTERM/SIGINT
  Director& director() { return *director_; }

 private:
  Status startMetrics(const conf::Config& cfg);
  Status startAdmin(const conf::Config& cfg);
  void reconfigureServers(const conf::Config& cfg);

  event_base* base_;
  std::string config_path_;
  std::unique_ptr<Director> director_;
  EventPtr sighup_, sigterm_, sigint_;
  std::unique_ptr<MetricsCollector> metrics_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<AdminCommands> admin_commands_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<HandOverSender> handover_;
  bool stopping_ = false;
};

}  // namespace tsd::director
