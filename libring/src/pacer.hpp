#pragma once

// Bounded parallelism for the ring manager (private to libring): at
// most `limit` keys (children starting, children moving) are active at
// once; more wait in arrival order, each key once. A burst of 30k spawns or
// state requests would starve the scheduler, and the failure detector with
// it. Plain code: the caller decides whether a key is still worth running
// when its turn comes, and tells the pacer when it is done.

#include "supervision_names.hpp"
#include <cstddef>
#include <deque>
#include <optional>
#include <set>

namespace ringvisor::ring {

template <class Key>
class pacer {
public:
  explicit pacer(size_t limit) : limit_(limit) {
    // nop
  }

  /// Returns whether `k` may go now: it is active already, or there is room
  /// and it becomes active. Else it waits its turn (once, however often it
  /// asks) and comes out of `next`.
  bool admit(const Key& k) {
    if (active_.count(k) > 0)
      return true;
    if (active_.size() < limit_) {
      active_.insert(k);
      return true;
    }
    enqueue(k);
    return false;
  }

  /// Puts `k` behind the waiting keys (once).
  void enqueue(const Key& k) {
    if (queued_.insert(k).second)
      waiting_.push_back(k);
  }

  /// Returns the next waiting key, now active, if there is room (a key that
  /// became active meanwhile through `admit` is passed over).
  std::optional<Key> next() {
    while (active_.size() < limit_ && !waiting_.empty()) {
      auto k = std::move(waiting_.front());
      waiting_.pop_front();
      queued_.erase(k);
      if (active_.insert(k).second)
        return k;
    }
    return std::nullopt;
  }

  /// `k` is no longer active; returns whether it was.
  bool finish(const Key& k) {
    return active_.erase(k) > 0;
  }

  /// Forgets every key, active or waiting.
  void clear() {
    active_.clear();
    waiting_.clear();
    queued_.clear();
  }

  size_t active() const noexcept {
    return active_.size();
  }

  size_t waiting() const noexcept {
    return waiting_.size();
  }

private:
  size_t limit_;
  std::set<Key> active_;
  std::deque<Key> waiting_;
  std::set<Key> queued_;
};

} // namespace ringvisor::ring
