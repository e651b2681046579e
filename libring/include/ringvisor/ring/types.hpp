#pragma once

#include "ringvisor/ring/export.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace ringvisor::ring {

/// Registers libring's message types with `cfg`, and those of the libraries
/// it builds on (libactor, libcluster, libsupervision). `ringvisor::add_types`
/// calls it.
RINGVISOR_RING_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor::ring
