#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

/// A consistent-hash ring of named members with virtual nodes, hashed with
/// XXH3-64. Two rings with the same members and `vnodes` place every key on
/// the same member, on any node and in any insertion order; adding or
/// removing one of N members moves about 1/N of the keys, all of them to or
/// from that member.
///
/// Example:
/// ```
/// hash_ring ring{{"node-a", "node-b", "node-c"}};
/// auto owner = ring.whois("hero/batman");   // e.g. "node-b"
/// if (ring.mine("hero/batman", "node-b")) start_locally();
/// ```
class RINGVISOR_CLUSTER_EXPORT hash_ring {
public:
  /// Virtual nodes per member: enough for every member's share of keys to
  /// stay within 10% of the mean for up to 16 members.
  static constexpr size_t default_vnodes = 1024;

  /// An empty ring.
  explicit hash_ring(size_t vnodes = default_vnodes);

  /// A ring of `members`; duplicates count once.
  explicit hash_ring(std::vector<std::string> members,
                     size_t vnodes = default_vnodes);

  /// Adds `member`; returns false if it was there already.
  bool add(std::string member);

  /// Removes `member`; returns false if it was not there.
  bool remove(std::string_view member);

  /// Returns whether `member` is on the ring.
  bool contains(std::string_view member) const;

  /// Returns the member that owns `key`, or nothing if the ring is empty.
  std::optional<std::string_view> whois(std::string_view key) const {
    return whois_hash(hash(key));
  }

  /// Returns the member that owns a key whose `hash` is known.
  std::optional<std::string_view> whois_hash(uint64_t key_hash) const;

  /// Returns the index in `members()` of the member that owns a key whose
  /// `hash` is known, or nothing if the ring is empty.
  std::optional<size_t> whois_index(uint64_t key_hash) const;

  /// Returns the preference list of `key`: its owner, then the next `k - 1`
  /// distinct members clockwise (fewer if the ring has fewer). Whoever would
  /// own the key if the first `i` of them left is at place `i`, so this is
  /// where replicas of the key's data belong (riak_core's preference list).
  std::vector<std::string_view> preference_list(std::string_view key, size_t k) const {
    return preference_list_hash(hash(key), k);
  }

  /// Returns the preference list of a key whose `hash` is known.
  std::vector<std::string_view> preference_list_hash(uint64_t key_hash, size_t k) const;

  /// Returns how many arcs the ring has: one per virtual node. Arc `i` holds
  /// the keys that hash to its point `i` or before it, after point `i - 1`.
  size_t arcs() const noexcept {
    return points_.size();
  }

  /// Returns the arc of a key whose `hash` is known (0 on an empty ring).
  size_t arc_of(uint64_t key_hash) const;

  /// Returns the preference list of the keys on `arc`, as indices into
  /// `members()`: every key of an arc has the same list.
  std::vector<uint32_t> preference_indices(size_t arc, size_t k) const;

  /// Returns whether `self` owns `key`.
  bool mine(std::string_view key, std::string_view self) const {
    auto owner = whois(key);
    return owner && *owner == self;
  }

  /// Returns the members, sorted by name.
  const std::vector<std::string>& members() const noexcept {
    return members_;
  }

  /// Returns whether the ring has no member.
  bool empty() const noexcept {
    return members_.empty();
  }

  /// Returns the number of virtual nodes per member.
  size_t vnodes() const noexcept {
    return vnodes_;
  }

  /// Returns each member's share of the key space, in the order of
  /// `members()` (together 1; empty for an empty ring): the part of all
  /// keys, and so about the part of all children, it owns.
  std::vector<double> shares() const;

  /// Returns the ring as a picture of `sectors` equal slices of the key
  /// space (slice `i` begins at hash `i * 2^64 / sectors`): for each, the
  /// index in `members()` of the member that owns the most of it. Empty for
  /// an empty ring or no slices.
  std::vector<uint32_t> sector_owners(size_t sectors) const;

  /// Hashes a key the way the ring does (XXH3-64, seed 0).
  static uint64_t hash(std::string_view key) noexcept;

private:
  struct point {
    uint64_t hash;
    uint32_t member; // index into members_
  };

  void rebuild();

  size_t vnodes_;
  std::vector<std::string> members_;
  std::vector<point> points_; // sorted by hash, ties by member name
};

} // namespace ringvisor::cluster
