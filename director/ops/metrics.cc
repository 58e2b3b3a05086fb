// Builds the metric families from the director's state at scrape time. Label sets are bounded:
// service, node, reason, direction, path, status, result — never anything per client.
#include "director/ops/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <deque>
#include <map>
#include <sstream>

#include "director/ops/node_view.h"

namespace tsd::director {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;
// A deque: families are filled through references while later ones are appended.
using Families = std::deque<MetricFamily>;

constexpr health::NodeStatus kStatuses[] = {health::NodeStatus::kDown, health::NodeStatus::kIdle,
                                            health::NodeStatus::kBusy, health::NodeStatus::kSwapped,
                                            health::NodeStatus::kSlow, health::NodeStatus::kDrain,
                                            health::NodeStatus::kMaint};
constexpr Reason kReasons[] = {Reason::kManual, Reason::kUser,      Reason::kSession,
                               Reason::kSticky, Reason::kScheduler, Reason::kFallback};

MetricFamily& family(Families& out, std::string name, std::string help, MetricType type) {
  out.push_back(MetricFamily{"tsdirector_" + std::move(name), std::move(help), type, {}});
  return out.back();
}

void add(MetricFamily& f, double v, Labels labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
}

MetricFamily& counter(Families& out, std::string name, std::string help) {
  return family(out, std::move(name), std::move(help), MetricType::Counter);
}
MetricFamily& gauge(Families& out, std::string name, std::string help) {
  return family(out, std::move(name), std::move(help), MetricType::Gauge);
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return r;
}

}  // namespace

void MetricsCollector::collectConnections(Families& out) const {
  const DirectorStats& s = d_->stats();
  auto& acc = counter(out, "connections_accepted_total", "Client connections accepted.");
  auto& act = gauge(out, "connections_active", "Client connections open now.");
  auto& ref = counter(out, "connections_refused_total",
                      "Client connections closed without a node, by reason.");
  auto& fail = counter(out, "connections_failed_total",
                       "Client connections closed because every connect attempt failed.");
  // Configured services have series from the start (zeros), not only after their first client;
  // removed ones keep theirs (counters never go back).
  for (const ServiceRuntime& sr : d_->services().all()) {
    const std::string& svc = sr.name;
    const ServiceCounters& ss = sr.counters;
    Labels l{{"service", svc}};
    add(acc, static_cast<double>(ss.accepted), l);
    add(act, static_cast<double>(ss.active), l);
    add(fail, static_cast<double>(ss.failed_connect), l);
    const std::pair<const char*, uint64_t> reasons[] = {{"limit", ss.refused_limit},
                                                        {"no_node", ss.refused_no_node},
                                                        {"manual_down", ss.refused_manual_down},
                                                        {"bad_hello", ss.bad_hello},
                                                        {"hello_timeout", ss.hello_timeout}};
    for (const auto& [r, v] : reasons) {
      add(ref, static_cast<double>(v), {{"reason", r}, {"service", svc}});
    }
  }
  add(gauge(out, "connections_max",
            "Client connections allowed at once ([director] max_connections)."),
      static_cast<double>(d_->config()->director.max_connections));
  auto& dec = counter(out, "decisions_total", "Node choices, by the rule that made them.");
  for (Reason r : kReasons) {
    add(dec, static_cast<double>(s.decisions[static_cast<int>(r)]),
        {{"reason", std::string(toString(r))}});
  }
  add(counter(out, "connect_retries_total", "Connect attempts after a connection's first."),
      static_cast<double>(s.retries));
}

