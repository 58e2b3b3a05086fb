// Non-throwing reply accessors: only nlohmann calls that cannot throw for the type checked.
#include "director/protocol/reply_fields.h"

#include <cmath>
#include <cstdio>

namespace tsd::protocol {
namespace {

const nlohmann::json kNull;

std::string floatText(double d) {
  char buf[64];
  if (d == std::floor(d) && std::fabs(d) < 1e15) {
    snprintf(buf, sizeof buf, "%.0f", d);
  } else if (std::fabs(d) < 1e15) {
    snprintf(buf, sizeof buf, "%.2f", d);
  } else {
    snprintf(buf, sizeof buf, "%g", d);  // not 300 digits for 1e300
  }
  return buf;
}

std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

const nlohmann::json& member(const nlohmann::json& v, std::string_view key) {
  if (!v.is_object()) return kNull;
  auto it = v.find(key);
  return it == v.end() ? kNull : *it;
}

bool isTrue(const nlohmann::json& v) { return v.is_boolean() && v.get<bool>(); }

std::optional<double> number(const nlohmann::json& v) {
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

std::optional<int64_t> integer(const nlohmann::json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    // 2^63 is exact as a double; anything below it converts without overflow.
    if (d != std::floor(d) || std::fabs(d) >= 9223372036854775808.0) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::string displayText(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::string:
      return printable(v.get_ref<const std::string&>());
    case nlohmann::json::value_t::boolean:
      return v.get<bool>() ? "yes" : "no";
    case nlohmann::json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return floatText(v.get<double>());
    case nlohmann::json::value_t::array:
    case nlohmann::json::value_t::object:
      return "...";
    default:  // null, discarded, binary
      return "-";
  }
}

}  // namespace tsd::protocol
