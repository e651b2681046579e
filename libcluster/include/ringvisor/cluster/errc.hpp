#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

/// Errors raised by libcluster; they cross nodes as `caf::error`.
enum class errc : uint8_t {
  /// The link to the member's node dropped while a request to it was in
  /// flight: the request failed at once instead of waiting for its timeout.
  member_down = 1,
  /// The member is not reachable from this node right now.
  member_unreachable,
  /// No up member has that name.
  not_member,
  /// The ring has no member (no node is up, or none in the group).
  empty_ring,
  /// A singleton has no leader right now (the cluster is starting, split
  /// or not valid, or the lead is changing hands): try again.
  no_leader,
  /// Two actors held one name when a partition healed; this one lost (the
  /// exit reason of the losing actor).
  name_conflict,
  /// This side of the cluster lost its majority and takes no new names.
  split_off,
  /// Not ready yet (a registry still learning the names): try again.
  not_ready,
};

/// CAF error category of `errc`.
inline constexpr caf::atom_value errc_category = caf::atom("rv.clu");

/// Returns the enumerator's name, e.g. `"member_down"`.
RINGVISOR_CLUSTER_EXPORT std::string to_string(errc x);

/// Makes a `caf::error` from `x`, with `context` saying what went wrong.
template <class... Ts>
caf::error make_error(errc x, Ts&&... context) {
  return caf::error{static_cast<uint8_t>(x), errc_category,
                    caf::make_message(std::forward<Ts>(context)...)};
}

} // namespace ringvisor::cluster
