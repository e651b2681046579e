#pragma once

// The names libring's own sources take from libsupervision (private): a ring
// supervisor is built from child specs, local supervisors and their errors.

#include "ringvisor/supervision/child_spec.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/supervisor.hpp"

namespace ringvisor::ring {

using supervision::child_counts;
using supervision::child_finished_atom;
using supervision::child_kind;
using supervision::child_spec;
using supervision::child_started_atom;
using supervision::default_call_timeout;
using supervision::delete_child_atom;
using supervision::detach_child_atom;
using supervision::errc;
using supervision::make_error;
using supervision::restart_strategy;
using supervision::restart_type;
using supervision::shutdown_policy;
using supervision::snapshot_policy;
using supervision::spawn_supervisor;
using supervision::start_child_atom;

} // namespace ringvisor::ring
