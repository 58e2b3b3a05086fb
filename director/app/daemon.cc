// Signals are libevent events on the loop: the handlers run as ordinary callbacks, never in
// signal context, so a reload is just a function call on the loop thread. The metrics HTTP
// listener and the admin socket live on the same loop.
#include "director/app/daemon.h"

#include <signal.h>

#include "conf/log.h"
#include "director/app/handover.h"
#include "director/ops/admin_commands.h"
#include "director/ops/admin_server.h"
#include "director/ops/http_server.h"
#include "director/ops/metrics.h"
#include "director/ops/node_view.h"
#include "director/ops/status_page.h"

namespace tsd::director {

Daemon::Daemon(event_base* base, std::string config_path)
    : base_(base), config_path_(std::move(config_path)) {
  director_ = std::make_unique<Director>(base_, config_path_);
  metrics_ = std::make_unique<MetricsCollector>(*director_);
  admin_commands_ = std::make_unique<AdminCommands>(*director_, [this] { return reload(); });
  handover_ = std::make_unique<HandOverSender>(
      base_, *director_,
      [this] {
        admin_.reset();  // unlinks the socket: the new process creates its own
        http_.reset();
      },
      [this] {
        stopping_ = true;
        event_base_loopbreak(base_);
      });
}

Daemon::~Daemon() {
  // Servers reference the director: close them first.
  admin_.reset();
  http_.reset();
}

Status Daemon::start(PreparedConfig prepared, Adopted* adopted,
                     std::function<Status(const Status&)> handed_over) {
  conf::ConfigPtr cfg = prepared.cfg;
  // The handlers first: a signal that arrives while the director starts (it logs "started"
  // before the servers are up) waits for the loop instead of killing the process outright.
  sighup_.reset(evsignal_new(
      base_, SIGHUP,
      [](evutil_socket_t, short, void* a) { (void)static_cast<Daemon*>(a)->reload(); }, this));
  auto stop = [](evutil_socket_t, short, void* a) { static_cast<Daemon*>(a)->stop(); };
  sigterm_.reset(evsignal_new(base_, SIGTERM, stop, this));
  sigint_.reset(evsignal_new(base_, SIGINT, stop, this));
  event_add(sighup_.get(), nullptr);
  event_add(sigterm_.get(), nullptr);
  event_add(sigint_.get(), nullptr);
  Status started = director_->start(std::move(prepared), adopted);
  if (handed_over) {
    if (Status s = handed_over(started); !s.ok()) return s;
  }
  if (!started.ok()) return started;
  Status servers = startMetrics(*cfg);
  if (servers.ok()) servers = startAdmin(*cfg);
  if (!servers.ok()) {
    // After a hand-over the connections are ours alone: exiting would drop them all.
    if (!handed_over) return servers;
    LOG_ERROR("after the hand-over: %s (continuing without it)", servers.error().c_str());
  }
  return {};
}

Status Daemon::startMetrics(const conf::Config& cfg) {
  if (!cfg.metrics.listen) return {};
  auto http = HttpServer::start(base_, *cfg.metrics.listen);
  if (!http.ok()) return makeError(http.error());
  http_ = std::move(http).value();
  http_->route("/metrics", [this] {
    return HttpServer::Response{
        200, "text/plain; version=0.0.4; charset=utf-8", metrics_->render(), {}};
  });
  http_->route("/nodes", [this] {
    return HttpServer::Response{200, "application/json", nodesDocument(*director_), {}};
  });
  http_->route("/", [this] {
    return HttpServer::Response{
        200,
        "text/html; charset=utf-8",
        statusPage(*director_),
        {{"Content-Security-Policy", statusPagePolicy()}, {"Referrer-Policy", "no-referrer"}}};
  });
  http_->route("/status.json", [this] {
    return HttpServer::Response{200, "application/json", statusDocument(*director_), {}};
  });
  http_->route("/healthz", [] { return HttpServer::Response{200, "text/plain", "ok\n", {}}; });
  LOG_INFO("status page on http://%s/, metrics on /metrics",
           cfg.metrics.listen->toString().c_str());
  return {};
}

Status Daemon::startAdmin(const conf::Config& cfg) {
  if (cfg.admin.socket.empty()) return {};
  auto admin = AdminServer::start(base_, cfg.admin.socket, [this](std::string_view line) {
    return admin_commands_->handle(line);
  });
  if (!admin.ok()) return makeError(admin.error());
  admin_ = std::move(admin).value();
  admin_->setTakeoverHandler([this](UniqueFd fd) {
    if (stopping_) return;  // fd closes: the new process reads why from its own side
    handover_->start(std::move(fd));
  });
  return {};
}

// The metrics listener follows the file at once; the admin socket only on restart (it may be
// serving the very `reload` request, and after a privilege drop a new path may not be creatable).
void Daemon::reconfigureServers(const conf::Config& cfg) {
  std::optional<SockAddr> had;
  if (http_) had = http_->address();
  if (had != cfg.metrics.listen) {
    http_.reset();  // free the port first: the new address may be the same port on another IP
    if (Status s = startMetrics(cfg); !s.ok()) {
      LOG_ERROR("reload: metrics listener not moved: %s", s.error().c_str());
    }
  }
  std::string path = admin_ ? admin_->path() : "";
  if (path != cfg.admin.socket) {
    LOG_WARN("reload: [admin] socket changed to '%s'; takes effect on restart",
             cfg.admin.socket.c_str());
  }
}

Status Daemon::reload() {
  LOG_INFO("reloading %s", config_path_.c_str());
  Status s = director_->reload();
  if (s.ok()) reconfigureServers(*director_->config());
  return s;
}

void Daemon::stop() {
  if (handover_->busy()) {
    LOG_WARN("stop signal during a hand-over: ignored (the hand-over ends this process)");
    return;
  }
  if (stopping_) {
    LOG_INFO("second stop signal: resetting the remaining connections now");
    director_->shutdown();
    return;
  }
  stopping_ = true;
  conf::Duration grace = director_->config()->director.stop_grace;
  if (grace.count() == 0 || director_->liveConnections() == 0) {
    LOG_INFO("stopping: no new connections, live ones are reset");
  }
  admin_.reset();
  http_.reset();
  sighup_.reset();
  director_->drainThenShutdown(grace, [this] {
    sigterm_.reset();
    sigint_.reset();
    // Let pending callbacks (freeing connections) run, then leave the loop.
    timeval tv{0, 0};
    event_base_loopexit(base_, &tv);
  });
}

}  // namespace tsd::director
