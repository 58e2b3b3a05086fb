// Agent authentication: HMAC against a published vector, nonces, key content and file modes.
#include "healthcheck/agent_auth.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

namespace tsd::health {
namespace {

TEST(AgentAuth, HmacMatchesRfc4231Case2) {
  // HMAC-SHA256("Jefe", "what do ya want for nothing?"), split as nonce || body.
  EXPECT_EQ(macHex("Jefe", "what do ya", " want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(AgentAuth, MacEqualsComparesWholeStrings) {
  std::string a = macHex("key-0123456789abcdef", "n", "b");
  EXPECT_TRUE(macEquals(a, a));
  std::string b = a;
  b.back() = b.back() == '0' ? '1' : '0';
  EXPECT_FALSE(macEquals(a, b));
  EXPECT_FALSE(macEquals(a.substr(0, 63), a));
  EXPECT_FALSE(macEquals("", a));
}

TEST(AgentAuth, NoncesAreFreshLowercaseHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string n = makeNonce();
    EXPECT_EQ(n.size(), 32u);
    EXPECT_TRUE(isLowerHex(n)) << n;
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(AgentAuth, KeyContent) {
  auto hex = parseKey("00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n");
  ASSERT_TRUE(hex.ok()) << hex.error();
  EXPECT_EQ(hex->size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>((*hex)[31]), 0xffu);
  auto raw = parseKey("  correct horse battery staple  \n");
  ASSERT_TRUE(raw.ok()) << raw.error();
  EXPECT_EQ(*raw, "correct horse battery staple");
  // 31 hex digits cannot be hex: taken as raw bytes.
  auto odd = parseKey(std::string(31, 'a'));
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->size(), 31u);
  EXPECT_FALSE(parseKey("").ok());
  EXPECT_FALSE(parseKey("short-key").ok());
  EXPECT_FALSE(parseKey("00112233445566778899aabbccddee").ok());  // 15 bytes as hex
  EXPECT_TRUE(parseKey("00112233445566778899aabbccddeeff").ok());
}

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tsd-agent-key-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  std::string write(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(KeyFile, OwnerOnlyModesAreAccepted) {
  for (mode_t mode : {0600, 0400}) {
    auto key = loadKey(write("k", "00112233445566778899aabbccddeeff\n", mode));
    ASSERT_TRUE(key.ok()) << key.error();
    EXPECT_EQ(key->size(), 16u);
  }
}

TEST_F(KeyFile, GroupOrWorldAccessIsRefused) {
  for (mode_t mode : {0640, 0604, 0644, 0660, 0602, 0620, 0610}) {
    auto key = loadKey(write("k", "00112233445566778899aabbccddeeff\n", mode));
    ASSERT_FALSE(key.ok()) << std::oct << mode;
    EXPECT_NE(key.error().find("chmod 600"), std::string::npos) << key.error();
  }
}

TEST_F(KeyFile, MissingShortBigAndDirectoryAreRefused) {
  EXPECT_FALSE(loadKey(dir_ + "/absent").ok());
  EXPECT_FALSE(loadKey(write("short", "abc\n", 0600)).ok());
  EXPECT_FALSE(loadKey(dir_).ok());
  EXPECT_FALSE(loadKey(write("big", std::string(kMaxKeyFileBytes + 1, 'k'), 0600)).ok());
}

TEST_F(KeyFile, SymlinksAreJudgedByTheirTarget) {
  // Secret stores often link the key file; the mode that matters is the target's.
  std::string good = write("good", "00112233445566778899aabbccddeeff\n", 0600);
  std::string open = write("open", "00112233445566778899aabbccddeeff\n", 0644);
  ASSERT_EQ(::symlink(good.c_str(), (dir_ + "/to-good").c_str()), 0);
  ASSERT_EQ(::symlink(open.c_str(), (dir_ + "/to-open").c_str()), 0);
  EXPECT_TRUE(loadKey(dir_ + "/to-good").ok());
  EXPECT_FALSE(loadKey(dir_ + "/to-open").ok());
}

}  // namespace
}  // namespace tsd::health
