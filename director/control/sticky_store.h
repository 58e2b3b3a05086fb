// StickyStore: the state that survives a restart, in state_dir. The sticky table (batched
// atomic saves on a timer and on shutdown; restored at start, entries of unknown nodes dropped
// and the rest tagged with their node ids), the user table's learned identity -> user pairs
// (users.state, saved with it; homes are rebuilt from inventories) and the runtime admin overrides
// of the nodes (saved at once on every admin change; restored at start unless the file changed that
// setting since).
#pragma once

#include <event2/event.h>

#include <string>

#include "director/base/event_util.h"
#include "director/nodes/node_table.h"
#include "sticky/sticky_table.h"
#include "sticky/user_table.h"

namespace tsd::director {

class StickyStore {
 public:
  using Clock = sticky::StickyTable::Clock;

  explicit StickyStore(event_base* base);
  // Sets the file (state_dir/sticky.state) and starts the batched saves.
  void start(const std::string& state_dir);
  void setLimits(const conf::StickyConfig& cfg) {
    table_.setLimits(cfg.capacity, cfg.ttl);
    users_.setCapacity(cfg.capacity);
  }
  // Learned pairs unseen for this long are forgotten (a laptop's old addresses).
  static constexpr auto kLearnedMaxAge = std::chrono::hours(24 * 30);
  // Reads the file back; nodes not in `nodes` are dropped, the others tagged with their id.
  void load(NodeTable& nodes);
  // Saves now if anything changed since the last save (also on shutdown).
  void save();
  void markDirty() { dirty_ = true; }
  // Admin overrides (tsdirectorctl drain/maint/weight): written now; read back at start.
  void saveAdmin(const NodeTable& nodes);
  void loadAdmin(NodeTable& nodes);
  void stop();

  sticky::StickyTable& table() { return table_; }
  const sticky::StickyTable& table() const { return table_; }
  sticky::UserTable& users() { return users_; }
  const sticky::UserTable& users() const { return users_; }

 private:
  event_base* base_;
  void saveUsers();
  void loadUsers();

  sticky::StickyTable table_;
  sticky::UserTable users_;
  std::string path_;
  std::string users_path_;
  std::string admin_path_;
  EventPtr timer_;
  bool dirty_ = false;
};

}  // namespace tsd::director
