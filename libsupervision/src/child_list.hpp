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
/// Ranges are chosen by the hash of each child's ring key (`key_prefix` +
/// id), which the list computes once per child, so that digests over 100k
/// children cost a ring lookup each and no hashing.
class child_list {
public:
  explicit child_list(std::string key_prefix = {}) : prefix_(std::move(key_prefix)) {
    // nop
  }

  /// Returns the hash of `id`'s ring key, as `hash_ring::whois_hash` takes it.
  uint64_t key_hash(const std::string& id) const {
    return cluster::hash_ring::hash(prefix_ + id);
  }

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
    if (rec.deleted)
      rec.spec.args = caf::message{};
    auto i = records_.find(rec.spec.id);
    if (i == records_.end()) {
      auto deleted = rec.deleted;
      auto key = key_hash(rec.spec.id);
      auto id = rec.spec.id;
      records_.emplace(std::move(id), entry{std::move(rec), key, 0}).first->second.rehash();
      ++changes_;
      return deleted ? change::none : change::added;
    }
    if (!newer(rec, i->second.rec))
      return change::none;
    auto was_alive = !i->second.rec.deleted;
    i->second.rec = std::move(rec);
    i->second.rehash();
    ++changes_;
    if (i->second.rec.deleted)
      return was_alive ? change::removed : change::none;
    return was_alive ? change::updated : change::added;
  }

  /// Returns the live record of `id`, or null if the list holds none (or a
  /// tombstone).
  const child_record* alive(const std::string& id) const {
    auto i = records_.find(id);
    return i != records_.end() && !i->second.rec.deleted ? &i->second.rec : nullptr;
  }

  /// Returns the record of `id`, tombstone or not, or null.
  const child_record* find(const std::string& id) const {
    auto i = records_.find(id);
    return i != records_.end() ? &i->second.rec : nullptr;
  }

  /// Drops the tombstones whose version is below `before`.
  void expire(uint64_t before) {
    for (auto i = records_.begin(); i != records_.end();) {
      if (i->second.rec.deleted && i->second.rec.version < before) {
        i = records_.erase(i);
        ++changes_;
      } else {
        ++i;
      }
    }
  }

  /// An order-independent digest of the records whose key hash `in_range`
  /// accepts.
  template <class Predicate>
  uint64_t digest(Predicate in_range) const {
    uint64_t result = 0;
    for (auto& [id, e] : records_)
      if (in_range(e.key))
        result ^= e.digest;
    return result;
  }

  /// Returns the records (tombstones too) whose key hash `in_range` accepts.
  template <class Predicate>
  std::vector<child_record> select(Predicate in_range) const {
    std::vector<child_record> result;
    for (auto& [id, e] : records_)
      if (in_range(e.key))
        result.push_back(e.rec);
    return result;
  }

  /// Calls `f(record, key hash)` for every live record.
  template <class F>
  void for_each_alive(F f) const {
    for (auto& [id, e] : records_)
      if (!e.rec.deleted)
        f(e.rec, e.key);
  }

  /// Returns a number that grows whenever the list may have changed, so that
  /// a digest computed before can be reused while it stays the same.
  uint64_t changes() const noexcept {
    return changes_;
  }

  /// Returns how many records the list holds, tombstones included.
  size_t size() const noexcept {
    return records_.size();
  }

private:
  struct entry {
    child_record rec;
    uint64_t key;    // hash of the ring key
    uint64_t digest; // of id, version and state

    void rehash() {
      digest = cluster::hash_ring::hash(rec.spec.id + '/' + std::to_string(rec.version)
                                        + (rec.deleted ? "/d" : rec.terminated ? "/t" : "/r"));
    }
  };

  std::string prefix_;
  std::unordered_map<std::string, entry> records_;
  uint64_t changes_ = 0;
};

} // namespace ringvisor::supervision
