#pragma once

#include "ringvisor/supervision/export.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace ringvisor::supervision {

/// Registers libsupervision's message types (`child_spec`, `child_info`,
/// `child_counts`) and error category with `cfg`. Call it on every node.
RINGVISOR_SUPERVISION_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor::supervision
