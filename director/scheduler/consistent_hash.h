// The lookup table behind algorithm = hash: Maglev's shape (a prime-sized table, each node's
// slot permutation drawn from two hashes of its name) with a fill that is stable under
// membership changes. Exposed for the golden tests and the benchmark.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tsd::sched {

struct HashNode {
  std::string_view name;
  double weight;  // > 0
};

// The smallest of 65537, 131071, 262139, 524287, 1048573 that is >= 100 x nodes (the last
// beyond 10,485 nodes). Crossing a step rebuilds the whole table (every key may move), as
// with any Maglev table whose size changes.
uint32_t hashTableSize(size_t nodes);

// slot -> index into `nodes`; `size` must be prime (> 2). Slot s goes to the node that ranks
// it best: node i ranks its k-th permutation slot with -ln(1 - k/size) / weight_i (ties: the
// lower index; callers sort by name). Because that rank depends only on the node itself, a
// node leaving frees exactly its own slots and a node joining takes slots only from others:
// no key ever moves between two nodes that stayed. Each node gets ~weight/total of the slots.
std::vector<uint32_t> buildHashTable(std::span<const HashNode> nodes, uint32_t size);

}  // namespace tsd::sched
