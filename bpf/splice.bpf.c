/* splice: the sockmap fast path. Every skb a paired socket receives is redirected to the
 * egress of its peer, found in tsd_targets under the receiving socket's own cookie. */
/* vmlinux.h first: it defines the kernel types bpf_helpers.h and tsd_abi.h use. */
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tsd_abi.h"
// clang-format on

char LICENSE[] SEC("license") = "GPL";

/* Sockets with the parser + verdict programs attached (inserted after tsd_targets). */
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, TSD_DEFAULT_SOCKETS);
  __type(key, __u64);
  __type(value, __u64);
} tsd_verdict SEC(".maps");

/* Program-less redirect targets: key = cookie of the SENDING socket, value = its peer. Keying
 * by the sender saves the program a cookie -> peer lookup. */
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, TSD_DEFAULT_SOCKETS);
  __type(key, __u64);
  __type(value, __u64);
} tsd_targets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, TSD_DEFAULT_SOCKETS);
  __type(key, __u64);
  __type(value, struct tsd_sock_slot);
} tsd_slots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, TSD_DEFAULT_SOCKETS);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct tsd_sock_counter);
} tsd_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, TSD_STAT_COUNT);
  __type(key, __u32);
  __type(value, struct tsd_stat);
} tsd_stats SEC(".maps");

/* Load-time switch: count per-reason stats (one extra map lookup per skb). */
const volatile __u8 tsd_count_stats = 1;

/* One map lookup per counter update: without CAP_PERFMON the verifier rejects the merged
 * updates clang makes of shared lookups. */
static __always_inline void count_stat(__u32 reason, __u32 len) {
  struct tsd_stat* s;

  if (!tsd_count_stats) return;
  s = bpf_map_lookup_elem(&tsd_stats, &reason);
  if (!s) return;
  s->packets += 1;
  s->bytes += len;
}

static __always_inline int add_redirected(__u32 slot, __u32 len) {
  struct tsd_sock_counter* c = bpf_map_lookup_elem(&tsd_counters, &slot);

  if (!c) return 0;
  c->redirected_bytes += len;
  return 1;
}

/* Each skb is one message: the parser exists only because parser + verdict, unlike
 * verdict-only attachment, does not stall on zero-window probes. */
SEC("sk_skb")
int tsd_parser(struct __sk_buff* skb) { return skb->len; }

SEC("sk_skb")
int tsd_splice(struct __sk_buff* skb) {
  __u32 len = skb->len;
  __u64 cookie;
  struct tsd_sock_slot* slot;

  /* A FIN: redirecting it would give the peer EPIPE; dropping still makes recv() return 0. */
  if (len == 0) {
    count_stat(TSD_STAT_ZERO_LEN_DROPPED, 0);
    return SK_DROP;
  }
  cookie = bpf_get_socket_cookie(skb);
  slot = bpf_map_lookup_elem(&tsd_slots, &cookie);
  if (!slot) {
    count_stat(TSD_STAT_NO_COUNTER, len);
    return SK_PASS;
  }
  /* Count before the redirect takes effect, so the loader never sees the peer ahead of it. */
  if (bpf_sk_redirect_hash(skb, &tsd_targets, &cookie, 0) != SK_PASS) {
    count_stat(TSD_STAT_NO_PEER, len);
    return SK_PASS;
  }
  add_redirected(slot->slot, len);
  count_stat(TSD_STAT_REDIRECTED, len);
  return SK_PASS;
}
