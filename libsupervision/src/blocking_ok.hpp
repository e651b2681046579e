#pragma once

// The blocking `ok` request behind libsupervision's client functions (private).

#include <string>
#include <utility>

#include <caf/atom.hpp>

#include "ringvisor/actor/blocking.hpp"

namespace ringvisor::supervision::detail {

/// Sends `(op, id)` to `dest` and expects `ok`.
inline caf::error blocking_ok(caf::actor_system& sys, const caf::actor& dest,
                              caf::timespan timeout, caf::atom_value op,
                              const std::string& id) {
  auto result = actor::blocking_request<caf::ok_atom>(sys, dest, timeout, op, id);
  return result ? caf::none : std::move(result.error());
}

} // namespace ringvisor::supervision::detail
