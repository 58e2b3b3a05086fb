// Identity derivation: address prefixes (v4, v6, v4-mapped), agent address strings, SNI names.
#include "sticky/identity.h"

#include <gtest/gtest.h>

namespace tsd::sticky {
namespace {

SockAddr addr(const char* host) { return *SockAddr::parseHost(host, 22); }

struct PrefixCase {
  const char* address;
  int v4;
  int v6;
  const char* key;
};

TEST(IdentityTest, FromAddressReducesToPrefix) {
  const PrefixCase cases[] = {
      {"10.1.2.3", 32, 64, "10.1.2.3/32"},
      {"10.1.2.3", 24, 64, "10.1.2.0/24"},
      {"10.1.2.3", 8, 64, "10.0.0.0/8"},
      {"10.1.2.3", 0, 64, "0.0.0.0/0"},
      {"10.1.2.3", 20, 64, "10.1.0.0/20"},
      {"192.168.255.255", 23, 64, "192.168.254.0/23"},
      {"10.1.2.3", 99, 64, "10.1.2.3/32"},  // clamped
      {"10.1.2.3", -5, 64, "0.0.0.0/0"},    // clamped
      {"2001:db8:1:2:3:4:5:6", 32, 128, "2001:db8:1:2:3:4:5:6/128"},
      {"2001:db8:1:2:3:4:5:6", 32, 64, "2001:db8:1:2::/64"},
      {"2001:db8:1:2:3:4:5:6", 32, 48, "2001:db8:1::/48"},
      {"2001:db8:1:2ff:3:4:5:6", 32, 60, "2001:db8:1:2f0::/60"},
      {"::1", 32, 128, "::1/128"},
      {"::ffff:10.1.2.3", 24, 64, "10.1.2.0/24"},  // v4-mapped counts as v4
      {"::ffff:10.1.2.3", 32, 128, "10.1.2.3/32"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(identityFromAddress(addr(c.address), c.v4, c.v6).key, c.key)
        << c.address << " /" << c.v4 << " /" << c.v6;
  }
}

TEST(IdentityTest, SameClientSameIdentityWhateverThePort) {
  auto a = *SockAddr::parse("10.0.0.5:40000");
  auto b = *SockAddr::parse("[::ffff:10.0.0.5]:50000");
  EXPECT_EQ(identityFromAddress(a, 32, 64), identityFromAddress(b, 32, 64));
  EXPECT_NE(identityFromAddress(a, 32, 64), identityFromAddress(addr("10.0.0.6"), 32, 64));
  EXPECT_EQ(identityFromAddress(a, 24, 64), identityFromAddress(addr("10.0.0.6"), 24, 64));
}

TEST(IdentityTest, InvalidAddressGivesEmptyIdentity) {
  EXPECT_TRUE(identityFromAddress(SockAddr(), 32, 64).empty());
}

TEST(IdentityTest, FromAddressString) {
  struct Case {
    const char* text;
    const char* key;  // nullptr: rejected
  } const cases[] = {
      {"10.0.0.5", "10.0.0.0/24"},
      {"::1", "::/64"},
      {"::ffff:10.0.0.5", "10.0.0.0/24"},
      {"[2001:db8::1]", "2001:db8::/64"},
      {"fe80::1%eth0", "fe80::/64"},
      {"", nullptr},
      {"host.example.org", nullptr},
      {"10.0.0.5:22", nullptr},
      {"10.0.0.256", nullptr},
      {"[10.0.0.5", nullptr},
      {"%eth0", nullptr},
  };
  for (const auto& c : cases) {
    auto id = identityFromAddressString(c.text, 24, 64);
    if (c.key == nullptr) {
      EXPECT_FALSE(id.has_value()) << c.text;
    } else {
      ASSERT_TRUE(id.has_value()) << c.text;
      EXPECT_EQ(id->key, c.key) << c.text;
    }
  }
}

TEST(IdentityTest, SniIsNormalised) {
  EXPECT_EQ(identityFromSni("Desk.Example.ORG").key, "sni:desk.example.org");
  EXPECT_EQ(identityFromSni("desk.example.org.").key, "sni:desk.example.org");
  EXPECT_EQ(identityFromSni("desk.example.org"), identityFromSni("DESK.example.org."));
  EXPECT_NE(identityFromSni("desk1.example.org"), identityFromSni("desk2.example.org"));
}

TEST(IdentityTest, HostNameValidation) {
  for (const char* ok :
       {"a", "desk.example.org", "desk.example.org.", "my_host-1.lan", "10.0.0.1"}) {
    EXPECT_TRUE(isValidHostName(ok)) << ok;
  }
  const std::string long_label(64, 'a');
  std::string too_long;
  while (too_long.size() < 254) too_long += "abc.";
  for (const std::string& bad :
       {std::string(""), std::string("."), std::string("a..b"), std::string(".a"),
        std::string("a b"), std::string("a:b"), std::string("a\0b", 3), long_label, too_long,
        std::string("caf\xc3\xa9")}) {
    EXPECT_FALSE(isValidHostName(bad)) << bad;
  }
}

TEST(IdentityTest, CanonicalKeys) {
  for (const char* ok : {"10.1.2.0/24", "10.0.0.5/32", "0.0.0.0/0", "2001:db8::/64", "::1/128",
                         "sni:desk.example.org"}) {
    EXPECT_TRUE(isCanonicalIdentityKey(ok)) << ok;
  }
  for (const char* bad :
       {"", "10.1.2.3/24", "10.1.2.0", "10.1.2.0/33", "10.1.2.0/024", "2001:DB8::/64",
        "::ffff:10.0.0.0/120", "[::1]/128", "sni:", "sni:Desk.example.org", "sni:desk.", "sni:a b",
        "10.1.2.0/-1", "nonsense"}) {
    EXPECT_FALSE(isCanonicalIdentityKey(bad)) << bad;
  }
}

}  // namespace
}  // namespace tsd::sticky
