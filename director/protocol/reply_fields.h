// Reading members of a decoded reply for display without ever throwing: a reply from a newer
// or broken daemon may lack a member or give it another type, and the CLI must still print.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tsd::protocol {

// Member `key` of an object; null when `v` is not an object or has no such member.
const nlohmann::json& member(const nlohmann::json& v, std::string_view key);
// Only a boolean true is true.
bool isTrue(const nlohmann::json& v);
// Any JSON number.
std::optional<double> number(const nlohmann::json& v);
// An integer, or a float with an integral value that fits (a Unix time written as 1.7e9).
std::optional<int64_t> integer(const nlohmann::json& v);
// A table cell: strings as is (control characters shown as '?', so a name cannot move the
// terminal's cursor), integers without ".0", other numbers with 2 decimals, booleans yes/no,
// null (and a missing member) "-", arrays and objects "...".
std::string displayText(const nlohmann::json& v);

}  // namespace tsd::protocol
