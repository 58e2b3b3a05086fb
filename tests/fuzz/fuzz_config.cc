// libFuzzer target: arbitrary bytes as a config file. parseConfig must return a Config or one
// error line, never crash, hang or leak; an accepted Config must satisfy the validated ranges.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "conf/config.h"
#include "conf/parser_detail.h"

namespace {

// Re-checks a few invariants the parser promises, so a validation gap is a crash, not silence.
void checkInvariants(const tsd::conf::Config& c) {
  bool ok = !c.services.empty() && !c.nodes.empty();
  for (const auto& s : c.services) ok = ok && !s.listen.empty() && s.port != 0;
  for (const auto& n : c.nodes) {
    ok = ok && !n.host.empty() && n.weight >= 0 && n.weight <= 1000;
    for (const auto& s : c.services) {
      const tsd::SockAddr a = n.addressFor(s);
      ok = ok && a.valid();
      // Never one of our own listeners: the director would connect to itself.
      for (const auto& t : c.services)
        ok = ok && std::find(t.listen.begin(), t.listen.end(), a) == t.listen.end();
      for (const auto& m : c.nodes) ok = ok && !(m.manual_listen && *m.manual_listen == a);
    }
  }
  ok = ok && c.director.connect_attempts >= 1 && c.director.connect_attempts <= 16;
  ok = ok && c.health.timeout < c.health.interval && c.agent.max_age > c.agent.poll;
  ok = ok && c.director.buffer_size >= 16 * 1024 && c.director.buffer_size <= 4 * 1024 * 1024;
  if (!ok) std::abort();
}

// The reader's promises: lines only grow, every entry has a key and sits below its header, and
// no value carries the blanks libinih strips.
void checkSections(const std::vector<tsd::conf::detail::IniSection>& sections) {
  int last = 0;
  for (const auto& s : sections) {
    bool ok = s.line > last;
    last = s.line;
    for (const auto& e : s.entries) {
      ok = ok && e.line > last && !e.key.empty();
      ok = ok && (e.value.empty() || (e.value.front() != ' ' && e.value.back() != ' '));
      last = e.line;
    }
    if (!ok) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = tsd::conf::parseConfig(text, "fuzz.ini");
  if (r.ok()) {
    checkInvariants(**r);
  } else if (r.error().empty() || r.error().find('\n') != std::string::npos) {
    std::abort();  // errors are exactly one non-empty line
  }
  // The INI reader and the value parsers see the same bytes directly too.
  if (auto sections = tsd::conf::detail::readIni(text, "fuzz.ini")) checkSections(*sections);
  (void)tsd::conf::parseDuration(text);
  (void)tsd::conf::parseSize(text);
  return 0;
}
