// users.state: serializeUsers() and restoreUsers(); parsing is all-or-nothing.
#include "sticky/user_state.h"

#include <algorithm>
#include <vector>

#include "sticky/state_text.h"

namespace tsd::sticky {
namespace {

constexpr std::string_view kMagic = "tsdirector-users ";
constexpr int64_t kMaxUnixMs = int64_t{1} << 42;
constexpr size_t kMaxUserChars = 64;  // the agent protocol's name bound

using detail::escape;
using detail::parseUnsigned;
using detail::splitFields;
using detail::unescape;

Error lineError(size_t line, const std::string& what) {
  return makeError("users state line " + std::to_string(line) + ": " + what);
}

Status checkMagic(std::string_view first) {
  return detail::checkFormatLine(first, kMagic, "users state file", "users state",
                                 kUserStateFormatVersion);
}

Result<UserTable::Learned> parseRecord(std::string_view line, size_t n) {
  auto f = splitFields(line, ' ');
  if (f.size() != 3) return lineError(n, "expected 3 fields, got " + std::to_string(f.size()));
  UserTable::Learned r;
  auto id = unescape(f[0]);
  if (!id || !isCanonicalIdentityKey(*id)) return lineError(n, "bad identity");
  r.identity.key = std::move(*id);
  auto user = unescape(f[1]);
  if (!user || user->empty() || user->size() > kMaxUserChars) return lineError(n, "bad user");
  r.user = std::move(*user);
  auto ms = parseUnsigned(f[2], kMaxUnixMs);
  if (!ms) return lineError(n, "bad last-seen time");
  r.last_seen = UserTable::TimePoint(std::chrono::milliseconds(*ms));
  return r;
}

Result<std::vector<UserTable::Learned>> parseAll(std::string_view data) {
  if (data.empty()) return makeError("users state is empty");
  if (data.back() != '\n') return makeError("users state is truncated (no final newline)");
  auto lines = splitFields(data.substr(0, data.size() - 1), '\n');
  if (Status st = checkMagic(lines[0]); !st.ok()) return Error{st.error()};
  std::vector<UserTable::Learned> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.starts_with("#")) continue;
    if (line.starts_with("end ")) {
      auto count = parseUnsigned(line.substr(4), INT64_MAX);
      if (i + 1 != lines.size()) return lineError(i + 1, "data after the end line");
      if (!count || static_cast<size_t>(*count) != out.size()) {
        return lineError(i + 1, "entry count does not match (truncated or edited file)");
      }
      std::vector<std::pair<std::string_view, std::string_view>> keys;
      for (const auto& r : out) keys.emplace_back(r.identity.key, r.user);
      std::sort(keys.begin(), keys.end());
      if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
        return makeError("users state lists a pair twice");
      }
      return out;
    }
    auto r = parseRecord(line, i + 1);
    if (!r.ok()) return Error{r.error()};
    out.push_back(std::move(*r));
  }
  return makeError("users state is truncated (no end line)");
}

}  // namespace

std::string serializeUsers(const UserTable& table) {
  std::string out = std::string(kMagic) + std::to_string(kUserStateFormatVersion) + "\n";
  out += "# identity user last-seen-unix-ms\n";
  auto pairs = table.learned();
  for (const auto& l : pairs) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(l.last_seen.time_since_epoch());
    out += escape(l.identity.key) + ' ' + escape(l.user) + ' ' +
           std::to_string(std::clamp<int64_t>(ms.count(), 0, kMaxUnixMs)) + '\n';
  }
  out += "end " + std::to_string(pairs.size()) + "\n";
  return out;
}

Result<size_t> restoreUsers(UserTable& table, std::string_view data, UserTable::TimePoint now,
                            UserTable::Duration max_age) {
  auto parsed = parseAll(data);
  if (!parsed.ok()) return Error{parsed.error()};
  size_t added = 0;
  for (const auto& r : *parsed) {
    if (r.last_seen + max_age <= now) continue;
    added += table.learn(r.identity, r.user, r.last_seen) ? 1 : 0;
  }
  return added;
}

}  // namespace tsd::sticky
