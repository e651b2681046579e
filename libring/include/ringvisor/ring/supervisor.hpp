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
#include "ringvisor/ring/child_store.hpp"
#include "ringvisor/ring/export.hpp"
#include "ringvisor/ring/info.hpp"
#include "ringvisor/ring/ref.hpp"
#include "ringvisor/supervision/child_spec.hpp"
#include "ringvisor/supervision/supervisor.hpp"

/// The ring supervisor (supervisorring): one supervisor spread over the
/// cluster. Every child runs on the node that owns its id on the consistent
/// hash ring of the up members, at most one instance at a time; when the ring
/// changes, children move to their new owner with their state, and the
/// children of a node that died start again on the survivors. See
/// `docs/ring-supervisor.md` for the protocol and its guarantees.
///
/// Start one with the same name and spec on every node (after the cluster
/// agent); the `ring::ref` it returns reaches every child from any thread or
/// actor of the node, and `ring::client` from a program outside the cluster.
///
/// Example:
/// ```
/// ring::supervisor_spec spec;
/// spec.name = "heroes";
/// auto heroes = ring::start_supervisor(node, std::move(spec));
/// auto where = heroes->start_child("batman", "hero");
/// auto wins = heroes->call<int64_t>("batman", fight_atom::value);
/// ```
namespace ringvisor::ring {

/// A function that `ring::ref::exec` runs on the node that owns a child, on a
/// thread of its own (it may block), with the child's handle.
using exec_function = std::function<caf::expected<caf::message>(
  caf::actor_system& sys, const caf::actor& child, const caf::message& args)>;

/// The `migrate(id, from, to)` hook: returns the request that makes the old
/// child reply with its state as `actor::bytes` before it stops; the new
/// child receives `(actor::put_state_atom, bytes)` before anything else.
/// Default: `(actor::get_state_atom)`, the stateful-child contract.
using migrate_function = std::function<caf::message(const std::string& id, const std::string& from,
                                                    const std::string& to)>;

/// A ring supervisor's configuration; the same on every node.
struct supervisor_spec {
  /// Unique per cluster; names the supervisor in every node directory.
  std::string name;

  /// The supervisor of this node's share of the children: its strategy and
  /// restart intensity. A local supervisor that exceeds the intensity is
  /// restarted with its children; if that happens more than twice within
  /// 2 x `period`, the ring supervisor stops on every node and exits with
  /// `errc::reached_max_restart_intensity` (its parent decides).
  supervision::restart_strategy strategy = supervision::restart_strategy::one_for_one;
  size_t max_restarts = 3;
  caf::timespan period = std::chrono::seconds{5};

  /// Children every node knows from the start (specs with a type, no
  /// `start` function: they must be startable on any node).
  std::vector<supervision::child_spec> children;

  /// Where `ring::ref::start_child` stores children: the first store whose
  /// `match` accepts the spec. Without a matching store, a started child
  /// lives as long as one of its replicas keeps its record.
  std::vector<std::shared_ptr<child_store>> stores;

  /// Resolves child types; the node's registry if null.
  std::shared_ptr<const actor::factory_registry> factories;

  /// Functions that `ring::ref::exec` can run, by name.
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

/// Returns the node directory name of the ring supervisor `name`: a
/// program outside the cluster asks a node's directory for it (`ring::client`
/// does).
RINGVISOR_RING_EXPORT std::string directory_name(const std::string& name);

/// Starts this node's part of the ring supervisor `spec.name` (start it on
/// every node, after the cluster agent), registers it in the node directory
/// and makes the node stop it on shutdown: a graceful stop hands every
/// child, with its state, to its next owner first. Returns a handle to it.
/// Fails if the spec is malformed (static children with unknown types or
/// `start` functions, no name), the name is taken, or the node runs no
/// cluster agent.
[[nodiscard]] RINGVISOR_RING_EXPORT caf::expected<ref> start_supervisor(actor::node& node,
                                                                        supervisor_spec spec);

/// Returns a child spec that starts this node's part of a ring supervisor
/// under a parent supervisor, which then sees the ring supervisor's global
/// stop as the child's exit. Once the parent runs it, `ring::lookup` finds it.
RINGVISOR_RING_EXPORT supervision::child_spec supervisor_child(std::string id, actor::node& node,
                                                               supervisor_spec spec);

/// Returns a handle to the ring supervisor `name` that runs on `node`;
/// fails with `actor::errc::not_registered` if it does not run there (yet).
/// Asks the node directory and waits for it: call it from a plain thread,
/// and keep the handle (an actor gets one passed in).
[[nodiscard]] RINGVISOR_RING_EXPORT caf::expected<ref> lookup(actor::node& node,
                                                              const std::string& name);

} // namespace ringvisor::ring
