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
}  // namespace tsd::director
#endif

namespace tsd::director {

DataPath::DataPath(event_base* base) : base_(base) {}
DataPath::~DataPath() = default;

Result<std::unique_ptr<DataPath>> DataPath::create(event_base* base, conf::FastPath mode) {
  std::unique_ptr<DataPath> dp(new DataPath(base));
  if (mode == conf::FastPath::kUserspace) return dp;
#ifdef TSD_HAVE_BPF
  auto fp = FastPath::load();
  if (fp.ok()) {
    dp->fast_path_ = std::move(fp).value();
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
    return {c.inserted, c.promoted, c.handed_back};
  }
#endif
  return {};
}

void DataPath::configure(const conf::DirectorConfig& cfg) {
  if (scratch_.size() < cfg.buffer_size) scratch_.resize(cfg.buffer_size);
  buffer_size_ = static_cast<uint32_t>(std::min<size_t>(cfg.buffer_size, scratch_.size()));
  idle_timeout_ = cfg.idle_timeout;
  demote_bytes_ = cfg.demote_bytes;
  promote_after_ = cfg.promote_after;
}

std::unique_ptr<Forwarder> DataPath::start(int client_fd, int node_fd, Forwarder::Done done,
                                           bool* kernel) {
  *kernel = false;
#ifdef TSD_HAVE_BPF
  if (fast_path_) {
    KernelForwarder::Options o;
    o.demote_bytes = demote_bytes_;
    o.buffer_size = buffer_size_;
    o.scratch = &scratch_;
    if (promote_after_.count() > 0) {
      UserspaceForwarder::Options u;
      u.buffer_size = buffer_size_;
      u.idle_timeout = idle_timeout_;
      u.scratch = &scratch_;
      PromotionRules rules;
      rules.min_age_ms = static_cast<uint64_t>(promote_after_.count());
      *kernel = true;
      return std::make_unique<PromotingForwarder>(*fast_path_, base_, client_fd, node_fd, u, o,
                                                  rules, std::move(done));
    }
    auto kf = KernelForwarder::start(*fast_path_, base_, client_fd, node_fd, o, done);
    if (kf.ok()) {
      *kernel = true;
      return std::move(kf).value();
    }
    LOG_WARN("fast path hand-off failed, using user space: %s", kf.error().c_str());
  }
#endif
  return userspace(client_fd, node_fd, HalfState{}, std::move(done));
}

std::unique_ptr<Forwarder> DataPath::userspace(int client_fd, int node_fd, const HalfState& hs,
                                               Forwarder::Done done) {
  UserspaceForwarder::Options o;
  o.buffer_size = buffer_size_;
  o.idle_timeout = idle_timeout_;
  o.scratch = &scratch_;
  return std::make_unique<UserspaceForwarder>(base_, client_fd, node_fd, o, hs, std::move(done));
}

}  // namespace tsd::director
