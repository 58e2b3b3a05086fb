// Rules that span keys or sections: required keys, listener conflicts, duplicate node
// addresses, and timing relations. Runs after every value has passed its own range check.
#include <map>

#include "conf/parser_detail.h"

namespace tsd::conf::detail {
namespace {

struct Blame {
  int line;
  std::string_view key;
};

// Of two related keys, the one written later gets the error (it most likely broke the rule);
// a key left at its default cannot be blamed.
Blame later(const Sources& src, const std::string& label, std::string_view a, std::string_view b) {
  int la = src.keyLine(label, a);
  int lb = src.keyLine(label, b);
  if (la == 0 && lb == 0) return {src.sectionLine(label), a};
  return la >= lb ? Blame{la, a} : Blame{lb, b};
}

Status checkRequired(const Config& cfg, const Sources& src) {
  if (cfg.services.empty())
    return src.error(0, "", "no [service NAME] section: nothing to listen on");
  if (cfg.nodes.empty()) return src.error(0, "", "no [node NAME] section: nowhere to send clients");
  for (const auto& svc : cfg.services) {
    if (svc.listen.empty()) {
      return src.error(svc.line, "[service " + svc.name + "]", "missing listen = ADDR:PORT");
    }
  }
  for (const auto& node : cfg.nodes) {
    if (node.host.empty()) {
      return src.error(node.line, "[node " + node.name + "]", "missing address = HOST[:PORT]");
    }
  }
  return {};
}

struct Listener {
  SockAddr addr;
  std::string owner;  // "[service ssh]"
  std::string_view key;
  int line;
};

bool isZero(std::string_view bytes) { return bytes.find_first_not_of('\0') == std::string::npos; }
bool isWildcard(const SockAddr& a) { return isZero(a.addressBytes()); }

// Linux refuses a second listener on the same address, or on the same port when either one is
// the family's wildcard address.
bool overlaps(const SockAddr& a, const SockAddr& b) {
  if (a.family() != b.family() || a.port() != b.port()) return false;
  return a.addressBytes() == b.addressBytes() || isWildcard(a) || isWildcard(b);
}

// The listeners whose connections are forwarded to nodes.
std::vector<Listener> forwardingListeners(const Config& cfg, const Sources& src) {
  std::vector<Listener> out;
  for (const auto& svc : cfg.services) {
    int line = src.keyLine("service " + svc.name, "listen");
    for (const auto& a : svc.listen)
      out.push_back({a, "[service " + svc.name + "]", "listen", line});
  }
  for (const auto& node : cfg.nodes) {
    if (!node.manual_listen) continue;
    int line = src.keyLine("node " + node.name, "manual_listen");
    out.push_back({*node.manual_listen, "[node " + node.name + "]", "manual_listen", line});
  }
  return out;
}

std::vector<Listener> listeners(const Config& cfg, const Sources& src) {
  std::vector<Listener> out = forwardingListeners(cfg, src);
  if (cfg.metrics.listen) {
    out.push_back({*cfg.metrics.listen, "[metrics]", "listen", src.keyLine("metrics", "listen")});
  }
  return out;
}

// "127.0.0.1:22 is also used by [service ssh] (line 2)" or "... overlaps 0.0.0.0:22 of ...".
std::string conflict(const Listener& here, const Listener& other) {
  std::string msg = here.addr.toString();
  if (here.addr == other.addr) {
    msg += " is also used by ";
  } else {
    msg += " overlaps ";
    msg += other.addr.toString();
    msg += " of ";
  }
  msg += other.owner;
  msg += other.line != 0 ? " (line " + std::to_string(other.line) + ")" : " (its default)";
  return msg;
}

Status checkListeners(const Config& cfg, const Sources& src) {
  const auto all = listeners(cfg, src);
  for (size_t j = 0; j < all.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      if (!overlaps(all[i].addr, all[j].addr)) continue;
      // Blame the one written later; the earlier one was there first.
      const bool i_later = all[i].line > all[j].line;
      const Listener& here = i_later ? all[i] : all[j];
      const Listener& other = i_later ? all[j] : all[i];
      return src.error(here.line, here.key, conflict(here, other));
    }
  }
  return {};
}

// 127.0.0.1 or ::1, as address bytes of the given size (4 or 16).
std::string loopbackBytes(size_t size) {
  std::string b(size, '\0');
  if (size == 4) b.front() = 127;
  b.back() = 1;
  return b;
}

bool isLoopback(std::string_view bytes) {
  return bytes.size() == 4 ? bytes[0] == 127 : bytes == loopbackBytes(16);  // 127.0.0.0/8, ::1
}

// Whether connecting to `node` lands on listener `l`. Our IPv6 listeners are IPV6_V6ONLY, so a
// connection stays in its family (a v4-mapped node address is IPv4). connect() to a wildcard
// address reaches loopback, and a wildcard listener takes every local address, of which only
// loopback is known without asking the host.
bool reaches(const SockAddr& node, const SockAddr& l) {
  if (node.port() != l.port()) return false;
  std::string nb = node.addressBytes();
  const std::string lb = l.addressBytes();
  if (nb.size() != lb.size()) return false;
  if (isZero(nb)) nb = loopbackBytes(nb.size());
  return nb == lb || (isZero(lb) && isLoopback(nb));
}

// "127.0.0.1:4000 (port of [service nx]) reaches the director's own listener 0.0.0.0:4000
// (listen of [service nx], line 4): it would connect to itself".
std::string selfConnect(const SockAddr& a, const NodeConfig& node, const ServiceConfig& svc,
                        const Listener& l) {
  std::string msg = a.toString();
  if (!node.port) msg += " (port of [service " + svc.name + "])";
  if (a == l.addr) {
    msg += " is the director's own listener (";
  } else {
    msg += " reaches the director's own listener " + l.addr.toString() + " (";
  }
  msg += std::string(l.key) + " of " + l.owner;
  if (l.line != 0) msg += ", line " + std::to_string(l.line);
  return msg + "): it would connect to itself";
}

// A node at one of our own listeners makes every connection loop back into the director (one
// client connect once became 154 accepted connections).
Status checkSelfConnect(const Config& cfg, const Sources& src) {
  const auto own = forwardingListeners(cfg, src);
  for (const auto& node : cfg.nodes) {
    for (const auto& svc : cfg.services) {
      const SockAddr a = node.addressFor(svc);
      for (const Listener& l : own) {
        if (!reaches(a, l.addr)) continue;
        return src.error(src.keyLine("node " + node.name, "address"), "address",
                         selfConnect(a, node, svc, l));
      }
    }
  }
  return {};
}

// Two nodes that reach the same backend for a service would double its share and its checks.
Status checkNodeAddresses(const Config& cfg, const Sources& src) {
  for (const auto& svc : cfg.services) {
    std::map<std::string, const NodeConfig*> seen;
    for (const auto& node : cfg.nodes) {
      auto [it, fresh] = seen.emplace(node.addressFor(svc).toString(), &node);
      if (fresh) continue;
      return src.error(src.keyLine("node " + node.name, "address"), "address",
                       it->first + " is also the address of [node " + it->second->name +
                           "] (line " + std::to_string(it->second->line) + ") for [service " +
                           svc.name + "]");
    }
  }
  return {};
}

Status checkTiming(const Config& cfg, const Sources& src) {
  const HealthConfig& h = cfg.health;
  auto fmt = [](Duration d) { return formatDuration(d); };
  if (h.timeout >= h.interval) {
    Blame b = later(src, "health", "timeout", "interval");
    return src.error(b.line, b.key,
                     "health timeout (" + fmt(h.timeout) + ") must be shorter than interval (" +
                         fmt(h.interval) + ")");
  }
  if (h.timeout >= h.down_interval) {
    Blame b = later(src, "health", "timeout", "down_interval");
    return src.error(b.line, b.key,
                     "health timeout (" + fmt(h.timeout) +
                         ") must be shorter than down_interval (" + fmt(h.down_interval) + ")");
  }
  if (h.fast_interval > h.interval) {
    Blame b = later(src, "health", "fast_interval", "interval");
    return src.error(b.line, b.key,
                     "fast_interval (" + fmt(h.fast_interval) +
                         ") must not be longer than interval (" + fmt(h.interval) + ")");
  }
  // Unset, the timeout follows a poll shorter than its 1 s default (pollTimeout()).
  if (cfg.agent.timeout > cfg.agent.poll && src.keyLine("agent", "timeout") != 0) {
    Blame b = later(src, "agent", "timeout", "poll");
    return src.error(b.line, b.key,
                     "agent timeout (" + fmt(cfg.agent.timeout) +
                         ") must not be longer than poll (" + fmt(cfg.agent.poll) + ")");
  }
  if (cfg.agent.max_age <= cfg.agent.poll) {
    Blame b = later(src, "agent", "max_age", "poll");
    return src.error(b.line, b.key,
                     "max_age (" + fmt(cfg.agent.max_age) + ") must be longer than poll (" +
                         fmt(cfg.agent.poll) + ")");
  }
  return {};
}

Status checkAgent(const Config& cfg, const Sources& src) {
  if (!cfg.agent.key_file.empty()) return {};
  for (const auto& svc : cfg.services) {
    if (svc.check == CheckKind::kAgent) {
      return src.error(src.keyLine("service " + svc.name, "check"), "check",
                       "'agent' needs key_file in [agent] (the key agents authenticate with)");
    }
  }
  return {};
}

}  // namespace

Status validateConfig(const Config& cfg, const Sources& src) {
  for (auto check : {checkRequired, checkListeners, checkSelfConnect, checkNodeAddresses,
                     checkAgent, checkTiming}) {
    if (Status st = check(cfg, src); !st) return st;
  }
  return {};
}

}  // namespace tsd::conf::detail
