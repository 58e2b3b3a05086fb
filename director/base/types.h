// The vocabulary every plane shares: typed ids for nodes and services (resolved once, at
// accept or when a config is applied) and why a node was chosen.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

namespace tsd::director {

// Index into the node table. Stable for the process lifetime: a node removed by a reload
// keeps its slot while its connections drain; a re-added name gets a new id.
using NodeId = uint32_t;
// Index into the service table, stable for the process lifetime in the same way.
using ServiceId = uint32_t;
inline constexpr uint32_t kNoId = std::numeric_limits<uint32_t>::max();

// Why a node was chosen (DESIGN.md decision order); every decision is counted by reason.
// Append-only: kUser (the user table) comes before kSession in the order, not in the numbering.
enum class Reason : uint8_t { kManual, kSession, kSticky, kScheduler, kFallback, kUser };
inline constexpr int kReasonCount = 6;
std::string_view toString(Reason r);

}  // namespace tsd::director
