// MinTree: a segment tree of scores by position that keeps each subtree's minimum, so the
// "least" schedulers find the lowest score, and the first position at or after a cursor that
// holds it, in O(log n), and change one position's score in O(log n).
#pragma once

#include <bit>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

namespace tsd::sched::detail {

// Score needs a strict weak order (operator<) without NaN-like values.
template <class Score>
class MinTree {
 public:
  static constexpr size_t kNone = std::numeric_limits<size_t>::max();

  // `n` positions, all `fill`; `fill` must rank after every real score (padding uses it too).
  MinTree(size_t n, Score fill)
      : n_(n), size_(std::bit_ceil(n > 0 ? n : size_t{1})), fill_(fill), t_(2 * size_, fill) {}

  size_t size() const { return n_; }
  const Score& min() const { return t_[1]; }
  const Score& at(size_t i) const { return t_[size_ + i]; }

  // Every position at once (scores.size() <= size()): O(n) instead of n updates.
  void assign(std::span<const Score> scores) {
    for (size_t i = 0; i < size_; ++i) t_[size_ + i] = i < scores.size() ? scores[i] : fill_;
    for (size_t i = size_ - 1; i >= 1; --i) t_[i] = lower(t_[2 * i], t_[2 * i + 1]);
  }

  void set(size_t i, const Score& v) {
    i += size_;
    t_[i] = v;
    for (i >>= 1; i >= 1; i >>= 1) {
      const Score m = lower(t_[2 * i], t_[2 * i + 1]);
      // An unchanged minimum leaves every ancestor unchanged too.
      if (!(m < t_[i]) && !(t_[i] < m)) return;
      t_[i] = m;
    }
  }

  // The first position >= from whose score is <= bound, or kNone; `bound` must rank before
  // `fill` (padding never matches). Climbs from `from` to the
  // first subtree to its right that holds such a score, then descends leftmost-first.
  size_t firstAtMost(size_t from, const Score& bound) const {
    if (from >= n_) return kNone;
    size_t i = size_ + from;
    for (;;) {
      if (!(bound < t_[i])) {
        while (i < size_) {
          i *= 2;
          if (bound < t_[i]) ++i;
        }
        return i - size_;
      }
      while (i & 1) i >>= 1;  // a right child: its parent's range ends where it ends
      if (i == 0) return kNone;
      ++i;  // the sibling to the right covers the next range
    }
  }

 private:
  static const Score& lower(const Score& a, const Score& b) { return b < a ? b : a; }

  size_t n_;
  size_t size_;  // leaves: a power of two >= n_
  Score fill_;
  std::vector<Score> t_;  // t_[1] is the root, leaves at [size_, 2 * size_)
};

}  // namespace tsd::sched::detail
