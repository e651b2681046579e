#pragma once

// Which children a node starts because nobody runs them (private to
// libring), as plain code behind the ring manager, which does the
// messaging (`rebalance_io`). In rounds:
// 1. every other member says which of this node's children it runs or
//    holds, and sends its records of the ranges where its digests differ
//    (its *inventory*; an answer cut at its size limit is asked for the
//    rest in the next round);
// 2. once every member answered, and the gate is open (no member that
//    died may still run children: see the ring manager), this node starts
//    each child it owns that nobody claimed, alive and not terminated;
// 3. a child pinned to this node starts only after a round that asked every
//    member for its record (an answer may carry a newer pin elsewhere); a
//    pin learned in a round waits for the next;
// 4. a child whose policy takes snapshots starts from the newest snapshot
//    any member holds of its record, once every member answered; a member
//    that does not answer fails the round rather than start the child
//    without a snapshot that may exist.
// Answers of an older round decide nothing.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "child_host.hpp"
#include "record_keeper.hpp"
#include "snapshot_keeper.hpp"
#include "snapshots.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// Whether a node may start orphans now.
struct start_gate {
  bool open = true;
  /// Closed: when to try again (none: an event reopens it, such as the
  /// stores read or a member proven dead).
  std::optional<caf::timespan> retry_in;
};

/// The ring manager's side of the rebalancer: messages, timers and what the
/// node knows about its peers.
class rebalance_io {
public:
  virtual ~rebalance_io() = default;

  /// Asks `peer` for its inventory for `ask` (the pieces of the ranges this
  /// node asks for, and its pinned children). Returns false if the peer's
  /// handle is not known.
  virtual bool ask_inventory(const std::string& peer, inventory_request ask,
                             std::function<void(caf::expected<inventory>)> done) = 0;

  /// Asks `peer` for its snapshots of `ids`. Returns false if the peer's
  /// handle is not known.
  virtual bool ask_snapshots(const std::string& peer, std::vector<std::string> ids,
                             std::function<void(caf::expected<std::vector<snapshot_entry>>)> done)
    = 0;

  /// Whether the node serves (up, not leaving, not stopping).
  virtual bool serving() const = 0;

  /// Whether orphans may start now.
  virtual start_gate gate() = 0;

  /// Runs a round again after `delay` (coalesced with other retries).
  virtual void retry_in(caf::timespan delay) = 0;

  /// Runs a round again once the queued messages are handled.
  virtual void again() = 0;

  /// Every member answered a round in full: this node knows the records of
  /// its ranges; changes and requests that waited for that go on.
  virtual void learned() = 0;

  /// Wall-clock microseconds (the age of a snapshot).
  virtual uint64_t wall_us() = 0;
};

/// Limits of a rebalancer.
struct rebalance_limits {
  /// Delay before a round that could not finish is tried again.
  caf::timespan retry_delay = std::chrono::milliseconds{100};
};

class rebalancer {
public:
  rebalancer(std::string self, std::string sup, rebalance_io& io, record_keeper& records,
             child_host& host, snapshot_keeper& snapshots, rebalance_limits limits = {});

  /// Starts a round with `peers`, the other members (none: decides at once).
  void round(const std::vector<std::string>& peers);

  /// The current round: answers of older ones are stale.
  uint64_t current() const noexcept {
    return round_;
  }

  /// Children started here because nobody ran them.
  uint64_t recovered() const noexcept {
    return recovered_;
  }

  /// Of those, the ones started from a snapshot.
  uint64_t restored() const noexcept {
    return restored_;
  }

private:
  struct fetch;
  using fetch_ptr = std::shared_ptr<fetch>;

  void decide(uint64_t round, const std::set<std::string>& claimed);
  void restore(uint64_t round, std::vector<std::string> ids);
  fetch_ptr fetch_snapshots(const std::vector<std::string>& ids);
  void fetched(uint64_t round, const std::vector<std::string>& ids, fetch& f);
  void start_orphans(uint64_t round, const std::vector<std::string>& ids,
                     std::unordered_map<std::string, snapshot>& best);

  std::string self_;
  std::string sup_;
  rebalance_io& io_;
  record_keeper& records_;
  child_host& host_;
  snapshot_keeper& snapshots_;
  rebalance_limits limits_;
  uint64_t round_ = 0;
  std::vector<std::string> peers_; // of the current round
  // The children pinned here that the current round asks every peer about.
  std::set<std::string> asked_pins_;
  // The snapshot fetch in flight for a child: a later round with the same
  // peers waits for it instead of asking again.
  std::unordered_map<std::string, fetch_ptr> fetching_;
  uint64_t recovered_ = 0;
  uint64_t restored_ = 0;
};

} // namespace ringvisor::ring
