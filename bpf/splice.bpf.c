/* splice: the sockmap fast path. Every skb a paired socket receives is redirected to the
 * egress of its peer, found in tsd_targets under the receiving socket's own cookie. */
/* vmlinux.h first: it defines the kernel types bpf_helpers.h and tsd_abi.h use. */
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
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

/* Load-time switch: read the stream parser's message state from the kernel's skb (needs
 * CAP_PERFMON when loading; the loader falls back to 0 when the verifier refuses). */
const volatile __u8 tsd_realign = 0;

extern void* bpf_cast_to_kern_ctx(void* ctx) __ksym __weak;

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

/* The stream parser's state of the message in skb (offset and length of the message inside
 * it); zeros unless tsd_realign. */
static __always_inline struct strp_msg message_of(struct __sk_buff* skb) {
  struct strp_msg m = {};

  if (tsd_realign) {
    struct sk_buff* k = bpf_cast_to_kern_ctx(skb);
    struct sk_skb_cb* cb = (struct sk_skb_cb*)k->cb;

    bpf_core_read(&m, sizeof m, &cb->strp.strp);
  }
  return m;
}

/* Each skb is one message: the parser exists only because parser + verdict, unlike
 * verdict-only attachment, does not stall on zero-window probes.
 *
 * A message starts at the first byte the socket has not consumed, which need not be its skb's
 * first byte: the skb's length then counts bytes before the message, and returning it would
 * make the message run into the next skb, every later one start inside an skb, and the verdict
 * count more than was sent (seen: 173,248 counted for 116,000 received, and the bytes of the
 * unfinished message were held). With tsd_realign the message is the rest of the skb, so the
 * stream is back on skb boundaries at once. */
SEC("sk_skb")
int tsd_parser(struct __sk_buff* skb) {
  __u32 len = skb->len;
  struct strp_msg m = message_of(skb);

  if (m.offset > 0 && (__u32)m.offset < len) {
    count_stat(TSD_STAT_REALIGNED, len - m.offset);
    return len - m.offset;
  }
  return len;
}

SEC("sk_skb")
int tsd_splice(struct __sk_buff* skb) {
  __u32 len = skb->len;
  struct strp_msg m = message_of(skb);
  __u64 cookie;
  struct tsd_sock_slot* slot;

  /* What the kernel sends on is the message, not the whole skb. */
  if (m.full_len > 0 && (__u32)m.full_len <= len) len = m.full_len;
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
