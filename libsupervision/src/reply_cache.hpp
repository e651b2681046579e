#pragma once

// Exactly-once answers for one ring child (private to libsupervision): the
// requests it is answering now and the replies it gave last, by request id.
// A client retries a `call` or `exec` with the same id when an owner moved
// or did not answer in time; the retry must get the first run's reply, not
// run the child's code a second time. The replies move with the child in a
// handoff. Plain code: `Waiter` is whatever answers a caller (a CAF response
// promise in the ring manager, anything in tests).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ring_wire.hpp"

namespace ringvisor::supervision {

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
    recent_.push_back(recent_reply{id, std::move(reply), std::move(err)});
    if (recent_.size() > capacity)
      recent_.pop_front();
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
    return {recent_.begin(), recent_.end()};
  }

  /// Takes the replies of the previous owner.
  void restore(const std::vector<recent_reply>& xs) {
    recent_.assign(xs.begin(), xs.end());
    while (recent_.size() > capacity)
      recent_.pop_front();
  }

private:
  std::deque<recent_reply> recent_;
  std::unordered_map<uint64_t, std::vector<Waiter>> in_flight_;
};

} // namespace ringvisor::supervision
