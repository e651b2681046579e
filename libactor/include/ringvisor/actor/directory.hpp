#pragma once

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include "ringvisor/actor/export.hpp"

/// The node directory: the actor every node publishes on its port, so that a
/// peer that connects to `host:port` gets one handle from which it finds the
/// node's services by name (the cluster agent, supervisors, ...). A name
/// disappears when its actor terminates.
///
/// Messages:
/// - `(caf::put_atom, std::string name, caf::actor)` -> `caf::ok_atom`, or
///   `errc::name_taken` while another live actor holds the name;
/// - `(caf::get_atom, std::string name)` -> `caf::actor`, or `errc::not_registered`;
/// - `(caf::get_atom)` -> `std::vector<std::string>`, all names, sorted;
/// - `(forward_atom, std::string name, caf::message msg)`: hands `msg` to
///   the actor under `name`, which answers the original sender (one hop for
///   a caller on another node); `errc::not_registered` if there is none;
/// - `(stop_atom)` -> `caf::ok_atom`: the node stops in order, as on
///   SIGTERM (`node::request_stop`): its cluster agent leaves, its ring
///   supervisors hand their children off; `caf::sec::feature_disabled`
///   if its program does not wait in `node::await_signal`.
///
/// Like everything on the cluster port, it answers only peers that proved
/// the cluster secret (see docs/security.md); any of them may use all of it.
///
/// Example (from a peer):
/// ```
/// auto dir = ringvisor::actor::remote_directory(sys, "127.0.0.2:4900", 2s);
/// self->request(*dir, 1s, caf::get_atom::value, "cluster").then(...);
/// ```
namespace ringvisor::actor {

using forward_atom = caf::atom_constant<caf::atom("rv_forward")>;
using stop_atom = caf::atom_constant<caf::atom("rv_stop")>;

/// Spawns a node directory.
RINGVISOR_ACTOR_EXPORT caf::actor spawn_directory(caf::actor_system& sys);

/// Connects to the node listening on `endpoint` ("host:port") and returns
/// its directory, or gives up after `timeout`.
RINGVISOR_ACTOR_EXPORT caf::expected<caf::actor>
remote_directory(caf::actor_system& sys, const std::string& endpoint,
                 caf::timespan timeout);

} // namespace ringvisor::actor
