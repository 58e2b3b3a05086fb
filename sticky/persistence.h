// The sticky table on disk: a versioned text format, written atomically to state_dir and read
// back at start, so returning users still go home after a director restart.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "conf/result.h"
#include "sticky/sticky_table.h"

namespace tsd::sticky {

inline constexpr std::string_view kStateFileName = "sticky.state";
inline constexpr int kStateFormatVersion = 1;
inline constexpr size_t kMaxStateFileBytes = 64 << 20;  // ~500k entries; more is not ours

// Format (docs/sticky.md):
//   tsdirector-sticky 1
//   # identity node expires-unix-ms flag
//   10.1.2.0/24 node-a 1767225600000 s
//   sni:desk.example.org node-b - p
//   end 2
// Flag `s` is an ordinary entry (expiry required; entries with live connections are written
// with now + ttl), `p` a pin (expiry `-` when it has no end). Fields are %XX-escaped outside
// printable non-space ASCII and '%'. The `end N` trailer makes truncation detectable.
std::string serialize(const StickyTable& table, StickyTable::TimePoint now);

// Parses all of `data` first; any problem (foreign file, newer format version, bad line,
// truncation) returns an error naming the line and leaves the table unchanged. Then adds the
// entries that have not expired, whose node passes `keep_node` (when given) and whose identity
// is not already in the table. Returns how many were added.
Result<size_t> restore(StickyTable& table, std::string_view data, StickyTable::TimePoint now,
                       const std::function<bool(std::string_view node)>& keep_node = {});

// Writes a temporary file in the same directory, fsyncs it, renames it over `path` and fsyncs
// the directory: a crash leaves the old file or the new one, never a torn one. Mode 0600.
Status saveAtomically(const std::string& path, std::string_view data);

// Reads a whole file of at most max_bytes. A missing file is an error whose message ends in
// strerror(ENOENT) ("No such file or directory"); callers treat that as "first start".
Result<std::string> readFile(const std::string& path, size_t max_bytes);

}  // namespace tsd::sticky
