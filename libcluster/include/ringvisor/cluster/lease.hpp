#pragma once

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>

#include <caf/fwd.hpp>

#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

/// The node's lease as a clock that any thread reads without a message: the
/// lease is held until a steady-clock instant that the node's agent moves
/// forward while the lease's conditions hold (the agent is `up` or
/// `rehashing`, its heartbeat timer fires on time, a majority of the members
/// was heard from within `suspect-after`, no long pause lately; see
/// `cluster::agent`); a lease taken away ends when it is taken. The
/// end is never further than two heartbeats after the agent's last tick, and
/// the peers suspect a silent node only after `suspect-after`, so a node
/// that resumes after a pause (SIGSTOP, a stalled VM) finds its lease
/// expired before any of its actors runs, before the agent hears the news.
///
/// Example (a ring child before a side effect; `still_owner` wraps this):
/// ```
/// auto lease = cluster::lease_of(self->system()); // once
/// if (lease && lease->held())
///   write(record, epoch);
/// ```
class RINGVISOR_CLUSTER_EXPORT lease_clock {
public:
  using clock = std::chrono::steady_clock;

  /// Returns whether the lease is held at `now`.
  bool held(clock::time_point now = clock::now()) const noexcept {
    return now.time_since_epoch().count() < until_.load(std::memory_order_acquire);
  }

  /// Returns when the lease ends (or ended).
  clock::time_point until() const noexcept {
    return clock::time_point{clock::duration{until_.load(std::memory_order_acquire)}};
  }

  /// Sets the end of the lease, forward or back (for the agent only).
  void set_until(clock::time_point t) noexcept {
    until_.store(t.time_since_epoch().count(), std::memory_order_release);
  }

private:
  std::atomic<clock::rep> until_{std::numeric_limits<clock::rep>::min()};
};

/// Returns the lease of the node whose actor system is `sys`, or null if it
/// runs no cluster agent. Keep the pointer: reading it costs an atomic load.
RINGVISOR_CLUSTER_EXPORT std::shared_ptr<const lease_clock> lease_of(caf::actor_system& sys);

} // namespace ringvisor::cluster
