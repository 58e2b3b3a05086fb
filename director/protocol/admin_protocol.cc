// Request framing and reply encoding for the admin socket. nlohmann::json throws on bad input;
// every call that can is made here, and nothing thrown leaves this file.
#include "director/protocol/admin_protocol.h"

#include <cstdio>
#include <exception>

#include "director/protocol/commands.h"

namespace tsd::protocol {
namespace {

using nlohmann::json;

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Offset of the first control character that is not a blank, or npos.
size_t findControl(std::string_view line) {
  for (size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if ((c < 0x20 && !isBlank(line[i])) || c == 0x7f) return i;
  }
  return std::string_view::npos;
}

// Replies are compact (no newline outside strings, and dump escapes those inside), and invalid
// UTF-8 in a name must not cost the whole reply.
template <typename Json>
std::string dumpLine(const Json& v) {
  if (v.is_discarded()) return "null";
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The envelope is written by hand so that "ok" comes first, as documented, whatever the map
// order of the JSON type; a failure to encode (out of memory) still gives a valid line.
template <typename Json>
std::string okLine(const Json& result) {
  try {
    return "{\"ok\":true,\"result\":" + dumpLine(result) + "}\n";
  } catch (const std::exception&) {
    return "{\"ok\":false,\"error\":\"cannot encode the reply\"}\n";
  }
}

// nlohmann's messages start with "[json.exception.parse_error.101] ": drop the tag.
std::string parseMessage(const char* what) {
  std::string_view s(what);
  if (!s.empty() && s[0] == '[') {
    if (size_t end = s.find("] "); end != std::string_view::npos) s.remove_prefix(end + 2);
  }
  return std::string(s);
}

struct TooDeep {};

// Returning false from the callback would only discard the value while the parser goes on (and
// its stack grows with each level of a hostile "[[[[..."), so the callback throws to stop it.
Result<json> parseDocument(std::string_view text) {
  json::parser_callback_t guard = [](int depth, json::parse_event_t event, json&) {
    bool opens =
        event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    if (opens && depth >= kMaxReplyDepth) throw TooDeep{};
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), guard);
  } catch (const TooDeep&) {
    return makeError("nested deeper than " + std::to_string(kMaxReplyDepth) + " levels");
  } catch (const json::exception& e) {
    return makeError(parseMessage(e.what()));
  } catch (const std::exception& e) {
    return makeError(e.what());
  }
}

Result<Reply> readEnvelope(json& doc) {
  if (!doc.is_object()) return makeError("not a JSON object");
  auto ok = doc.find("ok");
  if (ok == doc.end() || !ok->is_boolean()) return makeError("no boolean \"ok\" member");
  Reply r;
  r.ok = ok->get<bool>();
  if (!r.ok) {
    auto error = doc.find("error");
    if (error == doc.end() || !error->is_string()) return makeError("no string \"error\" member");
    r.error = error->get<std::string>();
    return r;
  }
  auto result = doc.find("result");
  if (result == doc.end()) return makeError("no \"result\" member");
  r.result = std::move(*result);
  return r;
}

}  // namespace

Result<std::vector<std::string>> parseRequest(std::string_view line) {
  if (line.size() > kMaxRequestBytes) {
    return makeError("request longer than " + std::to_string(kMaxRequestBytes) + " bytes");
  }
  if (size_t at = findControl(line); at != std::string_view::npos) {
    char buf[80];
    snprintf(buf, sizeof buf, "control character 0x%02x at byte %zu of the request",
             static_cast<unsigned char>(line[at]), at + 1);
    return makeError(buf);
  }
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && isBlank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !isBlank(line[i])) ++i;
    if (i == start) break;
    if (words.size() == kMaxRequestWords) {
      return makeError("too many arguments: at most " + std::to_string(kMaxRequestWords) +
                       " words");
    }
    words.emplace_back(line.substr(start, i - start));
  }
  if (words.empty()) return makeError("empty request; commands: " + commandList());
  return words;
}

std::string encodeOk(const nlohmann::json& result) { return okLine(result); }

std::string encodeOk(const nlohmann::ordered_json& result) { return okLine(result); }

std::string encodeError(std::string_view why) {
  try {
    return "{\"ok\":false,\"error\":" + dumpLine(json(why)) + "}\n";
  } catch (const std::exception&) {
    return "{\"ok\":false,\"error\":\"cannot encode the error\"}\n";
  }
}

Result<Reply> decodeReply(std::string_view text) {
  if (text.size() > kMaxReplyBytes) {
    return makeError("reply larger than " + std::to_string(kMaxReplyBytes >> 20) + " MiB");
  }
  // No JSON text has a raw NUL, but nlohmann's lexer takes one for the end of the input and
  // would accept "{...}\0garbage".
  if (size_t at = text.find('\0'); at != std::string_view::npos) {
    return makeError("NUL byte at offset " + std::to_string(at));
  }
  auto doc = parseDocument(text);
  if (!doc.ok()) return makeError(doc.error());
  return readEnvelope(*doc);
}

}  // namespace tsd::protocol
