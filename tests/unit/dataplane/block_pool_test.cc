// BlockPool: fixed-size blocks from aligned slabs; an empty slab goes back to the kernel.
#include "director/base/block_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

namespace tsd::director {
namespace {

TEST(BlockPoolTest, BlocksAreDistinctAlignedAndWritable) {
  BlockPool pool(232);
  EXPECT_EQ(pool.blockSize(), 240u);  // rounded to 16
  std::set<void*> seen;
  std::vector<void*> blocks;
  for (size_t i = 0; i < 3 * pool.blocksPerSlab() + 5; ++i) {
    void* b = pool.allocate();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 16, 0u);
    EXPECT_TRUE(seen.insert(b).second);
    std::memset(b, static_cast<int>(i), pool.blockSize());
    blocks.push_back(b);
  }
  // Nothing overlaps: every block still holds its own byte.
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto* p = static_cast<const unsigned char*>(blocks[i]);
    EXPECT_EQ(p[0], static_cast<unsigned char>(i));
    EXPECT_EQ(p[pool.blockSize() - 1], static_cast<unsigned char>(i));
  }
  EXPECT_EQ(pool.live(), blocks.size());
  EXPECT_EQ(pool.slabs(), 4u);
  for (void* b : blocks) BlockPool::deallocate(b);
  EXPECT_EQ(pool.live(), 0u);
  EXPECT_EQ(pool.slabs(), 1u);  // the spare; the rest were unmapped
}

TEST(BlockPoolTest, AFreedBlockIsReusedBeforeANewSlab) {
  BlockPool pool(100);
  std::vector<void*> blocks;
  for (size_t i = 0; i < pool.blocksPerSlab(); ++i) blocks.push_back(pool.allocate());
  EXPECT_EQ(pool.slabs(), 1u);
  BlockPool::deallocate(blocks[7]);
  void* again = pool.allocate();
  EXPECT_EQ(again, blocks[7]);
  EXPECT_EQ(pool.slabs(), 1u);
  for (void* b : blocks) BlockPool::deallocate(b);
}

// A burst: many blocks, then all but a few scattered ones freed. Only the slabs that still
// hold a live block (and one spare) stay mapped.
TEST(BlockPoolTest, ABurstGivesBackEverySlabItNoLongerUses) {
  BlockPool pool(512);
  const size_t per = pool.blocksPerSlab();
  std::vector<void*> blocks;
  for (size_t i = 0; i < 10 * per; ++i) blocks.push_back(pool.allocate());
  EXPECT_EQ(pool.slabs(), 10u);
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i % (4 * per) != 0) BlockPool::deallocate(blocks[i]);  // slabs 0, 4 and 8 keep one
  }
  EXPECT_EQ(pool.live(), 3u);
  EXPECT_EQ(pool.slabs(), 4u);
  // The partly used slabs serve new blocks first.
  void* b = pool.allocate();
  EXPECT_EQ(pool.slabs(), 4u);
  BlockPool::deallocate(b);
  for (size_t i = 0; i < blocks.size(); i += 4 * per) BlockPool::deallocate(blocks[i]);
  EXPECT_EQ(pool.slabs(), 1u);
}

struct Pooled {
  static void* operator new(size_t n) { return pooledNew<Pooled>(n); }
  static void operator delete(void* p, size_t n) { pooledDelete<Pooled>(p, n); }
  virtual ~Pooled() = default;
  char payload[200] = {};
};
struct Bigger : Pooled {
  char more[100] = {};
};

TEST(BlockPoolTest, ClassOperatorsUseThePoolForTheirOwnTypeOnly) {
  BlockPool& pool = BlockPool::local<Pooled>();
  size_t before = pool.live();
  Pooled* a = new Pooled;
  EXPECT_EQ(pool.live(), kPoolBypass ? before : before + 1);
  Pooled* b = new Bigger;  // not the pool's size: the heap
  EXPECT_EQ(pool.live(), kPoolBypass ? before : before + 1);
  delete b;  // through the base: the deleting destructor passes Bigger's size
  delete a;
  EXPECT_EQ(pool.live(), before);
}

}  // namespace
}  // namespace tsd::director
