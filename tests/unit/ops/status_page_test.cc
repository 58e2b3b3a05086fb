// The status page's pure parts: the JSON embedded in the page cannot end its <script> element,
// the template keeps its marker, and the CSP pins exactly the script the page carries.
#include "director/ops/status_page.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

namespace tsd::director {
namespace {

TEST(JsonForScript, EscapesWhatCouldEndTheElement) {
  nlohmann::json j = {{"name", "</script><img src=x onerror=alert(1)><!-- & -->"}};
  std::string out = jsonForScript(j.dump());
  EXPECT_EQ(out.find('<'), std::string::npos);
  EXPECT_EQ(out.find('>'), std::string::npos);
  EXPECT_EQ(out.find('&'), std::string::npos);
  // Still JSON, and the same document.
  EXPECT_EQ(nlohmann::json::parse(out), j);
}

TEST(JsonForScript, LeavesOtherTextAlone) {
  std::string in = R"({"a":"caf\u00e9 \"q\" 'x'","n":[1,2.5,null,true]})";
  EXPECT_EQ(jsonForScript(in), in);
  EXPECT_EQ(jsonForScript("\"\xc3\xa9\""), "\"\xc3\xa9\"");  // UTF-8 passes through
}

TEST(StatusPage, TemplateHasOneMarkerAndNoExternalResources) {
  std::string_view html = statusPageHtml();
  std::string_view marker = "/*TSD_STATUS_JSON*/null";
  size_t at = html.find(marker);
  ASSERT_NE(at, std::string_view::npos);
  EXPECT_EQ(html.find(marker, at + 1), std::string_view::npos);
  for (std::string_view page : {html, statusPageScript()}) {
    EXPECT_EQ(page.find("http://"), std::string_view::npos);
    EXPECT_EQ(page.find("https://"), std::string_view::npos);
    EXPECT_EQ(page.find("innerHTML"), std::string_view::npos);  // names go through textContent
  }
  // The script is inlined after the markup: its own text must not close the element.
  EXPECT_EQ(statusPageScript().find("</script"), std::string_view::npos);
}

TEST(StatusPage, PolicyPinsTheScriptByHash) {
  std::string_view script = statusPageScript();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(script.data(), script.size(), digest, &len, EVP_sha256(), nullptr), 1);
  unsigned char b64[128];
  int n = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
  std::string hash(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
  const std::string& csp = statusPagePolicy();
  EXPECT_NE(csp.find("script-src 'sha256-" + hash + "'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos);
}

}  // namespace
}  // namespace tsd::director
