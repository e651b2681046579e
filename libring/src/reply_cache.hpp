#pragma once

// Exactly-once answers for one ring child (private to libring): the
// requests it is answering now and the replies it gave last, by request id.
// A client retries a `call` or `exec` with the same id when an owner moved
// or did not answer in time; the retry must get the first run's reply, not
// run the child's code a second time. The replies move with the child in a
// handoff. Plain code: `Waiter` is whatever answers a caller (a CAF response
// promise in the ring manager, anything in tests).

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

template <class Waiter>
class reply_cache {
public:
  /// What became of a request given to `admit`.
  enum class verdict {
    answered, // a reply is cached: `cached` has it
    joined,   // the same request is running: its reply reaches this waiter too
    run,      // new: the caller runs it and calls `finish`
  };

  /// Replies kept (the oldest goes first).
  static constexpr size_t capacity = 64;

  /// Takes request `id` with the waiter that answers its caller.
  verdict admit(uint64_t id, Waiter w) {
    if (cached(id) != nullptr)
      return verdict::answered;
    auto [i, fresh] = in_flight_.try_emplace(id);
    i->second.push_back(std::move(w));
    return fresh ? verdict::run : verdict::joined;
  }

  /// Returns the cached reply to request `id`, or null.
  const recent_reply* cached(uint64_t id) const {
    for (auto& r : recent_)
      if (r.request == id)
        return &r;
    return nullptr;
  }

  /// Request `id` finished with `reply` (or `err`): returns the waiters to
  /// answer and remembers the reply; nothing if `id` was not running (its
  /// waiters were failed meanwhile).
  std::vector<Waiter> finish(uint64_t id, caf::message reply, caf::error err) {
    auto i = in_flight_.find(id);
    if (i == in_flight_.end())
      return {};
    auto waiters = std::move(i->second);
    in_flight_.erase(i);
    remember(recent_reply{id, std::move(reply), std::move(err)});
    return waiters;
  }

  /// Returns whether no request is running.
  bool idle() const noexcept {
    return in_flight_.empty();
  }

  /// Takes the waiters of every running request (to fail them); their
  /// replies, should they come, are dropped.
  std::vector<Waiter> take_waiters() {
    std::vector<Waiter> result;
    for (auto& [id, ws] : in_flight_)
      for (auto& w : ws)
        result.push_back(std::move(w));
    in_flight_.clear();
    return result;
  }

  /// The replies, oldest first, for the next owner.
  std::vector<recent_reply> replies() const {
    std::vector<recent_reply> result;
    result.reserve(recent_.size());
    for (size_t i = 0; i < recent_.size(); ++i)
      result.push_back(recent_[(oldest_ + i) % recent_.size()]);
    return result;
  }

  /// Takes the replies of the previous owner.
  void restore(const std::vector<recent_reply>& xs) {
    recent_.clear();
    oldest_ = 0;
    auto skip = xs.size() > capacity ? xs.size() - capacity : 0;
    for (auto i = xs.begin() + static_cast<std::ptrdiff_t>(skip); i != xs.end(); ++i)
      remember(*i);
  }

private:
  // Keeps `x`, replacing the oldest reply once `capacity` are kept.
  void remember(recent_reply x) {
    if (recent_.size() < capacity) {
      recent_.push_back(std::move(x));
      return;
    }
    recent_[oldest_] = std::move(x);
    oldest_ = (oldest_ + 1) % capacity;
  }

  // A ring of replies, the oldest at `oldest_`; a vector, not a deque: a
  // deque allocates half a kilobyte before its first element, and every
  // child running on a node has a cache.
  std::vector<recent_reply> recent_;
  size_t oldest_ = 0;
  std::unordered_map<uint64_t, std::vector<Waiter>> in_flight_;
};

} // namespace ringvisor::ring
