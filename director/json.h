// Minimal JSON for the control plane (admin socket replies, the greeter node list, the CLI):
// a streaming writer and a small strict parser. Not used on the forwarding path.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/result.h"

namespace tsd::director {

// Writes compact JSON; the caller keeps objects and arrays balanced (asserted in debug).
class JsonWriter {
 public:
  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(int64_t n);
  JsonWriter& value(uint64_t n);
  JsonWriter& value(int n) { return value(static_cast<int64_t>(n)); }
  JsonWriter& value(uint32_t n) { return value(static_cast<uint64_t>(n)); }
  JsonWriter& value(double d);
  JsonWriter& null();
  // key(k).value(v) in one call.
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  const std::string& str() const { return out_; }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written yet
  bool after_key_ = false;
};

// Quotes and escapes a string as a JSON string literal.
std::string jsonQuote(std::string_view s);

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue, std::less<>> object;

  bool isNull() const { return type == Type::kNull; }
  // Member lookup; a missing member or a non-object reads as null.
  const JsonValue& operator[](std::string_view k) const;
  // Display text: strings as is, numbers without a useless ".0", null as "-".
  std::string text() const;
};

// Parses one JSON document (nesting depth bounded); trailing whitespace allowed.
Result<JsonValue> parseJson(std::string_view text);

}  // namespace tsd::director
