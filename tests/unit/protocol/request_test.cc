// parseRequest: how a request line becomes words, and every way a line is refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "director/protocol/admin_protocol.h"

namespace tsd::protocol {
namespace {

using Words = std::vector<std::string>;

std::string manyWords(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "a ";
  return out;
}

TEST(ParseRequest, SplitsOnBlanksTabsAndCr) {
  struct Case {
    std::string line;
    Words words;
  };
  const Case cases[] = {
      {"nodes", {"nodes"}},
      {"  weight\tws03  5 ", {"weight", "ws03", "5"}},
      {"nodes\r", {"nodes"}},
      {"pin 10.0.0.5 ws01 8h", {"pin", "10.0.0.5", "ws01", "8h"}},
      {"sticky sni:host.example", {"sticky", "sni:host.example"}},
      {"drain w\xc3\xbc", {"drain", "w\xc3\xbc"}},  // UTF-8 passes: only controls are refused
      {"a b c d e f g h", {"a", "b", "c", "d", "e", "f", "g", "h"}},
  };
  for (const auto& c : cases) {
    auto r = parseRequest(c.line);
    ASSERT_TRUE(r.ok()) << c.line << ": " << r.error();
    EXPECT_EQ(*r, c.words) << c.line;
  }
}

TEST(ParseRequest, AcceptsTheLongestLine) {
  std::string line = "drain " + std::string(kMaxRequestBytes - 6, 'x');
  auto r = parseRequest(line);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ((*r)[1].size(), kMaxRequestBytes - 6);
}

TEST(ParseRequest, RefusesWithAClearMessage) {
  struct Case {
    const char* what;
    std::string line;
    std::string error;  // a prefix of the message
  };
  const Case cases[] = {
      {"empty", "", "empty request; commands: nodes, sessions, sticky [IDENTITY],"},
      {"blanks only", " \t\r ", "empty request; commands:"},
      {"nine words", "a b c d e f g h i", "too many arguments: at most 8 words"},
      {"2000 words", manyWords(2000), "too many arguments"},
      {"over-long", std::string(kMaxRequestBytes + 1, 'x'), "request longer than 4096 bytes"},
      {"over-long blanks", std::string(kMaxRequestBytes + 1, ' '), "request longer than"},
      {"NUL", std::string("nodes\0x", 7), "control character 0x00 at byte 6 of the request"},
      {"newline", "nodes\nreload", "control character 0x0a at byte 6"},
      {"escape", "drain \x1b[31mws01", "control character 0x1b at byte 7"},
      {"DEL", "drain ws\x7f", "control character 0x7f"},
      {"vertical tab", "nodes\v", "control character 0x0b"},
      {"form feed", "\fnodes", "control character 0x0c at byte 1"},
  };
  for (const auto& c : cases) {
    auto r = parseRequest(c.line);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.error().substr(0, c.error.size()), c.error) << c.what << ": " << r.error();
  }
}

TEST(ParseRequest, EmptyRequestListsEveryCommand) {
  auto r = parseRequest("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.error(),
      "empty request; commands: nodes, sessions, sticky [IDENTITY], users, drain NODE, maint NODE, "
      "ready NODE, weight NODE N, pin IDENTITY NODE [TTL], unpin IDENTITY, reload");
}

}  // namespace
}  // namespace tsd::protocol
