#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/node.hpp"
#include "ringvisor/cluster/export.hpp"
#include "ringvisor/cluster/member.hpp"

namespace ringvisor::cluster {

/// The cluster agent: one per node, registered as `"cluster"` in the node
/// directory. It joins through the seeds, connects to every member it learns
/// of (full mesh: handles relayed through a third node lose their down
/// messages), spreads membership views by push gossip, and marks a member
/// `down` when the link to its agent drops (a crash or kill -9 closes the
/// TCP connection, which CAF reports at once).
///
/// Messages:
/// - `(caf::get_atom, members_atom)` -> `std::vector<member>`, sorted by name;
/// - `(subscribe_atom, caf::actor listener)`: the listener receives
///   `(view_atom, std::vector<member>)` now and after every change.
///
/// Not yet: suspicion of silent peers (heartbeats), consensus status,
/// split-brain handling, graceful leave (see issue 3).
///
/// Example:
/// ```
/// auto agent = cluster::start_agent(node);   // adopted by the node
/// ```
using members_atom = caf::atom_constant<caf::atom("members")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using view_atom = caf::atom_constant<caf::atom("rv_view")>;

/// Spawns the node's cluster agent, registers it in the node directory and
/// makes the node stop it on shutdown. `retry` is how often it retries seeds
/// and members it is not connected to.
RINGVISOR_CLUSTER_EXPORT caf::actor
start_agent(actor::node& node,
            caf::timespan retry = std::chrono::milliseconds{500});

/// Registers libcluster's message types with `cfg`. Call it on every node.
RINGVISOR_CLUSTER_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor::cluster
