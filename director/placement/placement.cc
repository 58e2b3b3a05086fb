// The decision order, first match wins.
#include "director/placement/placement.h"

#include <algorithm>

namespace tsd::director {
namespace {

bool wasTried(std::span<const NodeId> tried, NodeId id) {
  return std::find(tried.begin(), tried.end(), id) != tried.end();
}

bool usable(const PlacementRequest& req, const PlacementInputs& in, NodeId id) {
  return id != kNoId && !wasTried(req.tried, id) && in.acceptsReturning(id, req.service);
}

std::optional<Placement> returning(const PlacementRequest& req, PlacementInputs& in) {
  const sticky::Identity& id = *req.identity;
  auto ok = [&](NodeId n) { return usable(req, in, n); };
  if (auto pin = in.userPin(id, ok)) return Placement{*pin, Reason::kUser};
  if (auto users = in.users(id); users.size() == 1) {
    if (auto home = in.home(users.front(), ok)) return Placement{*home, Reason::kUser};
  }
  if (auto hit = in.session(id, ok)) {
    Placement p{hit->node, Reason::kSession};
    p.ambiguous = hit->ambiguous;
    return p;
  }
  if (auto node = in.sticky(id)) {
    if (ok(*node)) return Placement{*node, Reason::kSticky};
    // The home node is down, gone or already failed: the user is re-placed (and re-stuck).
    Placement p;
    p.sticky_replaced = true;
    return p;
  }
  return std::nullopt;
}

}  // namespace

std::optional<NodeId> PlacementInputs::userPin(const sticky::Identity&,
                                               const std::function<bool(NodeId)>&) const {
  return std::nullopt;
}

std::vector<std::string> PlacementInputs::users(const sticky::Identity&) const { return {}; }

std::optional<NodeId> PlacementInputs::home(std::string_view,
                                            const std::function<bool(NodeId)>&) const {
  return std::nullopt;
}

Placement decide(const PlacementRequest& req, PlacementInputs& in) {
  if (req.manual != kNoId) {
    // A user's explicit choice by port: that node or nothing.
    if (usable(req, in, req.manual)) return {req.manual, Reason::kManual};
    return {};
  }
  if (usable(req, in, req.sni_node)) return {req.sni_node, Reason::kManual};
  bool has_identity = req.identity != nullptr && !req.identity->empty();
  Placement p;
  if (req.returning && has_identity) {
    if (auto r = returning(req, in)) {
      if (r->found()) return *r;
      p = *r;  // keeps sticky_replaced
    }
  }
  bool home_failed = !req.tried.empty() && req.previous &&
                     (*req.previous == Reason::kSession || *req.previous == Reason::kSticky ||
                      *req.previous == Reason::kUser);
  if (auto n = in.schedule(req.service, req.key_hash, req.tried)) {
    p.node = *n;
    p.reason = home_failed ? Reason::kFallback : Reason::kScheduler;
  }
  return p;
}

}  // namespace tsd::director
