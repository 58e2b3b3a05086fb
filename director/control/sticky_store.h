// StickyStore: the sticky table with its persistence: batched atomic saves to state_dir on a
// timer and on shutdown, and the restore at start (entries of unknown nodes are dropped and
// the rest get their node ids).
#pragma once

#include <event2/event.h>

#include <string>

#include "director/base/event_util.h"
#include "director/nodes/node_table.h"
#include "sticky/sticky_table.h"

namespace tsd::director {

class StickyStore {
 public:
  using Clock = sticky::StickyTable::Clock;

  explicit StickyStore(event_base* base);
  // Sets the file (state_dir/sticky.state) and starts the batched saves.
  void start(const std::string& state_dir);
  void setLimits(const conf::StickyConfig& cfg) { table_.setLimits(cfg.capacity, cfg.ttl); }
  // Reads the file back; nodes not in `nodes` are dropped, the others tagged with their id.
  void load(NodeTable& nodes);
  // Saves now if anything changed since the last save (also on shutdown).
  void save();
  void markDirty() { dirty_ = true; }
  void stop();

  sticky::StickyTable& table() { return table_; }
  const sticky::StickyTable& table() const { return table_; }

 private:
  event_base* base_;
  sticky::StickyTable table_;
  std::string path_;
  EventPtr timer_;
  bool dirty_ = false;
};

}  // namespace tsd::director
