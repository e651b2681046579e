#pragma once

// Where `cluster::lease_of` and `cluster::agent_of` find a node's lease and
// agent without asking anyone (private to libcluster).

#include <memory>

#include <caf/fwd.hpp>

#include "ringvisor/cluster/lease.hpp"

namespace ringvisor::cluster::detail {

/// Makes `lease` the lease of the node of `sys` (start_agent calls it).
void register_lease(caf::actor_system& sys, std::shared_ptr<const lease_clock> lease);

/// Makes `agent` the agent of the node of `sys`, after `register_lease`.
void register_agent(caf::actor_system& sys, const caf::actor& agent);

/// Returns the agent of the node of `sys`, or null.
caf::actor registered_agent(caf::actor_system& sys);

} // namespace ringvisor::cluster::detail
