// Linux capability bits without libcap: what the fast path checks before loading and what the
// privilege drop keeps. Older uapi headers do not name CAP_BPF, so the numbers live here.
#pragma once

#include <initializer_list>

#include "conf/result.h"

namespace tsd::director {

inline constexpr int kCapNetAdmin = 12;
inline constexpr int kCapNetBindService = 10;
inline constexpr int kCapSysAdmin = 21;
inline constexpr int kCapPerfmon = 38;
inline constexpr int kCapBpf = 39;

bool hasEffectiveCap(int cap);
// Sets the permitted and effective sets to exactly `caps` (after setuid with KEEPCAPS).
Status setCapabilities(std::initializer_list<int> caps);

}  // namespace tsd::director
