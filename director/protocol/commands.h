// The admin commands' one table, read by the daemon (to check a request before running it) and
// by tsdirectorctl (to refuse a mistake before connecting), so the two cannot disagree.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "conf/result.h"

namespace tsd::protocol {

struct CommandSpec {
  std::string_view name;
  size_t min_args;
  size_t max_args;
  std::string_view usage;  // "pin IDENTITY NODE [TTL]", as usage errors quote it
  std::string_view hint;   // what an argument looks like, for the CLI's help; may be empty
};

inline constexpr int kMaxWeight = 1000;

std::span<const CommandSpec> commands();
// nullptr for an unknown command.
const CommandSpec* findCommand(std::string_view name);
// "nodes, sessions, sticky [IDENTITY], ...": the list error messages end with.
std::string commandList();

// The request's command is known and has an acceptable number of arguments; the error reads
// "empty request; commands: ...", "unknown command 'x'; commands: ..." or "usage: drain NODE".
[[nodiscard]] Status checkArity(std::string_view command, size_t nargs);
[[nodiscard]] Status checkArity(const std::vector<std::string>& words);

// `weight NODE N`: an integer 0..kMaxWeight.
[[nodiscard]] Result<int> parseWeight(std::string_view s);
// `pin IDENTITY NODE TTL`: a positive duration as the config files write it (30m, 8h, 2d).
[[nodiscard]] Result<conf::Duration> parseTtl(std::string_view s);

}  // namespace tsd::protocol
