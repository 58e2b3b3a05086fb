// Admin commands. Runtime node changes go through the director's admin actions (overrides
// that survive a reload unless the file changes that node; setting the file's own value
// clears them).
#include "director/ops/admin_commands.h"

#include "director/ops/node_view.h"
#include "director/protocol/admin_protocol.h"
#include "director/protocol/commands.h"

namespace tsd::director {
namespace {

using StickyClock = sticky::StickyTable::Clock;
using Json = nlohmann::json;

int64_t unixSeconds(StickyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Json unixOrNull(const std::optional<StickyClock::time_point>& t) {
  return t ? Json(unixSeconds(*t)) : Json();
}

}  // namespace

std::string AdminCommands::handle(std::string_view line) {
  auto words = protocol::parseRequest(line);
  if (!words.ok()) return protocol::encodeError(words.error());
  if (Status s = protocol::checkArity(*words); !s.ok()) return protocol::encodeError(s.error());
  Result<Json> r = run(*words);
  return r.ok() ? protocol::encodeOk(*r) : protocol::encodeError(r.error());
}

Result<Json> AdminCommands::run(const Args& a) {
  // Arity was checked against the shared command table.
  const std::string& cmd = a[0];
  if (cmd == "nodes") return Json(nodeViews(d_));
  if (cmd == "sessions") return sessions();
  if (cmd == "users") return users();
  if (cmd == "reload") return reload();
  if (cmd == "sticky") return sticky(a);
  if (cmd == "drain") return setState(a, conf::NodeState::kDrain);
  if (cmd == "maint") return setState(a, conf::NodeState::kMaint);
  if (cmd == "ready") return setState(a, conf::NodeState::kActive);
  if (cmd == "weight") return weight(a);
  if (cmd == "pin") return pin(a);
  return unpin(a);
}

Error AdminCommands::unknownNode(std::string_view name) const {
  std::string known;
  for (const auto& nc : d_.config()->nodes) known += (known.empty() ? "" : ", ") + nc.name;
  return makeError("unknown node '" + std::string(name) + "' (nodes: " + known + ")");
}

Result<sticky::Identity> AdminCommands::identity(std::string_view text) const {
  if (sticky::isCanonicalIdentityKey(text)) return sticky::Identity{std::string(text)};
  const auto& sc = d_.config()->sticky;
  if (auto id = sticky::identityFromAddressString(text, sc.ipv4_prefix, sc.ipv6_prefix)) {
    return *id;
  }
  return makeError("bad identity '" + std::string(text) +
                   "': expected a client address (10.0.0.5), a key as `sticky` shows it "
                   "(10.0.0.0/24) or sni:HOST");
}

Json AdminCommands::sessions() const {
  Json out = Json::array();
  for (const auto& r : d_.sessionIndex().dump()) {
    out.push_back({{"identity", r.identity.key},
                   {"node", r.node},
                   {"user", r.session.user},
                   {"client", r.session.client_address},
                   {"state", r.session.suspended ? "suspended" : "running"},
                   {"since", r.session.since_unix}});
  }
  return out;
}

// The user table: each user with their home (the node of their best session), the client
// identities they were seen behind, and when a connection of theirs was last matched.
Json AdminCommands::users() const {
  Json out = Json::array();
  for (const auto& u : d_.userTable().dump()) {
    Json ids = Json::array();
    for (const auto& id : u.identities) ids.push_back(id.key);
    Json home = u.home ? Json(u.home->node) : Json(nullptr);
    Json state = u.home ? Json(u.home->suspended ? "suspended" : "running") : Json(nullptr);
    Json seen = nullptr;
    if (u.last_seen) {
      seen =
          std::chrono::duration_cast<std::chrono::seconds>(u.last_seen->time_since_epoch()).count();
    }
    out.push_back({{"user", u.user},
                   {"home", std::move(home)},
                   {"home_state", std::move(state)},
                   {"identities", std::move(ids)},
                   {"last_seen", std::move(seen)}});
  }
  return out;
}

Result<Json> AdminCommands::sticky(const Args& a) const {
  std::optional<sticky::Identity> only;
  if (a.size() == 2) {
    auto id = identity(a[1]);
    if (!id.ok()) return makeError(id.error());
    only = *id;
  }
  auto entries = d_.stickyTable().entries(StickyClock::now());
  if (only && std::none_of(entries.begin(), entries.end(),
                           [&](const auto& e) { return e.identity == *only; })) {
    return makeError("no sticky entry for " + only->key);
  }
  Json out = Json::array();
  for (const auto& e : entries) {
    if (only && e.identity != *only) continue;
    out.push_back({{"identity", e.identity.key},
                   {"node", e.node},
                   {"connections", e.connections},
                   {"pinned", e.pinned},
                   {"expires", unixOrNull(e.expires)},
                   {"pinned_until", unixOrNull(e.pinned_until)}});
  }
  return out;
}

Result<Json> AdminCommands::setState(const Args& a, conf::NodeState st) {
  auto n = d_.setNodeState(a[1], st);
  if (!n.ok()) return unknownNode(a[1]);
  return Json{{"node", (*n)->cfg.name},
              {"state", std::string(conf::toString(st))},
              {"runtime", (*n)->admin_state.has_value()}};
}

Result<Json> AdminCommands::weight(const Args& a) {
  if (d_.nodes().find(a[1]) == nullptr) return unknownNode(a[1]);
  auto v = protocol::parseWeight(a[2]);
  if (!v.ok()) return makeError(v.error());
  auto n = d_.setNodeWeight(a[1], *v);
  if (!n.ok()) return unknownNode(a[1]);
  return Json{
      {"node", (*n)->cfg.name}, {"weight", *v}, {"runtime", (*n)->admin_weight.has_value()}};
}

Result<Json> AdminCommands::pin(const Args& a) {
  auto id = identity(a[1]);
  if (!id.ok()) return makeError(id.error());
  std::optional<StickyClock::time_point> until;
  if (a.size() == 4) {
    auto ttl = protocol::parseTtl(a[3]);
    if (!ttl.ok()) return makeError(ttl.error());
    until = StickyClock::now() + *ttl;
  }
  if (Status s = d_.pin(*id, a[2], until); !s.ok()) return unknownNode(a[2]);
  return Json{{"identity", id->key}, {"node", std::string(a[2])}, {"until", unixOrNull(until)}};
}

Result<Json> AdminCommands::unpin(const Args& a) {
  auto id = identity(a[1]);
  if (!id.ok()) return makeError(id.error());
  if (!d_.unpin(*id)) return makeError(id->key + " is not pinned");
  return Json{{"identity", id->key}};
}

Result<Json> AdminCommands::reload() {
  if (Status s = reload_(); !s.ok()) return makeError(s.error());
  return Json{{"generation", d_.stats().config_generation}};
}

}  // namespace tsd::director
