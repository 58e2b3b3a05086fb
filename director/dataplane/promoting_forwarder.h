// PromotingForwarder: a pair starts on the user-space path and is promoted to the eBPF fast
// path once it proved long-lived and interactive (shouldPromote), so short request/response
// connections never pay for the kernel hand-off. Promoted at most once.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <memory>

#include "director/base/event_util.h"
#include "director/dataplane/forwarder.h"
#include "director/dataplane/handover.h"
#include "director/dataplane/kernel_forwarder.h"
#include "director/dataplane/userspace_forwarder.h"

namespace tsd::director {

class PromotingForwarder final : public Forwarder {
 public:
  PromotingForwarder(FastPath& fp, event_base* base, int client_fd, int node_fd,
                     const UserspaceForwarder::Options& user,
                     const KernelForwarder::Options& kernel, const PromotionRules& rules,
                     Done done);
  ~PromotingForwarder() override;
  PromotingForwarder(const PromotingForwarder&) = delete;
  PromotingForwarder& operator=(const PromotingForwarder&) = delete;

  ForwardStats stats() const override;
  void abort() override;
  bool promoted() const { return kernel_ != nullptr; }
  // Live hand-over (pair_state.cc): no promotion from now on; the part carrying the pair.
  void holdPromotion();
  KernelForwarder* kernelPart() { return kernel_.get(); }
  UserspaceForwarder* userPart() { return kernel_ ? nullptr : user_.get(); }

 private:
  static void onCheck(evutil_socket_t, short, void* arg);
  void check();
  void startUser();
  void onDone(ForwardEnd end, const ForwardStats& st, const HalfState& hs);

  FastPath& fp_;
  event_base* base_;
  int fds_[2];
  UserspaceForwarder::Options user_opts_;
  KernelForwarder::Options kernel_opts_;
  PromotionRules rules_;
  Done done_;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<UserspaceForwarder> user_;
  std::unique_ptr<UserspaceForwarder> retired_user_;  // stopped at promotion, freed with us
  std::unique_ptr<KernelForwarder> kernel_;
  ForwardStats before_;  // bytes user space carried before the promotion
  EventPtr check_ev_;
  bool finished_ = false;
};

}  // namespace tsd::director
