#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/node.hpp"
#include "ringvisor/cluster/export.hpp"
#include "ringvisor/cluster/member.hpp"

namespace ringvisor::cluster {

/// What an activator is told (Stoker's events, all of them emitted).
enum class activator_event : uint8_t {
  /// This node leads now: start the cluster-wide work.
  now_leader,
  /// This node no longer leads (another one does, or the cluster is not
  /// valid): stop the work.
  now_follower,
  /// The membership changed while this node leads (leader only).
  cluster_change,
  /// This side of the cluster lost its majority (or `cluster_valid` said
  /// `split`): stop the work; a leader on the other side may take over.
  cluster_split,
  /// The time asked for by `next_timer_in` has come (leader only).
  timer,
  /// Someone called `trigger` on any node (leader only).
  trigger,
  /// This node's activator stops (the node shuts down).
  shutdown,
};

/// Returns `"now_leader"`, `"now_follower"`, ... .
RINGVISOR_CLUSTER_EXPORT const char* to_string(activator_event x);

/// The answer of `activator::cluster_valid`.
enum class cluster_validity : uint8_t { yes, no, split };

/// The user's side of a cluster singleton (Stoker's callbacks). One object
/// per node per activator name; its state lives in the object. The
/// functions run one at a time on the activator's actor: keep them short
/// and hand long work to actors of your own.
class RINGVISOR_CLUSTER_EXPORT activator {
public:
  virtual ~activator();

  /// Called once, before any event.
  virtual void init();

  /// Tells what happened; `reason` says why in words.
  virtual void event(activator_event kind, const std::string& reason) = 0;

  /// Returns when the leader's next `timer` event is due (asked after
  /// `now_leader` and after every `timer`); nothing: no timer.
  virtual std::optional<caf::timespan> next_timer_in();

  /// Says whether the cluster, as the up members show it, may have a
  /// leader: `no` (none for now), `split` (as if this side lost its
  /// majority). Default: `yes`.
  virtual cluster_validity cluster_valid(const std::vector<member>& up);

  /// Returns the state for operators (`cluster::dump`).
  virtual std::string dump() const;
};

using trigger_atom = caf::atom_constant<caf::atom("rv_trigger")>;
using leader_atom = caf::atom_constant<caf::atom("rv_leader")>;
using dump_atom = caf::atom_constant<caf::atom("rv_dump")>;

/// Returns the node directory name of the activator `name`.
RINGVISOR_CLUSTER_EXPORT std::string activator_name(const std::string& name);

/// Starts this node's activator `name` (the same on every node that takes
/// part), registers it in the node directory and makes the node stop it
/// on shutdown (before the agent leaves, so a leader's `shutdown` comes
/// before its successor's `now_leader`).
///
/// The leader is the oldest up member (lowest incarnation, that is the
/// longest-running process) among the nodes running this activator (a roll
/// call after every membership change tells which), as every up member
/// computes from the same view, on a side that holds a majority. Before it says `now_leader` a node asks every other up member
/// to release the lead, and waits until members that went down were proven
/// dead (their port refuses connections) or the fence (suspect-after plus a
/// heartbeat) passed, in which a cut-off leader notices its `split`; a node
/// alone with seeds waits a fence too, for the cluster it is about to join.
/// A leader
/// asks the agent for its lease before each `timer`, `trigger` and
/// `cluster_change`, so one resumed after a pause learns of its down first.
///
/// Messages (any node): `(leader_atom)` -> `std::string`, the leader's
/// node; `(trigger_atom, std::string reason)` -> `caf::ok_atom` once the
/// leader took it; `(dump_atom)` -> `std::string`.
///
/// Example:
/// ```
/// struct importer : cluster::activator {
///   void event(cluster::activator_event e, const std::string&) override {
///     if (e == cluster::activator_event::now_leader) start_imports();
///   }
/// };
/// auto act = cluster::start_activator(node, agent, "importer", std::make_unique<importer>());
/// ```
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT caf::expected<caf::actor>
start_activator(actor::node& node, const caf::actor& agent, std::string name,
                std::unique_ptr<activator> impl);

/// Returns the node that leads the activator `act` (a handle from any node).
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT caf::expected<std::string>
whereis_leader(caf::actor_system& sys, const caf::actor& act, caf::timespan timeout);

/// Wakes the leader of `act` with a `trigger` event.
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT caf::error
trigger(caf::actor_system& sys, const caf::actor& act, std::string reason,
        caf::timespan timeout);

/// Returns the activator's role on its node and its `dump()`.
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT caf::expected<std::string>
dump(caf::actor_system& sys, const caf::actor& act, caf::timespan timeout);

} // namespace ringvisor::cluster
