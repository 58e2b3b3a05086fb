// StatsSink: the only writer of the director's counters.
#include "director/control/stats.h"

#include "director/control/service_table.h"
#include "director/nodes/node_table.h"

namespace tsd::director {

void StatsSink::accepted(ServiceId service, bool over_limit) {
  ServiceCounters& sc = services_.byId(service)->counters;
  ++sc.accepted;
  if (over_limit) {
    ++sc.refused_limit;
    return;
  }
  ++sc.active;
  ++stats_.active;
}

void StatsSink::attempts(const Connection& c) {
  const auto& list = c.attempts();
  if (list.size() > 1) stats_.retries += list.size() - 1;
  for (const Attempt& a : list) {
    ++stats_.decisions[static_cast<int>(a.reason)];
    if (a.ambiguous) ++stats_.ambiguous_sessions;
    if (a.sticky_replaced) ++stats_.sticky_replaced;
    NodeRuntime* n = nodes_.byId(a.node);
    if (n == nullptr) continue;
    ++n->counters.connect_attempts;
    if (a.outcome == Attempt::Outcome::kNodeFailed) ++n->counters.connect_failures;
    if (a.outcome == Attempt::Outcome::kConnected) ++n->counters.connections;
  }
}

void StatsSink::opened(const Connection& c, bool kernel) {
  attempts(c);
  ++(kernel ? stats_.fast_path_connections : stats_.userspace_connections);
}

void StatsSink::ended(const Connection& c, const ConnectionEnd& end) {
  ServiceCounters& sc = services_.byId(c.service())->counters;
  if (sc.active > 0) --sc.active;
  if (stats_.active > 0) --stats_.active;
  if (end.refusal) {
    attempts(c);  // never opened: its attempts are recorded now
    switch (*end.refusal) {
      case Refusal::kNoNode:
        ++sc.refused_no_node;
        break;
      case Refusal::kManualDown:
        ++sc.refused_manual_down;
        break;
      case Refusal::kConnectFailed:
        ++sc.failed_connect;
        break;
      case Refusal::kBadHello:
        ++sc.bad_hello;
        break;
      case Refusal::kHelloTimeout:
        ++sc.hello_timeout;
        break;
    }
    return;
  }
  stats_.closed_bytes.up += end.bytes.up;
  stats_.closed_bytes.down += end.bytes.down;
  if (NodeRuntime* n = nodes_.byId(c.node())) {
    n->counters.bytes_up += end.bytes.up;
    n->counters.bytes_down += end.bytes.down;
  }
  if (end.forward_end == ForwardEnd::kReset) ++stats_.resets;
  if (end.forward_end == ForwardEnd::kIdle) ++stats_.idle_timeouts;
}

void StatsSink::reload(bool ok) {
  if (!ok) {
    ++stats_.reloads_failed;
    return;
  }
  ++stats_.reloads_ok;
  ++stats_.config_generation;
}

}  // namespace tsd::director
