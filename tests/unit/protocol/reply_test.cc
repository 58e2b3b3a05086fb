// Reply encoding and decoding: round trips for awkward names, and hostile or broken replies,
// each refused with a message and without an exception.
#include <gtest/gtest.h>

#include <string>

#include "director/protocol/admin_protocol.h"

namespace tsd::protocol {
namespace {

using nlohmann::json;

const std::string kReplacement = "\xef\xbf\xbd";  // U+FFFD

// A reply is one line: its only newline ends it.
void expectOneLine(const std::string& line) {
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
}

Reply decodeOk(const std::string& text) {
  auto r = decodeReply(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.error();
  return r.ok() ? *r : Reply{};
}

TEST(EncodeReply, EnvelopeAsDocumented) {
  EXPECT_EQ(encodeOk(json{{"node", "ws03"}}), "{\"ok\":true,\"result\":{\"node\":\"ws03\"}}\n");
  EXPECT_EQ(encodeOk(json()), "{\"ok\":true,\"result\":null}\n");
  EXPECT_EQ(encodeError("unknown node 'x'"), "{\"ok\":false,\"error\":\"unknown node 'x'\"}\n");
  // ordered_json keeps the daemon's member order, as in docs/operations.md.
  nlohmann::ordered_json o;
  o["node"] = "ws03";
  o["weight"] = 5;
  o["runtime"] = true;
  EXPECT_EQ(encodeOk(o),
            "{\"ok\":true,\"result\":{\"node\":\"ws03\",\"weight\":5,\"runtime\":true}}\n");
}

TEST(EncodeReply, DiscardedValueIsNull) {
  EXPECT_EQ(encodeOk(json(json::value_t::discarded)), "{\"ok\":true,\"result\":null}\n");
}

TEST(RoundTrip, Values) {
  const json results[] = {
      json(),
      json(true),
      json(-5),
      json(18446744073709551615ull),
      json(0.25),
      json(1e300),
      json::array(),
      json::object(),
      json::parse(R"([{"name":"ws01","load":0.5,"weight":10,"removed":false,"x":null}])"),
  };
  for (const auto& r : results) {
    std::string line = encodeOk(r);
    expectOneLine(line);
    Reply back = decodeOk(line);
    EXPECT_TRUE(back.ok);
    EXPECT_EQ(back.result, r) << line;
  }
}

TEST(RoundTrip, NamesWithUnicodeAndControls) {
  const std::string names[] = {
      "ws-\xc3\xbc-\xe6\x9d\xb1\xe4\xba\xac-\xf0\x9f\x98\x80",  // ü, 東京, an emoji
      "line\nbreak\r\ttab",
      std::string("nul\0inside", 10),
      "\x1b[31mred\x1b[0m\x7f",
      "quote\" backslash\\ slash/",
      "\xe2\x80\xa8separator",  // U+2028: valid, left as is
      "",
  };
  for (const auto& name : names) {
    std::string ok_line = encodeOk(json{{"node", name}});
    expectOneLine(ok_line);
    EXPECT_EQ(decodeOk(ok_line).result["node"], name);
    std::string err_line = encodeError(name);
    expectOneLine(err_line);
    Reply e = decodeOk(err_line);
    EXPECT_FALSE(e.ok);
    EXPECT_EQ(e.error, name);
  }
}

TEST(RoundTrip, InvalidUtf8IsReplacedNotThrown) {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"ws\xff", "ws" + kReplacement},
      {"\xc3", kReplacement},  // truncated sequence
      {"a\xc0\xaf"
       "b",
       "a" + kReplacement + kReplacement + "b"},                     // overlong '/'
      {"\xed\xa0\x80", kReplacement + kReplacement + kReplacement},  // a UTF-16 surrogate
      {"ok\xc3\xbc\xfe", "ok\xc3\xbc" + kReplacement},
  };
  for (const auto& c : cases) {
    std::string line = encodeError(c.in);
    expectOneLine(line);
    EXPECT_EQ(decodeOk(line).error, c.out) << line;
    line = encodeOk(json::array({c.in, json{{c.in, c.in}}}));
    expectOneLine(line);
    EXPECT_EQ(decodeOk(line).result, json::array({c.out, json{{c.out, c.out}}})) << line;
  }
}

TEST(DecodeReply, AcceptsWhatTheDaemonMaySend) {
  EXPECT_EQ(decodeOk("{\"ok\":true,\"result\":[]}").result, json::array());
  EXPECT_EQ(decodeOk(" \t{\"ok\":true,\"result\":1}\r\n\n ").result, 1);
  EXPECT_TRUE(decodeOk("{\"ok\":true,\"result\":null}").result.is_null());
  // A newer daemon may add members; they are ignored, and so is a result beside an error.
  Reply r = decodeOk(R"({"ok":false,"error":"why","code":7,"result":{"x":1}})");
  EXPECT_EQ(r, (Reply{false, "why", json()}));
  r = decodeOk(R"({"result":2,"error":"ignored","ok":true})");
  EXPECT_EQ(r, (Reply{true, "", json(2)}));
  EXPECT_EQ(decodeOk(R"({"ok":false,"error":"a\u0000b"})").error, std::string("a\0b", 3));
  EXPECT_EQ(decodeOk(R"({"ok":false,"error":"\u00fc\ud83d\ude00"})").error,
            "\xc3\xbc\xf0\x9f\x98\x80");
}

TEST(DecodeReply, BigIntegersBecomeFloatsTooBigNumbersAreRefused) {
  Reply r = decodeOk("{\"ok\":true,\"result\":123456789012345678901234567890}");
  EXPECT_TRUE(r.result.is_number_float());
  EXPECT_EQ(decodeOk("{\"ok\":true,\"result\":-9223372036854775808}").result, INT64_MIN);
  EXPECT_FALSE(decodeReply("{\"ok\":true,\"result\":1e400}").ok());
  EXPECT_FALSE(decodeReply("{\"ok\":true,\"result\":-1e400}").ok());
}

std::string nested(int levels) {
  return "{\"ok\":true,\"result\":" + std::string(levels - 1, '[') + std::string(levels - 1, ']') +
         "}";
}

TEST(DecodeReply, DepthCap) {
  EXPECT_TRUE(decodeReply(nested(kMaxReplyDepth)).ok());
  auto r = decodeReply(nested(kMaxReplyDepth + 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "nested deeper than 64 levels");
  // Refused as soon as the cap is passed, without reading (or allocating for) the rest.
  EXPECT_FALSE(decodeReply(std::string(1'000'000, '[')).ok());
  EXPECT_FALSE(decodeReply("{\"ok\":true,\"result\":" + std::string(1'000'000, '{')).ok());
  std::string objects;
  for (int i = 0; i < 100; ++i) objects += "{\"a\":";
  EXPECT_FALSE(decodeReply(objects).ok());
}

TEST(DecodeReply, SizeCap) {
  std::string big = "{\"ok\":true,\"result\":\"" + std::string(kMaxReplyBytes, 'x') + "\"}";
  auto r = decodeReply(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "reply larger than 64 MiB");
}

TEST(DecodeReply, RefusesHostileAndBrokenReplies) {
  struct Case {
    const char* what;
    std::string text;
    std::string error;  // a part of the message
  };
  const Case cases[] = {
      {"empty", "", "unexpected end of input"},
      {"blank", " \n", "unexpected end of input"},
      {"NaN", R"({"ok":true,"result":NaN})", "syntax error"},
      {"Infinity", R"({"ok":true,"result":Infinity})", "syntax error"},
      {"-Infinity", R"({"ok":true,"result":-Infinity})", "syntax error"},
      {"nan", R"({"ok":true,"result":nan})", "syntax error"},
      {"hex", R"({"ok":true,"result":0x10})", "syntax error"},
      {"plus", R"({"ok":true,"result":+1})", "syntax error"},
      {"leading zero", R"({"ok":true,"result":01})", "syntax error"},
      {"array", "[]", "not a JSON object"},
      {"string", "\"ok\"", "not a JSON object"},
      {"true", "true", "not a JSON object"},
      {"null", "null", "not a JSON object"},
      {"number", "42", "not a JSON object"},
      {"no ok", "{}", "no boolean \"ok\" member"},
      {"only result", R"({"result":1})", "no boolean \"ok\""},
      {"ok a string", R"({"ok":"true","result":1})", "no boolean \"ok\""},
      {"ok a number", R"({"ok":1,"result":1})", "no boolean \"ok\""},
      {"ok null", R"({"ok":null,"error":"x"})", "no boolean \"ok\""},
      {"Ok", R"({"Ok":true,"result":1})", "no boolean \"ok\""},
      {"no error", R"({"ok":false})", "no string \"error\" member"},
      {"error a number", R"({"ok":false,"error":42})", "no string \"error\""},
      {"error null", R"({"ok":false,"error":null})", "no string \"error\""},
      {"error an object", R"({"ok":false,"error":{"why":"x"}})", "no string \"error\""},
      {"no result", R"({"ok":true})", "no \"result\" member"},
      {"trailing word", R"({"ok":true,"result":1}x)", "expected end of input"},
      {"two objects", R"({"ok":true,"result":1}{"ok":true,"result":2})", "expected end of input"},
      {"second line", "{\"ok\":true,\"result\":1}\n{\"ok\":false,\"error\":\"x\"}\n",
       "expected end of input"},
      {"trailing comma", R"({"ok":true,"result":1},)", "expected end of input"},
      {"trailing NUL", std::string("{\"ok\":true,\"result\":1}\0", 23), "NUL byte at offset 22"},
      {"leading NUL", std::string("\0{\"ok\":true,\"result\":1}", 23), "NUL byte at offset 0"},
      {"raw NUL in a string", std::string("{\"ok\":false,\"error\":\"a\0b\"}", 26), "NUL byte"},
      // nlohmann's lexer alone would stop at the NUL and accept what came before it.
      {"NUL then garbage", std::string("{\"ok\":true,\"result\":1}\0{]", 25), "NUL byte"},
      {"trailing 0xff", "{\"ok\":true,\"result\":1}\xff", "expected end of input"},
      {"raw newline in a string", "{\"ok\":false,\"error\":\"a\nb\"}", "control character"},
      {"invalid UTF-8", "{\"ok\":false,\"error\":\"\xff\"}", "ill-formed UTF-8"},
      {"lone surrogate", R"({"ok":false,"error":"\ud800"})", "surrogate"},
      {"bad escape", R"({"ok":false,"error":"\x41"})", "forbidden character after backslash"},
      {"truncated object", R"({"ok":true,"result":[1,2)", "unexpected end of input"},
      {"truncated literal", R"({"ok":tr)", "invalid literal"},
      {"truncated string", R"({"ok":true,"result":"abc)", "missing closing quote"},
      {"truncated key", R"({"ok)", "missing closing quote"},
      {"single quotes", "{'ok':true}", "syntax error"},
      {"comment", R"({"ok":true,/* hi */"result":1})", "syntax error"},
      {"unquoted key", R"({ok:true,"result":1})", "syntax error"},
      {"huge number", R"({"ok":true,"result":1e999999})", "number overflow"},
  };
  for (const auto& c : cases) {
    auto r = decodeReply(c.text);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(r.error().find(c.error), std::string::npos) << c.what << ": " << r.error();
    EXPECT_NE(r.error().find("[json.exception"), 0u) << c.what << ": " << r.error();
  }
}

}  // namespace
}  // namespace tsd::protocol
