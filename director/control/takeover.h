// The live hand-over's two halves as data, and their transfer over a TakeoverChannel: what the
// running director exports (listeners and forwarded pairs, fds still its own) and what the
// process taking over adopts (the same, fds now its own). docs/operations.md, "Hand-over".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "conf/result.h"
#include "director/base/unique_fd.h"
#include "director/control/takeover_channel.h"
#include "director/dataplane/pair_state.h"
#include "director/protocol/takeover_codec.h"

namespace tsd::director {

struct ExportedListener {
  std::string address;
  int fd = -1;  // still owned by the old process's Listener
};
struct ExportedPair {
  protocol::PairRecord record;
  int client_fd = -1;
  int node_fd = -1;
  PairState state;
};
struct HandOverExport {
  std::vector<ExportedListener> listeners;
  std::vector<ExportedPair> pairs;
};

struct AdoptedPair {
  protocol::PairRecord record;
  UniqueFd client;
  UniqueFd node;
  PairState state;
};
struct Adopted {
  std::map<std::string, UniqueFd> listeners;  // by address
  std::vector<AdoptedPair> pairs;
};

// Old side: Listeners, Pairs in batches (fds within the SCM_RIGHTS limit), their pending
// bytes, End. The fds stay open here until the new process acknowledges.
Status sendExport(TakeoverChannel& ch, const HandOverExport& ex);
// New side: reads until End and checks that everything announced arrived.
Result<Adopted> receiveAdopted(TakeoverChannel& ch);

// Both sides, first: exchange Hello frames (the version check is in the frame header).
Status sendHello(TakeoverChannel& ch);
Result<protocol::Hello> receiveHello(TakeoverChannel& ch);

}  // namespace tsd::director
