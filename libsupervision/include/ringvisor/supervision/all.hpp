#pragma once

#include "ringvisor/supervision/child_spec.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/ring_client.hpp"
#include "ringvisor/supervision/ring_supervisor.hpp"
#include "ringvisor/supervision/fwd.hpp"
#include "ringvisor/supervision/ownership.hpp"
#include "ringvisor/supervision/supervisor.hpp"
#include "ringvisor/supervision/types.hpp"
#include "ringvisor/types.hpp"
