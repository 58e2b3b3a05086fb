// The hand-over's message sequence; framing and fds are the channel's, bytes the codec's.
#include "director/control/takeover.h"

#include <unistd.h>

namespace tsd::director {
namespace {

using namespace protocol;

DirectionRecord toRecord(const DirectionState& d) {
  return {d.written, d.read, d.eof, d.shut, static_cast<uint32_t>(d.pending.size())};
}

Status sendPending(TakeoverChannel& ch, uint32_t index, int dir, const std::string& bytes) {
  for (size_t off = 0; off < bytes.size(); off += kMaxDataChunk) {
    PairData d{index, static_cast<uint8_t>(dir), bytes.substr(off, kMaxDataChunk)};
    if (Status s = ch.send(d); !s.ok()) return s;
  }
  return {};
}

// A batch's pair records, then their pending bytes (a record announces how many follow).
Status sendBatch(TakeoverChannel& ch, const HandOverExport& ex, size_t from, size_t to) {
  Pairs batch;
  std::vector<int> fds;
  for (size_t i = from; i < to; ++i) {
    const ExportedPair& p = ex.pairs[i];
    PairRecord r = p.record;
    r.index = static_cast<uint32_t>(i);
    for (int d = 0; d < 2; ++d) r.dirs[d] = toRecord(p.state.dirs[d]);
    batch.items.push_back(std::move(r));
    fds.push_back(p.client_fd);
    fds.push_back(p.node_fd);
  }
  if (Status s = ch.send(batch, fds); !s.ok()) return s;
  for (size_t i = from; i < to; ++i) {
    for (int d = 0; d < 2; ++d) {
      const std::string& b = ex.pairs[i].state.dirs[d].pending;
      if (Status s = sendPending(ch, static_cast<uint32_t>(i), d, b); !s.ok()) return s;
    }
  }
  return {};
}

// Records are small but strings are the client's (SNI up to 255 bytes): a batch is cut so its
// frame stays under the payload limit.
size_t batchEnd(const HandOverExport& ex, size_t from) {
  size_t bytes = 4, to = from;
  while (to < ex.pairs.size() && to - from < kPairsPerBatch) {
    const PairRecord& r = ex.pairs[to].record;
    size_t sz = 128 + r.service.size() + r.node.size() + r.peer.size() + r.identity.size() +
                r.sni.size() + r.reason.size();
    if (bytes + sz > kMaxFramePayload) break;
    bytes += sz;
    ++to;
  }
  return to;
}

}  // namespace

Status sendHello(TakeoverChannel& ch) {
  Hello h;
  h.pid = static_cast<uint32_t>(getpid());
  h.software = std::string("tsdirector ") + TSD_VERSION;
  return ch.send(h);
}

Result<Hello> receiveHello(TakeoverChannel& ch) {
  auto r = ch.receive();
  if (!r.ok()) return makeError(r.error());
  if (const auto* a = std::get_if<Ack>(&r->message)) {
    return makeError("the other process refused: " + a->message);
  }
  const auto* h = std::get_if<Hello>(&r->message);
  if (h == nullptr) return makeError("hand-over: expected a hello frame first");
  return *h;
}

Status sendExport(TakeoverChannel& ch, const HandOverExport& ex) {
  Listeners ls;
  std::vector<int> fds;
  for (const auto& l : ex.listeners) {
    ls.items.push_back({l.address});
    fds.push_back(l.fd);
  }
  if (ls.items.size() > kMaxFdsPerFrame) return makeError("hand-over: too many listeners");
  if (Status s = ch.send(ls, fds); !s.ok()) return s;
  for (size_t from = 0; from < ex.pairs.size();) {
    size_t to = batchEnd(ex, from);
    if (Status s = sendBatch(ch, ex, from, to); !s.ok()) return s;
    from = to;
  }
  End end{static_cast<uint32_t>(ex.listeners.size()), static_cast<uint32_t>(ex.pairs.size())};
  return ch.send(end);
}

namespace {

Status takePairs(Received& r, Adopted* out) {
  auto& batch = std::get<Pairs>(r.message);
  for (size_t i = 0; i < batch.items.size(); ++i) {
    PairRecord& rec = batch.items[i];
    if (rec.index != out->pairs.size()) return makeError("hand-over: pairs out of order");
    AdoptedPair p;
    p.client = std::move(r.fds[2 * i]);
    p.node = std::move(r.fds[2 * i + 1]);
    for (int d = 0; d < 2; ++d) {
      const DirectionRecord& dr = rec.dirs[d];
      if (dr.pending > 64u << 20) return makeError("hand-over: pending bytes over 64 MiB");
      p.state.dirs[d] = {dr.written, dr.read, dr.eof, dr.shut, {}};
      p.state.dirs[d].pending.reserve(dr.pending);
    }
    p.record = std::move(rec);
    out->pairs.push_back(std::move(p));
  }
  return {};
}

Status takeData(const PairData& d, Adopted* out) {
  if (d.index >= out->pairs.size()) return makeError("hand-over: data for an unknown pair");
  AdoptedPair& p = out->pairs[d.index];
  std::string& pending = p.state.dirs[d.dir].pending;
  if (pending.size() + d.bytes.size() > p.record.dirs[d.dir].pending) {
    return makeError("hand-over: more pending bytes than announced");
  }
  pending += d.bytes;
  return {};
}

}  // namespace

Result<Adopted> receiveAdopted(TakeoverChannel& ch) {
  Adopted out;
  for (;;) {
    auto r = ch.receive();
    if (!r.ok()) return makeError(r.error());
    if (auto* ls = std::get_if<Listeners>(&r->message)) {
      for (size_t i = 0; i < ls->items.size(); ++i) {
        out.listeners[ls->items[i].address] = std::move(r->fds[i]);
      }
    } else if (std::holds_alternative<Pairs>(r->message)) {
      if (Status s = takePairs(*r, &out); !s.ok()) return makeError(s.error());
    } else if (auto* d = std::get_if<PairData>(&r->message)) {
      if (Status s = takeData(*d, &out); !s.ok()) return makeError(s.error());
    } else if (auto* e = std::get_if<End>(&r->message)) {
      if (e->pairs != out.pairs.size() || e->listeners != out.listeners.size()) {
        return makeError("hand-over: end frame does not match what arrived");
      }
      for (const auto& p : out.pairs) {
        for (int d = 0; d < 2; ++d) {
          if (p.state.dirs[d].pending.size() != p.record.dirs[d].pending) {
            return makeError("hand-over: pending bytes missing");
          }
        }
      }
      return out;
    } else if (auto* a = std::get_if<Ack>(&r->message)) {
      return makeError("the running tsdirector gave up: " + a->message);
    } else {
      return makeError("hand-over: unexpected frame during the transfer");
    }
  }
}

}  // namespace tsd::director
