// The INI reader: libinih parses the syntax; we hand it the text one line at a time so every key
// and header gets its exact line, and refuse what Debian's build would silently split or cut.
#include <ini.h>

#include <cassert>
#include <cstdio>
#include <cstring>
#include <optional>

#include "conf/parser_detail.h"

namespace tsd::conf::detail {
namespace {

// libinih keeps a section name in 50 bytes with its NUL (MAX_SECTION in ini.c) and drops the
// rest without a word, so the text between the brackets must fit.
constexpr size_t kMaxSectionBytes = 49;
// libinih's line buffer must hold the longest line plus "\r\n" and the NUL (see ini.h).
constexpr int kLineReserve = 3;
constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kExpectedLine = "expected 'KEY = VALUE' or '[SECTION]'";

bool isBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Where libinih's inline comment starts: a ';' right after a blank ('#' is a comment only at
// the start of a line). npos: none.
size_t commentAt(std::string_view s) {
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == ';' && isBlank(s[i - 1])) return i;
  }
  return std::string_view::npos;
}

std::string_view withoutComment(std::string_view s) { return trim(s.substr(0, commentAt(s))); }

// The line itself stands in for the key in syntax errors, shortened so the message stays one
// readable line.
std::string excerpt(std::string_view line) {
  constexpr size_t kMax = 40;
  std::string_view s = withoutComment(line);
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

std::string_view lineAt(std::string_view text, int lineno) {
  for (int i = 1; i < lineno && !text.empty(); ++i) {
    size_t nl = text.find('\n');
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  std::string_view line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// The state libinih's two callbacks share: the reader (one line per call, so it knows the line
// number and sees every header) and the handler (one call per key or continuation line).
class IniDriver {
 public:
  IniDriver(std::string_view text, const std::string& file)
      : text_(text), rest_(text), src_(file) {}
  Result<std::vector<IniSection>> run();

 private:
  static char* readLine(char* buf, int size, void* self) noexcept {
    return static_cast<IniDriver*>(self)->nextLine(buf, size) ? buf : nullptr;
  }
  static int onValue(void* self, const char* /*section*/, const char* name,
                     const char* value) noexcept {
    return static_cast<IniDriver*>(self)->addValue(name, value) ? 1 : 0;
  }
  bool nextLine(char* buf, int size);
  Status checkLine(size_t max_bytes) const;
  Status classify();
  Status readHeader(std::string_view t);
  bool addValue(std::string_view name, std::string_view value);
  bool fail(const Status& st) {
    if (!error_) error_ = makeError(st.error());
    return false;
  }
  // libinih continues the previous key's value on an indented line until the next header.
  bool hasOpenKey() const { return !sections_.empty() && !sections_.back().entries.empty(); }

  std::string_view text_;
  std::string_view rest_;  // not yet handed to libinih
  const Sources src_;
  std::vector<IniSection> sections_;
  std::string_view line_;  // the line libinih holds now, without its line end
  int lineno_ = 0;
  bool continuation_ = false;  // libinih will pass line_ on as more of the previous value
  bool wants_value_ = false;   // line_ is no blank, comment or header: the handler must see it
  int handled_ = 0;            // the last line the handler was called for
  std::optional<Error> error_;
};

Result<std::vector<IniSection>> IniDriver::run() {
  const int rc = ini_parse_stream(&IniDriver::readLine, this, &IniDriver::onValue, this);
  if (error_) return *error_;
  // nextLine() explains every line libinih refuses; this is the net should its rules change.
  if (rc > 0) return src_.error(rc, excerpt(lineAt(text_, rc)), kExpectedLine);
  if (rc < 0) return src_.error(0, "", "libinih failed (code " + std::to_string(rc) + ")");
  return std::move(sections_);
}

bool IniDriver::nextLine(char* buf, int size) {
  if (error_) return false;  // stops libinih at the first error
  // libinih only counts a line it refuses (one with no '=' or ':'); catching that before the
  // next line stops the parse there, with a message of our own.
  if (wants_value_ && handled_ != lineno_)
    return fail(src_.error(lineno_, excerpt(line_), kExpectedLine));
  wants_value_ = continuation_ = false;
  if (rest_.empty()) return false;
  const size_t nl = rest_.find('\n');
  line_ = rest_.substr(0, nl);
  rest_.remove_prefix(nl == std::string_view::npos ? rest_.size() : nl + 1);
  ++lineno_;
  if (!line_.empty() && line_.back() == '\r') line_.remove_suffix(1);
  if (lineno_ == 1 && line_.starts_with(kBom)) line_.remove_prefix(kBom.size());
  const size_t max_bytes = size > kLineReserve ? size_t(size - kLineReserve) : 0;
  if (Status st = checkLine(max_bytes); !st) return fail(st);
  if (Status st = classify(); !st) return fail(st);
  std::memcpy(buf, line_.data(), line_.size());
  buf[line_.size()] = '\n';
  buf[line_.size() + 1] = '\0';
  return true;
}

Status IniDriver::checkLine(size_t max_bytes) const {
  if (auto bad = controlChar(line_)) return src_.error(lineno_, "line", *bad);
  // libinih would split a longer line and read its tail as a line of its own.
  if (line_.size() > max_bytes) {
    return src_.error(lineno_, "line",
                      "longer than " + std::to_string(max_bytes) +
                          " bytes, libinih's limit (continue a long value on an indented line)");
  }
  return {};
}

// Sorts the line the way libinih will: comment, continuation, header or key.
Status IniDriver::classify() {
  const std::string_view t = trim(line_);
  if (t.empty() || t.front() == ';' || t.front() == '#') return {};
  continuation_ = isBlank(line_.front()) && hasOpenKey();
  if (!continuation_ && t.front() == '[') return readHeader(t);
  wants_value_ = true;
  return {};
}

// We read headers ourselves: Debian's libinih reports none (INI_CALL_HANDLER_ON_NEW_SECTION 0),
// and an empty or repeated section must still reach validation.
Status IniDriver::readHeader(std::string_view t) {
  const size_t close = t.find(']');
  if (close == std::string_view::npos || commentAt(t) < close) {
    return src_.error(lineno_, excerpt(t), "section header without ']'");
  }
  const std::string_view after = trim(t.substr(close + 1));
  if (!after.empty() && after.front() != ';' && after.front() != '#') {
    return src_.error(lineno_, excerpt(t), "text after ']' (only a comment may follow a header)");
  }
  const std::string_view inner = t.substr(1, close - 1);
  if (inner.size() > kMaxSectionBytes) {
    return src_.error(lineno_, excerpt(t),
                      "section header longer than 49 bytes between the brackets (libinih's limit)");
  }
  IniSection& s = sections_.emplace_back();
  const std::string_view words = trim(inner);
  const size_t blank = words.find_first_of(" \t");
  s.kind = std::string(words.substr(0, blank));
  s.name = blank == std::string_view::npos ? "" : std::string(trim(words.substr(blank)));
  s.line = lineno_;
  return {};
}

bool IniDriver::addValue(std::string_view name, std::string_view value) {
  assert(wants_value_);  // libinih calls back only for lines classify() sorted as values
  handled_ = lineno_;
  if (continuation_) {
    // One space joins the lines, so a long listen list can span several.
    std::string& v = sections_.back().entries.back().value;
    if (!v.empty() && !value.empty()) v += ' ';
    v += value;
    return true;
  }
  if (name.empty()) {
    const std::string sep(1, trim(line_).front());
    return fail(src_.error(lineno_, excerpt(line_), "missing key before '" + sep + "'"));
  }
  if (sections_.empty()) {
    return fail(
        src_.error(lineno_, name, "key outside any section (put it under a [SECTION] header)"));
  }
  sections_.back().entries.push_back(IniEntry{std::string(name), std::string(value), lineno_});
  return true;
}

}  // namespace

Result<std::vector<IniSection>> readIni(std::string_view text, const std::string& file) {
  return IniDriver(text, file).run();
}

}  // namespace tsd::conf::detail
