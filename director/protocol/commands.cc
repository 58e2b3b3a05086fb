// The command table and the argument parsers both sides of the admin socket share.
#include "director/protocol/commands.h"

#include <charconv>

namespace tsd::protocol {
namespace {

constexpr CommandSpec kCommands[] = {
    {"nodes", 0, 0, "nodes", ""},
    {"sessions", 0, 0, "sessions", ""},
    {"sticky", 0, 1, "sticky [IDENTITY]", ""},
    {"users", 0, 0, "users", ""},
    {"drain", 1, 1, "drain NODE", ""},
    {"maint", 1, 1, "maint NODE", ""},
    {"ready", 1, 1, "ready NODE", ""},
    {"weight", 2, 2, "weight NODE N", "N: 0..1000"},
    {"pin", 2, 3, "pin IDENTITY NODE [TTL]", "TTL like 30m, 8h, 2d"},
    {"unpin", 1, 1, "unpin IDENTITY", ""},
    {"reload", 0, 0, "reload", ""},
};

}  // namespace

std::span<const CommandSpec> commands() { return kCommands; }

const CommandSpec* findCommand(std::string_view name) {
  for (const auto& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string commandList() {
  std::string out;
  for (const auto& c : kCommands) {
    if (!out.empty()) out += ", ";
    out += c.usage;
  }
  return out;
}

Status checkArity(std::string_view command, size_t nargs) {
  const CommandSpec* c = findCommand(command);
  if (c == nullptr) {
    return makeError("unknown command '" + std::string(command) + "'; commands: " + commandList());
  }
  if (nargs < c->min_args || nargs > c->max_args) {
    return makeError("usage: " + std::string(c->usage));
  }
  return {};
}

Status checkArity(const std::vector<std::string>& words) {
  if (words.empty()) return makeError("empty request; commands: " + commandList());
  return checkArity(words[0], words.size() - 1);
}

Result<int> parseWeight(std::string_view s) {
  int v = -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v > kMaxWeight) {
    return makeError("bad weight '" + std::string(s) + "': expected an integer 0..1000");
  }
  return v;
}

Result<conf::Duration> parseTtl(std::string_view s) {
  auto d = conf::parseDuration(s);
  if (!d || d->count() <= 0) {
    return makeError("bad TTL '" + std::string(s) + "': expected a duration like 30m, 8h or 2d");
  }
  return *d;
}

}  // namespace tsd::protocol
