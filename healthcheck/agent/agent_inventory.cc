// Parsers for the agent's figures and session sources. They never touch the system, so every
// odd line a kernel, sshd, X2Go or tmux may print can be replayed in a unit test.
#include "healthcheck/agent/agent_inventory.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>
#include <unordered_map>

namespace tsd::health {
namespace {

std::vector<std::string_view> splitWs(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string_view> splitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? p : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

template <typename T>
std::optional<T> toNumber(std::string_view s, int base = 10) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Calls fn(line) for each line (without '\n'; a last unterminated line included).
template <typename Fn>
void forEachLine(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    fn(text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
}

// The value of "Key: value unit" / "key value" lines, as an unsigned number.
Result<uint64_t> keyedNumber(std::string_view text, std::string_view key, const char* what) {
  std::optional<uint64_t> found;
  forEachLine(text, [&](std::string_view line) {
    auto t = splitWs(line);
    if (found || t.size() < 2 || t[0] != key) return;
    found = toNumber<uint64_t>(t[1]);
  });
  if (!found) return makeError(std::string("no valid ") + what);
  return *found;
}

}  // namespace

std::string normalizeAddress(std::string_view s) {
  if (!validClientAddress(s) || s == "-") return "-";
  // "::ffff:1.2.3.4" and "1.2.3.4" must be the same client to the session index.
  std::string z(s);
  in6_addr a6{};
  if (inet_pton(AF_INET6, z.c_str(), &a6) == 1 && IN6_IS_ADDR_V4MAPPED(&a6)) {
    char buf[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof(buf))) return buf;
  }
  return z;
}

Result<double> parseLoadAvg(std::string_view text) {
  auto t = splitWs(text.substr(0, text.find('\n')));
  if (t.empty()) return makeError("empty loadavg");
  double v = 0;
  auto [p, ec] = std::from_chars(t[0].data(), t[0].data() + t[0].size(), v);
  if (ec != std::errc() || p != t[0].data() + t[0].size() || !(v >= 0)) {
    return makeError("bad loadavg");
  }
  return v;
}

Result<uint64_t> parseMemAvailableKib(std::string_view text) {
  return keyedNumber(text, "MemAvailable:", "MemAvailable");
}

Result<uint64_t> parsePswpin(std::string_view text) {
  return keyedNumber(text, "pswpin", "pswpin");
}

double SwapInRate::update(uint64_t pswpin, Clock::time_point now) {
  double rate = 0;
  if (last_ && pswpin >= *last_ && now > last_time_) {
    double secs = std::chrono::duration<double>(now - last_time_).count();
    rate = static_cast<double>(pswpin - *last_) / secs;
  }
  last_ = pswpin;
  last_time_ = now;
  return rate;
}

std::string decodeProcAddress(std::string_view hex) {
  if (hex.size() != 8 && hex.size() != 32) return {};
  // The kernel prints each 32-bit word of the network-order address as a host-order number.
  unsigned char bytes[16];
  for (size_t w = 0; w < hex.size() / 8; ++w) {
    auto v = toNumber<uint32_t>(hex.substr(w * 8, 8), 16);
    if (!v) return {};
    std::memcpy(bytes + w * 4, &*v, 4);
  }
  char buf[INET6_ADDRSTRLEN];
  int family = hex.size() == 8 ? AF_INET : AF_INET6;
  if (!inet_ntop(family, bytes, buf, sizeof(buf))) return {};
  return normalizeAddress(buf);
}

std::vector<TcpSocket> parseProcNetTcp(std::string_view text) {
  std::vector<TcpSocket> out;
  forEachLine(text, [&](std::string_view line) {
    auto t = splitWs(line);
    if (t.size() < 10 || t[0] == "sl") return;
    auto local = splitOn(t[1], ':');
    auto remote = splitOn(t[2], ':');
    if (local.size() != 2 || remote.size() != 2) return;
    TcpSocket s;
    s.local_address = decodeProcAddress(local[0]);
    s.remote_address = decodeProcAddress(remote[0]);
    auto lp = toNumber<uint16_t>(local[1], 16);
    auto rp = toNumber<uint16_t>(remote[1], 16);
    auto st = toNumber<int>(t[3], 16);
    auto inode = toNumber<uint64_t>(t[9]);
    if (s.local_address.empty() || s.remote_address.empty() || !lp || !rp || !st || !inode) {
      return;
    }
    s.local_port = *lp;
    s.remote_port = *rp;
    s.state = *st;
    s.inode = *inode;
    out.push_back(std::move(s));
  });
  return out;
}

bool isSshdComm(std::string_view comm) {
  if (!comm.empty() && comm.back() == '\n') comm.remove_suffix(1);
  return comm == "sshd" || comm == "sshd-session";
}

std::optional<SshdTitle> parseSshdTitle(std::string_view cmdline) {
  cmdline = cmdline.substr(0, cmdline.find('\0'));
  while (!cmdline.empty() && cmdline.back() == ' ') cmdline.remove_suffix(1);
  for (std::string_view prefix : {"sshd: ", "sshd-session: "}) {
    if (!cmdline.starts_with(prefix)) continue;
    std::string_view rest = cmdline.substr(prefix.size());
    if (rest.ends_with(" [priv]")) {
      std::string_view user = rest.substr(0, rest.size() - 7);
      if (!validName(user)) return std::nullopt;
      return SshdTitle{std::string(user), SshdTitle::kPriv};
    }
    // "USER@pts/0", "USER@pts/0,pts/1" (several channels), "USER@notty".
    size_t at = rest.rfind('@');
    if (at == std::string_view::npos || at + 1 >= rest.size()) return std::nullopt;
    std::string_view tty = rest.substr(at + 1);
    if (!tty.starts_with("pts/") && !tty.starts_with("tty") && tty != "notty") return std::nullopt;
    if (tty.find(' ') != std::string_view::npos) return std::nullopt;
    std::string_view user = rest.substr(0, at);
    if (!validName(user)) return std::nullopt;
    return SshdTitle{std::string(user), SshdTitle::kUser};
  }
  return std::nullopt;
}

std::optional<uint64_t> parseStartTicks(std::string_view stat) {
  // comm (field 2) is in parentheses and may hold spaces and ')'; fields resume after the last.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  auto t = splitWs(stat.substr(close + 1));
  // t[0] is field 3 (state), so field 22 is t[19].
  if (t.size() < 20) return std::nullopt;
  return toNumber<uint64_t>(t[19]);
}

std::optional<int64_t> parseBootTime(std::string_view text) {
  auto v = keyedNumber(text, "btime", "btime");
  if (!v || *v > static_cast<uint64_t>(kMaxSinceUnix)) return std::nullopt;
  return static_cast<int64_t>(*v);
}

SshLogins sshLogins(const std::vector<ProcInfo>& procs, const std::vector<TcpSocket>& sockets,
                    const std::vector<std::string>& node_addresses) {
  auto ours = [&](const TcpSocket& s) {
    return node_addresses.empty() || std::find(node_addresses.begin(), node_addresses.end(),
                                               s.local_address) != node_addresses.end();
  };
  std::unordered_map<uint64_t, const TcpSocket*> by_inode;
  for (const auto& s : sockets) by_inode.emplace(s.inode, &s);
  std::set<uint16_t> listen_ports;
  std::unordered_map<uint64_t, int64_t> earliest;  // inode -> earliest start of any holder
  for (const auto& p : procs) {
    for (uint64_t ino : p.socket_inodes) {
      auto it = by_inode.find(ino);
      if (it == by_inode.end()) continue;
      if (it->second->state == kTcpListen) listen_ports.insert(it->second->local_port);
      auto [e, fresh] = earliest.emplace(ino, p.start_unix);
      if (!fresh && p.start_unix > 0 && (e->second == 0 || p.start_unix < e->second)) {
        e->second = p.start_unix;
      }
    }
  }
  SshLogins out;
  std::set<uint64_t> done;
  for (const auto& p : procs) {
    auto title = parseSshdTitle(p.cmdline);
    if (!title || title->role != SshdTitle::kUser) continue;
    for (uint64_t ino : p.socket_inodes) {
      auto it = by_inode.find(ino);
      if (it == by_inode.end() || it->second->state != kTcpEstablished) continue;
      const TcpSocket& s = *it->second;
      if (!listen_ports.empty() && !listen_ports.count(s.local_port)) continue;
      if (!ours(s)) continue;
      if (!done.insert(ino).second) continue;
      std::string remote = normalizeAddress(s.remote_address);
      out.sessions.push_back(
          AgentSession{title->user, SessionKind::kSsh, false, remote, earliest[ino]});
      std::string local = normalizeAddress(s.local_address);
      if (remote == "-" || local == "-" || s.remote_port == 0 || s.local_port == 0) continue;
      out.connections.push_back(AgentConnection{title->user, std::move(remote), s.remote_port,
                                                std::move(local), s.local_port, earliest[ino]});
    }
  }
  return out;
}

std::vector<AgentSession> sshSessions(const std::vector<ProcInfo>& procs,
                                      const std::vector<TcpSocket>& sockets,
                                      const std::vector<std::string>& node_addresses) {
  return sshLogins(procs, sockets, node_addresses).sessions;
}

std::vector<AgentSession> parseX2goList(std::string_view text, int64_t now_unix) {
  std::vector<AgentSession> out;
  forEachLine(text, [&](std::string_view line) {
    auto f = splitOn(line, '|');
    if (f.size() < 13) return;
    if (f[4] != "R" && f[4] != "S") return;  // F (finished) and anything unknown
    if (!validName(f[11])) return;
    int64_t since = 0;
    auto age = toNumber<int64_t>(f[12]);
    if (age && *age >= 0 && *age <= now_unix) since = now_unix - *age;
    out.push_back(AgentSession{std::string(f[11]), SessionKind::kX2go, f[4] == "S",
                               normalizeAddress(f[7]), since});
  });
  return out;
}

std::vector<TmuxSession> parseTmuxList(std::string_view text) {
  std::vector<TmuxSession> out;
  forEachLine(text, [&](std::string_view line) {
    size_t sp2 = line.rfind(' ');
    if (sp2 == std::string_view::npos || sp2 == 0) return;
    size_t sp1 = line.rfind(' ', sp2 - 1);
    if (sp1 == std::string_view::npos || sp1 == 0) return;
    auto attached = toNumber<uint32_t>(line.substr(sp1 + 1, sp2 - sp1 - 1));
    auto created = toNumber<int64_t>(line.substr(sp2 + 1));
    if (!attached || !created || *created < 0 || *created > kMaxSinceUnix) return;
    out.push_back(TmuxSession{std::string(line.substr(0, sp1)), *attached > 0, *created});
  });
  return out;
}

namespace {
// Field `index` of the first SSH_CONNECTION= line, as a normalized address, or empty.
std::string sshConnectionField(std::string_view text, size_t index) {
  std::string addr;
  bool seen = false;
  forEachLine(text, [&](std::string_view line) {
    constexpr std::string_view kKey = "SSH_CONNECTION=";
    if (seen || !line.starts_with(kKey)) return;
    seen = true;
    auto t = splitWs(line.substr(kKey.size()));
    if (t.size() > index && t[index] != "-" && validClientAddress(t[index])) {
      addr = normalizeAddress(t[index]);
    }
  });
  return addr;
}
}  // namespace

std::string parseSshConnection(std::string_view text) { return sshConnectionField(text, 0); }

std::string parseSshConnectionServer(std::string_view text) { return sshConnectionField(text, 2); }

void mergeDesktops(std::vector<AgentSession>& sessions) {
  std::vector<bool> carrier(sessions.size(), false);
  for (const auto& d : sessions) {
    if (d.kind == SessionKind::kSsh || d.suspended || d.client_address == "-") continue;
    for (size_t i = 0; i < sessions.size(); ++i) {
      const auto& s = sessions[i];
      if (carrier[i] || s.kind != SessionKind::kSsh || s.user != d.user ||
          s.client_address != d.client_address) {
        continue;
      }
      carrier[i] = true;
      break;
    }
  }
  std::vector<AgentSession> kept;
  kept.reserve(sessions.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    if (!carrier[i]) kept.push_back(std::move(sessions[i]));
  }
  sessions = std::move(kept);
}

ParsedSessions parseSessionLines(std::string_view text) {
  ParsedSessions out;
  forEachLine(text, [&](std::string_view line) {
    auto t = splitWs(line);
    if (t.empty() || t[0].starts_with("#")) return;
    auto kind = t.size() == 5 ? parseSessionKind(t[1]) : std::nullopt;
    auto since = t.size() == 5 ? toNumber<int64_t>(t[4]) : std::nullopt;
    bool state_ok = t.size() == 5 && (t[2] == "running" || t[2] == "suspended");
    if (!kind || !since || !state_ok || !validName(t[0]) || !validClientAddress(t[3]) ||
        *since < 0 || *since > kMaxSinceUnix || out.sessions.size() >= kMaxSessions) {
      ++out.bad_lines;
      return;
    }
    out.sessions.push_back(AgentSession{std::string(t[0]), *kind, t[2] == "suspended",
                                        normalizeAddress(t[3]), *since});
  });
  return out;
}

void ClientMemory::remember(const std::vector<AgentSession>& ssh_sessions) {
  for (const auto& s : ssh_sessions) {
    if (s.kind != SessionKind::kSsh || s.client_address == "-") continue;
    auto it = by_user_.find(s.user);
    if (it != by_user_.end()) {
      if (s.since_unix >= it->second.since) it->second = Seen{s.client_address, s.since_unix};
      continue;
    }
    if (by_user_.size() >= kCapacity) {
      // Forget the user seen longest ago; a rare path (thousands of distinct users).
      auto oldest = std::min_element(by_user_.begin(), by_user_.end(), [](auto& a, auto& b) {
        return a.second.since < b.second.since;
      });
      by_user_.erase(oldest);
    }
    by_user_.emplace(s.user, Seen{s.client_address, s.since_unix});
  }
}

std::optional<std::string> ClientMemory::lookup(const std::string& user) const {
  auto it = by_user_.find(user);
  if (it == by_user_.end()) return std::nullopt;
  return it->second.address;
}

std::string tmuxClientAddress(const std::string& user, const std::vector<AgentSession>& ssh,
                              const ClientMemory& memory,
                              const std::function<std::string()>& env_address) {
  const AgentSession* newest = nullptr;
  for (const auto& s : ssh) {
    if (s.user != user || s.kind != SessionKind::kSsh || s.client_address == "-") continue;
    if (!newest || s.since_unix > newest->since_unix) newest = &s;
  }
  if (newest) return newest->client_address;
  if (auto remembered = memory.lookup(user)) return *remembered;
  std::string env = env_address ? env_address() : std::string();
  return env.empty() ? "-" : env;
}

void countSessions(AgentReport& report) {
  report.sessions_running = 0;
  report.sessions_suspended = 0;
  for (const auto& s : report.sessions) {
    (s.suspended ? report.sessions_suspended : report.sessions_running)++;
  }
}

}  // namespace tsd::health
