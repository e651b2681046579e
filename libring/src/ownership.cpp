#include "ringvisor/ring/ownership.hpp"

#include "ringvisor/cluster/lease.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

ownership::ownership(caf::actor_system& sys, placement where)
  : where_(std::move(where)), lease_(cluster::lease_of(sys)) {
  // nop
}

bool ownership::still_owner() const noexcept {
  return lease_ && lease_->held();
}

caf::error ownership::refusal(const std::string& child_id) const {
  return make_error(errc::no_owner, "ring child", child_id, no_lease_reason);
}

} // namespace ringvisor::ring
