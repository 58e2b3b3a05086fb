// PromotingForwarder: a pair starts on the user-space path and is promoted to the eBPF fast
// path once it proved long-lived and interactive (shouldPromote), so short request/response
// connections never pay for the kernel hand-off. Promoted at most once: the KernelForwarder
// then takes this one's place in its owner's slot and this one is freed, so a promoted pair
// costs the kernel forwarder alone. Every pair of a DataPath shares one options object and one
// PromotionWheel (one timer for all of them).
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include "director/base/block_pool.h"
#include "director/base/event_util.h"
#include "director/base/intrusive_list.h"
#include "director/dataplane/forwarder.h"
#include "director/dataplane/handover.h"
#include "director/dataplane/kernel_forwarder.h"
#include "director/dataplane/userspace_forwarder.h"

namespace tsd::director {

class PromotingForwarder;
class PromotionWheel;

// What every pair started under one configuration shares (held by reference, not copied).
struct PromotionOptions {
  std::shared_ptr<const UserspaceForwarder::Options> user;
  KernelForwarder::Options kernel;
  PromotionRules rules;
};

class PromotingForwarder final : public Forwarder {
 public:
  // `slot`: where the owner keeps this forwarder. At the promotion the KernelForwarder is moved
  // in there, which frees this one; the owner's `done` goes with it.
  PromotingForwarder(PromotionWheel& wheel, int client_fd, int node_fd,
                     std::shared_ptr<const PromotionOptions> opts, Done done,
                     std::unique_ptr<Forwarder>* slot);
  ~PromotingForwarder() override;
  PromotingForwarder(const PromotingForwarder&) = delete;
  PromotingForwarder& operator=(const PromotingForwarder&) = delete;
  // From a pool, like the user-space forwarder it holds: both live only until the promotion.
  static void* operator new(size_t n) { return pooledNew<PromotingForwarder>(n); }
  static void operator delete(void* p, size_t n) { pooledDelete<PromotingForwarder>(p, n); }

  ForwardStats stats() const override;
  void abort() override;
  // Live hand-over (pair_state.cc): no promotion from now on; the part carrying the pair.
  void holdPromotion();
  UserspaceForwarder* userPart() { return user_.get(); }

 private:
  friend class PromotionWheel;

  // From the wheel: judge the last window; may promote (and leave the wheel: then this
  // forwarder is freed before it returns). retry: the second look of retrySoon().
  void check(bool retry = false);
  // Judge again on the loop's next turn, after it read what just arrived.
  void retrySoon();
  void leaveWheel();
  void promote();
  void onDone(ForwardEnd end, const ForwardStats& st, const HalfState& hs);

  PromotionWheel& wheel_;
  std::shared_ptr<const PromotionOptions> opts_;
  Done done_;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<UserspaceForwarder> user_;
  std::unique_ptr<Forwarder>* slot_owner_;  // the owner's slot (see the constructor)
  // The wheel's intrusive list.
  PromotingForwarder* prev_ = nullptr;
  PromotingForwarder* next_ = nullptr;
  int8_t slot_ = -1;  // -1: not in the wheel
  bool finished_ = false;
  bool last_window_bulk_ = false;  // the window judged last was not interactive
  EventPtr retry_ev_;              // made on the first retrySoon() only
};

// One timer for every pair waiting for promotion on an event_base. The pairs sit in kSlots
// intrusive lists; each tick (period / kSlots) checks one list, so each pair is judged once a
// period, on the window of activity since its last check, and a new pair is first judged
// between one period and one period plus a tick after it joined. The timer runs only while a
// pair waits; joining and leaving are pointer updates (no allocation, no timer per pair).
class PromotionWheel {
 public:
  static constexpr int kSlots = 4;

  PromotionWheel(event_base* base, FastPath& fp);
  ~PromotionWheel();
  PromotionWheel(const PromotionWheel&) = delete;
  PromotionWheel& operator=(const PromotionWheel&) = delete;

  // The period (promote_after) for checks from the next tick on.
  void setPeriod(std::chrono::milliseconds period);
  FastPath& fastPath() { return fp_; }
  event_base* base() const { return base_; }
  size_t waiting() const { return count_; }

  void join(PromotingForwarder* f);
  void leave(PromotingForwarder* f);

 private:
  static void onTick(evutil_socket_t, short, void* arg);
  void tick();

  event_base* base_;
  FastPath& fp_;
  EventPtr tick_ev_;
  timeval tick_tv_{};
  using Slot =
      IntrusiveList<PromotingForwarder, &PromotingForwarder::prev_, &PromotingForwarder::next_>;
  Slot slots_[kSlots];
  int cursor_ = 0;  // the slot the next tick checks
  size_t count_ = 0;
};

}  // namespace tsd::director
