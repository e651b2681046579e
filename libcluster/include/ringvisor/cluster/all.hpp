#pragma once

// Every public header of libcluster: membership, failure detection, split
// brain, rings, calls, proof of death, the singleton activator and the
// global name registry.

#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/death_probe.hpp"
#include "ringvisor/cluster/discovery.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/cluster/fwd.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/cluster/lease.hpp"
#include "ringvisor/cluster/member.hpp"
#include "ringvisor/cluster/membership.hpp"
#include "ringvisor/cluster/registry.hpp"
#include "ringvisor/cluster/service_pool.hpp"
#include "ringvisor/cluster/singleton.hpp"
#include "ringvisor/cluster/split_brain.hpp"
#include "ringvisor/cluster/version.hpp"
