#pragma once

// Where `cluster::lease_of` finds a node's lease (private to libcluster).

#include <memory>

#include <caf/fwd.hpp>

#include "ringvisor/cluster/lease.hpp"

namespace ringvisor::cluster::detail {

/// Makes `lease` the lease of the node of `sys` (start_agent calls it).
void register_lease(caf::actor_system& sys, std::shared_ptr<const lease_clock> lease);

} // namespace ringvisor::cluster::detail
