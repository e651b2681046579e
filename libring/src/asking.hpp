#pragma once

// How a request goes to one member's ring supervisor and is asked again
// while its child moves (private): the blocking loop for threads, and the
// same loop for actors, which must not block.

#include <chrono>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/ring/ref.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

using clock_type = std::chrono::steady_clock;

/// Pause before asking again while the ring moves, or after every member
/// failed to connect.
constexpr auto retry_pause = std::chrono::milliseconds{20};

/// How long one attempt may take before the member counts as silent.
constexpr auto attempt_timeout = std::chrono::seconds{1};

/// Whether the node said it cannot serve for now: it is split off (until
/// the partition heals; it changes no child list either), holds no lease, or
/// is not up yet. Either way it did not act on the request.
bool refused_for_now(const caf::error& err);

/// How long to keep asking one member.
struct patience {
  bool while_moving;     // ask again while the child moves or the rings differ
  bool through_silence;  // ask again after an attempt without an answer
  caf::timespan attempt; // at most, for one attempt
  bool while_starting;   // ask again while the member is not up yet
  bool through_gone;     // ask again after request_receiver_down (is the member gone?)
};

/// The patience of a `ring::ref`: a routed request (find, call, exec) waits
/// out moves, silent attempts and lost owners under its request id; a
/// change or read is asked once and given the whole `timeout` (a change
/// that met a lost owner may have been acted on). Both wait for a member
/// that is not up yet (a node's own ring supervisor, which has nobody else
/// to ask), which acts on nothing until it is.
patience patience_for(bool routed, caf::timespan timeout);

/// Whether one attempt that failed with `err` calls for another at the
/// same member.
bool ask_again(const caf::error& err, const patience& how);

/// Sends `msg` to `sup` until an answer or a fault that `how` does not wait
/// out, within `deadline`; sets `sent` once a request went out. Blocks.
caf::expected<caf::message> ask_member(caf::actor_system& sys, const caf::actor& sup,
                                       const caf::message& msg, clock_type::time_point deadline,
                                       patience how, bool& sent);

/// The same from the actor `self`: `f` gets the reply, `g` the final error,
/// in `self`'s context. The first attempt goes from `self`; attempts after
/// it from a helper actor that sleeps between them.
void ask_member(caf::event_based_actor* self, const caf::actor& sup, caf::message msg,
                clock_type::time_point deadline, patience how, detail::reply_fn f,
                detail::error_fn g);

/// Counts the children of a `which_children` reply.
supervision::child_counts counts_of(const std::vector<ring_child>& all);

} // namespace ringvisor::ring
