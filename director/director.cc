// Director lifecycle: start, reload (validate, then apply the difference), accept, shutdown.
#include "director/director.h"

#include <unistd.h>

#include <random>

#include "conf/log.h"
#include "director/health_monitor.h"
#include "director/userspace_forwarder.h"
#include "sticky/persistence.h"
#ifdef TSD_HAVE_BPF
#include "director/fast_path.h"
#include "director/kernel_forwarder.h"
#endif

namespace tsd::director {
namespace {
constexpr auto kStickySaveEvery = std::chrono::seconds(10);
constexpr size_t kMaxStateFile = 512u << 20;

std::string statePath(const conf::Config& cfg) { return cfg.director.state_dir + "/sticky.state"; }
}  // namespace

Director::Director(event_base* base, DirectorOptions opts)
    : base_(base), opts_(std::move(opts)), sticky_(100000, std::chrono::hours(8)) {
  seed_ = std::random_device{}();
  reaper_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* a) { static_cast<Director*>(a)->dead_.clear(); }, this));
  save_timer_.reset(event_new(
      base_, -1, EV_PERSIST,
      [](evutil_socket_t, short, void* a) {
        auto* d = static_cast<Director*>(a);
        if (d->sticky_dirty_) d->saveSticky();
      },
      this));
}

Director::~Director() {
  // Connections hold forwarders that use the fast path and the loop: free them first.
  dead_.clear();
  conns_.clear();
}

Status Director::start(conf::ConfigPtr cfg) {
  if (Status s = setUpFastPath(*cfg); !s.ok()) return s;
  std::map<std::string, std::unique_ptr<Listener>> listeners;
  if (Status s = openListeners(*cfg, &listeners); !s.ok()) return s;
  sessions_ =
      std::make_unique<sticky::SessionIndex>(cfg->sticky.ipv4_prefix, cfg->sticky.ipv6_prefix);
  health_ = std::make_unique<HealthMonitor>(base_, *this);
  apply(cfg, std::move(listeners));
  loadSticky();
  timeval tv = toTimeval(kStickySaveEvery);
  event_add(save_timer_.get(), &tv);
  LOG_INFO("tsdirector started: %zu services, %zu nodes, data path %s", cfg->services.size(),
           cfg->nodes.size(), fast_path_ ? "ebpf" : "userspace");
  return {};
}

Status Director::setUpFastPath(const conf::Config& cfg) {
  if (cfg.director.fast_path == conf::FastPath::kUserspace) return {};
#ifdef TSD_HAVE_BPF
  auto fp = FastPath::load();
  if (fp.ok()) {
    fast_path_ = std::shared_ptr<FastPath>(std::move(fp).value());
    return {};
  }
  fast_path_error_ = fp.error();
#else
  fast_path_error_ = "this build has no eBPF support (built with TSD_BPF=OFF)";
#endif
  if (cfg.director.fast_path == conf::FastPath::kEbpf) {
    return makeError("fast_path = ebpf: " + fast_path_error_);
  }
  LOG_WARN("fast_path = auto: eBPF fast path unavailable, using the user-space path: %s",
           fast_path_error_.c_str());
  return {};
}

Status Director::openListeners(const conf::Config& cfg,
                               std::map<std::string, std::unique_ptr<Listener>>* out) {
  auto take = [&](const SockAddr& a) -> Status {
    std::string key = a.toString();
    if (auto it = listeners_.find(key); it != listeners_.end()) {
      (*out)[key] = std::move(it->second);  // keep the open socket
      listeners_.erase(it);
      return {};
    }
    auto fd = Listener::bindSocket(a);
    if (!fd.ok()) return makeError(fd.error());
    (*out)[key] = std::make_unique<Listener>(base_, a, std::move(fd).value(), nullptr);
    return {};
  };
  Status st;
  for (const auto& svc : cfg.services) {
    for (const auto& a : svc.listen) {
      if (st.ok()) st = take(a);
    }
  }
  for (const auto& n : cfg.nodes) {
    if (n.manual_listen && st.ok()) st = take(*n.manual_listen);
  }
  if (!st.ok()) {
    // Put the kept sockets back; the new ones close as `out` goes away.
    for (auto& [key, l] : *out) {
      if (l && listeners_.count(key) == 0) listeners_[key] = std::move(l);
    }
    out->clear();
  }
  return st;
}

void Director::apply(conf::ConfigPtr cfg,
                     std::map<std::string, std::unique_ptr<Listener>> listeners) {
  cfg_ = cfg;
  for (const auto& name : nodes_.apply(*cfg)) {
    size_t dropped = sticky_.eraseNode(name);
    sessions_->removeNode(name);
    LOG_INFO("node %s removed: %zu sticky entries dropped; live sessions stay until they end",
             name.c_str(), dropped);
  }
  sticky_.setLimits(cfg->sticky.capacity, cfg->sticky.ttl);
  sessions_->setPrefixes(cfg->sticky.ipv4_prefix, cfg->sticky.ipv6_prefix);
  listeners_ = std::move(listeners);  // listeners no longer configured close here
  services_.clear();
  for (const auto& svc : cfg->services) {
    services_[svc.name];
    for (const auto& a : svc.listen) {
      listeners_.at(a.toString())
          ->setCallback([this, name = svc.name](UniqueFd fd, const SockAddr& peer) {
            accept(name, nullptr, std::move(fd), peer);
          });
    }
  }
  for (const auto& n : cfg->nodes) {
    if (!n.manual_listen) continue;
    listeners_.at(n.manual_listen->toString())
        ->setCallback([this, node = n.name](UniqueFd fd, const SockAddr& peer) {
          NodeRuntime* rt = nodes_.find(node);
          // A manual listener serves the node's first service (its port, check and stats).
          accept(cfg_->services.front().name, rt, std::move(fd), peer);
        });
  }
  if (scratch_.size() < cfg->director.buffer_size) scratch_.resize(cfg->director.buffer_size);
  health_->apply(*cfg);
  snapshots_dirty_ = true;
}

