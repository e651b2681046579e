#pragma once

#include "ringvisor/actor/export.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace ringvisor::actor {

/// Registers libactor's message types and error category with `cfg`.
/// `node_config` calls it; every library has an `add_types` of its own, and
/// every node of a cluster must call the same ones.
RINGVISOR_ACTOR_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor::actor
