// Node views: status, figures, weights and checks of each node, as JSON for greeters and admins.
#include "director/ops/node_view.h"

namespace tsd::director {
namespace {

std::vector<NodeView::Check> checksOf(const Director& d, const NodeRuntime& n) {
  std::vector<NodeView::Check> out;
  for (const auto& svc : d.services().all()) {
    const ServiceCheck* c = n.check(svc.id);
    if (c == nullptr) continue;
    NodeView::Check ch;
    ch.service = svc.name;
    ch.known = c->state.known();
    ch.up = c->state.up();
    ch.latency_seconds = std::chrono::duration<double>(c->latency).count();
    ch.ok = c->ok;
    ch.failed = c->failed;
    ch.last_error = c->last_error;
    out.push_back(std::move(ch));
  }
  return out;
}

NodeView viewOf(const Director& d, const NodeRuntime& n, SteadyClock::time_point now) {
  const conf::Config& cfg = *d.config();
  NodeView v;
  v.name = n.cfg.name;
  v.address = n.cfg.port ? n.cfg.host + ":" + std::to_string(*n.cfg.port) : n.cfg.host;
  v.status = d.nodes().statusFor(n, std::nullopt, cfg, now);
  v.active = n.active;
  v.weight = n.weight();
  v.file_weight = n.cfg.weight;
  v.weight_runtime = n.admin_weight.has_value();
  v.state = n.adminState();
  v.state_runtime = n.admin_state.has_value();
  v.removed = n.removed;
  bool fresh = n.report && now - n.report_time <= cfg.agent.max_age;
  std::optional<health::Figures> fig = n.figures();
  if (fig && fresh) {
    v.load_per_cpu = fig->load_per_cpu;
    v.sessions = fig->sessions;
    v.sessions_running = n.report->sessions_running;
    v.sessions_suspended = n.report->sessions_suspended;
    v.mem_available_kib = n.report->mem_available_kib;
    v.swap_in_per_s = n.report->swap_in_per_s;
  }
  if (n.report) v.agent_node = n.report->node;
  if (n.cfg.manual_listen) v.manual_listen = n.cfg.manual_listen->toString();
  if (!n.removed && health::acceptsNew(v.status)) {
    auto since_up = std::chrono::duration_cast<conf::Duration>(now - n.up_since);
    v.effective_weight =
        health::effectiveWeight(n.weight(), fig, fresh, cfg.health, since_up, cfg.health.slowstart);
  }
  v.checks = checksOf(d, n);
  v.polls_ok = n.polls_ok;
  v.polls_failed = n.polls_failed;
  v.polls_rejected = n.polls_rejected;
  v.polls_wrong_node = n.polls_wrong_node;
  return v;
}

template <typename T>
nlohmann::json orNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

}  // namespace

std::vector<NodeView> nodeViews(const Director& d) {
  std::vector<NodeView> out;
  if (!d.config()) return out;
  auto now = SteadyClock::now();
  for (const auto& n : d.nodes().all()) {
    if (n->removed && n->active == 0) continue;
    out.push_back(viewOf(d, *n, now));
  }
  return out;
}

void to_json(nlohmann::json& j, const NodeView& n) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : n.checks) {
    checks.push_back({{"service", c.service},
                      {"known", c.known},
                      {"up", c.up},
                      {"latency_seconds", c.latency_seconds},
                      {"ok", c.ok},
                      {"failed", c.failed},
                      {"last_error", c.last_error}});
  }
  j = {{"name", n.name},
       {"address", n.address},
       {"status", std::string(health::toString(n.status))},
       {"load", orNull(n.load_per_cpu)},
       {"sessions", orNull(n.sessions)},
       {"sessions_running", orNull(n.sessions_running)},
       {"sessions_suspended", orNull(n.sessions_suspended)},
       {"mem_available_kib", orNull(n.mem_available_kib)},
       {"swap_in_per_s", orNull(n.swap_in_per_s)},
       {"agent_node", orNull(n.agent_node)},
       {"manual_listen", orNull(n.manual_listen)},
       {"active", n.active},
       {"weight", n.weight},
       {"file_weight", n.file_weight},
       {"weight_runtime", n.weight_runtime},
       {"effective_weight", n.effective_weight},
       {"state", std::string(conf::toString(n.state))},
       {"state_runtime", n.state_runtime},
       {"removed", n.removed},
       {"checks", std::move(checks)},
       {"polls",
        {{"ok", n.polls_ok},
         {"failed", n.polls_failed},
         {"rejected", n.polls_rejected},
         {"wrong_node", n.polls_wrong_node}}}};
}

std::string nodesDocument(const Director& d) {
  nlohmann::json doc = {{"generation", d.stats().config_generation}, {"nodes", nodeViews(d)}};
  return dumpJson(doc) + "\n";
}

std::string dumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tsd::director
