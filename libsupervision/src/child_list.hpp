#pragma once

// The child list of a ring supervisor (private to libsupervision): every
// child the cluster accepted, as one last-writer-wins record per id. Each
// change (start, terminate, restart, delete, a child that finished) gets a
// version from a hybrid logical clock; a delete leaves a tombstone that
// outlives partitions (until it expires), so a node that missed it cannot
// bring the child back. Nodes compare digests of the ranges each member owns
// and exchange only the records of ranges that differ (anti-entropy).

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
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

/// The records of one ring supervisor's children, tombstones included, and
/// where each one belongs on the placement ring. A child's place is the hash
/// of its ring key (`key_prefix` + id), computed once per child; its owner is
/// computed once per ring, so that owners, per-owner digests and tombstone
/// expiry cost no pass over 100k children per question.
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
  change apply(child_record rec);

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
  void expire(uint64_t before);

  /// Returns how many records the list holds, tombstones included.
  size_t size() const noexcept {
    return records_.size();
  }

  // -- placement ----------------------------------------------------------------

  /// Places the children on `ring` (one pass over the list when its members
  /// changed).
  void place_on(cluster::hash_ring ring);

  /// Returns the ring the children are placed on.
  const cluster::hash_ring& ring() const noexcept {
    return ring_;
  }

  /// Returns the member that owns `id`, listed or not, or nothing on an
  /// empty ring.
  std::optional<std::string_view> owner_of(const std::string& id) const;

  /// Returns whether `member` owns `id`.
  bool owned_by(const std::string& id, std::string_view member) const {
    auto owner = owner_of(id);
    return owner && *owner == member;
  }

  /// An order-independent digest of the records `member` owns.
  uint64_t digest_of(std::string_view member) const {
    auto m = index_of(member);
    return m != nobody ? owner_digests_[m] : 0;
  }

  /// An order-independent digest of all records.
  uint64_t digest() const noexcept {
    return all_digest_;
  }

  /// Returns the records (tombstones too) that `member` owns.
  std::vector<child_record> select(std::string_view member) const;

  /// Returns all records, tombstones too.
  std::vector<child_record> select() const;

  /// Calls `f(record)` for every live record.
  template <class F>
  void for_each_alive(F f) const {
    for (auto& [id, e] : records_)
      if (!e.rec.deleted)
        f(e.rec);
  }

  /// Calls `f(record)` for every live record that `member` owns.
  template <class F>
  void for_each_alive_owned_by(std::string_view member, F f) const {
    auto m = index_of(member);
    if (m == nobody)
      return;
    for (auto& [id, e] : records_)
      if (e.owner == m && !e.rec.deleted)
        f(e.rec);
  }

private:
  static constexpr uint32_t nobody = UINT32_MAX;

  struct entry {
    child_record rec;
    uint64_t key;    // hash of the ring key
    uint64_t fingerprint; // of id, version and state
    uint32_t owner;  // index of the owner on the ring, or `nobody`
  };

  static uint64_t fingerprint(const child_record& rec);

  uint32_t owner_index(uint64_t key) const {
    auto m = ring_.whois_index(key);
    return m ? static_cast<uint32_t>(*m) : nobody;
  }

  uint32_t index_of(std::string_view member) const;

  // Adds (or, applied twice, removes) `e` to the digests.
  void toggle_digest(const entry& e) {
    all_digest_ ^= e.fingerprint;
    if (e.owner != nobody)
      owner_digests_[e.owner] ^= e.fingerprint;
  }

  std::string prefix_;
  std::unordered_map<std::string, entry> records_;
  std::set<std::pair<uint64_t, std::string>> tombstones_; // version, id
  cluster::hash_ring ring_;
  std::vector<uint64_t> owner_digests_; // by member index on `ring_`
  uint64_t all_digest_ = 0;
};

} // namespace ringvisor::supervision
