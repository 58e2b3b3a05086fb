// The CLI's accessors: every type a member may have (or not have) gives a sensible value.
#include "director/protocol/reply_fields.h"

#include <gtest/gtest.h>

namespace tsd::protocol {
namespace {

using nlohmann::json;

TEST(ReplyFields, MemberOfAnythingNeverThrows) {
  json o = {{"name", "ws01"}, {"n", 3}};
  EXPECT_EQ(member(o, "name"), "ws01");
  EXPECT_TRUE(member(o, "missing").is_null());
  for (const json& not_object : {json(), json(1), json("s"), json::array({1}), json(true)}) {
    EXPECT_TRUE(member(not_object, "name").is_null()) << not_object;
  }
  EXPECT_TRUE(member(member(o, "missing"), "deeper").is_null());
}

TEST(ReplyFields, IsTrueOnlyForTrue) {
  EXPECT_TRUE(isTrue(json(true)));
  for (const json& v : {json(false), json(), json(1), json("true"), json::array({true})}) {
    EXPECT_FALSE(isTrue(v)) << v;
  }
}

TEST(ReplyFields, Numbers) {
  EXPECT_EQ(number(json(2)), 2.0);
  EXPECT_EQ(number(json(-2)), -2.0);
  EXPECT_EQ(number(json(0.5)), 0.5);
  EXPECT_EQ(number(json("2")), std::nullopt);
  EXPECT_EQ(number(json()), std::nullopt);
  EXPECT_EQ(integer(json(1700000000)), 1700000000);
  EXPECT_EQ(integer(json(-3)), -3);
  EXPECT_EQ(integer(json(1.7e9)), 1700000000);
  EXPECT_EQ(integer(json(1.5)), std::nullopt);
  EXPECT_EQ(integer(json(1e300)), std::nullopt);
  EXPECT_EQ(integer(json(18446744073709551615ull)), std::nullopt);
  EXPECT_EQ(integer(json(9223372036854775807ull)), INT64_MAX);
  EXPECT_EQ(integer(json(true)), std::nullopt);
  EXPECT_EQ(integer(json("5")), std::nullopt);
}

TEST(ReplyFields, DisplayText) {
  const std::pair<json, std::string> cases[] = {
      {json("ws01"), "ws01"},
      {json(""), ""},
      {json("a\nb\x1b[0m\x7f"), "a?b?[0m?"},
      {json("\xc3\xbc"), "\xc3\xbc"},
      {json(5), "5"},
      {json(-5), "-5"},
      {json(18446744073709551615ull), "18446744073709551615"},
      {json(3.0), "3"},
      {json(0.5), "0.50"},
      {json(-1.25), "-1.25"},
      {json(1e300), "1e+300"},
      {json(true), "yes"},
      {json(false), "no"},
      {json(), "-"},
      {json::array({1}), "..."},
      {json::object(), "..."},
  };
  for (const auto& [v, text] : cases) EXPECT_EQ(displayText(v), text) << v;
}

}  // namespace
}  // namespace tsd::protocol
