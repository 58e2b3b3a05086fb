// Entry points of the config module: read a file, parse and validate it into an immutable
// snapshot, and the small lookups on that snapshot.
#include "conf/config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "conf/parser_detail.h"

namespace tsd::conf {
namespace {

constexpr size_t kMaxFileBytes = 4 << 20;  // a config is a few KiB; more is a wrong file

bool onlyBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

namespace detail {

void Sources::addKey(const std::string& label, std::string_view key, int line) {
  keys_.emplace(label + "/" + std::string(key), line);
}

int Sources::sectionLine(const std::string& label) const {
  auto it = sections_.find(label);
  return it == sections_.end() ? 0 : it->second;
}

int Sources::keyLine(const std::string& label, std::string_view key) const {
  auto it = keys_.find(label + "/" + std::string(key));
  return it == keys_.end() ? 0 : it->second;
}

Error Sources::error(int line, std::string_view key, std::string_view what) const {
  if (line <= 0) return makeError(file_ + ": " + std::string(what));
  return makeError(file_ + ":" + std::to_string(line) + ": " + std::string(key) + ": " +
                   std::string(what));
}

}  // namespace detail

SockAddr NodeConfig::addressFor(const ServiceConfig& svc) const {
  // host was checked when the file was parsed, so this cannot fail for a parsed Config.
  auto a = SockAddr::parseHost(host, port.value_or(svc.port));
  return a ? *a : SockAddr{};
}

const NodeConfig* Config::findNode(std::string_view name) const {
  for (const auto& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

std::string Config::location(std::string_view label, std::string_view key) const {
  std::string k = std::string(label) + "/" + std::string(key);
  auto it = key_lines.find(k);
  return it == key_lines.end() ? path : path + ":" + std::to_string(it->second);
}

const ServiceConfig* Config::findService(std::string_view name) const {
  for (const auto& s : services) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Result<ConfigPtr> parseConfig(std::string_view text, const std::string& name) {
  if (onlyBlank(text)) return makeError(name + ": file is empty");
  if (text.size() > kMaxFileBytes) return makeError(name + ": file is larger than 4 MiB");
  auto sections = detail::readIni(text, name);
  if (!sections) return makeError(sections.error());
  auto cfg = std::make_shared<Config>();
  cfg->path = name;
  cfg->metrics.listen = SockAddr::parse("127.0.0.1:9108").value();
  detail::Sources src(name);
  if (Status st = detail::applySections(*sections, *cfg, src); !st) return makeError(st.error());
  if (Status st = detail::validateConfig(*cfg, src); !st) return makeError(st.error());
  cfg->key_lines.insert(src.keys().begin(), src.keys().end());
  return ConfigPtr(std::move(cfg));
}

Result<ConfigPtr> loadConfig(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return makeError(path + ": cannot read: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return makeError(path + ": not a regular file");
  if (static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    return makeError(path + ": file is larger than 4 MiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return makeError(path + ": read error");
  return parseConfig(text.str(), path);
}

}  // namespace tsd::conf
