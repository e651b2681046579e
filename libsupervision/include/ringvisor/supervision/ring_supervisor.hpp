#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/node.hpp"
#include "ringvisor/supervision/child_spec.hpp"
#include "ringvisor/supervision/child_store.hpp"
#include "ringvisor/supervision/export.hpp"
#include "ringvisor/supervision/supervisor.hpp"

/// The ring supervisor (supervisorring): one supervisor spread over the
/// cluster. Every child runs on the node that owns its id on the consistent
/// hash ring of the up members, at most one instance at a time; when the ring
/// changes, children move to their new owner with their state, and the
/// children of a node that died start again on the survivors. See
/// `docs/ring-supervisor.md` for the protocol and its guarantees.
///
/// Start one with the same name and spec on every node (after the cluster
/// agent). Its handle on any node, or the handle a remote client gets from a
/// node directory under `ring_supervisor_name(name)`, takes the requests
/// below; the blocking functions in `ring::` wrap them.
///
/// Example:
/// ```
/// ring_supervisor_spec spec;
/// spec.name = "heroes";
/// spec.factories = node.factories();
/// spec.stores.push_back(std::move(*replicated));
/// auto sup = start_ring_supervisor(node, agent, std::move(spec));
/// auto where = ring::start_child(sys, *sup, {"batman", "hero", caf::make_message(...)});
/// auto reply = ring::call(sys, *sup, "batman", caf::make_message(fight_atom::value));
/// ```
namespace ringvisor::supervision {

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
RINGVISOR_SUPERVISION_EXPORT std::string render_epoch(uint64_t epoch);

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
RINGVISOR_SUPERVISION_EXPORT const char* to_string(restore_info::origin x);

/// A child of a ring supervisor as `which_children` reports it.
struct ring_child {
  std::string id;
  std::string type;
  restart_type restart = restart_type::permanent;
  /// Where it runs; `node` is empty if it runs nowhere (terminated).
  placement where;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ring_child& x) {
  return f(caf::meta::type_name("ringvisor::ring_child"), x.id, x.type,
           x.restart, x.where);
}

/// How many children run on one node (`ring::running_per_node`).
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
  /// New children started here by `ring::start_child`.
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
  return f(caf::meta::type_name("ringvisor::ring_stats"), x.node, x.running,
           x.starting, x.last_start_us, x.started, x.recovered, x.restarts, x.moved_in, x.moved_out, x.restored,
           x.snapshots_taken, x.snapshots_held, x.snapshot_bytes, x.states_stored,
           x.records_held);
}

/// A child's record as one node keeps it (`ring::records`): the members of
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

  friend bool operator==(const ring_record& x, const ring_record& y) {
    return x.id == y.id && x.version == y.version && x.terminated == y.terminated
           && x.deleted == y.deleted;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ring_record& x) {
  return f(caf::meta::type_name("ringvisor::ring_record"), x.id, x.version, x.terminated,
           x.deleted);
}

/// A function that `ring::exec` runs on the node that owns a child, on a
/// thread of its own (it may block), with the child's handle.
using exec_function = std::function<caf::expected<caf::message>(
  caf::actor_system& sys, const caf::actor& child, const caf::message& args)>;

/// The `migrate(id, from, to)` hook: returns the request that makes the old
/// child reply with its state as `actor::bytes` before it stops; the new
/// child receives `(actor::put_state_atom, bytes)` before anything else.
/// Default: `(actor::get_state_atom)`, the stateful-child contract.
using migrate_function = std::function<caf::message(
  const std::string& id, const std::string& from, const std::string& to)>;

/// A ring supervisor's configuration; the same on every node.
struct ring_supervisor_spec {
  /// Unique per cluster; names the supervisor in every node directory.
  std::string name;

  /// The supervisor of this node's share of the children: its strategy and
  /// restart intensity. A local supervisor that exceeds the intensity is
  /// restarted with its children; if that happens more than twice within
  /// 2 x `period`, the ring supervisor stops on every node and exits with
  /// `errc::reached_max_restart_intensity` (its parent decides).
  restart_strategy strategy = restart_strategy::one_for_one;
  size_t max_restarts = 3;
  caf::timespan period = std::chrono::seconds{5};

  /// Children every node knows from the start (specs with a type, no
  /// `start` function: they must be startable on any node).
  std::vector<child_spec> children;

  /// Where `ring::start_child` stores children: the first store whose
  /// `match` accepts the spec. Without a matching store, a started child
  /// lives as long as one of its replicas keeps its record.
  std::vector<std::shared_ptr<child_store>> stores;

