#pragma once

#include <caf/actor_system_config.hpp>

#include "ringvisor/actor/export.hpp"

namespace ringvisor::actor {

/// Makes actor systems built from `cfg` use ringvisor's scheduler: CAF's own
/// (`scheduler.policy`, `scheduler.max-threads` and the rest apply as
/// before) with a quieter timer. CAF 0.17's timer thread is woken for every
/// timeout that is set or cancelled, which is twice per request with a
/// timeout (measured: 7% of a node's CPU and a futex wake on the caller's
/// path at 60k requests/s); ringvisor's is woken only when a new deadline is
/// earlier than the one it sleeps until. Nodes use it by default.
RINGVISOR_ACTOR_EXPORT void use_quiet_timer(caf::actor_system_config& cfg);

} // namespace ringvisor::actor