void MetricsCollector::collectTraffic(Families& out) const {
  const DirectorStats& s = d_->stats();
  ForwardStats live = d_->bytes();
  auto& bytes = counter(out, "bytes_total",
                        "Bytes forwarded, live and closed connections (up: client to node).");
  add(bytes, static_cast<double>(live.up), {{"direction", "up"}});
  add(bytes, static_cast<double>(live.down), {{"direction", "down"}});
  auto& path = counter(out, "data_path_connections_total",
                       "Connections by data path (ebpf: managed by the fast path, promoted to the "
                       "kernel or not).");
  add(path, static_cast<double>(s.fast_path_connections), {{"path", "ebpf"}});
  add(path, static_cast<double>(s.userspace_connections), {{"path", "userspace"}});
  DataPath::FastPathCounts fc = d_->dataPath()->fastPathCounts();
  auto& tr = counter(out, "fast_path_transitions_total",
                     "Fast-path events: pairs spliced in the kernel (at connect or promoted), "
                     "promotions from user space, directions handed back to user space, pairs "
                     "reset because the kernel counted more bytes than were received or lost "
                     "received bytes at a hand-back.");
  add(tr, static_cast<double>(fc.inserted), {{"event", "spliced"}});
  add(tr, static_cast<double>(fc.promoted), {{"event", "promoted"}});
  add(tr, static_cast<double>(fc.handed_back), {{"event", "handed_back"}});
  add(tr, static_cast<double>(fc.promotion_failed), {{"event", "promotion_failed"}});
  add(tr, static_cast<double>(fc.miscount_resets), {{"event", "miscount_reset"}});
  add(tr, static_cast<double>(fc.lost_resets), {{"event", "lost_reset"}});
  // One reason so far (a direction's queue passed demote_bytes); a FIN or a reset is carried
  // through the kernel path and is not a hand-back.
  add(counter(out, "fast_path_handbacks_total",
              "Directions of fast-path pairs handed back to user space, by reason."),
      static_cast<double>(fc.handed_back), {{"reason", "queue"}});
  add(gauge(out, "fast_path_parser_realigns",
            "1 when the fast path's stream parser ends a message that begins inside a "
            "segment at that segment's end (loaded with CAP_PERFMON); 0: the plain parser, "
            "which would miscount and corrupt such a stream."),
      fc.realigns ? 1 : 0);
  add(counter(out, "fast_path_realigned_messages_total",
              "Messages the stream parser found beginning inside a segment and ended there."),
      static_cast<double>(d_->dataPath()->realignedMessages()));
  uint64_t open = s.active;
  uint64_t kern = std::min<uint64_t>(fc.live_kernel, open);
  uint64_t mixed = std::min<uint64_t>(fc.live_handed_back, kern);
  auto& pairs =
      gauge(out, "fast_path_pairs",
            "Live connections now, by path: userspace (not in the maps: user space, not yet "
            "promoted, or still connecting), kernel "
            "(both directions spliced), handed_back (in the maps, one or both "
            "directions carried by user space).");
  add(pairs, static_cast<double>(open - kern), {{"path", "userspace"}});
  add(pairs, static_cast<double>(kern - mixed), {{"path", "kernel"}});
  add(pairs, static_cast<double>(mixed), {{"path", "handed_back"}});
  add(counter(out, "connection_resets_total", "Forwarded connections that ended in a reset."),
      static_cast<double>(s.resets));
  add(counter(out, "idle_timeouts_total", "Forwarded connections closed by idle_timeout."),
      static_cast<double>(s.idle_timeouts));
  add(counter(out, "ambiguous_sessions_total",
              "Returning clients with sessions on more than one usable node."),
      static_cast<double>(s.ambiguous_sessions));
  add(counter(out, "sticky_replaced_total",
              "Returning clients whose sticky node was unusable and who were re-placed."),
      static_cast<double>(s.sticky_replaced));
}

