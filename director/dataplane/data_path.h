// DataPath: chooses and builds the forwarder of each connected pair: the eBPF fast path when
// it is loaded, the user-space path otherwise (and after a demotion). Owns the fast path and
// the scratch buffer every user-space forwarder shares.
#pragma once

#include <event2/event.h>

#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "conf/result.h"
#include "director/dataplane/forwarder.h"
#include "director/dataplane/userspace_forwarder.h"

namespace tsd::director {

class FastPath;
class PromotionWheel;
struct PromotionOptions;

class DataPath {
 public:
  // fast_path auto: load it if the kernel and capabilities allow, otherwise warn and use
  // user space; ebpf: fail when it cannot be loaded; userspace: never load it.
  static Result<std::unique_ptr<DataPath>> create(event_base* base, conf::FastPath mode);
  ~DataPath();
  DataPath(const DataPath&) = delete;
  DataPath& operator=(const DataPath&) = delete;

  // Buffer size, idle timeout and demotion threshold for pairs started from now on (built once
  // here and shared by reference by every pair; pairs started before keep theirs). The
  // scratch buffer only grows (forwarders hold a pointer to it).
  void configure(const conf::DirectorConfig& cfg);
  size_t scratchSize() const { return scratch_.size(); }

  // `kernel` tells which path took the pair: true for the fast path, also when it starts in
  // user space and is promoted later (promote_after > 0). `slot`: where the caller keeps the
  // forwarder returned; a promotion puts the kernel forwarder there in its place.
  std::unique_ptr<Forwarder> start(int client_fd, int node_fd, Forwarder::Done done,
                                   std::unique_ptr<Forwarder>* slot, bool* kernel);
  std::unique_ptr<Forwarder> userspace(int client_fd, int node_fd, const HalfState& hs,
                                       Forwarder::Done done);

  bool fastPathActive() const { return fast_path_ != nullptr; }
  const std::string& fastPathError() const { return fast_path_error_; }
  FastPath* fastPath() { return fast_path_.get(); }
  // What the fast path did so far (zeros without it): pairs put in the maps, of which promoted
  // from user space later, and directions handed back to user space.
  struct FastPathCounts {
    uint64_t inserted = 0;
    uint64_t promoted = 0;
    uint64_t handed_back = 0;       // all for one reason so far: queue above demote_bytes
    uint64_t promotion_failed = 0;  // the kernel refused the pair (it stayed in user space)
    uint64_t miscount_resets = 0;   // pairs reset: the kernel counted more than was received
    uint64_t lost_resets = 0;       // pairs reset: received bytes the kernel lost at a hand-back
    uint64_t live_kernel = 0;       // live pairs in the maps (both directions or one)
    uint64_t live_handed_back = 0;  // ...of which one or both directions are in user space
    bool realigns = false;          // the stream parser realigns (loaded with CAP_PERFMON)
  };
  FastPathCounts fastPathCounts() const;
  // Messages that began inside an skb and the parser ended at its end (per-CPU BPF stats:
  // a few syscalls, so read for metrics only).
  uint64_t realignedMessages() const;

 private:
  explicit DataPath(event_base* base);

  event_base* base_;
  std::unique_ptr<FastPath> fast_path_;
  std::string fast_path_error_;
  std::vector<char> scratch_;
  std::shared_ptr<const UserspaceForwarder::Options> user_opts_;
  std::shared_ptr<const PromotionOptions> promo_opts_;  // null: promote at connect
  uint64_t demote_bytes_ = 4 << 20;
  std::unique_ptr<PromotionWheel> wheel_;  // with the fast path: one timer for every pair
};

}  // namespace tsd::director
