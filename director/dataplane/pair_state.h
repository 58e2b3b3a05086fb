// PairState: what a forwarded pair holds, taken out of one process and put back in another for
// a live hand-over (tsdirector --takeover). Kernel (eBPF) pairs are moved to user space first,
// so the state is always the user-space one: per direction the bytes read but not yet
// written, EOF/FIN state and counters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "director/dataplane/forwarder.h"

namespace tsd::director {

class DataPath;

struct DirectionState {
  uint64_t written = 0;  // bytes written to the destination
  uint64_t read = 0;     // bytes read from the source
  bool eof = false;      // the source sent FIN (read 0)
  bool shut = false;     // ...passed on: the destination's write side is shut
  std::string pending;   // read, not yet written
};

struct PairState {
  DirectionState dirs[2];  // [0] client -> node, [1] node -> client
};

// Before a hand-over: every kernel direction starts its way back to user space, and no pair is
// promoted to the kernel any more (the pair stays in user space if the hand-over fails).
void prepareExport(Forwarder& f);
// True once every direction is carried by user space (or finished in the kernel) and none
// waits for the kernel's last bytes: exportPair may be called.
bool exportReady(Forwarder& f);
// Stops the pair (no read or write after this) and returns its state. Only when exportReady.
PairState exportPair(Forwarder& f);
// Undoes exportPair after a failed hand-over: the copy loop goes on where it stopped.
void resumePair(Forwarder& f);
// The process taking over: a user-space forwarder that continues `state` on the two fds.
std::unique_ptr<Forwarder> adoptPair(DataPath& dp, int client_fd, int node_fd,
                                     const PairState& state, Forwarder::Done done);

}  // namespace tsd::director
