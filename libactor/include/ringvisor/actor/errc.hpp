#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include "ringvisor/actor/export.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace ringvisor::actor {

/// Errors raised by libactor. They cross nodes as `caf::error` with the
/// category `errc_category`; `caf::actor_system::render` names them once
/// `add_types` registered the category.
enum class errc : uint8_t {
  /// The factory registry has no child type of that name.
  unknown_child_type = 1,
  /// The arguments do not match the signature the child type was registered with.
  bad_child_args,
  /// A child type was registered twice under one name.
  duplicate_child_type,
  /// A configuration key is unknown or its value is invalid.
  bad_config,
  /// State bytes could not be written or read.
  bad_state,
  /// The node could not open its port or start its actor system.
  node_start_failed,
  /// A node directory name is taken by a live actor.
  name_taken,
  /// A node directory has no actor under that name.
  not_registered,
  /// The peer did not prove the cluster secret and name (or we did not).
  authentication_failed,
  /// The member that was to answer a request left or was lost while the
  /// request was in flight: it may or may not have run.
  member_down,
  /// A peer's outbound queue is full: the message was not sent.
  peer_overloaded,
  /// A message is larger than `ringvisor.max-frame`: it was not sent.
  frame_too_large,
};

/// CAF error category of `errc`.
inline constexpr caf::atom_value errc_category = caf::atom("rv.actor");

/// Returns the enumerator's name, e.g. `"unknown_child_type"`.
RINGVISOR_ACTOR_EXPORT std::string to_string(errc x);

/// Makes a `caf::error` from `x`, with `context` describing what went wrong.
template <class... Ts>
caf::error make_error(errc x, Ts&&... context) {
  return caf::error{static_cast<uint8_t>(x), errc_category,
                    caf::make_message(std::forward<Ts>(context)...)};
}

/// Registers, with `cfg` and process-wide for `render`, that errors of
/// `category` print as
/// `prefix.name: context...`, where `name_of(code)` gives the name.
RINGVISOR_ACTOR_EXPORT void add_error_renderer(caf::actor_system_config& cfg,
                                               caf::atom_value category,
                                               std::string prefix,
                                               std::string (*name_of)(uint8_t));

/// Renders any error as one line without an actor system: known ringvisor
/// categories by name, everything else as CAF prints it.
RINGVISOR_ACTOR_EXPORT std::string render(const caf::error& x);

} // namespace ringvisor::actor
