// Export and adoption of a pair's state. The three forwarders are told apart here, so the
// forwarders themselves only expose small hooks (userPart, handBackAll, holdPromotion).
#include "director/dataplane/pair_state.h"

#include "director/dataplane/data_path.h"
#include "director/dataplane/userspace_forwarder.h"
#ifdef TSD_HAVE_BPF
#include "director/dataplane/kernel_forwarder.h"
#include "director/dataplane/promoting_forwarder.h"
#endif

namespace tsd::director {
namespace {

#ifdef TSD_HAVE_BPF
// The kernel part of a pair, if any (a promoted pair's forwarder is a KernelForwarder).
KernelForwarder* kernelPart(Forwarder& f) { return dynamic_cast<KernelForwarder*>(&f); }
#endif

UserspaceForwarder* userPart(Forwarder& f) {
  if (auto* u = dynamic_cast<UserspaceForwarder*>(&f)) return u;
#ifdef TSD_HAVE_BPF
  if (KernelForwarder* k = kernelPart(f)) return k->userPart();
  if (auto* p = dynamic_cast<PromotingForwarder*>(&f)) return p->userPart();
#endif
  return nullptr;
}

}  // namespace

void prepareExport(Forwarder& f) {
#ifdef TSD_HAVE_BPF
  if (auto* p = dynamic_cast<PromotingForwarder*>(&f)) p->holdPromotion();
  if (KernelForwarder* k = kernelPart(f)) k->handBackAll();
#else
  (void)f;
#endif
}

bool exportReady(Forwarder& f) {
#ifdef TSD_HAVE_BPF
  if (KernelForwarder* k = kernelPart(f)) {
    for (int dir = 0; dir < 2; ++dir) {
      auto m = k->mode(dir);
      if (m != DirectionHandover::Mode::kUser && m != DirectionHandover::Mode::kFinished) {
        return false;
      }
    }
  }
#endif
  UserspaceForwarder* u = userPart(f);
  return u != nullptr && u->exportable();
}

PairState exportPair(Forwarder& f) {
  PairState s;
  UserspaceForwarder* u = userPart(f);
  u->stop();
  ForwardStats total = f.stats();  // the kernel's share included
  for (int dir = 0; dir < 2; ++dir) u->exportDirection(dir, &s.dirs[dir]);
  // Counters: what the whole pair carried, so the new process continues the same totals.
  uint64_t kernel_up = total.up - s.dirs[0].written;
  uint64_t kernel_down = total.down - s.dirs[1].written;
  s.dirs[0].written += kernel_up;
  s.dirs[0].read += kernel_up;
  s.dirs[1].written += kernel_down;
  s.dirs[1].read += kernel_down;
  return s;
}

void resumePair(Forwarder& f) {
  if (UserspaceForwarder* u = userPart(f)) u->resume();
}

std::unique_ptr<Forwarder> adoptPair(DataPath& dp, int client_fd, int node_fd,
                                     const PairState& state, Forwarder::Done done) {
  // Both directions start held so nothing moves before every field is in place; the
  // constructor reports nothing synchronously.
  HalfState hs{state.dirs[0].shut, state.dirs[1].shut};
  std::unique_ptr<Forwarder> f = dp.userspace(client_fd, node_fd, hs, std::move(done));
  auto* u = static_cast<UserspaceForwarder*>(f.get());
  for (int dir = 0; dir < 2; ++dir) u->adoptDirection(dir, state.dirs[dir]);
  return f;
}

}  // namespace tsd::director
