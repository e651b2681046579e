#pragma once

// The child records of a ring supervisor on one node (private to
// libring): one last-writer-wins record per child, kept by the
// members of the child's preference list (its owner and the next k - 1
// distinct members of the ring). Each change (start, terminate, restart,
// delete, a child that finished) gets a version from a hybrid logical
// clock; a delete leaves a tombstone that outlives partitions (until it
// expires), so a replica that missed it cannot bring the child back.
//
// The keys that share a preference list form a range. Members compare the
// digests of the ranges they share and exchange only the records of ranges
// that differ (anti-entropy); after a ring change, records go to the
// members new to their lists and leave the nodes no longer on them.

#include <algorithm>
#include <cstdint>
#include <map>
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
#include "settling.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

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
  /// The member an operator moved the child to: it runs there while that
  /// member is on the ring, else on its ring owner. Empty: its ring owner.
  std::string pin = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_record& x) {
  return f(caf::meta::type_name("ringvisor::child_record"), x.spec, x.version, x.terminated,
           x.deleted, x.pin);
}

/// The digest of one piece of a range (the records whose keys share a
/// preference list): `range` is the range's number times
/// `child_list::pieces`, plus the top bits of the keys' hashes. Members
/// compare and exchange records piece by piece, so a difference costs a
/// sixteenth of a range, and an answer can be cut between pieces.
struct range_digest {
  uint32_t range = 0;
  uint64_t digest = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, range_digest& x) {
  return f(caf::meta::type_name("ringvisor::range_digest"), x.range, x.digest);
}

/// What a node asks a peer for in an inventory round: the peer's records of
/// the `pieces` whose digests differ, and of the children pinned to the asker
/// (`pinned`, as far as the asker knows: the peer's records may be newer).
struct inventory_request {
  std::vector<range_digest> pieces;
  std::vector<std::string> pinned;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inventory_request& x) {
  return f(caf::meta::type_name("ringvisor::inventory_request"), x.pieces, x.pinned);
}

/// What a peer sends back when asked for an inventory: the children it runs
/// or holds that the asker may own, and its records of the pieces of the
/// asker's ranges whose digests differ from the asker's and of the children
/// pinned to the asker.
struct inventory {
  std::vector<std::string> claimed;
  std::vector<child_record> records;
  /// More records differ than one answer carries: ask again, for the
  /// pieces not `covered`.
  bool more = false;
  /// The pieces whose records this answer carries.
  std::vector<uint32_t> covered;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inventory& x) {
  return f(caf::meta::type_name("ringvisor::inventory"), x.claimed, x.records, x.more,
           x.covered);
}

