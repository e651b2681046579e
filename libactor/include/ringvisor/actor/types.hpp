#pragma once

#include "ringvisor/actor/export.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace ringvisor::actor {

/// Registers libactor's message types and error category with `cfg`, and
/// turns on CAF's link heartbeats (200 ms, connection timeout 1 s) unless
/// `cfg` sets them: nodes drop connections that stay silent, and a client
/// that sends none would lose its link to every node it talks to.
/// `node_config` calls it; every library has an `add_types` of its own, and
/// every node of a cluster and every client must call the same ones.
RINGVISOR_ACTOR_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor::actor
