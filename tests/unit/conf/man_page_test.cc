// tsdirector.ini(5) against the parser: every key the parser accepts is described under its
// section in the generated man page (build/man/tsdirector.ini.5, made from docs/configuration.md
// by docs/man/gen-ini-pod.pl and pod2man), and the page describes no key the parser refuses.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "conf/parser_detail.h"

namespace tsd::conf::detail {
namespace {

#ifndef TSD_MAN_DIR
#error "TSD_MAN_DIR is set by docs/man/CMakeLists.txt"
#endif

// Section kind -> keys, read from the roff: `.SS "[service NAME]"` opens a section, an item
// `.IP "\fBkey\fR = \fItype\fR" 4` names a key in it.
std::map<std::string, std::set<std::string>> keysInPage(const std::string& roff) {
  std::map<std::string, std::set<std::string>> out;
  std::istringstream in(roff);
  std::string line, kind;
  while (std::getline(in, line)) {
    if (line.rfind(".SS ", 0) == 0) {
      size_t open = line.find('[');  // "Syntax" and other subsections are not config sections
      size_t end = line.find_first_of(" ]", open);
      kind = open == std::string::npos ? "" : line.substr(open + 1, end - open - 1);
      if (!kind.empty()) out[kind];
    } else if (line.rfind(".SH ", 0) == 0) {
      kind.clear();
    } else if (line.rfind(".IP \"\\fB", 0) == 0 && !kind.empty()) {
      size_t b = 8, e = line.find("\\f", b);
      if (e != std::string::npos) out[kind].insert(line.substr(b, e - b));
    }
  }
  return out;
}

std::string readPage() {
  std::ifstream f(std::string(TSD_MAN_DIR) + "/tsdirector.ini.5");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(ManPage, EveryAcceptedKeyIsInTsdirectorIni5) {
  std::string roff = readPage();
  ASSERT_FALSE(roff.empty()) << TSD_MAN_DIR << "/tsdirector.ini.5 missing: build target tsd_man";
  auto page = keysInPage(roff);
  size_t checked = 0;
  for (std::string_view kind : sectionKinds()) {
    auto it = page.find(std::string(kind));
    ASSERT_NE(it, page.end()) << "no section [" << kind << "] in tsdirector.ini(5)";
    for (std::string_view key : keysOf(kind)) {
      EXPECT_TRUE(it->second.count(std::string(key)))
          << "[" << kind << "] " << key
          << " is accepted by the parser but missing from tsdirector.ini(5); document it in "
             "docs/configuration.md (the page is generated from it)";
      ++checked;
    }
  }
  EXPECT_GT(checked, 30u);
}

TEST(ManPage, DescribesNoKeyTheParserRefuses) {
  auto page = keysInPage(readPage());
  ASSERT_FALSE(page.empty());
  for (const auto& [kind, keys] : page) {
    auto accepted = keysOf(kind);
    EXPECT_FALSE(accepted.empty())
        << "tsdirector.ini(5) has a section [" << kind << "] the parser does not know";
    for (const std::string& key : keys) {
      bool known = false;
      for (std::string_view k : accepted) known = known || k == key;
      EXPECT_TRUE(known) << "tsdirector.ini(5) documents [" << kind << "] " << key
                         << ", which the parser refuses";
    }
  }
}

// The page's section reader itself, on a hand-made page: an undocumented key is reported.
TEST(ManPage, ReaderFindsSectionsAndItems) {
  auto page = keysInPage(
      ".SH \"SECTIONS AND KEYS\"\n.SS [director]\n.IP \"\\fBalgorithm\\fR = \\fIenum\\fR\" 4\n"
      ".SS \"[service NAME]\"\n.IP \"\\fBlisten\\fR = \\fIlist\\fR\" 4\n.SH EXAMPLE\n"
      ".IP \"\\fBnot_a_key\\fR\" 4\n");
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page["director"], std::set<std::string>{"algorithm"});
  EXPECT_EQ(page["service"], std::set<std::string>{"listen"});
}

}  // namespace
}  // namespace tsd::conf::detail
