// Admin commands. Runtime node changes go into NodeRuntime's admin overrides (which survive a
// reload unless the file changes that node) and setting the file's own value clears them.
#include "director/admin_commands.h"

#include <charconv>

#include "conf/log.h"
#include "director/metrics.h"

namespace tsd::director {
namespace {

using StickyClock = sticky::StickyTable::Clock;

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

Status arity(const std::vector<std::string_view>& a, size_t min, size_t max, const char* usage) {
  if (a.size() - 1 < min || a.size() - 1 > max) {
    return makeError("usage: " + std::string(usage));
  }
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
  JsonWriter result;
  Status s = args.empty() ? Status(makeError("empty request; commands: " + std::string(kCommands)))
             : args.size() > kMaxArgs ? Status(makeError("too many arguments"))
                                      : run(args, result);
  if (!s.ok()) {
    JsonWriter w;
    w.beginObject().field("ok", false).field("error", s.error()).endObject();
    return w.str() + "\n";
  }
  return "{\"ok\":true,\"result\":" + result.str() + "}\n";
}

Status AdminCommands::run(const Args& a, JsonWriter& w) {
  std::string_view cmd = a[0];
  if (cmd == "nodes") {
    if (Status s = arity(a, 0, 0, "nodes"); !s.ok()) return s;
    return nodes(w);
  }
  if (cmd == "sessions") {
    if (Status s = arity(a, 0, 0, "sessions"); !s.ok()) return s;
    return sessions(w);
  }
  if (cmd == "sticky") return sticky(a, w);
  if (cmd == "drain") return setState(a, conf::NodeState::kDrain, w);
  if (cmd == "maint") return setState(a, conf::NodeState::kMaint, w);
  if (cmd == "ready") return setState(a, conf::NodeState::kActive, w);
  if (cmd == "weight") return weight(a, w);
  if (cmd == "pin") return pin(a, w);
  if (cmd == "unpin") return unpin(a, w);
  if (cmd == "reload") {
    if (Status s = arity(a, 0, 0, "reload"); !s.ok()) return s;
    return reload(w);
  }
  return makeError("unknown command '" + std::string(cmd) + "'; commands: " + kCommands);
}

Result<NodeRuntime*> AdminCommands::node(std::string_view name) {
  NodeRuntime* n = d_.nodes().find(name);
  if (n != nullptr && !n->removed) return n;
  std::string known;
  for (const auto& nc : d_.configPtr()->nodes) known += (known.empty() ? "" : ", ") + nc.name;
  return makeError("unknown node '" + std::string(name) + "' (nodes: " + known + ")");
}

Result<sticky::Identity> AdminCommands::identity(std::string_view text) {
  if (sticky::isCanonicalIdentityKey(text)) return sticky::Identity{std::string(text)};
  const auto& sc = d_.configPtr()->sticky;
  if (auto id = sticky::identityFromAddressString(text, sc.ipv4_prefix, sc.ipv6_prefix)) {
    return *id;
  }
  return makeError("bad identity '" + std::string(text) +
                   "': expected a client address (10.0.0.5), a key as `sticky` shows it "
                   "(10.0.0.0/24) or sni:HOST");
}

Status AdminCommands::nodes(JsonWriter& w) {
  writeNodes(w, nodeViews(d_));
  return {};
}

Status AdminCommands::sessions(JsonWriter& w) {
  w.beginArray();
  for (const auto& r : d_.sessionIndex().dump()) {
    w.beginObject().field("identity", r.identity.key).field("node", r.node);
    w.field("user", r.session.user).field("client", r.session.client_address);
    w.field("state", r.session.suspended ? "suspended" : "running");
    w.field("since", r.session.since_unix).endObject();
  }
  w.endArray();
  return {};
}

Status AdminCommands::sticky(const Args& a, JsonWriter& w) {
  if (Status s = arity(a, 0, 1, "sticky [IDENTITY]"); !s.ok()) return s;
  std::optional<sticky::Identity> only;
  if (a.size() == 2) {
    auto id = identity(a[1]);
    if (!id.ok()) return makeError(id.error());
    only = *id;
  }
  auto now = StickyClock::now();
  auto entries = d_.stickyTable().entries(now);
  if (only && std::none_of(entries.begin(), entries.end(),
                           [&](const auto& e) { return e.identity == *only; })) {
    return makeError("no sticky entry for " + only->key);
  }
  w.beginArray();
  for (const auto& e : entries) {
    if (only && e.identity != *only) continue;
    w.beginObject().field("identity", e.identity.key).field("node", e.node);
    w.field("connections", e.connections).field("pinned", e.pinned);
    w.key("expires");
    e.expires ? w.value(unixSeconds(*e.expires)) : w.null();
    w.key("pinned_until");
    e.pinned_until ? w.value(unixSeconds(*e.pinned_until)) : w.null();
    w.endObject();
  }
  w.endArray();
  return {};
}

Status AdminCommands::setState(const Args& a, conf::NodeState st, JsonWriter& w) {
  std::string usage = std::string(a[0]) + " NODE";
  if (Status s = arity(a, 1, 1, usage.c_str()); !s.ok()) return s;
  auto n = node(a[1]);
  if (!n.ok()) return makeError(n.error());
  NodeRuntime& rt = **n;
  // Asking for what the file says clears the override: the node follows the file again.
  if (st == rt.cfg.state) {
    rt.admin_state.reset();
  } else {
    rt.admin_state = st;
  }
  d_.nodesChanged();
  LOG_INFO("admin: node %s is now %s%s", rt.cfg.name.c_str(), std::string(toString(st)).c_str(),
           rt.admin_state ? " (runtime)" : "");
  w.beginObject().field("node", rt.cfg.name).field("state", conf::toString(st));
  w.field("runtime", rt.admin_state.has_value()).endObject();
  return {};
}

Status AdminCommands::weight(const Args& a, JsonWriter& w) {
  if (Status s = arity(a, 2, 2, "weight NODE N"); !s.ok()) return s;
  auto n = node(a[1]);
  if (!n.ok()) return makeError(n.error());
  auto v = parseWeight(a[2]);
  if (!v.ok()) return makeError(v.error());
  NodeRuntime& rt = **n;
  if (*v == rt.cfg.weight) {
    rt.admin_weight.reset();
  } else {
    rt.admin_weight = *v;
  }
  d_.nodesChanged();
  LOG_INFO("admin: node %s weight %d%s", rt.cfg.name.c_str(), *v,
           rt.admin_weight ? " (runtime)" : "");
  w.beginObject().field("node", rt.cfg.name).field("weight", *v);
  w.field("runtime", rt.admin_weight.has_value()).endObject();
  return {};
}

Status AdminCommands::pin(const Args& a, JsonWriter& w) {
  if (Status s = arity(a, 2, 3, "pin IDENTITY NODE [TTL]"); !s.ok()) return s;
  auto id = identity(a[1]);
  if (!id.ok()) return makeError(id.error());
  auto n = node(a[2]);
  if (!n.ok()) return makeError(n.error());
  std::optional<StickyClock::time_point> until;
  if (a.size() == 4) {
    auto ttl = parseTtl(a[3]);
    if (!ttl.ok()) return makeError(ttl.error());
    until = StickyClock::now() + *ttl;
  }
  d_.stickyTable().pin(*id, (*n)->cfg.name, until);
  d_.saveSticky();
  LOG_INFO("admin: %s pinned to node %s", id->key.c_str(), (*n)->cfg.name.c_str());
  w.beginObject().field("identity", id->key).field("node", (*n)->cfg.name).key("until");
  until ? w.value(unixSeconds(*until)) : w.null();
  w.endObject();
  return {};
}

Status AdminCommands::unpin(const Args& a, JsonWriter& w) {
  if (Status s = arity(a, 1, 1, "unpin IDENTITY"); !s.ok()) return s;
  auto id = identity(a[1]);
  if (!id.ok()) return makeError(id.error());
  if (!d_.stickyTable().unpin(*id)) return makeError(id->key + " is not pinned");
  d_.saveSticky();
  LOG_INFO("admin: %s unpinned", id->key.c_str());
  w.beginObject().field("identity", id->key).endObject();
  return {};
}

Status AdminCommands::reload(JsonWriter& w) {
  if (Status s = reload_(); !s.ok()) return s;
  w.beginObject().field("generation", d_.stats().config_generation).endObject();
  return {};
}

}  // namespace tsd::director
