// The INI dialect as docs/configuration.md "File syntax" describes it: libinih's rules, our
// limits on top, and the exact line of every error. One table for the reader, one for the rules
// that only show once a whole config is parsed.
#include <gtest/gtest.h>

#include <string>

#include "conf/config.h"
#include "conf/parser_detail.h"

namespace tsd::conf {
namespace {

struct DialectCase {
  const char* what;
  std::string text;
  std::string want;  // the sections as render() prints them, or the exact error
};

// "LINE [KIND|NAME]" per section and "LINE KEY=<VALUE>" per entry, one per line.
std::string render(const std::vector<detail::IniSection>& sections) {
  std::string out;
  for (const auto& s : sections) {
    out += std::to_string(s.line) + " [" + s.kind + "|" + s.name + "]\n";
    for (const auto& e : s.entries) {
      out += std::to_string(e.line) + " " + e.key + "=<" + e.value + ">\n";
    }
  }
  return out;
}

const std::string kTooLong =
    "line: longer than 197 bytes, libinih's limit (continue a long value on an indented line)";
const std::string kHeaderTooLong =
    "section header longer than 49 bytes between the brackets (libinih's limit)";
const std::string kExpected = "expected 'KEY = VALUE' or '[SECTION]'";

const DialectCase kReaderCases[] = {
    // Comments.
    {"comment lines", "; one\n# two\n   ; indented\n\t# tab\n[a]\nk = v\n", "5 [a|]\n6 k=<v>\n"},
    {"inline semicolon", "[a]\nk = v ; note\nj = w\t;note\n", "1 [a|]\n2 k=<v>\n3 j=<w>\n"},
    {"semicolon without blank", "[a]\nk = a;b\nj =;c\n", "1 [a|]\n2 k=<a;b>\n3 j=<;c>\n"},
    {"hash inside values", "[a]\nk = v # not a comment\nj = /etc/k#1\n",
     "1 [a|]\n2 k=<v # not a comment>\n3 j=</etc/k#1>\n"},
    {"comment after key line blank", "[a]\nk = ; nothing\n", "1 [a|]\n2 k=<>\n"},
    // Separators.
    {"colon", "[a]\nk: v\nj : v:w\n", "1 [a|]\n2 k=<v>\n3 j=<v:w>\n"},
    {"first separator wins", "[a]\naddress = [::1]:22\nk: a = b\n",
     "1 [a|]\n2 address=<[::1]:22>\n3 k=<a = b>\n"},
    {"blanks around separator", "[a]\n  k\t=\tv  w  \nj=x\n", "1 [a|]\n2 k=<v  w>\n3 j=<x>\n"},
    // Continuation lines.
    {"continuation", "[a]\nk = one\n  two\n\tthree\nj = x\n",
     "1 [a|]\n2 k=<one two three>\n5 j=<x>\n"},
    {"continuation after blank and comment", "[a]\nk = one\n\n  ; c\n  two\n",
     "1 [a|]\n2 k=<one two>\n"},
    {"continuation keeps semicolon", "[a]\nk = one\n  two ; three\n",
     "1 [a|]\n2 k=<one two ; three>\n"},
    {"continuation may start with bracket", "[a]\nk = 127.0.0.1:22,\n  [::1]:22\n",
     "1 [a|]\n2 k=<127.0.0.1:22, [::1]:22>\n"},
    {"continuation of empty value", "[a]\nk =\n  two\n", "1 [a|]\n2 k=<two>\n"},
    {"indented key line is a continuation", "[a]\nk = v\n  j = w\n", "1 [a|]\n2 k=<v j = w>\n"},
    {"indented key after header", "[a]\n  k = v\n", "1 [a|]\n2 k=<v>\n"},
    {"indented header after header", "[a]\n  [b]\n", "1 [a|]\n2 [b|]\n"},
    {"header ends continuation", "[a]\nk = v\n[b]\n  j = w\n",
     "1 [a|]\n2 k=<v>\n3 [b|]\n4 j=<w>\n"},
    {"docs example",
     "; a comment\n# also a comment (only at the start of a line)\n"
     "[director]             ; a section header\n"
     "connect_timeout = 3s   ; KEY = VALUE, blanks around '=' do not matter\n"
     "[service ssh]          ; a named section: [KIND NAME]\n"
     "listen = 0.0.0.0:22,   ; a value may continue on indented lines:\n"
     "         [::]:22\n",
     "3 [director|]\n4 connect_timeout=<3s>\n5 [service|ssh]\n6 listen=<0.0.0.0:22, [::]:22>\n"},
    // Headers.
    {"named header", "[node a]\n", "1 [node|a]\n"},
    {"blanks inside brackets", "[ node \t a ]\n", "1 [node|a]\n"},
    {"comments after header", "[a] ; c\n[b]# c\n[c]\t# c\n", "1 [a|]\n2 [b|]\n3 [c|]\n"},
    {"empty header", "[]\n", "1 [|]\n"},
    {"empty and repeated sections", "[a]\n[a]\n[b]\n", "1 [a|]\n2 [a|]\n3 [b|]\n"},
    {"longest header", "[node " + std::string(44, 'n') + "]\n",
     "1 [node|" + std::string(44, 'n') + "]\n"},
    // Encodings and line ends.
    {"bom", "\xEF\xBB\xBF[a]\nk = v\n", "1 [a|]\n2 k=<v>\n"},
    {"bom before comment", "\xEF\xBB\xBF; c\n[a]\n", "2 [a|]\n"},
    {"crlf", "[a]\r\nk = v\r\n  w\r\n", "1 [a|]\n2 k=<v w>\n"},
    {"no final newline", "[a]\nk = v", "1 [a|]\n2 k=<v>\n"},
    {"longest line", "[a]\nk = " + std::string(193, 'v') + "\n",
     "1 [a|]\n2 k=<" + std::string(193, 'v') + ">\n"},
    {"longest line with crlf", "[a]\r\nk = " + std::string(193, 'v') + "\r\n",
     "1 [a|]\n2 k=<" + std::string(193, 'v') + ">\n"},
    // Errors, each at its exact line.
    {"line too long", "[a]\nk = v\nk = " + std::string(194, 'v') + "\n", "t.ini:3: " + kTooLong},
    {"comment too long", "[a]\n;" + std::string(197, 'c') + "\nk = v\n", "t.ini:2: " + kTooLong},
    {"header too long", "[a]\n[node " + std::string(45, 'n') + "]\n",
     "t.ini:2: [node " + std::string(34, 'n') + "...: " + kHeaderTooLong},
    {"key before section", "; c\nk = v\n[a]\n",
     "t.ini:2: k: key outside any section (put it under a [SECTION] header)"},
    {"no separator", "[a]\nk = v\njust words\n", "t.ini:3: just words: " + kExpected},
    {"no separator on last line", "[a]\nwords", "t.ini:2: words: " + kExpected},
    {"no separator before comment", "[a]\nk ;= v\n", "t.ini:2: k: " + kExpected},
    {"first error stops", "[a]\nwords\n[b\n", "t.ini:2: words: " + kExpected},
    {"missing key", "[a]\n= v\n", "t.ini:2: = v: missing key before '='"},
    {"missing key before colon", "[a]\n: v\n", "t.ini:2: : v: missing key before ':'"},
    {"header without bracket", "[a\n", "t.ini:1: [a: section header without ']'"},
    {"bracket inside comment", "[a ; b]\n", "t.ini:1: [a: section header without ']'"},
    {"text after header", "[a] b\n",
     "t.ini:1: [a] b: text after ']' (only a comment may follow a header)"},
    {"control character", "[a]\nk = \x1b[0m\n", "t.ini:2: line: control character 0x1b in line"},
    {"carriage return inside", "[a]\nk = v\rw\n", "t.ini:2: line: control character 0x0d in line"},
    {"nul byte", std::string("[a]\nk = v\0w\n", 12),
     "t.ini:2: line: control character 0x00 in line"},
};

class IniDialect : public ::testing::TestWithParam<DialectCase> {};

TEST_P(IniDialect, ReadsAsDocumented) {
  const DialectCase& c = GetParam();
  auto r = detail::readIni(c.text, "t.ini");
  EXPECT_EQ(r.ok() ? render(*r) : r.error(), c.want) << c.what;
}

std::string caseName(const char* what) {
  std::string n = what;
  for (char& ch : n) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Table, IniDialect, ::testing::ValuesIn(kReaderCases),
                         [](const auto& info) { return caseName(info.param.what); });

// Four valid lines; snippets appended to it start at line 5.
const std::string kBase =
    "[service ssh]\nlisten = 127.0.0.1:2222\n[node a]\naddress = 127.0.0.1:2201\n";

// What the dialect means for a whole config: empty ("") when it is accepted.
const DialectCase kConfigCases[] = {
    {"empty section is validated", kBase + "[node b]\n",
     "t.ini:5: [node b]: missing address = HOST[:PORT]"},
    {"repeated empty section", kBase + "[sticky]\n[sticky]\n",
     "t.ini:6: [sticky]: section repeated (first at line 5)"},
    {"continuation is no duplicate key",
     kBase + "[service nx]\nlisten = 127.0.0.1:4000,\n"
             "  127.0.0.1:4001\n  [::1]:4000\n",
     ""},
    {"duplicate key still caught",
     kBase + "[service nx]\nlisten = 127.0.0.1:4000\n  127.0.0.1:4001\nlisten = 127.0.0.1:4002\n",
     "t.ini:8: listen: set twice in [service nx] (first at line 6)"},
    {"continued value is checked at its key line", kBase + "[director]\nuser = a\n  b\n",
     "t.ini:6: user: expected a user name (A-Z a-z 0-9 _ . -, up to 32), got 'a b'"},
    {"hash is part of the value", kBase + "[director]\nconnect_timeout = 3s # c\n",
     "t.ini:6: connect_timeout: expected a duration with a unit (ms, s, m, h, d), e.g. 500ms or "
     "2s, got '3s # c'"},
    {"colon works for real keys",
     "[service ssh]\nlisten: 127.0.0.1:2222\n[node a]\n"
     "address: [::1]:2201\n",
     ""},
};

class IniDialectConfig : public ::testing::TestWithParam<DialectCase> {};

TEST_P(IniDialectConfig, ParsesAsDocumented) {
  const DialectCase& c = GetParam();
  auto r = parseConfig(c.text, "t.ini");
  EXPECT_EQ(r.ok() ? "" : r.error(), c.want) << c.what;
}

INSTANTIATE_TEST_SUITE_P(Table, IniDialectConfig, ::testing::ValuesIn(kConfigCases),
                         [](const auto& info) { return caseName(info.param.what); });

TEST(IniDialect, ContinuedListenListKeepsEveryAddress) {
  auto r = parseConfig(kBase + "[service nx]\nlisten = 127.0.0.1:4000,\n  127.0.0.1:4001\n", "t");
  ASSERT_TRUE(r.ok()) << r.error();
  const ServiceConfig* nx = (*r)->findService("nx");
  ASSERT_NE(nx, nullptr);
  ASSERT_EQ(nx->listen.size(), 2u);
  EXPECT_EQ(nx->listen[1].toString(), "127.0.0.1:4001");
}

}  // namespace
}  // namespace tsd::conf
