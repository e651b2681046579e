#pragma once

// What one node does about child records (private to libring), as
// plain code behind the ring manager, which does the messaging
// (`record_io`):
// - the child list this node keeps (`child_list`) and the versions of the
//   changes made here (a hybrid logical clock);
// - quorum writes: a change goes to the child's preference list and counts
//   once a majority of it stored it; a replica whose ring differs for a
//   moment is asked again until the write's deadline;
// - inventories: what this node asks a peer for (the ranges it owns, and
//   after a start or a split every range it keeps), and what it answers
//   (the records of the pieces whose digests differ, cut between pieces);
// - after a ring change: sending records to the members new to their lists
//   (`child_list::settle`), and forgetting them later where they left;
// - anti-entropy: the digests of shared ranges, and the records of those
//   that differ.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/timespan.hpp>

#include "child_list.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// The ring manager's side of the record keeper: the messages and the clocks.
class record_io {
public:
  /// How a replica answered a write.
  enum class write_answer : uint8_t {
    stored,
    other_ring, // not a replica of the record on the writer's ring (yet)
    failed,     // no answer in time, or the link dropped
  };

  virtual ~record_io() = default;

  /// Sends the write `rec`, made under the ring `digest`, to `member`, and
  /// calls `done` with its answer within `timeout`. Returns false (and never
  /// calls `done`) if the member cannot be reached now.
  virtual bool write(const std::string& member, const child_record& rec, uint64_t digest,
                     caf::timespan timeout, std::function<void(write_answer)> done)
    = 0;

  /// Sends records to `member`, which keeps them (no reply); dropped if the
  /// member cannot be reached now.
  virtual void send_records(const std::string& member, std::vector<child_record> xs) = 0;

  /// Sends `member` the digests of the ranges both keep (anti-entropy), made
  /// under the ring `digest`; `record_keeper::on_digests` answers them.
  virtual void send_digests(const std::string& member, uint64_t digest,
                            std::vector<range_digest> xs)
    = 0;

  /// Runs `f` after `delay`.
  virtual void later(caf::timespan delay, std::function<void()> f) = 0;

  virtual std::chrono::steady_clock::time_point now() = 0;

  /// Wall-clock microseconds (versions are hybrid logical clocks).
  virtual uint64_t wall_us() = 0;

  /// A record applied here deleted or terminated the child `rec` describes:
  /// it stops here, and requests for it fail.
  virtual void ended(const child_record& rec) = 0;

  /// A record applied here changed the pin of the child `rec` describes: it
  /// may have a new owner, which the next rebalancing round moves it to.
  virtual void repinned(const child_record& rec) = 0;
};

/// Limits of a record keeper.
struct record_limits {
  /// Members that keep each child's record (its preference list).
  size_t replicas = 3;
  /// Records per message between members: well below the wire's frame limit.
  size_t per_message = 1000;
  /// Records in one inventory answer (whole pieces of ranges).
  size_t per_inventory = 5000;
  /// How long a write may take until it counts as failed.
  caf::timespan write_timeout = std::chrono::seconds{5};
  /// Delay before a replica whose ring differed is asked again.
  caf::timespan retry_delay = std::chrono::milliseconds{100};
  /// How long a deleted child's tombstone keeps a node that missed the
  /// delete (cut off, paused) from bringing the child back.
  uint64_t tombstone_ttl_us = 24ull * 3600 * 1000 * 1000;
};

class record_keeper {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// `key_prefix` goes before each child's id on the ring (see `child_list`).
  record_keeper(std::string self, std::string key_prefix, record_io& io,
                record_limits limits = {});

  /// The records this node keeps, and the ring they are placed on.
  const child_list& list() const noexcept {
    return list_;
  }

  const record_limits& limits() const noexcept {
    return limits_;
  }

  // -- the ring -------------------------------------------------------------------

  /// Places the records on a ring of `members`, which with their
  /// incarnations and the replica count hash to `digest` (nodes agree on
  /// ranges only under the same digest). Returns whether the members
  /// changed: this node then learns the records of the ranges it owns anew
  /// before it starts anything (`synced` is false), and the records settle
  /// later (`settle`).
  bool place_on(std::vector<std::string> members, uint64_t digest);

  /// The digest of the ring the records are placed on.
  uint64_t digest() const noexcept {
    return digest_;
  }

  // -- what this node learned ------------------------------------------------------

  /// Whether this node learned the records of the ranges it owns on this
  /// ring: it may start and change children.
  bool synced() const noexcept {
    return synced_;
  }

  /// Whether it learned the records of every range it keeps since it started
  /// or was split off.
  bool learned() const noexcept {
    return learned_;
  }

