/* The one ABI shared by the BPF program (splice.bpf.c) and its loader (director/fast_path.cc):
 * map names, reason codes and value layouts. Fixed-width types, explicit padding, C only. */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Stats reason codes: the index into the tsd_stats per-CPU array. The numbering is stable
 * (metrics and dashboards key on it): append new codes, never renumber. */
enum tsd_stat_reason {
  TSD_STAT_REDIRECTED = 0,       /* skb redirected to the peer socket (the normal case) */
  TSD_STAT_NO_PEER = 1,          /* no peer in the target map: SK_PASS to the own queue */
  TSD_STAT_ZERO_LEN_DROPPED = 2, /* zero-length skb (a FIN): SK_DROP so the peer sees no EPIPE */
  TSD_STAT_NO_COUNTER = 3,       /* socket has no counter slot (loader bug): SK_PASS */
  TSD_STAT_REALIGNED = 4,        /* a message began inside its skb: the parser ended it there */
  TSD_STAT_COUNT = 5,
};

/* One entry of tsd_stats, per CPU. */
struct tsd_stat {
  __u64 packets;
  __u64 bytes;
};

/* tsd_slots value: the socket's index into tsd_counters. */
struct tsd_sock_slot {
  __u32 slot;
  __u32 pad;
};

/* tsd_counters value (mmapable array, read by the loader without a syscall). Written only by
 * the verdict program of the socket that owns the slot. */
struct tsd_sock_counter {
  __u64 redirected_bytes; /* bytes this socket received and redirected to its peer */
};

/* The maps (see splice.bpf.c; the skeleton names them): tsd_verdict (sockhash, cookie -> sock,
 * parser + verdict attached), tsd_targets (sockhash, sender cookie -> peer sock, no programs),
 * tsd_slots (hash, cookie -> struct tsd_sock_slot), tsd_counters (mmapable array, slot ->
 * struct tsd_sock_counter), tsd_stats (per-CPU array, reason -> struct tsd_stat). Per-socket
 * map sizes are defaults; the loader resizes them to its own capacity before loading. */
#define TSD_DEFAULT_SOCKETS 65536
