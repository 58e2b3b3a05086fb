// StickyTable: identity -> node, so a client that came recently goes back to the same node.
// Pure data structure: time is always passed in, never read; single-threaded (event loop).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sticky/identity.h"

namespace tsd::sticky {

// Semantics (docs/sticky.md has the long form):
// - An entry's TTL counts from its last use: assign(), a lookup() hit, or the close of its
//   last live connection. While the identity has live connections the TTL does not run.
// - Capacity bounds the entries; at capacity the least recently used *idle* entry is evicted.
//   Entries with live connections and pinned entries are never evicted, so while more than
//   `capacity` identities are connected or pinned the table holds more than `capacity`.
// - Pinned entries (admin `pin`) keep their node against assign() and LRU; a pin with an end
//   time lapses into an ordinary entry last used at that end time.
// - Live-connection counts are kept even when an entry's node is erased, so an open/close pair
//   always balances; such node-less records are invisible to lookup(), size() and entries().
// All operations are O(1) except eraseNode(), entries() and expire() (which is O(expired)).
// Nodes are kept by name (what the state file and the admin see) and by an optional numeric
// tag the caller chooses (the director's node id), so a hit resolves to a node without a
// name lookup.
inline constexpr uint32_t kNoTag = UINT32_MAX;

class StickyTable {
 public:
  using Clock = std::chrono::system_clock;  // wall clock: entries survive restarts
  using TimePoint = Clock::time_point;
  using Duration = Clock::duration;

  struct Entry {
    Identity identity;
    std::string node;
    std::optional<TimePoint> expires;  // nullopt: live connections or a pin without end
    uint32_t connections = 0;          // live connections of this identity
    bool pinned = false;
    std::optional<TimePoint> pinned_until;  // pinned only; nullopt: until unpinned
  };

  StickyTable(size_t capacity, Duration ttl);
  ~StickyTable();
  StickyTable(const StickyTable&) = delete;
  StickyTable& operator=(const StickyTable&) = delete;

  struct Hit {
    std::string_view node;  // valid until the table changes
    uint32_t tag = kNoTag;
  };
  // Read-only lookup for a decision: the entry's node if it has one and is not expired.
  // Changes nothing (no LRU touch, no TTL restart): assign() does that once connected.
  std::optional<Hit> peek(const Identity& id, TimePoint now) const;
  // The node for this identity, or nullopt (none, or expired: then it is erased).
  // A hit marks the entry most recently used and restarts its TTL.
  std::optional<std::string> lookup(const Identity& id, TimePoint now);
  // Sticks the identity to `node` (new, or replacing the node). A pinned entry keeps its node.
  void assign(const Identity& id, std::string node, TimePoint now, uint32_t tag = kNoTag);

  void connectionOpened(const Identity& id);
  void connectionClosed(const Identity& id, TimePoint now);

  // Removes the entry (pinned or not); true when there was one with a node.
  bool erase(const Identity& id);
  // Removes every entry on `node` (node removed by a reload, or down: callers decide);
  // with include_pinned = false pins on that node stay. Returns how many were removed.
  size_t eraseNode(std::string_view node, bool include_pinned = true);
  // Drops expired entries and lapses ended pins; returns how many entries were dropped.
  size_t expire(TimePoint now);

  // Admin pin: `until` nullopt pins until unpin(). Pins never count as evictable.
  void pin(const Identity& id, std::string node, std::optional<TimePoint> until,
           uint32_t tag = kNoTag);
  // Sets every entry's tag from its node name (after restore(), or when ids change).
  void retag(const std::function<uint32_t(std::string_view node)>& tag_of);
  // Removes the pin. Without live connections the entry goes too (otherwise the user would
  // simply stay stuck there for a TTL); with live ones it becomes an ordinary live entry.
  bool unpin(const Identity& id);

  // A capacity of 0 is treated as 1. Shrinking evicts idle entries (counted as evictions).
  void setLimits(size_t capacity, Duration ttl);
  size_t capacity() const { return capacity_; }
  Duration ttl() const { return ttl_; }

  // True when the identity has an entry with a node (expired or not); changes nothing.
  bool contains(const Identity& id) const;
  size_t size() const { return map_.size() - nodeless_; }  // entries with a node
  uint64_t evictions() const { return evictions_; }        // capacity evictions, cumulative
  // Current entries (expired ones left out), sorted by identity, for the admin CLI and the
  // state file.
  std::vector<Entry> entries(TimePoint now) const;

 private:
  struct Slot;
  struct List {
    Slot* head = nullptr;  // most recently used
    Slot* tail = nullptr;
    void pushFront(Slot* s);
    void remove(Slot* s);
  };
  // One identity. Lives in map_ (node-based, so its address is stable) and is linked into at
  // most one List: idle_ when evictable, pinned_ when pinned, none while connections live.
  struct Slot {
    std::string node;  // empty: node-less record that only counts live connections
    uint32_t tag = kNoTag;
    TimePoint last{};  // last use; the TTL counts from here while idle
    uint32_t live = 0;
    bool pinned = false;
    std::optional<TimePoint> pin_until;
    const Identity* id = nullptr;  // the map key
    List* list = nullptr;
    Slot* prev = nullptr;
    Slot* next = nullptr;
  };
  using Map = std::unordered_map<Identity, Slot, IdentityHash>;

  Slot* find(const Identity& id);
  Slot& slotFor(const Identity& id);
  void place(Slot& s);  // puts s in the list its state belongs to
  void unlist(Slot& s);
  void setNode(Slot& s, std::string node, uint32_t tag = kNoTag);
  void drop(Slot& s);  // removes the entry, keeping a node-less record if connections live
  void evictFor(size_t incoming);
  bool lapsePin(Slot& s, TimePoint now);  // true if the pin ended
  bool expired(const Slot& s, TimePoint now) const;
  std::optional<Entry> view(const Slot& s, TimePoint now) const;

  size_t capacity_;
  Duration ttl_;
  Map map_;
  List idle_;    // no connections, not pinned: the LRU list, evictable
  List pinned_;  // admin pins (scanned by expire(); few)
  size_t nodeless_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace tsd::sticky
