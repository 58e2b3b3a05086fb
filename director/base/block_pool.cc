// Slabs are aligned to their size, so a block finds its slab by masking its address; a slab's
// header sits at its start. Blocks are carved lazily (untouched pages stay unmapped).
#include "director/base/block_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace tsd::director {

namespace {
constexpr size_t kHeader = 64;  // the slab header, a cache line

char* blockAt(void* slab, size_t block, uint32_t i) {
  return static_cast<char*>(slab) + kHeader + block * i;
}
}  // namespace

BlockPool::BlockPool(size_t block_size)
    : block_(std::max<size_t>((block_size + 15) / 16 * 16, sizeof(void*))),
      per_slab_((kSlabBytes - kHeader) / block_) {
  static_assert(sizeof(Slab) <= kHeader, "the slab header must fit before the first block");
}

BlockPool::~BlockPool() {
  // Slabs with live blocks stay mapped (their objects may outlive a thread's pool at exit);
  // the empty one goes.
  if (spare_ != nullptr) munmap(spare_, kSlabBytes);
}

BlockPool::Slab* BlockPool::mapSlab() {
  if (spare_ != nullptr) {
    Slab* s = spare_;
    spare_ = nullptr;
    return s;
  }
  // Twice the size, then the unaligned ends trimmed: an aligned slab.
  size_t len = 2 * kSlabBytes;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto base = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (base + kSlabBytes - 1) & ~(uintptr_t{kSlabBytes} - 1);
  if (aligned > base) munmap(p, aligned - base);
  uintptr_t end = base + len;
  if (end > aligned + kSlabBytes) {
    munmap(reinterpret_cast<void*>(aligned + kSlabBytes), end - aligned - kSlabBytes);
  }
  ++slabs_;
  return new (reinterpret_cast<void*>(aligned)) Slab{this};
}

void BlockPool::pushPartial(Slab* s) {
  partial_.pushFront(s);
  s->in_partial = true;
}

void BlockPool::unlink(Slab* s) {
  partial_.unlink(s);
  s->in_partial = false;
}

void* BlockPool::allocate() {
  if (partial_.empty()) pushPartial(mapSlab());
  Slab* s = partial_.front();
  void* b;
  if (s->free != nullptr) {
    b = s->free;
    s->free = *static_cast<void**>(b);
  } else {
    b = blockAt(s, block_, s->carved++);
  }
  ++s->live;
  ++live_;
  if (s->free == nullptr && s->carved == per_slab_) unlink(s);  // full
  return b;
}

void BlockPool::deallocate(void* p) {
  if (p == nullptr) return;
  auto* s = reinterpret_cast<Slab*>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t{kSlabBytes} - 1));
  BlockPool* pool = s->pool;
  *static_cast<void**>(p) = s->free;
  s->free = p;
  --s->live;
  --pool->live_;
  if (s->live == 0) return pool->release(s);
  if (!s->in_partial) pool->pushPartial(s);
}

// An empty slab: kept as the spare if there is none, else unmapped (its pages go back now).
void BlockPool::release(Slab* s) {
  if (s->in_partial) unlink(s);
  if (spare_ == nullptr) {
    Slab* fresh = new (s) Slab{this};  // carving restarts: freed pages are not touched again
    spare_ = fresh;
    madvise(reinterpret_cast<char*>(s) + 4096, kSlabBytes - 4096, MADV_DONTNEED);
    return;
  }
  --slabs_;
  munmap(s, kSlabBytes);
}

}  // namespace tsd::director
