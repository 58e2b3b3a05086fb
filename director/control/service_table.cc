// Service ids, precomputed node addresses and schedulers.
#include "director/control/service_table.h"

#include <random>

namespace tsd::director {

ServiceRuntime* ServiceTable::find(std::string_view name) {
  for (auto& s : services_) {  // config apply and tests only: a handful of services
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string> ServiceTable::apply(const conf::Config& cfg, const NodeTable& nodes) {
  std::vector<std::string> log;
  if (seed_ == 0) seed_ = std::random_device{}() | 1;
  for (auto& s : services_) {
    if (!s.removed && cfg.findService(s.name) == nullptr) {
      s.removed = true;
      s.cfg = nullptr;
      s.scheduler.reset();
      s.snapshot.reset();
      log.push_back("service " + s.name + " removed");
    }
  }
  for (const auto& sc : cfg.services) {
    ServiceRuntime* s = find(sc.name);
    if (s == nullptr) {
      services_.emplace_back();
      s = &services_.back();
      s->id = static_cast<ServiceId>(services_.size() - 1);
      s->name = sc.name;
      log.push_back("service " + sc.name + " added");
    } else if (s->removed) {
      log.push_back("service " + sc.name + " added back");
    } else if (s->cfg != nullptr && cfg.algorithmFor(sc) != s->algorithm && s->scheduler) {
      log.push_back("service " + sc.name + ": algorithm " +
                    std::string(conf::toString(s->algorithm)) + " -> " +
                    std::string(conf::toString(cfg.algorithmFor(sc))));
    }
    s->removed = false;
    s->cfg = &sc;
    s->check = sc.check;
    s->addresses.assign(nodes.all().size(), SockAddr{});
    for (const auto& n : nodes.all()) {
      if (!n->removed) s->addresses[n->id] = n->cfg.addressFor(sc);
    }
  }
  return log;
}

void ServiceTable::rebuild(const conf::Config& cfg, const NodeTable& nodes,
                           SteadyClock::time_point now) {
  for (auto& s : services_) {
    if (s.removed) continue;
    auto snap = nodes.snapshot(s.ref(), cfg, now);
    conf::Algorithm alg = cfg.algorithmFor(*s.cfg);
    if (s.scheduler && s.algorithm == alg && !sched::needsRebuild(alg, *s.snapshot, *snap)) {
      continue;
    }
    s.snapshot = snap;
    s.algorithm = alg;
    s.scheduler = sched::makeTrackingScheduler(alg, snap, ++seed_, nodes.activeCounts());
  }
}

void ServiceTable::activeChanged(NodeId node, uint32_t active) {
  for (auto& s : services_) {
    if (s.scheduler) s.scheduler->setActive(node, active);
  }
}

std::optional<NodeId> ServiceTable::pick(ServiceId id, uint64_t key_hash,
                                         std::span<const NodeId> tried,
                                         const std::vector<uint32_t>& active) {
  ServiceRuntime* s = byId(id);
  if (s == nullptr || !s->scheduler) return std::nullopt;
  sched::PickRequest req;
  req.key_hash = key_hash;
  req.active = active;
  req.exclude = tried;
  auto n = s->scheduler->pick(req);
  if (!n) return std::nullopt;
  return static_cast<NodeId>(*n);
}

}  // namespace tsd::director
