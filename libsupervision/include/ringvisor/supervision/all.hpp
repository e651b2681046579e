#pragma once

// Every public header of libsupervision: OTP supervisors on one node.

#include "ringvisor/supervision/child_spec.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/fwd.hpp"
#include "ringvisor/supervision/supervisor.hpp"
#include "ringvisor/supervision/types.hpp"
