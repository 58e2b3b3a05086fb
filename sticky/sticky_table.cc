// StickyTable implementation: an unordered_map of slots threaded on intrusive lists, so
// lookup, assign, open/close and eviction are O(1).
#include "sticky/sticky_table.h"

#include <algorithm>
#include <cassert>

namespace tsd::sticky {

void StickyTable::List::pushFront(Slot* s) {
  assert(s->list == nullptr);
  s->list = this;
  s->prev = nullptr;
  s->next = head;
  if (head != nullptr) head->prev = s;
  head = s;
  if (tail == nullptr) tail = s;
}

void StickyTable::List::remove(Slot* s) {
  assert(s->list == this);
  (s->prev != nullptr ? s->prev->next : head) = s->next;
  (s->next != nullptr ? s->next->prev : tail) = s->prev;
  s->prev = s->next = nullptr;
  s->list = nullptr;
}

StickyTable::StickyTable(size_t capacity, Duration ttl)
    : capacity_(std::max<size_t>(capacity, 1)), ttl_(ttl) {}

StickyTable::~StickyTable() = default;

StickyTable::Slot* StickyTable::find(const Identity& id) {
  auto it = map_.find(id);
  return it == map_.end() ? nullptr : &it->second;
}

bool StickyTable::contains(const Identity& id) const {
  auto it = map_.find(id);
  return it != map_.end() && !it->second.node.empty();
}

StickyTable::Slot& StickyTable::slotFor(const Identity& id) {
  auto [it, inserted] = map_.try_emplace(id);
  if (inserted) {
    it->second.id = &it->first;
    ++nodeless_;
  }
  return it->second;
}

void StickyTable::unlist(Slot& s) {
  if (s.list != nullptr) s.list->remove(&s);
}

void StickyTable::place(Slot& s) {
  unlist(s);
  if (s.node.empty()) return;
  if (s.pinned) {
    pinned_.pushFront(&s);
  } else if (s.live == 0) {
    idle_.pushFront(&s);
  }
}

void StickyTable::setNode(Slot& s, std::string node, uint32_t tag) {
  if (s.node.empty() && !node.empty()) --nodeless_;
  if (!s.node.empty() && node.empty()) ++nodeless_;
  s.node = std::move(node);
  s.tag = tag;
}

void StickyTable::drop(Slot& s) {
  unlist(s);
  if (s.live > 0) {
    setNode(s, {});
    s.pinned = false;
    s.pin_until.reset();
    return;
  }
  if (s.node.empty()) --nodeless_;
  map_.erase(map_.find(*s.id));  // by iterator: the key argument would be freed mid-erase
}

void StickyTable::evictFor(size_t incoming) {
  while (size() + incoming > capacity_ && idle_.tail != nullptr) {
    drop(*idle_.tail);
    ++evictions_;
  }
}

bool StickyTable::lapsePin(Slot& s, TimePoint now) {
  if (!s.pinned || !s.pin_until || *s.pin_until > now) return false;
  s.pinned = false;
  s.last = *s.pin_until;
  s.pin_until.reset();
  place(s);
  return true;
}

bool StickyTable::expired(const Slot& s, TimePoint now) const {
  return !s.node.empty() && !s.pinned && s.live == 0 && s.last + ttl_ <= now;
}

std::optional<StickyTable::Hit> StickyTable::peek(const Identity& id, TimePoint now) const {
  auto it = map_.find(id);
  if (it == map_.end() || it->second.node.empty()) return std::nullopt;
  const Slot& s = it->second;
  if (s.pinned && (!s.pin_until || now < *s.pin_until)) return Hit{s.node, s.tag};
  // A lapsed pin counts as an ordinary entry last used when the pin ended (see lapsePin).
  TimePoint last = s.pinned ? *s.pin_until : s.last;
  if (s.live == 0 && last + ttl_ <= now) return std::nullopt;
  return Hit{s.node, s.tag};
}

void StickyTable::retag(const std::function<uint32_t(std::string_view node)>& tag_of) {
  for (auto& [id, s] : map_) {
    if (!s.node.empty()) s.tag = tag_of(s.node);
  }
}

std::optional<std::string> StickyTable::lookup(const Identity& id, TimePoint now) {
  Slot* s = find(id);
  if (s == nullptr || s->node.empty()) return std::nullopt;
  if (s->pinned && !lapsePin(*s, now)) return s->node;
  if (expired(*s, now)) {
    drop(*s);
    return std::nullopt;
  }
  s->last = now;
  if (s->live == 0) place(*s);  // to the front of the LRU list
  return s->node;
}

void StickyTable::assign(const Identity& id, std::string node, TimePoint now, uint32_t tag) {
  if (id.empty() || node.empty()) return;
  Slot* s = find(id);
  if (s != nullptr && (lapsePin(*s, now) || expired(*s, now))) {
    if (expired(*s, now)) drop(*s);
    s = find(id);
  }
  if (s != nullptr && s->pinned) return;
  // Only an idle slot can be evicted, and s (if any) is about to be used: evict before.
  if (s == nullptr || s->node.empty()) evictFor(1);
  Slot& slot = s != nullptr ? *s : slotFor(id);
  setNode(slot, std::move(node), tag);
  slot.last = now;
  place(slot);
}

void StickyTable::connectionOpened(const Identity& id) {
  if (id.empty()) return;
  Slot& s = slotFor(id);
  ++s.live;
  place(s);
}

void StickyTable::connectionClosed(const Identity& id, TimePoint now) {
  Slot* s = find(id);
  if (s == nullptr || s->live == 0) return;
  if (--s->live > 0) return;
  if (s->node.empty()) {
    drop(*s);
    return;
  }
  s->last = now;
  place(*s);
  evictFor(0);  // live entries may have pushed the table past capacity
}

bool StickyTable::erase(const Identity& id) {
  Slot* s = find(id);
  if (s == nullptr || s->node.empty()) return false;
  drop(*s);
  return true;
}

size_t StickyTable::eraseNode(std::string_view node, bool include_pinned) {
  std::vector<Slot*> victims;
  for (auto& [id, s] : map_) {
    if (s.node == node && !node.empty() && (include_pinned || !s.pinned)) victims.push_back(&s);
  }
  for (Slot* s : victims) drop(*s);
  return victims.size();
}

size_t StickyTable::expire(TimePoint now) {
  size_t dropped = 0;
  for (Slot* s = pinned_.head; s != nullptr;) {
    Slot* next = s->next;
    if (lapsePin(*s, now) && expired(*s, now)) {
      drop(*s);
      ++dropped;
    }
    s = next;
  }
  // The idle list is in order of last use, so expired entries gather at the tail.
  while (idle_.tail != nullptr && expired(*idle_.tail, now)) {
    drop(*idle_.tail);
    ++dropped;
  }
  return dropped;
}

void StickyTable::pin(const Identity& id, std::string node, std::optional<TimePoint> until,
                      uint32_t tag) {
  if (id.empty() || node.empty()) return;
  Slot* s = find(id);
  if (s == nullptr || s->node.empty()) evictFor(1);
  Slot& slot = s != nullptr ? *s : slotFor(id);
  setNode(slot, std::move(node), tag);
  slot.pinned = true;
  slot.pin_until = until;
  place(slot);
}

bool StickyTable::unpin(const Identity& id) {
  Slot* s = find(id);
  if (s == nullptr || !s->pinned) return false;
  s->pinned = false;
  s->pin_until.reset();
  if (s->live > 0) {
    place(*s);
  } else {
    drop(*s);
  }
  return true;
}

void StickyTable::setLimits(size_t capacity, Duration ttl) {
  capacity_ = std::max<size_t>(capacity, 1);
  ttl_ = ttl;
  evictFor(0);
}

std::optional<StickyTable::Entry> StickyTable::view(const Slot& s, TimePoint now) const {
  if (s.node.empty()) return std::nullopt;
  Entry e{*s.id, s.node, std::nullopt, s.live, false, std::nullopt};
  TimePoint last = s.last;
  if (s.pinned) {
    if (!s.pin_until || *s.pin_until > now) {
      e.pinned = true;
      e.pinned_until = e.expires = s.pin_until;
      return e;
    }
    last = *s.pin_until;  // the pin has lapsed; lookup() would turn it into this
  }
  if (s.live > 0) return e;
  e.expires = last + ttl_;
  if (*e.expires <= now) return std::nullopt;
  return e;
}

std::vector<StickyTable::Entry> StickyTable::entries(TimePoint now) const {
  std::vector<Entry> out;
  out.reserve(size());
  for (const auto& [id, s] : map_) {
    if (auto e = view(s, now)) out.push_back(std::move(*e));
  }
  std::sort(out.begin(), out.end(),
            [](const Entry& a, const Entry& b) { return a.identity < b.identity; });
  return out;
}

}  // namespace tsd::sticky
