// ClientHello SNI parsing: valid hellos (whole, fragmented, with trailing data), every
// truncation, and one broken field at a time.
#include "sticky/client_hello.h"

#include <gtest/gtest.h>

#include "tests/unit/sticky/hello_builder.h"

namespace tsd::sticky {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the builder helpers

SniResult parse(const std::string& s) { return parseClientHelloSni(s); }

TEST(ClientHelloTest, FindsServerName) {
  auto r = parse(clientHello("Desk.Example.org"));
  ASSERT_EQ(r.status, SniStatus::kFound) << r.reason;
  EXPECT_EQ(r.name, "Desk.Example.org");  // as sent; identityFromSni() normalises
}

TEST(ClientHelloTest, TrailingDotIsAccepted) {
  auto r = parse(clientHello("desk.example.org."));
  ASSERT_EQ(r.status, SniStatus::kFound);
  EXPECT_EQ(r.name, "desk.example.org.");
}

TEST(ClientHelloTest, ValidHelloWithoutServerName) {
  EXPECT_EQ(parse(clientHello("")).status, SniStatus::kNoSni);
  EXPECT_EQ(parse(records(handshake(helloBody("", false)))).status, SniStatus::kNoSni);
  EXPECT_EQ(parse(records(handshake(helloBody("")))).status, SniStatus::kNoSni);
}

TEST(ClientHelloTest, ReassemblesFragmentedRecords) {
  for (size_t frag : {1u, 2u, 7u, 50u, 100u, 1000u}) {
    auto r = parse(clientHello("desk.example.org", frag));
    ASSERT_EQ(r.status, SniStatus::kFound) << "fragment " << frag << ": " << r.reason;
    EXPECT_EQ(r.name, "desk.example.org");
  }
}

TEST(ClientHelloTest, IgnoresBytesAfterTheHello) {
  std::string s = clientHello("desk.example.org") + records("\x14", 1, 20) + "garbage";
  EXPECT_EQ(parse(s).status, SniStatus::kFound);
}

TEST(ClientHelloTest, EveryTruncationNeedsMore) {
  for (size_t frag : {16384u, 5u, 64u}) {
    const std::string full = clientHello("desk.example.org", frag);
    for (size_t n = 0; n < full.size(); ++n) {
      EXPECT_EQ(parse(full.substr(0, n)).status, SniStatus::kNeedMore)
          << "fragment " << frag << ", " << n << " of " << full.size() << " bytes";
    }
  }
}

TEST(ClientHelloTest, EveryByteCorruptedNeverCrashes) {
  const std::string full = clientHello("desk.example.org");
  size_t still_found = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string s = full;
      s[i] = static_cast<char>(s[i] ^ x);
      auto r = parse(s);
      still_found += r.status == SniStatus::kFound ? 1 : 0;
      if (r.status == SniStatus::kFound) {
        EXPECT_FALSE(r.name.empty());
      }
    }
  }
  EXPECT_GT(still_found, 0u);  // flips in random/session id/other extensions are harmless
}

struct BadCase {
  const char* what;
  std::string bytes;
};

std::string withExt(const std::string& ext) { return records(handshake(helloBody(ext))); }

