#pragma once

#include <chrono>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/message.hpp>

#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

/// Returns whether the process that listened on `endpoint` ("host:port") is
/// gone for sure: a TCP connect is refused, so nothing listens there. A
/// dying process may close its connections a moment before its port, so
/// this asks again, 10 ms apart doubling to 200 ms, until `until`. A timeout
/// (a cut network, a hung host) proves nothing; neither does a connection
/// that is accepted. Blocks: call it off the scheduler's threads.
RINGVISOR_CLUSTER_EXPORT bool proven_dead(const std::string& endpoint,
                                          std::chrono::steady_clock::time_point until);

/// Runs `proven_dead` on a detached actor of its own and sends `msg` to
/// `listener` if it proved the death.
RINGVISOR_CLUSTER_EXPORT void probe_death(caf::actor_system& sys, std::string endpoint,
                                          std::chrono::steady_clock::time_point until,
                                          caf::actor listener, caf::message msg);

} // namespace ringvisor::cluster
