#pragma once

#include <cstddef>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "ringvisor/actor/export.hpp"

namespace ringvisor::actor {

/// Makes actor systems built from `cfg` use ringvisor's scheduler: CAF's own
/// (`scheduler.policy`, `scheduler.max-threads` and the rest apply as
/// before) with a quieter timer. CAF 0.17's timer thread is woken for every
/// timeout that is set or cancelled, which is twice per request with a
/// timeout (measured: 7% of a node's CPU and a futex wake on the caller's
/// path at 60k requests/s); ringvisor's is woken only when a new deadline is
/// earlier than the one it sleeps until. The wire cancels a remote request's
/// timeout when its answer arrives (CAF 0.17 leaves it to fire into the
/// requester's mailbox). Nodes use it by default.
RINGVISOR_ACTOR_EXPORT void use_quiet_timer(caf::actor_system_config& cfg);

/// Returns how many timeouts and delayed messages the quiet timer of `sys`
/// holds (0 if `sys` has CAF's timer).
RINGVISOR_ACTOR_EXPORT size_t pending_timers(caf::actor_system& sys);

} // namespace ringvisor::actor
