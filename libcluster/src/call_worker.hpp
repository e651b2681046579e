#pragma once

// The short-lived actor behind multicall and call (private to libcluster).

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

namespace ringvisor::cluster::detail {

using go_atom = caf::atom_constant<caf::atom("rv_go")>;

/// A member to ask: its name and node directory (null if unreachable).
struct call_target {
  std::string node;
  caf::actor directory;
};

/// Spawns an actor that, on `(go_atom)`, asks the actor `name` on every
/// target and answers `std::vector<node_reply>` in `targets` order, failing
/// a target at once if its link drops. It quits after answering.
caf::actor spawn_call_worker(caf::actor_system& sys,
                             std::vector<call_target> targets,
                             std::string name, caf::message msg,
                             caf::timespan timeout);

} // namespace ringvisor::cluster::detail