void MetricsCollector::collectNodeCounters(Families& out) const {
  auto& att = counter(out, "node_connect_attempts_total", "Connect attempts to a node.");
  auto& cf = counter(out, "node_connect_failures_total", "Failed connect attempts to a node.");
  auto& fwd = counter(out, "node_connections_total", "Connections forwarded to a node.");
  auto& nb = counter(out, "node_bytes_total", "Bytes of closed connections, per node.");
  // By name: a node removed and added again is one series.
  std::map<std::string, NodeCounters, std::less<>> nodes;
  for (const auto& n : d_->nodes().all()) {
    NodeCounters& sum = nodes[n->cfg.name];
    sum.connect_attempts += n->counters.connect_attempts;
    sum.connect_failures += n->counters.connect_failures;
    sum.connections += n->counters.connections;
    sum.bytes_up += n->counters.bytes_up;
    sum.bytes_down += n->counters.bytes_down;
  }
  for (const auto& [node, ns] : nodes) {
    add(att, static_cast<double>(ns.connect_attempts), {{"node", node}});
    add(cf, static_cast<double>(ns.connect_failures), {{"node", node}});
    add(fwd, static_cast<double>(ns.connections), {{"node", node}});
    add(nb, static_cast<double>(ns.bytes_up), {{"direction", "up"}, {"node", node}});
    add(nb, static_cast<double>(ns.bytes_down), {{"direction", "down"}, {"node", node}});
  }
}

void MetricsCollector::collectNodes(Families& out) const {
  auto& up = gauge(out, "node_up", "1 when the node's check for the service passes.");
  auto& st = gauge(out, "node_status", "1 for the node's current status, 0 for the others.");
  auto& ac = gauge(out, "node_active_connections", "Live connections through the node.");
  auto& w = gauge(out, "node_weight", "Configured weight in effect (runtime override or file).");
  auto& ew = gauge(out, "node_effective_weight", "Weight the scheduler uses now.");
  auto& lat = gauge(out, "node_check_latency_seconds", "Latency of the last passing check.");
  auto& chk = counter(out, "node_checks_total", "Active check results.");
  auto& polls = counter(out, "agent_polls_total", "Node agent polls by result.");
  auto& load = gauge(out, "node_load_per_cpu", "Load average per CPU (fresh agent figures).");
  auto& sess = gauge(out, "node_sessions", "Desktop sessions the node's agent reports.");
  bool agent = d_->agentPolling();
  for (const NodeView& v : nodeViews(*d_)) {
    Labels n{{"node", v.name}};
    for (health::NodeStatus x : kStatuses) {
      add(st, v.status == x ? 1 : 0, {{"node", v.name}, {"status", lower(health::toString(x))}});
    }
    add(ac, v.active, n);
    add(w, v.weight, n);
    add(ew, v.effective_weight, n);
    for (const auto& c : v.checks) {
      Labels ns{{"node", v.name}, {"service", c.service}};
      add(up, c.up ? 1 : 0, ns);
      add(lat, c.latency_seconds, ns);
      add(chk, static_cast<double>(c.ok),
          {{"node", v.name}, {"result", "ok"}, {"service", c.service}});
      add(chk, static_cast<double>(c.failed),
          {{"node", v.name}, {"result", "failed"}, {"service", c.service}});
    }
    if (agent) {
      add(polls, static_cast<double>(v.polls_ok), {{"node", v.name}, {"result", "ok"}});
      add(polls, static_cast<double>(v.polls_failed), {{"node", v.name}, {"result", "failed"}});
      add(polls, static_cast<double>(v.polls_rejected), {{"node", v.name}, {"result", "rejected"}});
      add(polls, static_cast<double>(v.polls_wrong_node),
          {{"node", v.name}, {"result", "wrong_node"}});
    }
    if (v.load_per_cpu) add(load, *v.load_per_cpu, n);
    if (v.sessions) add(sess, *v.sessions, n);
  }
}

