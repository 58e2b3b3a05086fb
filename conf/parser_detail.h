// Internals of the config parser, shared by its .cc files and the unit tests: the INI line
// reader, value parsers that are not part of the public contract, and where each key was set.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "conf/result.h"

namespace tsd::conf::detail {

// One "key = value" line.
struct IniEntry {
  std::string key;
  std::string value;
  int line = 0;
};

// One "[kind name]" section with its entries, in file order.
struct IniSection {
  std::string kind;  // "director", "service", ...
  std::string name;  // "" when the header has no name
  int line = 0;
  std::vector<IniEntry> entries;
  std::string label() const { return name.empty() ? kind : kind + " " + name; }
};

// Splits INI text into sections. Syntax only: comments, headers, "key = value", line numbers.
// libinih (ini_parse_stream) parses each line, fed one at a time by our own reader: Debian's
// build gives the handler no line numbers and no callback for a section header, so the reader
// counts lines and records every header itself (empty or repeated sections must reach
// validation). It also refuses what that build would silently mangle: a line over 197 bytes
// (split in two) and a header over 49 bytes between its brackets (truncated).
Result<std::vector<IniSection>> readIni(std::string_view text, const std::string& file);

// Where each section and key was written, so validation can point at the right line.
class Sources {
 public:
  explicit Sources(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }
  void addSection(const std::string& label, int line) { sections_.emplace(label, line); }
  void addKey(const std::string& label, std::string_view key, int line);
  int sectionLine(const std::string& label) const;                    // 0: not present
  int keyLine(const std::string& label, std::string_view key) const;  // 0: not set
  const std::map<std::string, int>& keys() const { return keys_; }
  // "FILE:LINE: KEY: what", or "FILE: what" when line is 0.
  Error error(int line, std::string_view key, std::string_view what) const;

 private:
  std::string file_;
  std::map<std::string, int> sections_;
  std::map<std::string, int> keys_;  // "label/key"
};

// Builds a Config from sections: section/key names, value syntax and ranges.
Status applySections(const std::vector<IniSection>& sections, Config& cfg, Sources& src);
// Cross-field and cross-section rules (required keys, conflicts, dependencies).
Status validateConfig(const Config& cfg, const Sources& src);

// Keys accepted in a section kind ("director", "service", ...); empty for unknown kinds.
std::vector<std::string_view> keysOf(std::string_view kind);
std::vector<std::string_view> sectionKinds();

// Value parsers used by the section tables.
std::optional<bool> parseBool(std::string_view s);
bool isValidName(std::string_view s);      // [A-Za-z0-9_.-], 1..64 bytes
bool isValidUserName(std::string_view s);  // a POSIX-ish login name
std::string formatDuration(Duration d);    // "500ms", "2s", "1h30m"
std::string formatSize(uint64_t bytes);    // "16k", "4M", "1000"

// A node address: "HOST", "HOST:PORT", "[V6]:PORT", "[V6]" or a bare IPv6 literal.
struct HostPort {
  std::string host;
  std::optional<uint16_t> port;
};
Result<HostPort> parseHostPort(std::string_view s);
// One or more "ADDR:PORT" separated by commas and/or spaces; duplicates rejected.
Result<std::vector<SockAddr>> parseListenList(std::string_view s);

}  // namespace tsd::conf::detail
