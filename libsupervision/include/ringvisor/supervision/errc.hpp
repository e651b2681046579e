#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include "ringvisor/supervision/export.hpp"

namespace ringvisor::supervision {

/// Errors raised by libsupervision; they cross nodes as `caf::error`.
enum class errc : uint8_t {
  /// A supervisor exceeded `max_restarts` within `period` and gave up: the
  /// exit reason its parent sees (OTP's `shutdown` after `reached_max_restart_intensity`).
  reached_max_restart_intensity = 1,
  /// A child could not be started.
  start_failed,
  /// A child spec with that id exists, but its child is not running.
  already_present,
  /// A child with that id is running.
  already_started,
  /// No child spec has that id.
  not_found,
  /// The operation needs the child to be stopped first.
  running,
  /// The supervisor is shutting down and takes no more requests.
  shutting_down,
  /// The child spec is malformed (empty id, duplicate id, no type).
  bad_spec,
  /// A child store could not read or write (disk full, damaged file, no
  /// permission); the context says which and what to do.
  store_failed,
  /// No node can serve the ring child now: the ring is empty, this side of
  /// the cluster is split off, or the request went around too many nodes
  /// while the child moved. Retry later (`ring::ref::call` does).
  no_owner,
};

/// CAF error category of `errc`.
inline constexpr caf::atom_value errc_category = caf::atom("rv.sup");

/// Returns the enumerator's name, e.g. `"not_found"`.
RINGVISOR_SUPERVISION_EXPORT std::string to_string(errc x);

/// Makes a `caf::error` from `x`, with `context` saying what went wrong.
template <class... Ts>
caf::error make_error(errc x, Ts&&... context) {
  return caf::error{static_cast<uint8_t>(x), errc_category,
                    caf::make_message(std::forward<Ts>(context)...)};
}

} // namespace ringvisor::supervision
