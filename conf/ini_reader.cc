// The INI line reader: inih's syntax (";"/"#" comments, "[section]", "key = value") with exact
// line numbers, every header reported, and no line-length limit. See parser_detail.h for why.
#include <cstdio>

#include "conf/parser_detail.h"

namespace tsd::conf::detail {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

// A comment starts at ';' or '#' at the start of a line or after a blank, so values such as
// "a#b" stay intact.
std::string_view stripComment(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == ';' || s[i] == '#') && (i == 0 || isBlank(s[i - 1]))) return trim(s.substr(0, i));
  }
  return s;
}

// The line itself stands in for the key in syntax errors, shortened so the message stays one
// readable line.
std::string excerpt(std::string_view s) {
  constexpr size_t kMax = 40;
  if (s.size() <= kMax) return std::string(s);
  return std::string(s.substr(0, kMax)) + "...";
}

std::optional<std::string> controlChar(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "control character 0x%02x in line", c);
      return std::string(buf);
    }
  }
  return std::nullopt;
}

Status readHeader(std::string_view line, int lineno, const Sources& src, IniSection& out) {
  if (line.back() != ']') return src.error(lineno, excerpt(line), "section header without ']'");
  std::string_view inner = trim(line.substr(1, line.size() - 2));
  size_t blank = inner.find_first_of(" \t");
  out.kind = std::string(inner.substr(0, blank));
  out.name = blank == std::string_view::npos ? "" : std::string(trim(inner.substr(blank)));
  out.line = lineno;
  return {};
}

Status readEntry(std::string_view line, int lineno, const Sources& src,
                 std::vector<IniSection>& sections) {
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) {
    return src.error(lineno, excerpt(line), "expected 'KEY = VALUE' or '[SECTION]'");
  }
  std::string_view key = trim(line.substr(0, eq));
  if (key.empty()) return src.error(lineno, excerpt(line), "missing key before '='");
  if (sections.empty()) {
    return src.error(lineno, key, "key outside any section (put it under a [SECTION] header)");
  }
  sections.back().entries.push_back(
      IniEntry{std::string(key), std::string(trim(line.substr(eq + 1))), lineno});
  return {};
}

}  // namespace

Result<std::vector<IniSection>> readIni(std::string_view text, const std::string& file) {
  const Sources src(file);
  std::vector<IniSection> sections;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM, as inih allows
  int lineno = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++lineno;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (auto bad = controlChar(raw)) return src.error(lineno, "line", *bad);
    std::string_view line = stripComment(trim(raw));
    if (line.empty()) continue;
    if (line.front() == '[') {
      IniSection s;
      if (Status st = readHeader(line, lineno, src, s); !st) return makeError(st.error());
      sections.push_back(std::move(s));
    } else if (Status st = readEntry(line, lineno, src, sections); !st) {
      return makeError(st.error());
    }
  }
  return sections;
}

}  // namespace tsd::conf::detail
