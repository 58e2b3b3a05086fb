// Sections to Config: which sections and keys exist, each key's syntax and range. One table per
// section, so the accepted keys are listed in one place (and keysOf() can give them to tests).

#include "conf/field_setters.h"
#include "conf/parser_detail.h"

namespace tsd::conf::detail {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
constexpr auto kDay = hours(24);

template <typename T>
struct Field {
  std::string_view key;
  Status (*set)(T&, std::string_view);
};

const Field<DirectorConfig> kDirectorFields[] = {
    {"algorithm",
     [](DirectorConfig& c, std::string_view v) { return setAlgorithm(c.algorithm, v); }},
    {"fast_path",
     [](DirectorConfig& c, std::string_view v) {
       return setEnum(c.fast_path, v, parseFastPath, "auto, ebpf, userspace");
     }},
    {"connect_timeout",
     [](DirectorConfig& c, std::string_view v) {
       return setDuration(c.connect_timeout, v, milliseconds(10), minutes(5), false);
     }},
    {"connect_attempts",
     [](DirectorConfig& c, std::string_view v) { return setInt(c.connect_attempts, v, 1, 16); }},
    {"max_connections",
     [](DirectorConfig& c, std::string_view v) {
       return setInt(c.max_connections, v, 1, 10'000'000);
     }},
    {"transparent",
     [](DirectorConfig& c, std::string_view v) { return setBool(c.transparent, v); }},
    {"state_dir",
     [](DirectorConfig& c, std::string_view v) { return setPath(c.state_dir, v, false); }},
    {"user", [](DirectorConfig& c, std::string_view v) { return setUser(c.user, v); }},
    {"stop_grace",
     [](DirectorConfig& c, std::string_view v) {
       return setDuration(c.stop_grace, v, seconds(1), 7 * kDay, true);
     }},
    {"idle_timeout",
     [](DirectorConfig& c, std::string_view v) {
       return setDuration(c.idle_timeout, v, seconds(1), 365 * kDay, true);
     }},
    {"buffer_size",
     [](DirectorConfig& c, std::string_view v) {
       return setSize(c.buffer_size, v, 16 << 10, 4 << 20);
     }},
    {"demote_bytes",
     [](DirectorConfig& c, std::string_view v) {
       return setSize(c.demote_bytes, v, 64 << 10, 1ULL << 30);
     }},
    {"promote_after",
     [](DirectorConfig& c, std::string_view v) {
       return setDuration(c.promote_after, v, milliseconds(10), seconds(3600), true);
     }},
};

const Field<ServiceConfig> kServiceFields[] = {
    {"listen", [](ServiceConfig& c, std::string_view v) { return setListenList(c.listen, v); }},
    {"port", [](ServiceConfig& c, std::string_view v) { return setPort(c.port, v); }},
    {"algorithm",
     [](ServiceConfig& c, std::string_view v) {
       Algorithm a{};
       Status st = setAlgorithm(a, v);
       if (st) c.algorithm = a;
       return st;
     }},
    {"check",
     [](ServiceConfig& c, std::string_view v) {
       return setEnum(c.check, v, parseCheckKind, "none, tcp, ssh, agent");
     }},
    {"sticky_key",
     [](ServiceConfig& c, std::string_view v) {
       return setEnum(c.sticky_key, v, parseStickyKey, "src, sni, none");
     }},
    {"wrong_node",
     [](ServiceConfig& c, std::string_view v) {
       WrongNode w{};
       Status st = setEnum(w, v, parseWrongNode, "keep, bounce");
       if (st) c.wrong_node = w;
       return st;
     }},
};

const Field<NodeConfig> kNodeFields[] = {
    {"address", [](NodeConfig& c, std::string_view v) { return setNodeAddress(c, v); }},
    {"weight", [](NodeConfig& c, std::string_view v) { return setInt(c.weight, v, 0, 1000); }},
    {"max_sessions",
     [](NodeConfig& c, std::string_view v) { return setInt(c.max_sessions, v, 0, 1'000'000); }},
    {"state",
     [](NodeConfig& c, std::string_view v) {
       return setEnum(c.state, v, parseNodeState, "active, drain, maint");
     }},
    {"manual_listen",
     [](NodeConfig& c, std::string_view v) { return setOptionalListen(c.manual_listen, v); }},
};

const Field<StickyConfig> kStickyFields[] = {
    {"ipv4_prefix",
     [](StickyConfig& c, std::string_view v) { return setInt(c.ipv4_prefix, v, 1, 32); }},
    {"ipv6_prefix",
     [](StickyConfig& c, std::string_view v) { return setInt(c.ipv6_prefix, v, 1, 128); }},
    {"ttl", [](StickyConfig& c,
               std::string_view v) { return setDuration(c.ttl, v, seconds(1), 30 * kDay, false); }},
    {"capacity",
     [](StickyConfig& c, std::string_view v) { return setInt(c.capacity, v, 1, 100'000'000); }},
    {"wrong_node",
     [](StickyConfig& c, std::string_view v) {
       return setEnum(c.wrong_node, v, parseWrongNode, "keep, bounce");
     }},
    {"bounce_window",
     [](StickyConfig& c, std::string_view v) {
       return setDuration(c.bounce_window, v, milliseconds(500), minutes(1), false);
     }},
    {"bounce_ttl",
     [](StickyConfig& c, std::string_view v) {
       return setDuration(c.bounce_ttl, v, seconds(1), hours(1), false);
     }},
};

const Field<HealthConfig> kHealthFields[] = {
    {"interval",
     [](HealthConfig& c, std::string_view v) {
       return setDuration(c.interval, v, milliseconds(100), hours(1), false);
     }},
    {"fast_interval",
     [](HealthConfig& c, std::string_view v) {
       return setDuration(c.fast_interval, v, milliseconds(50), hours(1), false);
     }},
    {"down_interval",
     [](HealthConfig& c, std::string_view v) {
       return setDuration(c.down_interval, v, milliseconds(100), hours(1), false);
     }},
    {"timeout",
     [](HealthConfig& c, std::string_view v) {
       return setDuration(c.timeout, v, milliseconds(10), minutes(1), false);
     }},
    {"rise", [](HealthConfig& c, std::string_view v) { return setInt(c.rise, v, 1, 100); }},
    {"fall", [](HealthConfig& c, std::string_view v) { return setInt(c.fall, v, 1, 100); }},
    {"max_load",
     [](HealthConfig& c, std::string_view v) { return setPositive(c.max_load, v, 1000); }},
    {"max_swap_in",
     [](HealthConfig& c, std::string_view v) { return setPositive(c.max_swap_in, v, 1e9); }},
    {"slow_response",
     [](HealthConfig& c, std::string_view v) {
       return setDuration(c.slow_response, v, milliseconds(1), minutes(1), false);
     }},
    {"slowstart",
     [](HealthConfig& c, std::string_view v) {
       return setDuration(c.slowstart, v, seconds(1), hours(1), true);
     }},
};

const Field<AgentConfig> kAgentFields[] = {
    {"port", [](AgentConfig& c, std::string_view v) { return setPort(c.port, v); }},
    {"key_file", [](AgentConfig& c, std::string_view v) { return setPath(c.key_file, v, true); }},
    {"poll",
     [](AgentConfig& c, std::string_view v) {
       return setDuration(c.poll, v, milliseconds(100), hours(1), false);
     }},
    {"timeout",
     [](AgentConfig& c, std::string_view v) {
       return setDuration(c.timeout, v, milliseconds(10), minutes(1), false);
     }},
    {"max_age",
     [](AgentConfig& c, std::string_view v) {
       return setDuration(c.max_age, v, seconds(1), kDay, false);
     }},
};

const Field<MetricsConfig> kMetricsFields[] = {
    {"listen", [](MetricsConfig& c, std::string_view v) { return setOptionalListen(c.listen, v); }},
};

const Field<AdminConfig> kAdminFields[] = {
    {"socket", [](AdminConfig& c, std::string_view v) { return setSocketPath(c.socket, v); }},
};

template <typename T, size_t N>
std::vector<std::string_view> keyNames(const Field<T> (&fields)[N]) {
  std::vector<std::string_view> out;
  for (const auto& f : fields) out.push_back(f.key);
  return out;
}

// Applies every entry of one section to `target`, recording where each key was set.
template <typename T, size_t N>
Status applyFields(const IniSection& s, T& target, const Field<T> (&fields)[N], Sources& src) {
  const std::string label = s.label();
  for (const IniEntry& e : s.entries) {
    const Field<T>* field = nullptr;
    for (const auto& f : fields) {
      if (f.key == e.key) field = &f;
    }
    if (field == nullptr) {
      return src.error(e.line, e.key,
                       "unknown key in [" + label + "]" + didYouMean(e.key, keyNames(fields)));
    }
    if (int first = src.keyLine(label, e.key); first != 0) {
      return src.error(
          e.line, e.key,
          "set twice in [" + label + "] (first at line " + std::to_string(first) + ")");
    }
    src.addKey(label, e.key, e.line);
    if (Status st = checkNotQuoted(e.key, e.value); !st)
      return src.error(e.line, e.key, st.error());
    if (Status st = field->set(target, e.value); !st) return src.error(e.line, e.key, st.error());
  }
  return {};
}

Status checkHeader(const IniSection& s, bool named, const Sources& src) {
  const std::string label = "[" + s.label() + "]";
  if (named && s.name.empty()) {
    return src.error(s.line, label, "needs a name: [" + s.kind + " NAME]");
  }
  if (!named && !s.name.empty()) {
    return src.error(s.line, label, "takes no name: write [" + s.kind + "]");
  }
  if (named && !isValidName(s.name)) {
    return src.error(s.line, label, "bad name: use 1 to 64 of A-Z a-z 0-9 _ . -");
  }
  if (int first = src.sectionLine(s.label()); first != 0) {
    return src.error(s.line, label,
                     "section repeated (first at line " + std::to_string(first) + ")");
  }
  return {};
}

Status applySection(const IniSection& s, Config& cfg, Sources& src) {
  const std::string& k = s.kind;
  const bool named = k == "service" || k == "node";
  if (keysOf(k).empty()) {
    return src.error(s.line, "[" + s.label() + "]",
                     "unknown section (expected director, service NAME, node NAME, sticky, "
                     "health, agent, metrics or admin)");
  }
  if (Status st = checkHeader(s, named, src); !st) return st;
  src.addSection(s.label(), s.line);
  if (k == "director") return applyFields(s, cfg.director, kDirectorFields, src);
  if (k == "sticky") return applyFields(s, cfg.sticky, kStickyFields, src);
  if (k == "health") return applyFields(s, cfg.health, kHealthFields, src);
  if (k == "agent") return applyFields(s, cfg.agent, kAgentFields, src);
  if (k == "metrics") return applyFields(s, cfg.metrics, kMetricsFields, src);
  if (k == "admin") return applyFields(s, cfg.admin, kAdminFields, src);
  if (k == "service") {
    ServiceConfig& svc = cfg.services.emplace_back();
    svc.name = s.name;
    svc.line = s.line;
    return applyFields(s, svc, kServiceFields, src);
  }
  NodeConfig& node = cfg.nodes.emplace_back();
  node.name = s.name;
  node.line = s.line;
  return applyFields(s, node, kNodeFields, src);
}

}  // namespace

std::vector<std::string_view> sectionKinds() {
  return {"director", "service", "node", "sticky", "health", "agent", "metrics", "admin"};
}

std::vector<std::string_view> keysOf(std::string_view kind) {
  if (kind == "director") return keyNames(kDirectorFields);
  if (kind == "service") return keyNames(kServiceFields);
  if (kind == "node") return keyNames(kNodeFields);
  if (kind == "sticky") return keyNames(kStickyFields);
  if (kind == "health") return keyNames(kHealthFields);
  if (kind == "agent") return keyNames(kAgentFields);
  if (kind == "metrics") return keyNames(kMetricsFields);
  if (kind == "admin") return keyNames(kAdminFields);
  return {};
}

Status applySections(const std::vector<IniSection>& sections, Config& cfg, Sources& src) {
  for (const IniSection& s : sections) {
    if (Status st = applySection(s, cfg, src); !st) return st;
  }
  return {};
}

}  // namespace tsd::conf::detail