Status Director::reload() {
  auto next = conf::loadConfig(opts_.config_path);
  if (!next.ok()) {
    ++stats_.reloads_failed;
    LOG_ERROR("reload failed, configuration unchanged: %s", next.error().c_str());
    return makeError(next.error());
  }
  const conf::Config& cfg = **next;
  std::string refuse;
  if (cfg.director.fast_path != cfg_->director.fast_path ||
      cfg.director.transparent != cfg_->director.transparent ||
      cfg.director.state_dir != cfg_->director.state_dir ||
      cfg.director.user != cfg_->director.user) {
    refuse = "fast_path, transparent, state_dir and user take effect only on restart";
  }
  if (cfg.director.buffer_size > scratch_.size() && !conns_.empty()) {
    refuse = "buffer_size can grow only on restart while connections are live";
  }
  std::map<std::string, std::unique_ptr<Listener>> listeners;
  if (refuse.empty()) {
    if (Status s = openListeners(cfg, &listeners); !s.ok()) refuse = s.error();
  }
  if (!refuse.empty()) {
    ++stats_.reloads_failed;
    LOG_ERROR("reload of %s refused, configuration unchanged: %s", opts_.config_path.c_str(),
              refuse.c_str());
    return makeError(refuse);
  }
  apply(*next, std::move(listeners));
  ++stats_.reloads_ok;
  ++stats_.config_generation;
  LOG_INFO("reloaded %s: generation %llu, %zu services, %zu nodes", opts_.config_path.c_str(),
           static_cast<unsigned long long>(stats_.config_generation), cfg.services.size(),
           cfg.nodes.size());
  return {};
}

void Director::accept(const std::string& service, NodeRuntime* manual, UniqueFd fd,
                      const SockAddr& peer) {
  ServiceStats& ss = stats_.services[service];
  ++ss.accepted;
  if (stopping_) return;
  if (stats_.active >= static_cast<uint64_t>(cfg_->director.max_connections)) {
    ++ss.refused_limit;
    LOG_DEBUG("%s: %s refused: max_connections (%d) reached", service.c_str(),
              peer.toString().c_str(), cfg_->director.max_connections);
    return;  // fd closes: the client sees a clean close
  }
  ++stats_.active;
  ++ss.active;
  auto conn = std::make_unique<Connection>(*this, service, std::move(fd), peer, manual);
  Connection* c = conn.get();
  conns_.push_back(std::move(conn));
  c->position = std::prev(conns_.end());
  c->listed = true;
  c->start();
}

void Director::release(Connection& c) {
  if (!c.listed) return;
  c.listed = false;
  --stats_.active;
  ServiceStats& ss = stats_.services[c.service()];
  if (ss.active > 0) --ss.active;
  dead_.push_back(std::move(*c.position));
  conns_.erase(c.position);
  event_active(reaper_.get(), 0, 0);
}

void Director::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  listeners_.clear();
  health_.reset();
  // Connections end with the process; a reset tells both sides at once.
  std::vector<Connection*> live;
  for (auto& c : conns_) live.push_back(c.get());
  for (auto* c : live) c->abort();
  saveSticky();
  event_del(save_timer_.get());
}

ForwardStats Director::liveBytes() const {
  ForwardStats s = closed_bytes_;
  for (const auto& c : conns_) {
    ForwardStats f = c->stats();
    s.up += f.up;
    s.down += f.down;
  }
  return s;
}

void Director::saveSticky() {
  if (!cfg_) return;
  auto now = sticky::StickyTable::Clock::now();
  sticky_.expire(now);
  std::string data = sticky::serialize(sticky_, now);
  Status s = sticky::saveAtomically(statePath(*cfg_), data);
  if (!s.ok()) {
    LOG_WARN("saving sticky state: %s", s.error().c_str());
    return;
  }
  sticky_dirty_ = false;
}

void Director::loadSticky() {
  auto data = sticky::readFile(statePath(*cfg_), kMaxStateFile);
  if (!data.ok()) {
    if (access(statePath(*cfg_).c_str(), F_OK) == 0) {
      LOG_WARN("sticky state not loaded: %s", data.error().c_str());
    }
    return;
  }
  // Entries for nodes that are no longer configured are dropped.
  auto n =
      sticky::restore(sticky_, *data, sticky::StickyTable::Clock::now(),
                      [this](std::string_view node) { return cfg_->findNode(node) != nullptr; });
  if (!n.ok()) {
    LOG_WARN("sticky state %s ignored: %s", statePath(*cfg_).c_str(), n.error().c_str());
    return;
  }
  LOG_INFO("sticky state: %zu entries restored from %s", sticky_.size(), statePath(*cfg_).c_str());
}

}  // namespace tsd::director
