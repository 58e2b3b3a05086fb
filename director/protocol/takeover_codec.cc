// Little-endian fixed-width fields and u32-length strings; every decode is bounds-checked.
#include "director/protocol/takeover_codec.h"

#include <cstring>

namespace tsd::protocol {
namespace {

constexpr size_t kMaxItems = 4096;  // per Listeners/Pairs frame; also bounded by the fd limit

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { fixed(v, 2); }
  void u32(uint32_t v) { fixed(v, 4); }
  void u64(uint64_t v) { fixed(v, 8); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

 private:
  void fixed(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(uint8_t* v) {
    uint64_t x;
    if (!fixed(&x, 1)) return false;
    *v = static_cast<uint8_t>(x);
    return true;
  }
  bool flag(bool* v) {
    uint8_t x;
    if (!u8(&x) || x > 1) return fail();
    *v = x == 1;
    return true;
  }
  bool u16(uint16_t* v) {
    uint64_t x;
    if (!fixed(&x, 2)) return false;
    *v = static_cast<uint16_t>(x);
    return true;
  }
  bool u32(uint32_t* v) {
    uint64_t x;
    if (!fixed(&x, 4)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool u64(uint64_t* v) { return fixed(v, 8); }
  bool str(std::string* s) {
    uint32_t n;
    if (!u32(&n) || n > in_.size() - pos_) return fail();
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool atEnd() const { return ok_ && pos_ == in_.size(); }
  bool ok() const { return ok_; }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  bool fixed(uint64_t* v, int n) {
    if (!ok_ || in_.size() - pos_ < static_cast<size_t>(n)) return fail();
    uint64_t x = 0;
    for (int i = 0; i < n; ++i)
      x |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += n;
    *v = x;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void put(Writer& w, const Hello& m) {
  w.u16(m.version);
  w.u32(m.pid);
  w.str(m.software);
}
void put(Writer& w, const Listeners& m) {
  w.u32(static_cast<uint32_t>(m.items.size()));
  for (const auto& l : m.items) w.str(l.address);
}
void put(Writer& w, const DirectionRecord& d) {
  w.u64(d.written);
  w.u64(d.read);
  w.u8(d.eof);
  w.u8(d.shut);
  w.u32(d.pending);
}
void put(Writer& w, const Pairs& m) {
  w.u32(static_cast<uint32_t>(m.items.size()));
  for (const auto& p : m.items) {
    w.u32(p.index);
    for (const std::string* s : {&p.service, &p.node, &p.peer, &p.identity, &p.sni, &p.reason}) {
      w.str(*s);
    }
    w.u8(p.ambiguous);
    w.u8(p.sticky_replaced);
    w.u8(p.sticky_open);
    w.u64(static_cast<uint64_t>(p.started_unix_ms));
    w.u8(p.attempts);
    put(w, p.dirs[0]);
    put(w, p.dirs[1]);
  }
}
void put(Writer& w, const PairData& m) {
  w.u32(m.index);
  w.u8(m.dir);
  w.str(m.bytes);
}
void put(Writer& w, const End& m) {
  w.u32(m.listeners);
  w.u32(m.pairs);
}
void put(Writer& w, const Ack& m) {
  w.u8(m.ok);
  w.str(m.message);
}
void put(Writer&, const Done&) {}

bool get(Reader& r, Hello* m) {
  return r.u16(&m->version) && r.u32(&m->pid) && r.str(&m->software);
}
bool get(Reader& r, Listeners* m) {
  uint32_t n;
  if (!r.u32(&n) || n > kMaxItems) return false;
  m->items.resize(n);
  for (auto& l : m->items) {
    if (!r.str(&l.address)) return false;
  }
  return true;
}
bool get(Reader& r, DirectionRecord* d) {
  return r.u64(&d->written) && r.u64(&d->read) && r.flag(&d->eof) && r.flag(&d->shut) &&
         r.u32(&d->pending);
}
bool get(Reader& r, Pairs* m) {
  uint32_t n;
  if (!r.u32(&n) || n > kMaxItems) return false;
  m->items.resize(n);
  for (auto& p : m->items) {
    if (!r.u32(&p.index)) return false;
    for (std::string* s : {&p.service, &p.node, &p.peer, &p.identity, &p.sni, &p.reason}) {
      if (!r.str(s)) return false;
    }
    uint64_t started;
    if (!r.flag(&p.ambiguous) || !r.flag(&p.sticky_replaced) || !r.flag(&p.sticky_open) ||
        !r.u64(&started) || !r.u8(&p.attempts) || !get(r, &p.dirs[0]) || !get(r, &p.dirs[1])) {
      return false;
    }
    p.started_unix_ms = static_cast<int64_t>(started);
  }
  return true;
}
bool get(Reader& r, PairData* m) {
  return r.u32(&m->index) && r.u8(&m->dir) && m->dir < 2 && r.str(&m->bytes) &&
         m->bytes.size() <= kMaxDataChunk;
}
bool get(Reader& r, End* m) { return r.u32(&m->listeners) && r.u32(&m->pairs); }
bool get(Reader& r, Ack* m) {
  uint8_t ok;
  if (!r.u8(&ok) || ok > 1) return false;
  m->ok = ok == 1;
  return r.str(&m->message);
}
bool get(Reader&, Done*) { return true; }

template <typename T>
Result<Message> decodeAs(std::string_view payload, const char* name) {
  T m;
  Reader r(payload);
  if (!get(r, &m) || !r.atEnd()) {
    return makeError(std::string("hand-over: malformed ") + name + " frame");
  }
  return Message(std::move(m));
}

}  // namespace

size_t fdCount(const Message& m) {
  if (const auto* l = std::get_if<Listeners>(&m)) return l->items.size();
  if (const auto* p = std::get_if<Pairs>(&m)) return 2 * p->items.size();
  return 0;
}

Result<std::string> encodeFrame(const Message& m) {
  Writer body;
  std::visit([&](const auto& v) { put(body, v); }, m);
  std::string payload = body.take();
  if (payload.size() > kMaxFramePayload) {
    return makeError("hand-over: frame of " + std::to_string(payload.size()) + " bytes is over " +
                     std::to_string(kMaxFramePayload));
  }
  if (fdCount(m) > kMaxFdsPerFrame) return makeError("hand-over: too many fds in one frame");
  Writer head;
  head.u32(kTakeoverMagic);
  head.u16(kTakeoverVersion);
  head.u8(static_cast<uint8_t>(m.index() + 1));  // FrameType follows the variant's order
  head.u8(0);
  head.u32(static_cast<uint32_t>(payload.size()));
  return head.take() + payload;
}

Result<Message> decodeFrame(std::string_view frame) {
  Reader r(frame.substr(0, std::min(frame.size(), kFrameHeaderBytes)));
  uint32_t magic = 0, len = 0;
  uint16_t version = 0;
  uint8_t type = 0, zero = 0;
  if (!r.u32(&magic) || !r.u16(&version) || !r.u8(&type) || !r.u8(&zero) || !r.u32(&len)) {
    return makeError("hand-over: short frame (" + std::to_string(frame.size()) + " bytes)");
  }
  if (magic != kTakeoverMagic) return makeError("hand-over: not a hand-over frame (bad magic)");
  if (version != kTakeoverVersion) {
    return makeError("hand-over: format version " + std::to_string(version) +
                     " is not supported (this build speaks version " +
                     std::to_string(kTakeoverVersion) + ")");
  }
  if (zero != 0 || len != frame.size() - kFrameHeaderBytes || len > kMaxFramePayload) {
    return makeError("hand-over: frame length does not match its header");
  }
  std::string_view payload = frame.substr(kFrameHeaderBytes);
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
      return decodeAs<Hello>(payload, "hello");
    case FrameType::kListeners:
      return decodeAs<Listeners>(payload, "listeners");
    case FrameType::kPairs:
      return decodeAs<Pairs>(payload, "pairs");
    case FrameType::kPairData:
      return decodeAs<PairData>(payload, "pair data");
    case FrameType::kEnd:
      return decodeAs<End>(payload, "end");
    case FrameType::kAck:
      return decodeAs<Ack>(payload, "ack");
    case FrameType::kDone:
      return decodeAs<Done>(payload, "done");
  }
  return makeError("hand-over: unknown frame type " + std::to_string(type));
}

}  // namespace tsd::protocol
