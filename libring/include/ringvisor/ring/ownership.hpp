#pragma once

#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "ringvisor/ring/export.hpp"
#include "ringvisor/ring/info.hpp"

namespace ringvisor::cluster {
class lease_clock;
} // namespace ringvisor::cluster

namespace ringvisor::ring {

/// Why a node whose lease is out answers `no_owner` for a child it runs (the
/// last element of the error's context): it may have been declared down (a
/// pause, a starved CPU, a cut), so it serves nothing until it holds the
/// lease again, and a ring client asks another member.
inline constexpr const char* no_lease_reason = "this node holds no lease";

/// What a ring child knows about its right to act: its placement (node and
/// epoch, from `(placed_atom, placement, restore_info)`, see `tell_placement`) and its
/// node's lease, which `still_owner` reads without a message.
///
/// Why a child needs it: a node that resumes after a pause (SIGSTOP, a
/// stalled VM, a starved CPU) was perhaps declared down meanwhile, and its
/// children's timers fire before the node hears the news; the ring
/// supervisor refuses requests for them at once, but only the child can
/// keep its own timer from acting. Check `still_owner()` before every side
/// effect, and send `where().epoch` with anything that leaves the process
/// (a row, a message to another service): a check cannot close the gap
/// between itself and the write, so the receiver refuses writes whose
/// epoch is older than the newest it saw for the child (Kleppmann's
/// fencing token).
///
/// Example:
/// ```
/// [self](ring::placed_atom, const ring::placement& where, const ring::restore_info&) {
///   self->state.owner = ring::ownership{self->system(), where};
/// },
/// [self](tick_atom) {
///   if (self->state.owner.still_owner())
///     store.write(self->state.record, self->state.owner.where().epoch);
/// },
/// [self](add_atom, int64_t x) -> caf::result<int64_t> {
///   if (!self->state.owner.still_owner())
///     return self->state.owner.refusal(self->state.id);
///   return self->state.total += x;
/// },
/// ```
class RINGVISOR_RING_EXPORT ownership {
public:
  /// Knows nothing yet: `still_owner()` is false.
  ownership() = default;

  /// The child placed at `where`, on the node of `sys` (which runs the
  /// cluster agent whose lease it reads).
  ownership(caf::actor_system& sys, placement where);

  /// Returns the placement: the node and the epoch to send with writes.
  const placement& where() const noexcept {
    return where_;
  }

  /// Returns whether the child may act now: its node holds the lease (an
  /// atomic load and a clock read).
  bool still_owner() const noexcept;

  /// Returns the answer to a request that came while `still_owner()` is
  /// false: a ring client asks another member.
  caf::error refusal(const std::string& child_id) const;

private:
  placement where_;
  std::shared_ptr<const cluster::lease_clock> lease_;
};

} // namespace ringvisor::ring
