// FastPath: loads bpf/splice.bpf.c through its skeleton, attaches parser + verdict to the
// verdict sockhash, and manages the per-socket counter slots the forwarders read.
#include "director/dataplane/fast_path.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <string>

#include "conf/log.h"
#include "director/base/capabilities.h"
#include "director/dataplane/kernel_forwarder.h"
#include "splice.skel.h"

namespace tsd::director {
namespace {

// libbpf talks a lot (verifier logs); keep it at debug level.
int libbpfPrint(libbpf_print_level lvl, const char* fmt, va_list ap) {
  if (lvl == LIBBPF_DEBUG || !log::enabled(log::Level::kDebug)) return 0;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  LOG_DEBUG("libbpf: %s", line);
  return 0;
}

// Names what is missing, so an operator knows what to grant.
std::string capabilityHint() {
  std::string missing;
  if (!hasEffectiveCap(kCapBpf) && !hasEffectiveCap(kCapSysAdmin)) missing += " CAP_BPF";
  if (!hasEffectiveCap(kCapNetAdmin)) missing += " CAP_NET_ADMIN";
  std::string hint = " (needs CAP_BPF and CAP_NET_ADMIN";
  if (!missing.empty()) hint += "; missing:" + missing;
  return hint + ")";
}

Error loadError(const char* step, int err) {
  std::string msg = std::string("eBPF fast path unavailable: ") + step + ": " + strerror(err);
  if (err == EPERM || err == EACCES) msg += capabilityHint();
  return makeError(msg);
}

size_t countKeys(const bpf_map* map) {
  int fd = bpf_map__fd(map);
  uint64_t key = 0, next = 0;
  size_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    ++n;
    key = next;
    prev = &key;
  }
  return n;
}

}  // namespace

Result<std::unique_ptr<FastPath>> FastPath::load(uint32_t max_sockets) {
  static const bool quiet = (libbpf_set_print(libbpfPrint), true);
  (void)quiet;
  // With the stream parser's own message state (a kfunc and kernel memory reads, which the
  // verifier allows only with CAP_PERFMON) first; without it, the program of old.
  auto fp = open(max_sockets, /*realign=*/true);
  if (!fp.ok()) {
    LOG_DEBUG("fast path: realigning stream parser refused (%s); loading the plain one",
              fp.error().c_str());
    fp = open(max_sockets, /*realign=*/false);
    if (fp.ok()) {
      LOG_WARN(
          "eBPF fast path loaded without CAP_PERFMON: its stream parser cannot realign a "
          "message that begins inside a segment (docs/fast-path.md, \"The realigning parser\")");
    }
  }
  return fp;
}

Result<std::unique_ptr<FastPath>> FastPath::open(uint32_t max_sockets, bool realign) {
  std::unique_ptr<FastPath> fp(new FastPath());
  fp->max_sockets_ = max_sockets;
  fp->realigns_ = realign;
  fp->skel_ = tsd_splice__open();
  if (fp->skel_ == nullptr) return loadError("open", errno);
  fp->skel_->rodata->tsd_realign = realign ? 1 : 0;
  for (bpf_map* m : {fp->skel_->maps.tsd_verdict, fp->skel_->maps.tsd_targets,
                     fp->skel_->maps.tsd_slots, fp->skel_->maps.tsd_counters}) {
    if (int err = bpf_map__set_max_entries(m, max_sockets); err != 0) {
      return loadError("resize maps", -err);
    }
  }
  if (int err = tsd_splice__load(fp->skel_); err != 0) return loadError("load", -err);
  if (Status s = fp->attach(); !s.ok()) return makeError(s.error());
  if (Status s = fp->mapCounters(); !s.ok()) return makeError(s.error());
  for (uint32_t i = 0; i < max_sockets; ++i) fp->free_slots_.push_back(i);
  return fp;
}

// libbpf 1.1 has no auto-attach for sockmap programs: attach by hand (parser, then verdict).
Status FastPath::attach() {
  int map_fd = bpf_map__fd(skel_->maps.tsd_verdict);
  if (bpf_prog_attach(bpf_program__fd(skel_->progs.tsd_parser), map_fd, BPF_SK_SKB_STREAM_PARSER,
                      0) != 0) {
    return loadError("attach stream parser", errno);
  }
  if (bpf_prog_attach(bpf_program__fd(skel_->progs.tsd_splice), map_fd, BPF_SK_SKB_STREAM_VERDICT,
                      0) != 0) {
    return loadError("attach stream verdict", errno);
  }
  return {};
}

