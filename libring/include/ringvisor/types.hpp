#pragma once

#include "ringvisor/ring/export.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace ringvisor {

/// Registers the message types and error categories of every ringvisor
/// library (libactor, libcluster, libsupervision, libring) with `cfg`, and turns on
/// CAF's link heartbeats unless `cfg` sets them. Call it once, before the
/// actor system starts, in every node and every client. A node without it
/// refuses to start its cluster agent or ring supervisors and names the
/// missing type (a slip must not leave a node that cannot greet its seeds).
///
/// Example:
/// ```
/// actor::node_config cfg;
/// ringvisor::add_types(cfg);
/// cfg.read(argc, argv);
/// ```
RINGVISOR_RING_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor
