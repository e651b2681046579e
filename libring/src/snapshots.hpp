#pragma once

// Snapshots of ring children's state (private to libring).
//
// The node that runs a child (its owner) copies the child's state to the
// child's replicas, the first `replicas` members of the child's preference
// list on the placement ring, itself included. Each snapshot carries the
// placement epoch of the owner that took it and a sequence number within
// that placement, so the newest one is the highest (epoch, seq): a stale
// owner (paused, cut off) can never overwrite what its successor sent. When
// a node dies, the new owner starts each of its children from the newest
// snapshot among the survivors.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "ringvisor/actor/stateful_child.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// One copy of a child's state.
struct snapshot {
  /// The version of the child's record it was taken under (`good_for`).
  uint64_t record = 0;
  /// The placement epoch of the owner that took it.
  uint64_t epoch = 0;
  /// Within that placement: 0 is the state the child started with.
  uint64_t seq = 0;
  /// Wall-clock microseconds on the owner when it took it.
  uint64_t taken_us = 0;
  /// False if the child started without state and took none since.
  bool has_state = false;
  actor::bytes state;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot& x) {
  return f(caf::meta::type_name("ringvisor::snapshot"), x.record, x.epoch, x.seq,
           x.taken_us, x.has_state, x.state);
}

/// Whether `x` was taken after `y`. (Placements of a child started again
/// under a newer record have later epochs too: epochs are hybrid logical
/// clocks.)
inline bool newer(const snapshot& x, const snapshot& y) {
  return std::tie(x.epoch, x.seq) > std::tie(y.epoch, y.seq);
}

/// Whether `x` may restore a child whose record has `version`: a snapshot
/// of an older record (the child was deleted and started again, or
/// terminated and restarted) may not. A newer or equal one may: children
/// read from a store after a full restart have version 0.
inline bool good_for(const snapshot& x, uint64_t version) {
  return x.record >= version;
}

/// A snapshot of the child `id`, as owners send them to replicas.
struct snapshot_entry {
  std::string id;
  snapshot snap;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot_entry& x) {
  return f(caf::meta::type_name("ringvisor::snapshot_entry"), x.id, x.snap);
}

/// Keeps in `best` the newest of its own snapshots and those of `xs`, by id.
inline void keep_newest(std::unordered_map<std::string, snapshot>& best,
                        std::vector<snapshot_entry>& xs) {
  for (auto& x : xs) {
    auto [i, added] = best.try_emplace(x.id);
    if (added || newer(x.snap, i->second))
      i->second = std::move(x.snap);
  }
}

/// Splits `xs` into pieces of at most `n`.
template <class T>
std::vector<std::vector<T>> chunked(std::vector<T> xs, size_t n) {
  std::vector<std::vector<T>> result;
  if (xs.size() <= n) {
    result.push_back(std::move(xs));
    return result;
  }
  for (size_t i = 0; i < xs.size(); i += n) {
    auto first = xs.begin() + static_cast<std::ptrdiff_t>(i);
    auto last = xs.begin() + static_cast<std::ptrdiff_t>(std::min(xs.size(), i + n));
    result.emplace_back(std::make_move_iterator(first), std::make_move_iterator(last));
  }
  return result;
}

/// The newest snapshot this node holds of each child it is a replica of.
class snapshot_table {
public:
  /// Keeps `x` as the snapshot of `id` if it is newer than the one held;
  /// returns whether it did.
  bool apply(const std::string& id, snapshot x) {
    auto [i, added] = table_.try_emplace(id);
    if (!added && !newer(x, i->second))
      return false;
    bytes_ += x.state.size();
    bytes_ -= added ? 0 : i->second.state.size();
    i->second = std::move(x);
    return true;
  }

  /// Returns the snapshot of `id`, or null.
  const snapshot* find(const std::string& id) const {
    auto i = table_.find(id);
    return i != table_.end() ? &i->second : nullptr;
  }

  /// Forgets the snapshot of `id` (the child is deleted or terminated).
  void erase(const std::string& id) {
    if (auto i = table_.find(id); i != table_.end()) {
      bytes_ -= i->second.state.size();
      table_.erase(i);
    }
  }

  /// Forgets every snapshot whose id `keep` refuses; returns how many.
  template <class Predicate>
  size_t retain(Predicate keep) {
    size_t dropped = 0;
    for (auto i = table_.begin(); i != table_.end();) {
      if (keep(i->first)) {
        ++i;
        continue;
      }
      bytes_ -= i->second.state.size();
      i = table_.erase(i);
      ++dropped;
    }
    return dropped;
  }

  /// Calls `f(id, snapshot)` for each snapshot held.
  template <class F>
  void for_each(F f) const {
    for (auto& [id, x] : table_)
      f(id, x);
  }

  /// Returns the snapshots held of `ids`.
  std::vector<snapshot_entry> select(const std::vector<std::string>& ids) const {
    std::vector<snapshot_entry> result;
    for (auto& id : ids)
      if (auto x = find(id))
        result.push_back(snapshot_entry{id, *x});
    return result;
  }

  size_t size() const noexcept {
    return table_.size();
  }

  /// The state bytes held, summed.
  size_t state_bytes() const noexcept {
    return bytes_;
  }

private:
  std::unordered_map<std::string, snapshot> table_;
  size_t bytes_ = 0;
};

/// When the children that snapshot at intervals are due next. Entries carry
/// the start generation of the child they were made for, so that an entry
/// of a child that stopped or moved meanwhile is recognized as stale.
class snapshot_clock {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Makes `id` (start generation `gen`) due at `at`.
  void schedule(std::string id, uint64_t gen, time_point at) {
    queue_.push(entry{at, gen, std::move(id)});
  }

  /// Calls `fn(id, gen)` for every entry due at `now`, earliest first, and
  /// forgets them.
  template <class F>
  void pop_due(time_point now, F fn) {
    while (!queue_.empty() && queue_.top().at <= now) {
      auto x = queue_.top();
      queue_.pop();
      fn(x.id, x.gen);
    }
  }

  /// Returns when the earliest entry is due, if any.
  std::optional<time_point> next() const {
    if (queue_.empty())
      return std::nullopt;
    return queue_.top().at;
  }

  size_t size() const noexcept {
    return queue_.size();
  }

  void clear() {
    queue_ = {};
  }

private:
  struct entry {
    time_point at;
    uint64_t gen;
    std::string id;

    bool operator>(const entry& other) const {
      return at > other.at;
    }
  };

  std::priority_queue<entry, std::vector<entry>, std::greater<entry>> queue_;
};

} // namespace ringvisor::ring
