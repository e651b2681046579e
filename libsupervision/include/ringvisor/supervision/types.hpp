#pragma once

#include "ringvisor/supervision/export.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace ringvisor::supervision {

/// Registers libsupervision's message types (`child_spec`, `child_info`,
/// `child_counts`) and error category with `cfg`, and libactor's.
/// `ringvisor::add_types` calls it, with the other libraries'.
RINGVISOR_SUPERVISION_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor::supervision
