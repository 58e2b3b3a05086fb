// IntrusiveList: a doubly linked list threaded through two pointer members of its elements, so
// joining and leaving cost no allocation (the promotion wheel's slots, the fast-path monitor's
// pairs, a block pool's partly used slabs). It owns nothing and knows nothing of membership:
// the caller unlinks an element only from the list it is in.
#pragma once

namespace tsd::director {

template <typename T, T* T::*Prev, T* T::*Next>
class IntrusiveList {
 public:
  T* front() const { return head_; }
  bool empty() const { return head_ == nullptr; }
  static T* next(const T* x) { return x->*Next; }

  void pushFront(T* x) {
    x->*Prev = nullptr;
    x->*Next = head_;
    if (head_ != nullptr) head_->*Prev = x;
    head_ = x;
  }

  void unlink(T* x) {
    if (x->*Prev != nullptr) {
      (x->*Prev)->*Next = x->*Next;
    } else {
      head_ = x->*Next;
    }
    if (x->*Next != nullptr) (x->*Next)->*Prev = x->*Prev;
    x->*Prev = x->*Next = nullptr;
  }

  // Forgets every element (their links are left as they are).
  void clear() { head_ = nullptr; }

 private:
  T* head_ = nullptr;
};

}  // namespace tsd::director
