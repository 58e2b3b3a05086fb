// SessionIndex: client identity -> nodes holding that identity's desktop sessions, merged from
// the inventories node agents report. It is what brings a returning user home, even when the
// sticky table was lost: agents are the shared truth between directors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sticky/identity.h"

namespace tsd::sticky {

// One session as an agent reports it.
struct SessionRef {
  std::string user;
  std::string client_address;  // IP literal as the node saw it; not an IP: session ignored
  bool suspended = false;
  int64_t since_unix = 0;  // session start (or last state change), seconds
};

// Not thread-safe: owned by the director's event loop.
class SessionIndex {
 public:
  struct Match {
    std::string node;
    uint32_t tag = 0;        // the tag given with the node's inventory (the director's node id)
    bool ambiguous = false;  // sessions of this identity on more than one usable node
    size_t candidates = 0;   // usable nodes holding sessions of this identity
    std::string user;        // the user of the chosen session, for the decision log
  };
  struct Row {
    Identity identity;
    std::string node;
    SessionRef session;
  };

  SessionIndex(int ipv4_prefix, int ipv6_prefix);

  // Prefixes changed by a reload: every identity is derived again.
  void setPrefixes(int ipv4_prefix, int ipv6_prefix);
  // The director's own addresses (its interfaces and the source addresses it uses towards
  // nodes), as IP literals. Without transparent mode every session a node sees comes from one
  // of them: such sessions are never filed under that address (they would send everyone to
  // the same node); the user table matches them by connection instead. dump() still lists them.
  void setLocalAddresses(const std::vector<std::string>& addresses);
  bool isLocalAddress(std::string_view ip) const;
  // Replaces everything known about `node` with this inventory. `tag` comes back in Match.
  void update(std::string_view node, const std::vector<SessionRef>& sessions, uint32_t tag = 0);
  void removeNode(std::string_view node);

  // The node to send this identity to, considering only nodes where usable(node) is true
  // (all when usable is empty). Ranking, per node by its best session: suspended before
  // running, then the most recent `since`, then the node name, so every director that sees
  // the same inventories picks the same node.
  using Usable = std::function<bool(std::string_view node, uint32_t tag)>;
  std::optional<Match> lookup(const Identity& id, const Usable& usable = {}) const;

  // All indexed sessions, by identity, then in ranking order (admin `sessions`).
  std::vector<Row> dump() const;
  size_t identities() const { return index_.size(); }
  size_t sessions() const;  // indexed sessions
  // Sessions in the current inventories whose client address is not an IP literal (local
  // sessions, agent bugs); they cannot be matched to a client.
  size_t ignored() const;
  // Sessions whose client address is one of the director's own (not indexed by address).
  size_t local() const;

 private:
  // The best session of one identity on one node.
  struct Candidate {
    std::string node;
    uint32_t tag = 0;
    bool suspended = false;
    int64_t since = 0;
    std::string user;
  };
  struct Inventory {
    uint32_t tag = 0;
    std::vector<SessionRef> sessions;
    std::vector<std::optional<Identity>> ids;  // parallel to sessions; nullopt: ignored
    std::vector<bool> local;                   // parallel: the director's own address
    size_t ignored = 0;
    size_t local_count = 0;
  };

  static bool better(const Candidate& a, const Candidate& b);
  void unindex(const std::string& node, const Inventory& inv);
  void index(const std::string& node, const Inventory& inv);

  static std::string canonical(std::string_view ip);
  void reindexAll();

  int ipv4_prefix_;
  int ipv6_prefix_;
  std::vector<std::string> local_addresses_;  // canonical, sorted
  std::map<std::string, Inventory, std::less<>> nodes_;
  // Each vector is sorted by better(), one candidate per node.
  std::unordered_map<Identity, std::vector<Candidate>, IdentityHash> index_;
};

}  // namespace tsd::sticky