/// The records this node keeps, tombstones included, and where each one
/// belongs on the placement ring. A child's place is the hash of its ring key
/// (`key_prefix` + id), computed once per child; its range is computed once
/// per ring, so that owners, replicas and per-range digests cost no pass
/// over 100k children per question.
///
/// A pinned child (`child_record::pin`) is owned by its pin while the pin is
/// on the ring; its record is kept by the pin as well as by the members of
/// its range, which keep comparing and exchanging it by range. Pins are an
/// operator's exceptions: the list keeps them apart, and a list without pins
/// answers every question as before.
class child_list {
public:
  explicit child_list(std::string key_prefix = {}, size_t replicas = 3)
    : prefix_(std::move(key_prefix)), replicas_(replicas) {
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
  /// terminate beats a run, then the greater pin, so every node picks the
  /// same record.
  static bool newer(const child_record& x, const child_record& y) {
    if (x.version != y.version)
      return x.version > y.version;
    if (x.deleted != y.deleted)
      return x.deleted;
    if (x.terminated != y.terminated)
      return x.terminated;
    return x.pin > y.pin;
  }

  /// Applies `rec` if it is newer than the record held for its id.
  change apply(child_record rec);

  /// Applies `rec`, read from a store: the next `settle` sends it to its
  /// list from here, whoever else holds it.
  void load(child_record rec) {
    auto id = rec.spec.id;
    if (apply(std::move(rec)) != change::none)
      unsettled_.insert(std::move(id));
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
  void expire(uint64_t before);

  /// Returns how many records the list holds, tombstones included.
  size_t size() const noexcept {
    return records_.size();
  }

  // -- placement ----------------------------------------------------------------

  /// Places the children on `ring` (one pass over the list when its members
  /// changed). The first ring counts as settled: what this node learns
  /// before, its senders send.
  void place_on(cluster::hash_ring ring);

  /// Returns the ring the children are placed on.
  const cluster::hash_ring& ring() const noexcept {
    return ring_;
  }

  /// Returns how many members keep each record (fewer on a smaller ring).
  size_t replicas() const noexcept {
    return replicas_;
  }

  /// Returns the member that owns `id`, listed or not, or nothing on an
  /// empty ring: its pin while the pin is on the ring, else its ring owner.
  std::optional<std::string_view> owner_of(const std::string& id) const;

  /// Returns the member that owns `id`'s key on the ring (its owner unless
  /// pinned elsewhere), or nothing on an empty ring.
  std::optional<std::string_view> ring_owner_of(const std::string& id) const;

  /// Returns the pin of the live record of `id` if the pin is on the ring,
  /// else nothing.
  std::optional<std::string_view> pin_of(const std::string& id) const;

  /// Returns the ids of the live records pinned to members on the ring.
  std::vector<std::string> pinned() const;

  /// Returns the ids of the live records pinned to `member`, on the ring or
  /// not.
  std::vector<std::string> pinned_to(std::string_view member) const;

  /// Returns a copy of the owner's name, to keep past the next ring change.
  std::optional<std::string> who_owns(const std::string& id) const {
    auto x = owner_of(id);
    if (!x)
      return std::nullopt;
    return std::string{*x};
  }

  /// Returns whether `member` owns `id`.
  bool owned_by(const std::string& id, std::string_view member) const {
    auto owner = owner_of(id);
    return owner && *owner == member;
  }

  /// Returns the members that keep `id`'s record, its owner first: the pin
  /// of the record held here, if it is on the ring, then the members of the
  /// key's range.
  std::vector<std::string_view> replicas_of(const std::string& id) const {
    return with_pin(pin_of(id), ring_.preference_list_hash(key_hash(id), replicas_));
  }

  /// Returns the members that keep `rec` as it says (its pin may differ from
  /// the record held here).
  std::vector<std::string_view> replicas_of(const child_record& rec) const {
    return with_pin(on_ring(rec.pin), ring_.preference_list_hash(key_hash(rec.spec.id), replicas_));
  }

  // -- ranges -------------------------------------------------------------------

  /// Pieces per range (see `range_digest`).
  static constexpr uint32_t pieces = 16;

  /// Returns the digests of the ranges that `member` owns.
  std::vector<range_digest> digests(std::string_view member) const;

  /// Returns the digests of the ranges that `member` keeps and `from` owns.
  std::vector<range_digest> learn_digests(std::string_view member, std::string_view from) const;

  /// Returns the digests of the ranges that both `member` and `other` keep.
  std::vector<range_digest> shared_digests(std::string_view member, std::string_view other) const;

  /// Returns the pieces of `theirs` whose digests here differ.
  std::vector<uint32_t> differing(const std::vector<range_digest>& theirs) const;

  /// Returns the records (tombstones too) of the pieces `ranges`.
  std::vector<child_record> select(const std::vector<uint32_t>& ranges) const;

  /// Returns the records of the first of the pieces `ranges` (whole pieces)
  /// until they add up to `budget` or more, and removes the others from
  /// `ranges`.
  std::vector<child_record> select(std::vector<uint32_t>& ranges, size_t budget) const;

  /// Returns all records, tombstones too.
  std::vector<child_record> select() const;

  /// An order-independent digest of all records.
  uint64_t digest() const noexcept {
    return all_digest_;
  }

  /// Calls `f(record)` for every live record that `member` owns.
  template <class F>
  void for_each_alive_owned_by(std::string_view member, F f) const {
    auto m = index_of(member);
    if (m == nobody)
      return;
    for (auto& [id, e] : records_)
      if (!e.rec.deleted && owner_index_of(e) == m)
        f(e.rec);
  }

  // -- ring changes ---------------------------------------------------------------

  /// Some time after the ring changed (or members restarted, `restarted`,
  /// and lost their records): returns, per member, the records this node
  /// sends it. Each record goes to the members new to its list (see
  /// `settle_targets`); a record that `self` no longer keeps goes to every
  /// member of its list (this node may hold a write its sender missed), and
  /// `forget_left` forgets it later. Records of version 0 that were settled
  /// before (children of the spec, which every node has) are not sent.
  std::map<std::string, std::vector<child_record>>
  settle(std::string_view self, const std::set<std::string>& restarted);

  /// Forgets the records that the last `settle` sent away, unless `self` is
  /// on their lists again or `keep(id)` (the child runs here). Called a
  /// while after `settle`, so that their new replicas' inventories and
  /// anti-entropy may still find them here meanwhile. Returns how many.
  template <class Keep>
  size_t forget_left(std::string_view self, Keep keep) {
    size_t result = 0;
    for (auto& id : left_) {
      auto i = records_.find(id);
      if (i == records_.end() || keep(id)
          || contains(ring_.preference_list_hash(i->second.key, replicas_), self)
          || pin_of(id) == self)
        continue;
      erase(id);
      ++result;
    }
    left_.clear();
    return result;
  }

private:
  static constexpr uint32_t nobody = UINT32_MAX;

  struct entry {
    child_record rec;
    uint64_t key;         // hash of the ring key
    uint64_t fingerprint; // of id, version and state
    uint32_t range;       // index into `ranges_`, or `nobody`
  };

  /// Keys that share a preference list.
  struct range {
    std::vector<uint32_t> members; // indices into the ring's members, owner first
  };

  static uint64_t fingerprint(const child_record& rec);

  uint32_t range_of(uint64_t key) const {
    return ranges_.empty() ? nobody : arc_ranges_[ring_.arc_of(key)];
  }

  // The owner of a live record: its pin while on the ring, else the first
  // member of its range.
  uint32_t owner_index_of(const entry& e) const {
    if (!e.rec.pin.empty())
      if (auto p = index_of(e.rec.pin); p != nobody)
        return p;
    return e.range != nobody ? ranges_[e.range].members.front() : nobody;
  }

  // `pin`, if it names a member of the ring (as a view into the ring).
  std::optional<std::string_view> on_ring(const std::string& pin) const {
    if (pin.empty())
      return std::nullopt;
    auto p = index_of(pin);
    if (p == nobody)
      return std::nullopt;
    return std::string_view{ring_.members()[p]};
  }

  // `list` with `pin` (if any) moved or added to its front.
  static std::vector<std::string_view> with_pin(std::optional<std::string_view> pin,
                                                std::vector<std::string_view> list) {
    if (!pin)
      return list;
    list.erase(std::remove(list.begin(), list.end(), *pin), list.end());
    list.insert(list.begin(), *pin);
    return list;
  }

  uint32_t index_of(std::string_view member) const;

  void erase(const std::string& id);

  // The current ring and its ranges count as settled.
  void mark_settled();

  // The piece of its range that `e` falls in.
  static uint32_t piece_of(const entry& e) {
    return e.range * pieces + static_cast<uint32_t>(e.key >> 60);
  }

  // Adds (or, applied twice, removes) `e` to the digests.
  void toggle_digest(const entry& e) {
    all_digest_ ^= e.fingerprint;
    if (e.range != nobody)
      piece_digests_[piece_of(e)] ^= e.fingerprint;
  }

  std::string prefix_;
  size_t replicas_;
  std::unordered_map<std::string, entry> records_;
  std::set<std::pair<uint64_t, std::string>> tombstones_; // version, id
  std::set<std::string> pinned_; // live records with a pin, on the ring or not
  cluster::hash_ring ring_;
  cluster::hash_ring settled_ring_; // the ring at the last `settle`
  std::vector<std::vector<uint32_t>> settled_lists_; // its ranges' members
  std::vector<uint32_t> settled_arc_ranges_;         // the range of each of its arcs
  bool placed_ = false;             // on a ring once
  std::set<std::string> unsettled_; // read from a store since the last `settle`
  std::vector<std::string> left_;   // sent away by the last `settle`
  // The digests of the pieces of the ranges `wanted` accepts (by their
  // member indices).
  template <class Predicate>
  std::vector<range_digest> digests_if(Predicate wanted) const {
    std::vector<range_digest> result;
    for (uint32_t r = 0; r < ranges_.size(); ++r)
      if (wanted(ranges_[r].members))
        for (auto p = r * pieces; p < (r + 1) * pieces; ++p)
          result.push_back(range_digest{p, piece_digests_[p]});
    return result;
  }

  std::vector<range> ranges_;        // ordered by their member lists
  std::vector<uint64_t> piece_digests_; // `pieces` per range
  std::vector<uint32_t> arc_ranges_; // the range of each arc of `ring_`
  uint64_t all_digest_ = 0;
};

} // namespace ringvisor::ring