  /// Learn every record again (after a split, or after being declared down).
  void unlearn() {
    synced_ = false;
    learned_ = false;
  }

  /// Every peer answered this ring's inventory round in full.
  void round_complete() {
    synced_ = true;
    learned_ = true;
  }

  // -- changes -------------------------------------------------------------------

  /// The next version of a change made here.
  uint64_t next_version() {
    return clock_ = std::max(io_.wall_us(), clock_ + 1);
  }

  /// A change of `rec` made here, with the next version (a delete drops
  /// the pin; the rest keep it).
  child_record changed(const child_record& rec, bool terminated, bool deleted) {
    return child_record{rec.spec, next_version(), terminated, deleted, rec.pin};
  }

  /// `rec` moved to `pin` (empty: back to its ring owner), with the next
  /// version.
  child_record repinned(const child_record& rec, std::string pin) {
    return child_record{rec.spec, next_version(), rec.terminated, false, std::move(pin)};
  }

  /// Applies a record made here or learned from a peer (an expired tombstone
  /// is ignored: this node may have forgotten the child already); tells the
  /// io if the child ended.
  void apply(child_record rec);

  /// Applies a record read from a store (see `child_list::load`).
  void load(child_record rec) {
    list_.load(std::move(rec));
  }

  /// Writes `rec` (applied here already) to the other members of its list;
  /// `done(true)` once a write quorum of the list (a majority, this node
  /// counted if on it) stored it, `done(false)` once that cannot happen. A
  /// member that missed it learns it by anti-entropy.
  void replicate(const child_record& rec, std::function<void(bool)> done);

  /// A peer's write: kept and true if this node is one of the replicas the
  /// record names (its pin and its range) on the writer's ring (`digest`). A
  /// node that settled off the list must not count toward the quorum: it
  /// would forget the record.
  bool accept_write(child_record rec, uint64_t digest);

  /// Records sent by a peer (a ring change, anti-entropy, an inventory).
  void receive(std::vector<child_record>& xs) {
    for (auto& x : xs)
      apply(std::move(x));
  }

  // -- inventories -------------------------------------------------------------------

  /// What this node asks `peer` for in an inventory round: the pieces of the
  /// ranges it owns and, until it `learned`, of each range it keeps that the
  /// peer owns, less what the peer's cut answers of this round carried; and
  /// the children pinned to this node.
  inventory_request inventory_ask(const std::string& peer) const;

  /// Answers `asker`'s inventory request into `result`: its records of the
  /// pieces that differ, cut between pieces at `per_inventory`, and of the
  /// children pinned to the asker, here or there.
  void answer_inventory(const inventory_request& req, const std::string& asker,
                        inventory& result) const;

  /// `peer` answered an inventory of this ring's round (`current`, else of
  /// an older one): its records apply; a cut answer's pieces are not asked
  /// for again in this ring's rounds.
  void inventory_answered(const std::string& peer, inventory& inv, bool current);

  // -- ring changes -------------------------------------------------------------------

  /// Some time after the ring changed (or members restarted, `restarted`):
  /// sends each record to the members new to its list (`child_list::settle`).
  void settle(const std::set<std::string>& restarted);

  /// Forgets the records the last `settle` sent away, unless `keep(id)` (the
  /// child runs here). Returns how many.
  template <class Keep>
  size_t forget_left(Keep keep) {
    return list_.forget_left(self_, keep);
  }

  // -- anti-entropy ---------------------------------------------------------------------

  /// Drops the tombstones that expired; then, if `exchange` and this node
  /// learned every range it keeps, sends each member the digests of the
  /// ranges both keep.
  void exchange_digests(bool exchange);

  /// A member's digests (`exchange_digests`): sends it this node's records of
  /// the pieces that differ, if both nodes are on the same ring.
  void on_digests(const std::string& from, uint64_t digest,
                  const std::vector<range_digest>& pieces);

private:
  struct write_tally;

  // Sends `rec` to `member` for `t`; asks again while its ring differs.
  void write_to(const std::string& member, const std::shared_ptr<const child_record>& rec,
                const std::shared_ptr<write_tally>& t, time_point deadline);

  void send(const std::string& member, std::vector<child_record> xs);

  std::string self_;
  record_io& io_;
  record_limits limits_;
  child_list list_;
  uint64_t digest_ = 0;
  uint64_t clock_ = 0;   // versions of the records changed here
  bool synced_ = false;  // learned the records of the ranges owned on this ring
  bool learned_ = false; // learned the records of all ranges kept
  std::map<std::string, std::set<uint32_t>> covered_; // pieces a cut inventory carried, per peer
};

} // namespace ringvisor::ring