  /// Resolves child types; the node's registry if null.
  std::shared_ptr<const actor::factory_registry> factories;

  /// Functions that `ring::exec` can run, by name.
  std::map<std::string, exec_function> functions;

  /// Takes a moving child's state; see `migrate_function`.
  migrate_function migrate;

  /// The ring group placing the children (`ringvisor.groups`); "" = all
  /// members.
  std::string group;

  /// If set, every child receives `(placed_atom, placement, restore_info)`
  /// right after its start (after `put_state`), so it can log or report its
  /// epoch and learn whether it was restored, and from how old a snapshot.
  bool tell_placement = false;

  /// How many members keep each child's record and snapshots: its owner and
  /// the next `replicas - 1` distinct members of the ring (at most all of
  /// them). Changes to a record are acknowledged once a majority of them
  /// stored it. A child survives the crash of `replicas - 1` nodes at once,
  /// with its last snapshot; see `child_spec::snapshot` for when snapshots
  /// are taken.
  size_t replicas = 3;

  /// Bounds each step of a move: taking the state, the new owner's answer.
  caf::timespan handoff_timeout = std::chrono::seconds{2};
};

/// Sent to a child after its start if `tell_placement` is set:
/// `(placed_atom, placement, restore_info)`.
using placed_atom = caf::atom_constant<caf::atom("rv_placed")>;

/// A child asks for a checkpoint by sending `(checkpoint_atom, std::string
/// id, actor::bytes state)` to the sender of `placed_atom` (its ring
/// supervisor): the state goes to the child's replicas at once, unless its
/// snapshot policy is `off`. The state is what `put_state` takes when the
/// child starts from it.
using checkpoint_atom = caf::atom_constant<caf::atom("rv_chkpt")>;

/// Returns the node directory name of the ring supervisor `name`.
RINGVISOR_SUPERVISION_EXPORT std::string ring_supervisor_name(const std::string& name);

/// Starts this node's part of the ring supervisor `spec.name`, registers it
/// in the node directory and makes the node stop it on shutdown: a graceful
/// stop hands every child, with its state, to its next owner first.
/// Fails if the spec is malformed (static children with unknown types or
/// `start` functions, no name) or the name is taken.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<caf::actor>
start_ring_supervisor(actor::node& node, const caf::actor& agent,
                      ring_supervisor_spec spec);

/// Returns a child spec that starts this node's part of a ring supervisor
/// under a parent supervisor, which then sees the ring supervisor's global
/// stop as the child's exit.
RINGVISOR_SUPERVISION_EXPORT child_spec
ring_supervisor_child(std::string id, actor::node& node, caf::actor agent,
                      ring_supervisor_spec spec);

// -- messages (to any node's ring supervisor) ---------------------------------

/// `(ring_start_atom, child_spec) -> placement`: records and starts a child.
using ring_start_atom = caf::atom_constant<caf::atom("rr_start")>;
/// `(ring_delete_atom, std::string id) -> ok`: stops a child and forgets it.
using ring_delete_atom = caf::atom_constant<caf::atom("rr_delete")>;
/// `(ring_terminate_atom, std::string id) -> ok`: stops a child, keeping its
/// spec: it stays stopped, wherever it would move, until restarted.
using ring_terminate_atom = caf::atom_constant<caf::atom("rr_term")>;
/// `(ring_restart_atom, std::string id) -> placement`: starts a terminated child.
using ring_restart_atom = caf::atom_constant<caf::atom("rr_restart")>;
/// `(ring_find_atom, std::string id, uint8_t hops) -> placement`.
using ring_find_atom = caf::atom_constant<caf::atom("rr_find")>;
/// `(ring_call_atom, uint64_t request, std::string id, caf::message, uint8_t
/// hops) -> the child's reply`; a retry with the same request id gets the
/// first reply without asking the child again.
using ring_call_atom = caf::atom_constant<caf::atom("rr_call")>;
/// `(ring_exec_atom, uint64_t request, std::string id, std::string function,
/// caf::message args, uint8_t hops) -> the function's result`.
using ring_exec_atom = caf::atom_constant<caf::atom("rr_exec")>;
/// `(ring_which_atom) -> std::vector<ring_child>`: every child of the cluster.
using ring_which_atom = caf::atom_constant<caf::atom("rr_which")>;
/// `(ring_local_atom) -> std::vector<ring_child>`: the children of this node.
using ring_local_atom = caf::atom_constant<caf::atom("rr_local")>;
/// `(ring_count_atom) -> std::vector<node_count>`: children running per
/// node, cheap enough to poll (a dashboard, a benchmark).
using ring_count_atom = caf::atom_constant<caf::atom("rr_count")>;
/// `(ring_stats_atom) -> ring_stats` of the node that receives it.
using ring_stats_atom = caf::atom_constant<caf::atom("rr_stats")>;
/// `(ring_records_atom) -> std::vector<ring_record>`: the records this node
/// keeps, sorted by id.
using ring_records_atom = caf::atom_constant<caf::atom("rr_records")>;
/// `(ring_endpoints_atom) -> std::vector<std::string>`: the endpoints
/// (`host:port`) of the up members that run this ring supervisor.
using ring_endpoints_atom = caf::atom_constant<caf::atom("rr_endpts")>;

