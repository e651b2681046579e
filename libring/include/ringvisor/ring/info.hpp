#pragma once

// What a ring supervisor reports: where a child runs and how it got there,
// its children, its records and its counters.

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/ring/export.hpp"
#include "ringvisor/supervision/child_spec.hpp"

namespace ringvisor::ring {

/// Where a child runs: the node, and the epoch of this placement, which grows
/// with every start of the child on a node (a move or a failover), so that
/// two placements of one child are always ordered.
struct placement {
  std::string node;
  uint64_t epoch = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement& x) {
  return f(caf::meta::type_name("ringvisor::placement"), x.node, x.epoch);
}

/// Renders an epoch for people: when the placement began, in UTC to the
/// microsecond (`2026-11-30T17:25:54.123456Z`). Epochs are the starting
/// node's wall clock in microseconds, raised where needed to stay above the
/// placement they follow.
RINGVISOR_RING_EXPORT std::string render_epoch(uint64_t epoch);

/// Returns where child `id` of ring supervisor `sup` sits on the ring: the
/// hash of its ring key, which the member that owns this point runs (see
/// `cluster::hash_ring::whois_hash`; `point / 2^64` is its place on a circle).
RINGVISOR_RING_EXPORT uint64_t ring_point(const std::string& sup, const std::string& id);

/// How a child's state came to it when it started on its node (sent with
/// `placed_atom`).
struct restore_info {
  enum class origin : uint8_t {
    /// Started without state: new, or no snapshot of it survived.
    fresh,
    /// Handed over by its previous owner, state exact (a planned move).
    handed_over,
    /// Started from a snapshot after its previous node died or was cut off.
    snapshot,
  };

  origin from = origin::fresh;
  /// For `snapshot`: how long before this start it was taken (by the wall
  /// clock of the node that took it).
  caf::timespan age{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, restore_info& x) {
  return f(caf::meta::type_name("ringvisor::restore_info"), x.from, x.age);
}

/// Returns `"fresh"`, `"handed_over"` or `"snapshot"`.
RINGVISOR_RING_EXPORT const char* to_string(restore_info::origin x);

/// A child of a ring supervisor as `which_children` reports it.
struct ring_child {
  std::string id;
  std::string type;
  supervision::restart_type restart = supervision::restart_type::permanent;
  /// Where it runs; `node` is empty if it runs nowhere (terminated).
  placement where;
  /// The member it is pinned to (`ring::ref::pin_child`), if any.
  std::string pin = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ring_child& x) {
  return f(caf::meta::type_name("ringvisor::ring_child"), x.id, x.type, x.restart, x.where, x.pin);
}

/// How many children run on one node (`ring::ref::running_per_node`).
struct node_count {
  std::string node;
  uint64_t running = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_count& x) {
  return f(caf::meta::type_name("ringvisor::node_count"), x.node, x.running);
}

/// What one node's part of a ring supervisor did since it started: the
/// children it runs and how they came to run here (for metrics).
struct ring_stats {
  std::string node;
  /// Children placed here: running, or starting.
  uint64_t running = 0;
  /// Of those, the ones whose start has not finished yet.
  uint64_t starting = 0;
  /// Wall-clock microseconds when a child last began to run here (how long
  /// a recovery took, from outside).
  uint64_t last_start_us = 0;
  /// New children started here by `ring::ref::start_child`.
  uint64_t started = 0;
  /// Children started here because nobody ran them: their owner crashed, or
  /// the cluster (re)started with them in a store.
  uint64_t recovered = 0;
  /// Restarts by this node's supervisor after a child crashed.
  uint64_t restarts = 0;
  /// Children handed over by another node, with their state.
  uint64_t moved_in = 0;
  /// Children handed over to another node.
  uint64_t moved_out = 0;
  /// Children started here from a snapshot (a subset of `recovered`).
  uint64_t restored = 0;
  /// Snapshots this node took of its children (state requests answered,
  /// checkpoints, and the state a child started with) for their replicas.
  uint64_t snapshots_taken = 0;
  /// Snapshots this node holds as a replica (of its own children too).
  uint64_t snapshots_held = 0;
  /// The state bytes of those snapshots.
  uint64_t snapshot_bytes = 0;
  /// Snapshots written to the children's stores (at most one per child a
  /// second), for a restart of the whole cluster.
  uint64_t states_stored = 0;
  /// Child records this node keeps (tombstones too): those whose preference
  /// list it is on, about `replicas` / members of all.
  uint64_t records_held = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ring_stats& x) {
  return f(caf::meta::type_name("ringvisor::ring_stats"), x.node, x.running, x.starting,
           x.last_start_us, x.started, x.recovered, x.restarts, x.moved_in, x.moved_out, x.restored,
           x.snapshots_taken, x.snapshots_held, x.snapshot_bytes, x.states_stored, x.records_held);
}

/// A child's record as one node keeps it (`ring::ref::records`): the members of
/// the child's preference list keep it, each the same once they converged.
struct ring_record {
  std::string id;
  /// The version of the record's last change (a hybrid logical clock:
  /// wall-clock microseconds or a little above).
  uint64_t version = 0;
  /// Stopped on purpose; runs nowhere until restarted.
  bool terminated = false;
  /// A tombstone: deleted, or finished for good.
  bool deleted = false;
  /// The member it is pinned to (`ring::ref::pin_child`), if any.
  std::string pin = {};

  friend bool operator==(const ring_record& x, const ring_record& y) {
    return x.id == y.id && x.version == y.version && x.terminated == y.terminated
           && x.deleted == y.deleted && x.pin == y.pin;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ring_record& x) {
  return f(caf::meta::type_name("ringvisor::ring_record"), x.id, x.version, x.terminated, x.deleted,
           x.pin);
}

} // namespace ringvisor::ring