Status FastPath::mapCounters() {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t len = (sizeof(tsd_sock_counter) * max_sockets_ + page - 1) / page * page;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED,
                 bpf_map__fd(skel_->maps.tsd_counters), 0);
  if (p == MAP_FAILED) return loadError("mmap counters", errno);
  counters_ = static_cast<volatile tsd_sock_counter*>(p);
  counters_len_ = len;
  return {};
}

FastPath::~FastPath() {
  monitor_.reset();
  if (counters_ != nullptr) munmap(const_cast<tsd_sock_counter*>(counters_), counters_len_);
  // Destroying the skeleton closes the maps: the kernel detaches the programs with them.
  if (skel_ != nullptr) tsd_splice__destroy(skel_);
}

std::string_view FastPath::reasonName(uint32_t reason) {
  switch (reason) {
    case TSD_STAT_REDIRECTED:
      return "redirected";
    case TSD_STAT_NO_PEER:
      return "no_peer";
    case TSD_STAT_ZERO_LEN_DROPPED:
      return "zero_len_dropped";
    case TSD_STAT_NO_COUNTER:
      return "no_counter";
    case TSD_STAT_REALIGNED:
      return "realigned";

    default:
      return "unknown";
  }
}

Result<FastPathStats> FastPath::stats() const {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return makeError("fast path stats: cannot count CPUs");
  std::vector<tsd_stat> per_cpu(static_cast<size_t>(ncpu));
  FastPathStats out;
  int fd = bpf_map__fd(skel_->maps.tsd_stats);
  for (uint32_t r = 0; r < TSD_STAT_COUNT; ++r) {
    if (bpf_map_lookup_elem(fd, &r, per_cpu.data()) != 0) {
      return makeError(std::string("fast path stats: ") + strerror(errno));
    }
    for (const tsd_stat& s : per_cpu) {
      out.packets[r] += s.packets;
      out.bytes[r] += s.bytes;
    }
  }
  return out;
}

size_t FastPath::mapEntries() const {
  return countKeys(skel_->maps.tsd_verdict) + countKeys(skel_->maps.tsd_targets) +
         countKeys(skel_->maps.tsd_slots);
}

Result<FastPathSocket> FastPath::registerSocket(int fd) {
  FastPathSocket s;
  socklen_t len = sizeof s.cookie;
  if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &s.cookie, &len) != 0) {
    return makeError(std::string("SO_COOKIE: ") + strerror(errno));
  }
  if (free_slots_.empty()) return makeError("fast path full (no free counter slot)");
  s.slot = free_slots_.front();
  counters_[s.slot].redirected_bytes = 0;
  tsd_sock_slot v{s.slot, 0};
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.tsd_slots), &s.cookie, &v, BPF_NOEXIST) != 0) {
    return makeError(std::string("fast path slot map: ") + strerror(errno));
  }
  free_slots_.pop_front();
  return s;
}

void FastPath::unregisterSocket(const FastPathSocket& s) {
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.tsd_slots), &s.cookie);
  free_slots_.push_back(s.slot);
}

Status FastPath::insertTarget(uint64_t from, int to_fd) {
  uint64_t v = static_cast<uint64_t>(to_fd);
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.tsd_targets), &from, &v, BPF_NOEXIST) != 0) {
    return makeError(std::string("fast path target map: ") + strerror(errno));
  }
  return {};
}

Status FastPath::insertVerdict(uint64_t cookie, int fd) {
  uint64_t v = static_cast<uint64_t>(fd);
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.tsd_verdict), &cookie, &v, BPF_NOEXIST) != 0) {
    return makeError(std::string("fast path verdict map: ") + strerror(errno));
  }
  return {};
}

void FastPath::removeTarget(uint64_t from) {
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.tsd_targets), &from);
}

void FastPath::removeVerdict(uint64_t cookie) {
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.tsd_verdict), &cookie);
}

uint64_t FastPath::redirectedBytes(uint32_t slot) const { return counters_[slot].redirected_bytes; }

std::optional<uint32_t> FastPath::slotOf(uint64_t cookie) const {
  tsd_sock_slot v{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.tsd_slots), &cookie, &v) != 0) return {};
  return v.slot;
}

FastPathMonitor& FastPath::monitor(event_base* base) {
  if (!monitor_ || (monitor_->base() != base && monitor_->empty())) {
    monitor_ = std::make_unique<FastPathMonitor>(*this, base);
  }
  return *monitor_;
}

}  // namespace tsd::director
