#pragma once

#include <string>

#include <caf/fwd.hpp>

#include "ringvisor/actor/export.hpp"

namespace ringvisor::actor {

/// Registers libactor's message types and error category with `cfg`.
/// `node_config` calls it; every library has an `add_types` of its own, and
/// every node of a cluster and every client must call the same ones.
RINGVISOR_ACTOR_EXPORT void add_types(caf::actor_system_config& cfg);

/// Returns an error naming the first element type of `sample` that `sys`
/// cannot send to another node (it was not registered: CAF 0.17 would print
/// a line and send garbage), or none. `what` says what the sample stands
/// for. A service calls it at start with a sample of what it sends, so that
/// a configuration slip stops the node instead of cutting it off.
///
/// Example:
/// ```
/// if (auto err = check_wire_types(sys, caf::make_message(hello_atom::value, member{}),
///                                 "the cluster agent's greeting"))
///   return err; // "... type ringvisor::cluster::member is not registered ..."
/// ```
RINGVISOR_ACTOR_EXPORT caf::error check_wire_types(caf::actor_system& sys,
                                                   const caf::message& sample,
                                                   const std::string& what);

} // namespace ringvisor::actor
