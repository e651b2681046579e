#pragma once

#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

/// Returns the ringvisor version this library was built from, e.g. `"0.1.0"`.
RINGVISOR_CLUSTER_EXPORT const char* version() noexcept;

} // namespace ringvisor::cluster
