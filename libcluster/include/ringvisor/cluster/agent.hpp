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
/// The cluster is `starting` until `ringvisor.consensus` members are up,
/// then `up`; `stopping` once the agent shuts down. On an orderly shutdown the
/// agent tells its peers that it left (`removed`) before it exits, so they
/// do not take it for a crash.
///
/// Messages:
/// - `(caf::get_atom, members_atom)` -> `std::vector<member>`, sorted by name;
/// - `(caf::get_atom, status_atom)` -> `cluster_status`;
/// - `(await_up_atom)` -> `caf::ok_atom` once the cluster is up; bound it
///   with the request's timeout;
/// - `(subscribe_atom, caf::actor listener)`: the listener receives
///   `(view_atom, std::vector<member>)` now and after every change, and
///   `(status_atom, cluster_status before, cluster_status now,
///   std::vector<member>)` on every status transition.
///
/// A live agent that finds itself declared down (it was hung or cut off)
/// comes back as a new, higher incarnation, which every view takes over the
/// old one (SWIM's refutation).
///
/// Not yet: suspicion of silent peers beyond CAF's link heartbeats,
/// split-brain handling, `rehashing` (see issue 3).
///
/// Example:
/// ```
/// auto agent = cluster::start_agent(node);   // adopted by the node
/// ```
using members_atom = caf::atom_constant<caf::atom("members")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using view_atom = caf::atom_constant<caf::atom("rv_view")>;
using status_atom = caf::atom_constant<caf::atom("rv_status")>;
using await_up_atom = caf::atom_constant<caf::atom("rv_awaitup")>;

/// The cluster as one node sees it (Cloister's states).
enum class cluster_status : uint8_t { starting, up, stopping };

/// Returns `"starting"`, `"up"` or `"stopping"`.
RINGVISOR_CLUSTER_EXPORT const char* to_string(cluster_status x);

/// Spawns the node's cluster agent, registers it in the node directory and
/// makes the node stop it on shutdown. `retry` is how often it retries seeds
/// and members it is not connected to.
RINGVISOR_CLUSTER_EXPORT caf::actor
start_agent(actor::node& node,
            caf::timespan retry = std::chrono::milliseconds{500});

/// Registers libcluster's message types with `cfg`. Call it on every node.
RINGVISOR_CLUSTER_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor::cluster
