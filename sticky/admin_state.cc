// The admin state file: one line per overridden node, a versioned header, a counted trailer.
#include "sticky/admin_state.h"

#include <set>

#include "sticky/state_text.h"

namespace tsd::sticky {
namespace {

constexpr std::string_view kMagic = "tsdirector-admin ";
constexpr int kMaxWeight = 1000;
constexpr size_t kMaxNodes = 100000;

std::optional<int> parseInt(std::string_view s, int max) {
  auto v = detail::parseUnsigned(s, max);
  return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
}

bool validName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Error lineError(size_t n, const std::string& what) {
  return makeError("admin state line " + std::to_string(n) + ": " + what);
}

Result<AdminOverride> parseLine(std::string_view line, size_t n) {
  auto f = detail::splitFields(line, ' ');
  if (f.size() != 5) return lineError(n, "expected 5 fields, got " + std::to_string(f.size()));
  AdminOverride o;
  if (!validName(f[0])) return lineError(n, "bad node name");
  o.node = std::string(f[0]);
  if (f[1] != "-") {
    o.state = conf::parseNodeState(f[1]);
    if (!o.state) return lineError(n, "bad state");
  }
  if (f[2] != "-") {
    o.weight = parseInt(f[2], kMaxWeight);
    if (!o.weight) return lineError(n, "bad weight");
  }
  if (!o.state && !o.weight) return lineError(n, "a line without an override");
  auto fs = conf::parseNodeState(f[3]);
  auto fw = parseInt(f[4], kMaxWeight);
  if (!fs || !fw) return lineError(n, "bad file state or weight");
  o.file_state = *fs;
  o.file_weight = *fw;
  return o;
}

}  // namespace

std::string serializeAdmin(const std::vector<AdminOverride>& overrides) {
  std::string out = std::string(kMagic) + std::to_string(kAdminStateFormatVersion) + "\n";
  for (const auto& o : overrides) {
    out += o.node + " " + (o.state ? std::string(conf::toString(*o.state)) : "-") + " " +
           (o.weight ? std::to_string(*o.weight) : "-") + " " +
           std::string(conf::toString(o.file_state)) + " " + std::to_string(o.file_weight) + "\n";
  }
  return out + "end " + std::to_string(overrides.size()) + "\n";
}

Result<std::vector<AdminOverride>> parseAdmin(std::string_view data) {
  if (data.empty()) return makeError("admin state file is empty");
  if (data.size() > kMaxAdminStateBytes) return makeError("admin state file is oversized");
  if (data.back() != '\n') return makeError("admin state file is truncated (no final newline)");
  auto lines = detail::splitFields(data.substr(0, data.size() - 1), '\n');
  if (!lines[0].starts_with(kMagic)) return makeError("not a tsdirector admin state file");
  auto version = parseInt(lines[0].substr(kMagic.size()), 1'000'000);
  if (!version || *version == 0) return makeError("admin state file has a bad version line");
  if (*version > kAdminStateFormatVersion) {
    return makeError("admin state format version " + std::to_string(*version) +
                     " is newer than this tsdirector");
  }
  std::vector<AdminOverride> out;
  std::set<std::string, std::less<>> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.starts_with("end ")) {
      auto count = parseInt(line.substr(4), static_cast<int>(kMaxNodes));
      if (!count || static_cast<size_t>(*count) != out.size() || i + 1 != lines.size()) {
        return lineError(i + 1, "bad trailer");
      }
      return out;
    }
    if (out.size() >= kMaxNodes) return lineError(i + 1, "too many nodes");
    auto o = parseLine(line, i + 1);
    if (!o.ok()) return makeError(o.error());
    if (!seen.insert(o->node).second) return lineError(i + 1, "node " + o->node + " twice");
    out.push_back(std::move(o).value());
  }
  return makeError("admin state file is truncated (no end line)");
}

}  // namespace tsd::sticky
