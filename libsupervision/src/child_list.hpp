#pragma once

// The child list of a ring supervisor (private to libsupervision): every
// child the cluster accepted, as one last-writer-wins record per id. Each
// change (start, terminate, restart, delete, a child that finished) gets a
// version from a hybrid logical clock; a delete leaves a tombstone that
// outlives partitions (until it expires), so a node that missed it cannot
// bring the child back. Nodes compare digests of ring ranges and exchange
// only the records of ranges that differ (anti-entropy).

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/supervision/child_spec.hpp"

namespace ringvisor::supervision {

/// One child of the list: its spec and the version of its last change.
struct child_record {
  child_spec spec;
  /// Hybrid logical clock (wall-clock microseconds, always above what this
  /// node has seen) of the last change; 0 for children from the spec or a
  /// store, which every recorded change overrides.
  uint64_t version = 0;
  /// Stopped on purpose; runs nowhere until restarted.
  bool terminated = false;
  /// Deleted (or finished for good): a tombstone, without arguments.
  bool deleted = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_record& x) {
  return f(caf::meta::type_name("ringvisor::child_record"), x.spec, x.version,
           x.terminated, x.deleted);
}

/// What a peer sends back when asked for an inventory: the children it runs
/// or holds that the asker owns, and the records of the asked range if its
/// digest of that range differs from the asker's.
struct inventory {
  std::vector<std::string> claimed;
  std::vector<child_record> records;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inventory& x) {
  return f(caf::meta::type_name("ringvisor::inventory"), x.claimed, x.records);
}

/// The records of one ring supervisor's children, tombstones included.
class child_list {
public:
  /// How a record changed the list.
  enum class change : uint8_t {
    none,       // older than what the list holds, or the same
    added,      // a child the list did not hold alive
    updated,    // terminated or restarted
    removed,    // a child the list held alive is deleted
  };

  /// Whether `x` wins over `y`: the newer version; on a tie, a delete beats a
  /// terminate beats a run, so every node picks the same record.
  static bool newer(const child_record& x, const child_record& y) {
    if (x.version != y.version)
      return x.version > y.version;
    if (x.deleted != y.deleted)
      return x.deleted;
    return x.terminated && !y.terminated;
  }

  /// Applies `rec` if it is newer than the record held for its id.
  change apply(child_record rec) {
    auto i = records_.find(rec.spec.id);
    if (i == records_.end()) {
      auto deleted = rec.deleted;
      if (deleted)
        rec.spec.args = caf::message{};
      records_.emplace(rec.spec.id, std::move(rec));
      return deleted ? change::none : change::added;
    }
    if (!newer(rec, i->second))
      return change::none;
    auto was_alive = !i->second.deleted;
    if (rec.deleted)
      rec.spec.args = caf::message{};
    i->second = std::move(rec);
    if (i->second.deleted)
      return was_alive ? change::removed : change::none;
    return was_alive ? change::updated : change::added;
  }

  /// Returns the live record of `id`, or null if the list holds none (or a
  /// tombstone).
  const child_record* alive(const std::string& id) const {
    auto i = records_.find(id);
    return i != records_.end() && !i->second.deleted ? &i->second : nullptr;
  }

  /// Returns the record of `id`, tombstone or not, or null.
  const child_record* find(const std::string& id) const {
    auto i = records_.find(id);
    return i != records_.end() ? &i->second : nullptr;
  }

  /// Drops the tombstones whose version is below `before`.
  void expire(uint64_t before) {
    for (auto i = records_.begin(); i != records_.end();)
      i = i->second.deleted && i->second.version < before ? records_.erase(i) : std::next(i);
  }

  /// An order-independent digest of the records whose id `in_range` accepts.
  template <class Predicate>
  uint64_t digest(Predicate in_range) const {
    uint64_t result = 0;
    for (auto& [id, rec] : records_)
      if (in_range(id))
        result ^= cluster::hash_ring::hash(id + '/' + std::to_string(rec.version)
                                           + (rec.deleted ? "/d" : rec.terminated ? "/t" : "/r"));
    return result;
  }

  /// Returns the records (tombstones too) whose id `in_range` accepts.
  template <class Predicate>
  std::vector<child_record> select(Predicate in_range) const {
    std::vector<child_record> result;
    for (auto& [id, rec] : records_)
      if (in_range(id))
        result.push_back(rec);
    return result;
  }

  /// Calls `f(record)` for every live record.
  template <class F>
  void for_each_alive(F f) const {
    for (auto& [id, rec] : records_)
      if (!rec.deleted)
        f(rec);
  }

  /// Returns how many records the list holds, tombstones included.
  size_t size() const noexcept {
    return records_.size();
  }

private:
  std::unordered_map<std::string, child_record> records_;
};

} // namespace ringvisor::supervision
