// BlockPool: fixed-size blocks carved from 64 KiB slabs mapped straight from the kernel. A
// slab whose blocks are all free again is unmapped at once (one empty slab is kept for reuse),
// so a burst of short-lived objects gives its memory back instead of leaving freed but
// resident holes between the long-lived ones in the heap. Used for what every pair holds only
// in its first promote_after (the user-space forwarder and the promoting wrapper): after a
// login storm the director's RSS falls back to what the live pairs need.
//
// One pool per thread and object type (BlockPool::local<T>()); a block is freed to the pool of
// the slab it came from. Not thread-safe: a block is freed on the thread that made it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "director/base/intrusive_list.h"

namespace tsd::director {

class BlockPool {
 public:
  static constexpr size_t kSlabBytes = 64 << 10;

  explicit BlockPool(size_t block_size);
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // Throws std::bad_alloc when the kernel has no memory, like operator new.
  void* allocate();
  static void deallocate(void* p);

  size_t blockSize() const { return block_; }
  size_t blocksPerSlab() const { return per_slab_; }
  size_t slabs() const { return slabs_; }  // mapped now, the kept empty one included
  size_t live() const { return live_; }    // blocks handed out and not freed

  // The calling thread's pool for objects of type T (never destroyed: an object may be freed
  // after the thread's other thread_locals are gone).
  template <typename T>
  static BlockPool& local() {
    thread_local BlockPool* pool = new BlockPool(sizeof(T));
    return *pool;
  }

 private:
  // At the start of each slab.
  struct Slab {
    BlockPool* pool;
    Slab* prev = nullptr;  // in partial_
    Slab* next = nullptr;
    void* free = nullptr;  // freed blocks, each holding the next
    uint32_t live = 0;
    uint32_t carved = 0;  // blocks ever handed out from the bump area
    bool in_partial = false;
  };
  Slab* mapSlab();
  void release(Slab* s);
  void unlink(Slab* s);
  void pushPartial(Slab* s);

  size_t block_;
  size_t per_slab_;
  IntrusiveList<Slab, &Slab::prev, &Slab::next> partial_;  // with a free block or room to carve
  Slab* spare_ = nullptr;                                  // one empty slab kept mapped
  size_t slabs_ = 0;
  size_t live_ = 0;
};

// Class-scope operator new/delete drawing from BlockPool::local<T>(). In class T:
//   static void* operator new(size_t n) { return pooledNew<T>(n); }
//   static void operator delete(void* p, size_t n) { pooledDelete<T>(p, n); }
// Under AddressSanitizer the heap is used instead: its use-after-free checks matter more for
// these objects (they are freed from their own timers) than the pool does.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kPoolBypass = true;
#else
inline constexpr bool kPoolBypass = false;
#endif

template <typename T>
void* pooledNew(size_t n) {
  if (kPoolBypass || n != sizeof(T)) return ::operator new(n);  // a derived type: not ours
  return BlockPool::local<T>().allocate();
}

template <typename T>
void pooledDelete(void* p, size_t n) {
  if (kPoolBypass || n != sizeof(T)) return ::operator delete(p);
  BlockPool::deallocate(p);
}

}  // namespace tsd::director
