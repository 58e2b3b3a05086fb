// State file format: serialize() and restore() of the sticky table. Parsing is all-or-nothing
// so a bad file never half-fills the table.
#include "sticky/persistence.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include "sticky/state_text.h"

namespace tsd::sticky {
namespace {

constexpr std::string_view kMagic = "tsdirector-sticky ";
constexpr int64_t kMaxUnixMs = int64_t{1} << 42;  // ~year 2109; keeps chrono math in range
constexpr size_t kMaxField = 1024;

using TimePoint = StickyTable::TimePoint;

struct Record {
  Identity identity;
  std::string node;
  std::optional<int64_t> expires_ms;
  bool pinned = false;
};

int64_t toUnixMs(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint fromUnixMs(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

using detail::escape;
using detail::parseUnsigned;
using detail::splitFields;
using detail::unescape;

Error lineError(size_t line, const std::string& what) {
  return makeError("state file line " + std::to_string(line) + ": " + what);
}

Status checkMagic(std::string_view first) {
  return detail::checkFormatLine(first, kMagic, "sticky state file", "state file",
                                 kStateFormatVersion);
}

Result<Record> parseRecord(std::string_view line, size_t n) {
  auto f = splitFields(line, ' ');
  if (f.size() != 4) return lineError(n, "expected 4 fields, got " + std::to_string(f.size()));
  for (auto field : f) {
    if (field.empty() || field.size() > kMaxField) return lineError(n, "empty or oversized field");
  }
  Record r;
  auto id = unescape(f[0]);
  if (!id || !isCanonicalIdentityKey(*id)) return lineError(n, "bad identity");
  r.identity.key = std::move(*id);
  auto node = unescape(f[1]);
  if (!node || node->empty()) return lineError(n, "bad node name");
  r.node = std::move(*node);
  if (f[3] != "s" && f[3] != "p") return lineError(n, "flag must be 's' or 'p'");
  r.pinned = f[3] == "p";
  if (f[2] != "-") {
    r.expires_ms = parseUnsigned(f[2], kMaxUnixMs);
    if (!r.expires_ms) return lineError(n, "bad expiry");
  } else if (!r.pinned) {
    return lineError(n, "an unpinned entry needs an expiry");
  }
  return r;
}

// Parses the whole file into records, or fails without side effects.
Result<std::vector<Record>> parseAll(std::string_view data) {
  if (data.empty()) return makeError("state file is empty");
  if (data.back() != '\n') return makeError("state file is truncated (no final newline)");
  auto lines = splitFields(data.substr(0, data.size() - 1), '\n');
  if (Status st = checkMagic(lines[0]); !st.ok()) return Error{st.error()};
  std::vector<Record> records;
  std::vector<Identity> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.starts_with("#")) continue;
    if (line.starts_with("end ")) {
      auto count = parseUnsigned(line.substr(4), INT64_MAX);
      if (i + 1 != lines.size()) return lineError(i + 1, "data after the end line");
      if (!count || static_cast<size_t>(*count) != records.size()) {
        return lineError(i + 1, "entry count does not match (truncated or edited file)");
      }
      std::sort(seen.begin(), seen.end());
      if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) {
        return makeError("state file lists an identity twice");
      }
      return records;
    }
    auto r = parseRecord(line, i + 1);
    if (!r.ok()) return Error{r.error()};
    seen.push_back(r->identity);
    records.push_back(std::move(*r));
  }
  return makeError("state file is truncated (no end line)");
}

}  // namespace

std::string serialize(const StickyTable& table, TimePoint now) {
  std::string out = std::string(kMagic) + std::to_string(kStateFormatVersion) + "\n";
  out += "# identity node expires-unix-ms flag(s=sticky,p=pinned)\n";
  size_t count = 0;
  for (const auto& e : table.entries(now)) {
    std::string expires = "-";
    if (e.pinned) {
      if (e.pinned_until) expires = std::to_string(toUnixMs(*e.pinned_until));
    } else {
      expires = std::to_string(toUnixMs(e.expires.value_or(now + table.ttl())));
    }
    out += escape(e.identity.key) + ' ' + escape(e.node) + ' ' + expires + ' ' +
           (e.pinned ? 'p' : 's') + '\n';
    ++count;
  }
  out += "end " + std::to_string(count) + "\n";
  return out;
}

Result<size_t> restore(StickyTable& table, std::string_view data, TimePoint now,
                       const std::function<bool(std::string_view node)>& keep_node) {
  auto parsed = parseAll(data);
  if (!parsed.ok()) return Error{parsed.error()};
  std::vector<Record>& records = *parsed;
  // Oldest first, so LRU order (and eviction at capacity) follows last use.
  std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return a.expires_ms.value_or(INT64_MAX) < b.expires_ms.value_or(INT64_MAX);
  });
  size_t added = 0;
  for (const Record& r : records) {
    if (table.contains(r.identity) || (keep_node && !keep_node(r.node))) continue;
    std::optional<TimePoint> expires;
    if (r.expires_ms) expires = fromUnixMs(*r.expires_ms);
    if (r.pinned && (!expires || *expires > now)) {
      table.pin(r.identity, r.node, expires);
    } else if (r.pinned && *expires + table.ttl() > now) {
      table.assign(r.identity, r.node, *expires);  // the pin lapsed while we were down
    } else if (!r.pinned && *expires > now) {
      table.assign(r.identity, r.node, *expires - table.ttl());
    } else {
      continue;  // expired
    }
    added += table.contains(r.identity) ? 1 : 0;
  }
  return added;
}

}  // namespace tsd::sticky