// -- blocking client API ------------------------------------------------------

namespace ring {

/// Stores `spec` (in the first matching store, if any); then its owner
/// records it on a majority of its replicas and starts it. Returns where it
/// runs. Fails with `already_present` if the id is taken, and with
/// `store_failed` if fewer than a majority of the replicas answered (the
/// child may exist then: ask `find`).
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<placement>
start_child(caf::actor_system& sys, const caf::actor& sup, child_spec spec,
            caf::timespan timeout = default_call_timeout);

/// Stops the child `id` wherever it runs and replaces its record with a
/// tombstone on a majority of its replicas (and deletes it from its store).
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::error
delete_child(caf::actor_system& sys, const caf::actor& sup, const std::string& id,
             caf::timespan timeout = default_call_timeout);

/// Stops the child `id`, keeping its spec (supervisorring's terminate); the
/// change is acknowledged by a majority of its replicas.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::error
terminate_child(caf::actor_system& sys, const caf::actor& sup,
                const std::string& id, caf::timespan timeout = default_call_timeout);

/// Starts the terminated child `id` again on its owner.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<placement>
restart_child(caf::actor_system& sys, const caf::actor& sup,
              const std::string& id, caf::timespan timeout = default_call_timeout);

/// Returns where the child `id` runs, asking its owner (never a node known to
/// be down); waits while the child moves.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<placement>
find(caf::actor_system& sys, const caf::actor& sup, const std::string& id,
     caf::timespan timeout = default_call_timeout);

/// Sends `msg` to the child `id` wherever it runs and returns its reply.
/// Retries across moves and failovers until `timeout`, under one request id,
/// so the child handles the message at most once.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<caf::message>
call(caf::actor_system& sys, const caf::actor& sup, const std::string& id,
     caf::message msg, caf::timespan timeout = default_call_timeout);

/// Runs `spec.functions[function]` on the node that owns `id`, with the
/// child's handle; at most once, retried like `call`.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<caf::message>
exec(caf::actor_system& sys, const caf::actor& sup, const std::string& id,
     const std::string& function, caf::message args,
     caf::timespan timeout = default_call_timeout);

/// Lists every child of the cluster, sorted by id: each member reports
/// those it runs and those it owns that run nowhere (terminated, or not
/// started yet). The children of a member that does not answer within the
/// timeout are missing.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<std::vector<ring_child>>
which_children(caf::actor_system& sys, const caf::actor& sup,
               caf::timespan timeout = default_call_timeout);

/// Lists the children running on the node of `sup`, sorted by id.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<std::vector<ring_child>>
local_children(caf::actor_system& sys, const caf::actor& sup,
               caf::timespan timeout = default_call_timeout);

/// Returns how many children run on each up member, by name.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<std::vector<node_count>>
running_per_node(caf::actor_system& sys, const caf::actor& sup,
                 caf::timespan timeout = default_call_timeout);

/// Returns what the node of `sup` (a handle from its node directory) did.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<ring_stats>
stats(caf::actor_system& sys, const caf::actor& sup,
      caf::timespan timeout = default_call_timeout);

/// Returns the child records the node of `sup` keeps (tombstones too),
/// sorted by id: to check where records live, and that replicas agree.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<std::vector<ring_record>>
records(caf::actor_system& sys, const caf::actor& sup,
        caf::timespan timeout = default_call_timeout);

/// Counts the children of the cluster (`specs`: known, `active`: running).
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<child_counts>
count_children(caf::actor_system& sys, const caf::actor& sup,
               caf::timespan timeout = default_call_timeout);

} // namespace ring

} // namespace ringvisor::supervision
