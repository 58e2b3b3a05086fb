// The choice between the two data paths, and the fallback from one to the other.
#include "director/dataplane/data_path.h"

#include "conf/log.h"
#include "director/dataplane/userspace_forwarder.h"
#ifdef TSD_HAVE_BPF
#include "director/dataplane/fast_path.h"
#include "director/dataplane/kernel_forwarder.h"
#include "director/dataplane/promoting_forwarder.h"
#else
namespace tsd::director {
class FastPath {};
class PromotionWheel {};
struct PromotionOptions {};
}  // namespace tsd::director
#endif

namespace tsd::director {

#ifdef TSD_HAVE_BPF
namespace {
KernelForwarder::Options kernelOptions(uint64_t demote_bytes,
                                       const UserspaceForwarder::Options& u) {
  KernelForwarder::Options o;
  o.demote_bytes = demote_bytes;
  o.buffer_size = u.buffer_size;
  o.scratch = u.scratch;
  return o;
}
}  // namespace
#endif

DataPath::DataPath(event_base* base) : base_(base) { configure(conf::DirectorConfig{}); }
DataPath::~DataPath() = default;

Result<std::unique_ptr<DataPath>> DataPath::create(event_base* base, conf::FastPath mode) {
  std::unique_ptr<DataPath> dp(new DataPath(base));
  if (mode == conf::FastPath::kUserspace) return dp;
#ifdef TSD_HAVE_BPF
  auto fp = FastPath::load();
  if (fp.ok()) {
    dp->fast_path_ = std::move(fp).value();
    dp->wheel_ = std::make_unique<PromotionWheel>(base, *dp->fast_path_);
    dp->configure(conf::DirectorConfig{});
    return dp;
  }
  dp->fast_path_error_ = fp.error();
#else
  dp->fast_path_error_ = "this build has no eBPF support (built with TSD_BPF=OFF)";
#endif
  if (mode == conf::FastPath::kEbpf) return makeError("fast_path = ebpf: " + dp->fast_path_error_);
  LOG_WARN("fast_path = auto: eBPF fast path unavailable, using the user-space path: %s",
           dp->fast_path_error_.c_str());
  return dp;
}

DataPath::FastPathCounts DataPath::fastPathCounts() const {
#ifdef TSD_HAVE_BPF
  if (fast_path_) {
    const auto& c = fast_path_->counts();
    FastPathCounts out{c.inserted,        c.promoted,    c.handed_back, c.promotion_failed,
                       c.miscount_resets, c.lost_resets, c.live_kernel, c.live_handed_back};
    out.realigns = fast_path_->realigns();
    return out;
  }
#endif
  return {};
}

uint64_t DataPath::realignedMessages() const {
#ifdef TSD_HAVE_BPF
  if (fast_path_) {
    if (auto st = fast_path_->stats(); st.ok()) return st->packets[TSD_STAT_REALIGNED];
  }
#endif
  return 0;
}

void DataPath::configure(const conf::DirectorConfig& cfg) {
  if (scratch_.size() < cfg.buffer_size) scratch_.resize(cfg.buffer_size);
  auto u = std::make_shared<UserspaceForwarder::Options>();
  u->buffer_size = static_cast<uint32_t>(std::min<size_t>(cfg.buffer_size, scratch_.size()));
  u->idle_timeout = cfg.idle_timeout;
  u->scratch = &scratch_;
  user_opts_ = std::move(u);
  demote_bytes_ = cfg.demote_bytes;
  promo_opts_ = nullptr;
#ifdef TSD_HAVE_BPF
  if (wheel_ && cfg.promote_after.count() > 0) {
    auto p = std::make_shared<PromotionOptions>();
    p->user = user_opts_;
    p->kernel = kernelOptions(demote_bytes_, *user_opts_);
    p->rules.min_age_ms = static_cast<uint64_t>(cfg.promote_after.count());
    promo_opts_ = std::move(p);
    wheel_->setPeriod(cfg.promote_after);
  }
#endif
}

std::unique_ptr<Forwarder> DataPath::start(int client_fd, int node_fd, Forwarder::Done done,
                                           std::unique_ptr<Forwarder>* slot, bool* kernel) {
  *kernel = false;
  (void)slot;  // used by the fast path only
#ifdef TSD_HAVE_BPF
  if (fast_path_) {
    *kernel = true;
    if (promo_opts_) {
      return std::make_unique<PromotingForwarder>(*wheel_, client_fd, node_fd, promo_opts_,
                                                  std::move(done), slot);
    }
    auto kf = KernelForwarder::start(*fast_path_, base_, client_fd, node_fd,
                                     kernelOptions(demote_bytes_, *user_opts_), done);
    if (kf.ok()) return std::move(kf).value();
    *kernel = false;
    LOG_WARN("fast path hand-off failed, using user space: %s", kf.error().c_str());
  }
#endif
  return userspace(client_fd, node_fd, HalfState{}, std::move(done));
}

std::unique_ptr<Forwarder> DataPath::userspace(int client_fd, int node_fd, const HalfState& hs,
                                               Forwarder::Done done) {
  return std::make_unique<UserspaceForwarder>(base_, client_fd, node_fd, user_opts_, hs,
                                              std::move(done));
}

}  // namespace tsd::director
