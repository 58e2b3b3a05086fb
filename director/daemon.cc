// Signals are libevent events on the loop: the handlers run as ordinary callbacks, never in
// signal context, so a reload is just a function call on the loop thread.
#include "director/daemon.h"

#include <signal.h>

#include "conf/log.h"

namespace tsd::director {

Daemon::Daemon(event_base* base, std::string config_path)
    : base_(base), config_path_(std::move(config_path)) {
  director_ = std::make_unique<Director>(base_, DirectorOptions{config_path_});
}

Daemon::~Daemon() = default;

Status Daemon::start(conf::ConfigPtr cfg) {
  if (Status s = director_->start(cfg); !s.ok()) return s;
  sighup_.reset(evsignal_new(
      base_, SIGHUP, [](evutil_socket_t, short, void* a) { (void)static_cast<Daemon*>(a)->reload(); },
      this));
  auto stop = [](evutil_socket_t, short, void* a) { static_cast<Daemon*>(a)->stop(); };
  sigterm_.reset(evsignal_new(base_, SIGTERM, stop, this));
  sigint_.reset(evsignal_new(base_, SIGINT, stop, this));
  event_add(sighup_.get(), nullptr);
  event_add(sigterm_.get(), nullptr);
  event_add(sigint_.get(), nullptr);
  return {};
}

Status Daemon::reload() {
  LOG_INFO("reloading %s", config_path_.c_str());
  return director_->reload();
}

void Daemon::stop() {
  LOG_INFO("stopping: no new connections, live ones are reset");
  director_->shutdown();
  sighup_.reset();
  sigterm_.reset();
  sigint_.reset();
  // Let pending callbacks (freeing connections) run, then leave the loop.
  timeval tv{0, 0};
  event_base_loopexit(base_, &tv);
}

}  // namespace tsd::director
