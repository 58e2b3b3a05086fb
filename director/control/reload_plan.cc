// Restart-only keys and listener differences between two snapshots.
#include "director/control/reload_plan.h"

#include <map>

namespace tsd::director {
namespace {

std::string changed(const conf::Config& next, std::string_view key, std::string_view from,
                    std::string_view to) {
  return next.location("director", key) + ": [director] " + std::string(key) + " changed (" +
         std::string(from) + " -> " + std::string(to) + "): takes effect only on restart";
}

std::string orNone(const std::string& s) { return s.empty() ? "(none)" : s; }

// Every listening address of a config, with what it serves.
std::map<std::string, std::string> listeners(const conf::Config& cfg) {
  std::map<std::string, std::string> out;
  for (const auto& s : cfg.services) {
    for (const auto& a : s.listen) out[a.toString()] = "service " + s.name;
  }
  for (const auto& n : cfg.nodes) {
    if (n.manual_listen) out[n.manual_listen->toString()] = "manual choice of node " + n.name;
  }
  return out;
}

}  // namespace

std::string restartOnlyChange(const conf::Config& old, const conf::Config& next) {
  const auto& a = old.director;
  const auto& b = next.director;
  if (a.fast_path != b.fast_path) {
    return changed(next, "fast_path", conf::toString(a.fast_path), conf::toString(b.fast_path));
  }
  if (a.transparent != b.transparent) {
    return changed(next, "transparent", a.transparent ? "yes" : "no", b.transparent ? "yes" : "no");
  }
  if (a.state_dir != b.state_dir) return changed(next, "state_dir", a.state_dir, b.state_dir);
  if (a.user != b.user) return changed(next, "user", orNone(a.user), orNone(b.user));
  return {};
}

std::vector<std::string> listenerChanges(const conf::Config& old, const conf::Config& next) {
  std::vector<std::string> out;
  auto before = listeners(old);
  auto after = listeners(next);
  for (const auto& [addr, what] : after) {
    if (!before.count(addr)) out.push_back("listener " + addr + " (" + what + ") opened");
  }
  for (const auto& [addr, what] : before) {
    if (!after.count(addr)) out.push_back("listener " + addr + " (" + what + ") closed");
  }
  return out;
}

}  // namespace tsd::director
