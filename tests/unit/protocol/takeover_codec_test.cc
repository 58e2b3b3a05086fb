// The hand-over frame format: every message round-trips, and foreign, truncated, oversized or
// future-version frames are rejected with a message that says why.
#include "director/protocol/takeover_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace tsd::protocol {
namespace {

PairRecord samplePair() {
  PairRecord p;
  p.index = 7;
  p.service = "x2go";
  p.node = "node-a";
  p.peer = "10.0.0.5:50022";
  p.identity = "10.0.0.0/24";
  p.sni = "desk.example.org";
  p.reason = "sticky";
  p.ambiguous = true;
  p.sticky_open = true;
  p.started_unix_ms = 1767225600123;
  p.attempts = 2;
  p.dirs[0] = {1000, 1500, true, false, 500};
  p.dirs[1] = {1ull << 40, 1ull << 40, true, true, 0};
  return p;
}

Message roundTrip(const Message& m) {
  auto frame = encodeFrame(m);
  EXPECT_TRUE(frame.ok()) << frame.error();
  auto back = decodeFrame(*frame);
  EXPECT_TRUE(back.ok()) << back.error();
  return *back;
}

TEST(TakeoverCodec, PairsRoundTrip) {
  Pairs ps;
  ps.items = {samplePair(), PairRecord{}};
  Message back = roundTrip(ps);
  const auto& got = std::get<Pairs>(back).items;
  ASSERT_EQ(got.size(), 2u);
  const PairRecord& p = got[0];
  EXPECT_EQ(p.index, 7u);
  EXPECT_EQ(p.service, "x2go");
  EXPECT_EQ(p.node, "node-a");
  EXPECT_EQ(p.peer, "10.0.0.5:50022");
  EXPECT_EQ(p.identity, "10.0.0.0/24");
  EXPECT_EQ(p.sni, "desk.example.org");
  EXPECT_EQ(p.reason, "sticky");
  EXPECT_TRUE(p.ambiguous);
  EXPECT_FALSE(p.sticky_replaced);
  EXPECT_TRUE(p.sticky_open);
  EXPECT_EQ(p.started_unix_ms, 1767225600123);
  EXPECT_EQ(p.attempts, 2);
  EXPECT_EQ(p.dirs[0].written, 1000u);
  EXPECT_EQ(p.dirs[0].read, 1500u);
  EXPECT_TRUE(p.dirs[0].eof);
  EXPECT_FALSE(p.dirs[0].shut);
  EXPECT_EQ(p.dirs[0].pending, 500u);
  EXPECT_EQ(p.dirs[1].written, 1ull << 40);
  EXPECT_TRUE(p.dirs[1].shut);
  EXPECT_EQ(fdCount(back), 4u);
}

TEST(TakeoverCodec, EveryOtherMessageRoundTrips) {
  Message hello = roundTrip(Hello{kTakeoverVersion, 4242, "tsdirector 1.2.3"});
  EXPECT_EQ(std::get<Hello>(hello).pid, 4242u);
  EXPECT_EQ(std::get<Hello>(hello).software, "tsdirector 1.2.3");
  Message ls = roundTrip(Listeners{{{"0.0.0.0:22"}, {"[::1]:2222"}}});
  EXPECT_EQ(std::get<Listeners>(ls).items[1].address, "[::1]:2222");
  EXPECT_EQ(fdCount(ls), 2u);
  std::string bytes("a\0b\xff", 4);
  Message d = roundTrip(PairData{3, 1, bytes});
  EXPECT_EQ(std::get<PairData>(d).bytes, bytes);
  EXPECT_EQ(std::get<PairData>(d).dir, 1);
  Message e = roundTrip(End{2, 9000});
  EXPECT_EQ(std::get<End>(e).pairs, 9000u);
  Message a = roundTrip(Ack{false, "config invalid"});
  EXPECT_FALSE(std::get<Ack>(a).ok);
  EXPECT_EQ(std::get<Ack>(a).message, "config invalid");
  EXPECT_TRUE(std::holds_alternative<Done>(roundTrip(Done{})));
}

TEST(TakeoverCodec, RejectsAnotherVersionSayingBoth) {
  std::string frame = *encodeFrame(End{1, 1});
  frame[4] = 9;  // version field, little-endian
  auto r = decodeFrame(frame);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("format version 9 is not supported"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("version " + std::to_string(kTakeoverVersion)), std::string::npos);
}

TEST(TakeoverCodec, RejectsForeignTruncatedAndTrailingFrames) {
  std::string frame = *encodeFrame(Pairs{{samplePair()}});
  EXPECT_FALSE(decodeFrame("GET / HTTP/1.1\r\n\r\n").ok());
  EXPECT_FALSE(decodeFrame(frame.substr(0, 5)).ok());
  EXPECT_FALSE(decodeFrame(frame.substr(0, frame.size() - 1)).ok());  // length mismatch
  std::string longer = frame + "x";
  EXPECT_FALSE(decodeFrame(longer).ok());
  // A payload shorter than its records, with a matching header length: malformed.
  std::string cut = frame.substr(0, frame.size() - 3);
  uint32_t len = static_cast<uint32_t>(cut.size() - kFrameHeaderBytes);
  for (int i = 0; i < 4; ++i) cut[8 + i] = static_cast<char>((len >> (8 * i)) & 0xff);
  auto r = decodeFrame(cut);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("malformed pairs"), std::string::npos) << r.error();
  std::string bad_type = frame;
  bad_type[6] = 42;
  EXPECT_NE(decodeFrame(bad_type).error().find("unknown frame type 42"), std::string::npos);
}

TEST(TakeoverCodec, RejectsBadFlagsAndOversizedData) {
  std::string frame = *encodeFrame(Ack{true, ""});
  frame[kFrameHeaderBytes] = 2;  // ok flag must be 0 or 1
  EXPECT_FALSE(decodeFrame(frame).ok());
  PairData big{0, 0, std::string(kMaxDataChunk + 1, 'x')};
  auto enc = encodeFrame(big);
  ASSERT_TRUE(enc.ok());
  EXPECT_FALSE(decodeFrame(*enc).ok());
  EXPECT_FALSE(encodeFrame(PairData{0, 0, std::string(kMaxFramePayload + 1, 'x')}).ok());
}

TEST(TakeoverCodec, BatchLimitFitsTheFdLimit) {
  Pairs ps;
  ps.items.assign(kPairsPerBatch, samplePair());
  auto frame = encodeFrame(ps);
  ASSERT_TRUE(frame.ok()) << frame.error();
  EXPECT_LE(fdCount(ps), 253u);
  ps.items.push_back(samplePair());
  EXPECT_FALSE(encodeFrame(ps).ok());  // over kMaxFdsPerFrame
}

}  // namespace
}  // namespace tsd::protocol
