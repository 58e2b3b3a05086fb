// Admin commands. Runtime node changes go through the director's admin actions (overrides
// that survive a reload unless the file changes that node; setting the file's own value
// clears them).
#include "director/ops/admin_commands.h"

#include <charconv>

#include "director/ops/node_view.h"

namespace tsd::director {
namespace {

using StickyClock = sticky::StickyTable::Clock;
using Json = nlohmann::json;

constexpr size_t kMaxArgs = 8;
constexpr const char* kCommands =
    "nodes, sessions, sticky [IDENTITY], drain NODE, maint NODE, ready NODE, weight NODE N, "
    "pin IDENTITY NODE [TTL], unpin IDENTITY, reload";

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

int64_t unixSeconds(StickyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Json unixOrNull(const std::optional<StickyClock::time_point>& t) {
  return t ? Json(unixSeconds(*t)) : Json();
}

Status arity(const std::vector<std::string_view>& a, size_t min, size_t max, std::string usage) {
  if (a.size() - 1 < min || a.size() - 1 > max) return makeError("usage: " + usage);
  return {};
}

}  // namespace

Result<int> parseWeight(std::string_view s) {
  int v = -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v > kMaxAdminWeight) {
    return makeError("bad weight '" + std::string(s) + "': expected an integer 0..1000");
  }
  return v;
}

Result<conf::Duration> parseTtl(std::string_view s) {
  auto d = conf::parseDuration(s);
  if (!d || d->count() <= 0) {
    return makeError("bad TTL '" + std::string(s) + "': expected a duration like 30m, 8h or 2d");
  }
  return *d;
}

std::string AdminCommands::handle(std::string_view line) {
  auto args = split(line);
  Result<Json> r =
      args.empty() ? Result<Json>(makeError("empty request; commands: " + std::string(kCommands)))
      : args.size() > kMaxArgs ? Result<Json>(makeError("too many arguments"))
                               : run(args);
  Json reply = r.ok() ? Json{{"ok", true}, {"result", std::move(r).value()}}
                      : Json{{"ok", false}, {"error", r.error()}};
  return dumpJson(reply) + "\n";
}

Result<Json> AdminCommands::run(const Args& a) {
  std::string_view cmd = a[0];
  if (cmd == "nodes" || cmd == "sessions" || cmd == "reload") {
    if (Status s = arity(a, 0, 0, std::string(cmd)); !s.ok()) return makeError(s.error());
    if (cmd == "nodes") return Json(nodeViews(d_));
    if (cmd == "sessions") return sessions();
    return reload();
  }
  if (cmd == "sticky") return sticky(a);
  if (cmd == "drain") return setState(a, conf::NodeState::kDrain);
  if (cmd == "maint") return setState(a, conf::NodeState::kMaint);
  if (cmd == "ready") return setState(a, conf::NodeState::kActive);
  if (cmd == "weight") return weight(a);
  if (cmd == "pin") return pin(a);
  if (cmd == "unpin") return unpin(a);
  return makeError("unknown command '" + std::string(cmd) + "'; commands: " + kCommands);
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

Result<Json> AdminCommands::sticky(const Args& a) const {
  if (Status s = arity(a, 0, 1, "sticky [IDENTITY]"); !s.ok()) return makeError(s.error());
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
  if (Status s = arity(a, 1, 1, std::string(a[0]) + " NODE"); !s.ok()) return makeError(s.error());
  auto n = d_.setNodeState(a[1], st);
  if (!n.ok()) return unknownNode(a[1]);
  return Json{{"node", (*n)->cfg.name},
              {"state", std::string(conf::toString(st))},
              {"runtime", (*n)->admin_state.has_value()}};
}

Result<Json> AdminCommands::weight(const Args& a) {
  if (Status s = arity(a, 2, 2, "weight NODE N"); !s.ok()) return makeError(s.error());
  if (d_.nodes().find(a[1]) == nullptr) return unknownNode(a[1]);
  auto v = parseWeight(a[2]);
  if (!v.ok()) return makeError(v.error());
  auto n = d_.setNodeWeight(a[1], *v);
  if (!n.ok()) return unknownNode(a[1]);
  return Json{
      {"node", (*n)->cfg.name}, {"weight", *v}, {"runtime", (*n)->admin_weight.has_value()}};
}

Result<Json> AdminCommands::pin(const Args& a) {
  if (Status s = arity(a, 2, 3, "pin IDENTITY NODE [TTL]"); !s.ok()) return makeError(s.error());
  auto id = identity(a[1]);
  if (!id.ok()) return makeError(id.error());
  std::optional<StickyClock::time_point> until;
  if (a.size() == 4) {
    auto ttl = parseTtl(a[3]);
    if (!ttl.ok()) return makeError(ttl.error());
    until = StickyClock::now() + *ttl;
  }
  if (Status s = d_.pin(*id, a[2], until); !s.ok()) return unknownNode(a[2]);
  return Json{{"identity", id->key}, {"node", std::string(a[2])}, {"until", unixOrNull(until)}};
}

Result<Json> AdminCommands::unpin(const Args& a) {
  if (Status s = arity(a, 1, 1, "unpin IDENTITY"); !s.ok()) return makeError(s.error());
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