TEST(ClientHelloTest, MalformedInputs) {
  std::string hs = handshake(helloBody(sniExtension("a.example")));
  std::string bad_ext_len = helloBody(sniExtension("a.example"));
  bad_ext_len[bad_ext_len.size() - sniExtension("a.example").size() - 1] ^= 1;
  const BadCase cases[] = {
      {"ssh banner", "SSH-2.0-OpenSSH_9.6\r\n"},
      {"http", "GET / HTTP/1.1\r\n"},
      {"application data record", records(hs, 16384, 23)},
      {"sslv2 hello", std::string("\x80\x2e\x01\x03\x01", 5)},
      {"record version 2", std::string("\x16\x02\x00\x00\x10", 5)},
      {"empty record", std::string("\x16\x03\x01\x00\x00", 5)},
      {"oversize record", std::string("\x16\x03\x01\x40\x01", 5)},
      {"server hello", records(handshake(helloBody(""), 2))},
      {"hello too short", records(handshake("\x03\x03"))},
      {"hello too large", std::string("\x16\x03\x01\x00\x04\x01\xff\xff\xff", 9)},
      {"extensions length off", records(handshake(bad_ext_len))},
      {"junk after extensions", records(handshake(helloBody(sniExtension("a.b")) + "x"))},
      {"no compression", records(handshake(helloBody("").substr(0, 2 + 32 + 33 + 6) +
                                           std::string("\x00", 1) + be16(0)))},
      {"odd cipher suites",
       records(handshake("\x03\x03" + std::string(32, 'r') + std::string("\x00", 1) + be16(3) +
                         "abc" + std::string("\x01\x00", 2)))},
      {"session id > 32",
       records(handshake("\x03\x03" + std::string(32, 'r') + std::string("\x21", 1) +
                         std::string(33, 's') + be16(2) + "ab" + std::string("\x01\x00", 2)))},
      {"empty server_name", withExt(extension(0, ""))},
      {"empty server_name list", withExt(extension(0, be16(0)))},
      {"list length off", withExt(extension(0, be16(5) + std::string("\x00\x00\x01x", 4)))},
      {"name length off", withExt(extension(0, serverNameData({{0, "abc"}}) + "z"))},
      {"non host_name type", withExt(extension(0, serverNameData({{1, "abc"}})))},
      {"two host_names", withExt(extension(0, serverNameData({{0, "a.b"}, {0, "c.d"}})))},
      {"duplicate extension", withExt(sniExtension("a.b") + sniExtension("c.d"))},
      {"empty host name", withExt(sniExtension(""))},
      {"space in name", withExt(sniExtension("a b.example"))},
      {"empty label", withExt(sniExtension("a..example"))},
      {"nul in name", withExt(sniExtension(std::string("a\0b", 3)))},
      {"ipv6 literal", withExt(sniExtension("2001:db8::1"))},
      {"utf-8 name", withExt(sniExtension("caf\xc3\xa9.example"))},
      {"interleaved alert record",
       records(hs.substr(0, 10), 16384) + records(std::string("\x01\x00", 2), 16384, 21)},
  };
  for (const auto& c : cases) {
    auto r = parse(c.bytes);
    EXPECT_EQ(r.status, SniStatus::kMalformed) << c.what;
    EXPECT_FALSE(r.reason.empty()) << c.what;
  }
}

// A handshake message of `len` bytes (header included) carrying SNI and padding.
std::string paddedHandshake(size_t len) {
  std::string sni = sniExtension("a.example");
  const size_t fixed = handshake(helloBody(sni)).size() + 4;  // + padding extension header
  return handshake(helloBody(sni + extension(21, std::string(len - fixed, '\0'))));
}

TEST(ClientHelloTest, CapBoundary) {
  // The largest hello taken fills kMaxClientHello exactly in one record.
  const std::string largest = records(paddedHandshake(kMaxClientHello - 5));
  ASSERT_EQ(largest.size(), kMaxClientHello);
  EXPECT_EQ(parse(largest).status, SniStatus::kFound);
  EXPECT_EQ(parse(largest.substr(0, kMaxClientHello - 1)).status, SniStatus::kNeedMore);
  // One byte more is refused from its header alone.
  const std::string bigger = records(paddedHandshake(kMaxClientHello - 4));
  EXPECT_EQ(parse(bigger.substr(0, 9)).status, SniStatus::kMalformed);
  // Split in two records it no longer fits: refused once the caller has peeked the cap.
  const std::string split = records(paddedHandshake(kMaxClientHello - 5), 8192);
  ASSERT_GT(split.size(), kMaxClientHello);
  EXPECT_EQ(parse(split.substr(0, kMaxClientHello - 1)).status, SniStatus::kNeedMore);
  EXPECT_EQ(parse(split.substr(0, kMaxClientHello)).status, SniStatus::kMalformed);
  EXPECT_EQ(parse(split).status, SniStatus::kMalformed);
}

TEST(ClientHelloTest, LargeHelloWithinTheCapIsFine) {
  std::string ext = extension(21, std::string(8000, '\0')) + sniExtension("big.example");
  auto r = parse(records(handshake(helloBody(ext)), 4000));
  ASSERT_EQ(r.status, SniStatus::kFound) << r.reason;
  EXPECT_EQ(r.name, "big.example");
}

}  // namespace
}  // namespace tsd::sticky