void MetricsCollector::collectState(Families& out) const {
  const DirectorStats& s = d_->stats();
  add(gauge(out, "build_info", "Always 1; the version is a label."), 1, {{"version", TSD_VERSION}});
  add(gauge(out, "config_generation", "Configuration generation: 1 at start, +1 per reload."),
      static_cast<double>(s.config_generation));
  auto& rl = counter(out, "reloads_total", "Configuration reloads by result.");
  add(rl, static_cast<double>(s.reloads_ok), {{"result", "ok"}});
  add(rl, static_cast<double>(s.reloads_failed), {{"result", "failed"}});
  add(gauge(out, "fast_path_enabled", "1 when connections use the eBPF fast path."),
      d_->dataPath()->fastPathActive() ? 1 : 0);
  bool fell_back = !d_->dataPath()->fastPathActive() && !d_->dataPath()->fastPathError().empty();
  add(gauge(out, "fast_path_fallback",
            "1 when fast_path = auto could not load eBPF and fell back to user space."),
      fell_back ? 1 : 0);
  add(gauge(out, "sticky_entries", "Entries in the sticky table."),
      static_cast<double>(d_->stickyTable().size()));
  add(counter(out, "sticky_evictions_total", "Sticky entries evicted at capacity."),
      static_cast<double>(d_->stickyTable().evictions()));
  add(gauge(out, "session_index_identities", "Client identities with agent-reported sessions."),
      static_cast<double>(d_->sessionIndex().identities()));
  add(gauge(out, "session_index_sessions", "Agent-reported sessions matched to a client."),
      static_cast<double>(d_->sessionIndex().sessions()));
  HealthCounters hc = d_->healthCounters();
  add(counter(out, "health_transitions_total", "Node health transitions (up or down)."),
      static_cast<double>(hc.transitions));
}

void MetricsCollector::collectUsers(Families& out) const {
  const UserCounters& u = d_->userCounters();
  const sticky::UserTable& t = d_->userTable();
  add(gauge(out, "users_known", "Users learned behind at least one client identity."),
      static_cast<double>(t.users()));
  add(gauge(out, "user_identities", "Client identities with at least one learned user."),
      static_cast<double>(t.identities()));
  add(counter(out, "user_identities_learned_total",
              "New (client identity, user) pairs learned from agent-reported connections."),
      static_cast<double>(u.identities_learned));
  add(counter(out, "user_connections_matched_total",
              "Forwarded connections whose user an agent report revealed."),
      static_cast<double>(u.connections_matched));
  add(counter(out, "user_correlation_misses_total",
              "Forwarded connections a version-2 agent did not list although its snapshot was "
              "taken well after the connect (non-SSH services, logins outside sshd)."),
      static_cast<double>(u.correlation_misses));
  add(counter(out, "user_fast_polls_total",
              "Extra agent polls requested after a connection was up (after the rate limit)."),
      static_cast<double>(u.fast_polls_requested));
  auto& b = counter(out, "user_bounces_total",
                    "Connections learned to be on the wrong node, by what was done: bounced "
                    "(reset and pinned home), kept (wrong_node = keep), too_old, home_unusable, "
                    "repeat (the user was bounced within the window).");
  for (auto o : {sticky::BounceOutcome::kBounced, sticky::BounceOutcome::kKept,
                 sticky::BounceOutcome::kTooOld, sticky::BounceOutcome::kHomeUnusable,
                 sticky::BounceOutcome::kRepeat}) {
    add(b, static_cast<double>(u.outcomes[static_cast<size_t>(o)]),
        {{"outcome", std::string(sticky::toString(o))}});
  }
  add(gauge(out, "user_pins", "Bounce pins waiting for a retry."), static_cast<double>(t.pins()));
  add(counter(out, "user_pins_used_total", "Connections that went home on a bounce pin."),
      static_cast<double>(u.pins_used));
  add(gauge(out, "session_index_local_sessions",
            "Agent-reported sessions from the director's own addresses (not filed by address)."),
      static_cast<double>(d_->sessionIndex().local()));
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  if (!d_->config()) return {};
  Families out;
  collectState(out);
  collectConnections(out);
  collectTraffic(out);
  collectNodeCounters(out);
  collectNodes(out);
  collectUsers(out);
  return {std::make_move_iterator(out.begin()), std::make_move_iterator(out.end())};
}

std::string MetricsCollector::render() const {
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, Collect());
  return os.str();
}

}  // namespace tsd::director
