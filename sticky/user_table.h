// UserTable: the per-user sticky table. Which users each client identity was seen to be (learned
// by matching agent-reported sshd connections to the director's own connections), each user's
// home node (the node of their best session, ranked as the session index ranks them), and the
// short bounce pins that send an identity's next connection to one user's home.
// Pure data structure: time is always passed in; single-threaded (event loop).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sticky/identity.h"
#include "sticky/session_index.h"

namespace tsd::sticky {

class UserTable {
 public:
  using Clock = std::chrono::system_clock;  // wall clock: learned pairs survive restarts
  using TimePoint = Clock::time_point;
  using Duration = Clock::duration;
  // node name and the caller's tag for it (the director's node id)
  using Usable = std::function<bool(std::string_view node, uint32_t tag)>;

  struct Home {
    std::string node;
    uint32_t tag = 0;
    bool suspended = false;
  };
  struct Pin {
    std::string user;
    std::string node;
    uint32_t tag = 0;
    TimePoint until;
  };
  struct UserRow {
    std::string user;
    std::optional<Home> home;
    std::vector<Identity> identities;    // sorted
    std::optional<TimePoint> last_seen;  // last time a connection of the user was matched
  };
  struct Learned {
    Identity identity;
    std::string user;
    TimePoint last_seen;
  };

  // capacity bounds the learned (identity, user) pairs; the least recently seen go first (1%
  // of them at once when a learn passes it).
  explicit UserTable(size_t capacity = 100000) : capacity_(capacity) {}
  void setCapacity(size_t capacity);

  // Homes: replaces what is known of `node` with its inventory (every session counts, also
  // those whose client address is the director's own: homes are per user, not per address).
  void updateSessions(std::string_view node, uint32_t tag, const std::vector<SessionRef>& s);
  void removeNode(std::string_view node);
  // The node of the user's best session among usable nodes (all when usable is empty):
  // suspended before running, then newest, then node name (deterministic across directors).
  std::optional<Home> home(std::string_view user, const Usable& usable = {}) const;

  // Learning: `user` was seen behind `id`. True when the pair is new.
  bool learn(const Identity& id, std::string_view user, TimePoint now);
  // The users learned for this identity, sorted. More than one: a shared address (NAT).
  std::vector<std::string> usersOf(const Identity& id) const;
  // Forgets pairs not seen since `now - max_age`; returns how many went.
  size_t expire(TimePoint now, Duration max_age);

  // Bounce pins: a queue per identity, consumed one connection at a time.
  void pin(const Identity& id, Pin p);
  // The first unexpired pin of the identity whose node is usable (read-only, for a decision).
  std::optional<Pin> peekPin(const Identity& id, TimePoint now, const Usable& usable = {}) const;
  // Removes the first unexpired pin of the identity towards `node` (the connection that used
  // it is up); expired pins are dropped on the way. True when one was consumed.
  bool takePin(const Identity& id, std::string_view node, TimePoint now);
  size_t pins() const;

  // Bounce bookkeeping: a user is never bounced twice within the window.
  void noteBounce(std::string_view user, TimePoint now) { bounced_[std::string(user)] = now; }
  std::optional<TimePoint> lastBounce(std::string_view user) const;

  // Admin `users`: every user with a learned identity or a session, by name.
  std::vector<UserRow> dump() const;
  size_t users() const { return by_user_.size(); }  // users with at least one learned identity
  size_t identities() const { return by_identity_.size(); }
  // For the state file: every learned pair, oldest first.
  std::vector<Learned> learned() const;

 private:
  struct Candidate {
    std::string node;
    uint32_t tag = 0;
    bool suspended = false;
    int64_t since = 0;
  };
  static bool better(const Candidate& a, const Candidate& b);
  void reindexUser(const std::string& user);
  void shrinkTo(size_t target);  // forgets the least recently seen pairs
  void forget(const Identity& id, const std::string& user);

  size_t capacity_;
  // node -> (user -> that user's best session on the node)
  std::map<std::string, std::map<std::string, Candidate, std::less<>>, std::less<>> nodes_;
  // user -> candidates over all nodes, best first
  std::map<std::string, std::vector<Candidate>, std::less<>> homes_;
  std::unordered_map<Identity, std::map<std::string, TimePoint, std::less<>>, IdentityHash>
      by_identity_;
  std::map<std::string, std::set<Identity>, std::less<>> by_user_;
  size_t pairs_ = 0;
  std::unordered_map<Identity, std::deque<Pin>, IdentityHash> pins_;
  std::map<std::string, TimePoint, std::less<>> bounced_;
};

// What to do with a connection once its user is learned (docs/sticky.md, "wrong node").
enum class BounceOutcome : uint8_t {
  kAtHome,        // the connection is on the user's home: nothing to do
  kHomeUnknown,   // the user has no session anywhere: never bounced
  kBounced,       // reset now and pin the identity home for the retry
  kKept,          // wrong node, but wrong_node = keep: the next connection goes home
  kTooOld,        // older than bounce_window: the user may already be working
  kHomeUnusable,  // the home is down, in maintenance or draining
  kRepeat,        // this user was bounced within the window already: no loops
};
inline constexpr int kBounceOutcomeCount = 7;
std::string_view toString(BounceOutcome o);

struct BounceInput {
  bool bounce = false;  // wrong_node = bounce for the connection's service
  std::string_view current_node;
  std::optional<UserTable::Home> home;              // the user's home over all nodes
  bool home_usable = false;                         // up, active (not drain, not maint)
  UserTable::Duration age{};                        // of the connection, since it was forwarded
  UserTable::Duration window{};                     // bounce_window
  std::optional<UserTable::TimePoint> last_bounce;  // of this user
  UserTable::TimePoint now;
};
BounceOutcome decideBounce(const BounceInput& in);

}  // namespace tsd::sticky
