// The status document: counters summed over services, decisions by reason, data paths,
// reloads and the node views, as the page and greeters read them.
#include "director/ops/status_page.h"

#include <openssl/evp.h>

#include <ctime>

#include "director/ops/node_view.h"

namespace tsd::director {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMarker = "/*TSD_STATUS_JSON*/null";

Json connectionsJson(const Director& d) {
  ServiceCounters sum;
  for (const ServiceRuntime& s : d.services().all()) {
    sum.accepted += s.counters.accepted;
    sum.refused_limit += s.counters.refused_limit;
    sum.refused_no_node += s.counters.refused_no_node;
    sum.refused_manual_down += s.counters.refused_manual_down;
    sum.failed_connect += s.counters.failed_connect;
    sum.bad_hello += s.counters.bad_hello;
    sum.hello_timeout += s.counters.hello_timeout;
  }
  return {{"active", d.stats().active},
          {"max", d.config()->director.max_connections},
          {"accepted", sum.accepted},
          {"failed", sum.failed_connect},
          {"retries", d.stats().retries},
          {"refused",
           {{"limit", sum.refused_limit},
            {"no_node", sum.refused_no_node},
            {"manual_down", sum.refused_manual_down},
            {"bad_hello", sum.bad_hello},
            {"hello_timeout", sum.hello_timeout}}}};
}

Json servicesJson(const Director& d) {
  Json out = Json::array();
  for (const ServiceRuntime& s : d.services().all()) {
    if (s.removed || s.cfg == nullptr) continue;
    Json listen = Json::array();
    for (const SockAddr& a : s.cfg->listen) listen.push_back(a.toString());
    out.push_back({{"name", s.name},
                   {"listen", std::move(listen)},
                   {"algorithm", std::string(conf::toString(s.algorithm))},
                   {"check", std::string(conf::toString(s.check))},
                   {"active", s.counters.active},
                   {"accepted", s.counters.accepted}});
  }
  return out;
}

Json dataPathJson(const Director& d) {
  const DirectorStats& s = d.stats();
  const DataPath* dp = d.dataPath();
  bool active = dp != nullptr && dp->fastPathActive();
  bool fell_back = dp != nullptr && !active && !dp->fastPathError().empty();
  DataPath::FastPathCounts fc = dp != nullptr ? dp->fastPathCounts() : DataPath::FastPathCounts{};
  return {{"mode", std::string(conf::toString(d.config()->director.fast_path))},
          {"fast_path", active ? "active" : (fell_back ? "fallback" : "off")},
          {"fast_path_error", dp != nullptr ? dp->fastPathError() : ""},
          {"ebpf", s.fast_path_connections},
          {"userspace", s.userspace_connections},
          {"promoted", fc.promoted},
          {"handed_back", fc.handed_back}};
}

}  // namespace

Json statusJson(const Director& d) {
  if (!d.config()) return Json::object();
  const DirectorStats& s = d.stats();
  Json decisions = Json::object();
  for (int r = 0; r < kReasonCount; ++r) {
    decisions[std::string(toString(static_cast<Reason>(r)))] = s.decisions[r];
  }
  return {{"version", TSD_VERSION},
          {"time_unix", static_cast<int64_t>(std::time(nullptr))},
          {"generation", s.config_generation},
          {"reloads", {{"ok", s.reloads_ok}, {"failed", s.reloads_failed}}},
          {"connections", connectionsJson(d)},
          {"decisions", std::move(decisions)},
          {"data_path", dataPathJson(d)},
          {"sticky_entries", d.stickyTable().size()},
          {"services", servicesJson(d)},
          {"nodes", nodeViews(d)}};
}

std::string statusDocument(const Director& d) { return dumpJson(statusJson(d)) + "\n"; }

std::string jsonForScript(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string statusPage(const Director& d) {
  std::string_view html = statusPageHtml();
  size_t at = html.find(kMarker);
  std::string doc = jsonForScript(dumpJson(statusJson(d)));
  std::string_view script = statusPageScript();
  std::string out;
  out.reserve(html.size() + doc.size() + script.size() + 64);
  if (at == std::string_view::npos) {
    out.append(html);  // the template's unit test catches a lost marker
  } else {
    out.append(html.substr(0, at)).append(doc).append(html.substr(at + kMarker.size()));
  }
  out.append("<script>").append(script).append("</script>\n</body>\n</html>\n");
  return out;
}

const std::string& statusPagePolicy() {
  static const std::string policy = [] {
    std::string_view script = statusPageScript();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(script.data(), script.size(), digest, &len, EVP_sha256(), nullptr);
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    int n = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
    std::string hash(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
    return "default-src 'none'; script-src 'sha256-" + hash +
           "'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri "
           "'none'; "
           "form-action 'none'; frame-ancestors 'none'";
  }();
  return policy;
}

}  // namespace tsd::director
