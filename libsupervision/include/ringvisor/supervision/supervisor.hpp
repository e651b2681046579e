#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/factory_registry.hpp"
#include "ringvisor/supervision/child_spec.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/export.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace ringvisor::supervision {

/// Which children a supervisor restarts when one of them exits.
enum class restart_strategy : uint8_t {
  /// Only the child that exited.
  one_for_one,
  /// All children: the others are stopped (newest first), then all started.
  one_for_all,
  /// The child that exited and every child started after it.
  rest_for_one,
};

/// A supervisor's flags and initial children (OTP's `init/1` result).
///
/// Example:
/// ```
/// supervisor_spec spec;
/// spec.name = "importers";
/// spec.strategy = restart_strategy::one_for_one;
/// spec.max_restarts = 3;                  // at most 3 restarts ...
/// spec.period = std::chrono::seconds{5};  // ... within 5 s, else escalate
/// spec.factories = node.factories();
/// spec.children.push_back(importer_spec);
/// auto sup = spawn_supervisor(sys, spec);
/// ```
struct supervisor_spec {
  /// Shown in log lines and escalation reasons.
  std::string name = "supervisor";

  restart_strategy strategy = restart_strategy::one_for_one;

  /// Restart intensity: more than `max_restarts` restarts within `period`
  /// make the supervisor stop its children and exit with
  /// `errc::reached_max_restart_intensity`, which its parent handles.
  size_t max_restarts = 3;

  caf::timespan period = std::chrono::seconds{5};

  /// Back-off before a restart: 0 restarts at once. Otherwise the first
  /// restart within `period` waits `restart_delay`, each further one twice as
  /// long as the one before, up to `max_restart_delay`. Children that a
  /// strategy stops are stopped at once; only their starts wait.
  caf::timespan restart_delay{0};

  caf::timespan max_restart_delay = std::chrono::seconds{10};

  /// Started in order when the supervisor starts, stopped in reverse order.
  std::vector<child_spec> children;

  /// Resolves `child_spec::type`. May be null if every spec has `start`.
  std::shared_ptr<const actor::factory_registry> factories;

  /// Told of every start and every final exit of a child, if set:
  /// `(child_started_atom, std::string id, caf::actor)` and
  /// `(child_finished_atom, std::string id, caf::error reason)` when a child
  /// exits and is not restarted (a transient child that ended normally, a
  /// temporary one). Ring supervisors use it to track their children.
  caf::actor observer;
};

/// Spawns a supervisor after checking `spec` (unique non-empty ids, known
/// child types). The supervisor then starts its children in order; if one
/// fails, it stops those already started and exits with `errc::start_failed`.
///
/// A supervisor traps exit messages: an exit with any reason but `normal`
/// makes it stop its children in reverse order and exit with that reason.
/// If it is killed, it kills its children.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<caf::actor>
spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

/// Returns a child spec that runs a nested supervisor built from `spec`,
/// with `shutdown_policy::infinity()` as OTP recommends for supervisors.
RINGVISOR_SUPERVISION_EXPORT child_spec supervisor_child(std::string id,
                                                         supervisor_spec spec);

// -- messages -----------------------------------------------------------------

/// `(start_child_atom, child_spec) -> caf::actor`: adds and starts a child.
using start_child_atom = caf::atom_constant<caf::atom("startchild")>;

/// `(terminate_child_atom, std::string id) -> ok`: stops a child, keeping its
/// spec (a temporary child's spec is removed).
using terminate_child_atom = caf::atom_constant<caf::atom("termchild")>;

/// `(restart_child_atom, std::string id) -> caf::actor`: starts a stopped child.
using restart_child_atom = caf::atom_constant<caf::atom("restchild")>;

/// `(delete_child_atom, std::string id) -> ok`: removes a stopped child's spec.
using delete_child_atom = caf::atom_constant<caf::atom("delchild")>;

/// `(detach_child_atom, std::string id) -> caf::actor`: removes the child's
/// spec and stops supervising it, without stopping it; the caller owns the
/// returned handle (invalid if it was not running). Ring supervisors use it
/// to stop many moving children at once.
using detach_child_atom = caf::atom_constant<caf::atom("detchild")>;

/// `(which_children_atom) -> std::vector<child_info>`, in start order.
using which_children_atom = caf::atom_constant<caf::atom("whichchild")>;

/// `(count_children_atom) -> child_counts`.
using count_children_atom = caf::atom_constant<caf::atom("countchild")>;

/// Sent to `supervisor_spec::observer` when a child (re)started.
using child_started_atom = caf::atom_constant<caf::atom("childup")>;

/// Sent to `supervisor_spec::observer` when a child exited for good.
using child_finished_atom = caf::atom_constant<caf::atom("childdone")>;

// -- blocking client API --------------------------------------------------------
//
// For code outside actors (tools, main, tests). Each call uses a scoped actor
// of its own, so a late reply or timeout never piles up in a caller's mailbox.
// Actors should send the messages above with `request(...).then(...)` instead.

/// Default timeout of the blocking calls below.
inline constexpr caf::timespan default_call_timeout = std::chrono::seconds{5};

/// Adds `spec` to `sup` and starts its child.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<caf::actor>
start_child(caf::actor_system& sys, const caf::actor& sup, child_spec spec,
            caf::timespan timeout = default_call_timeout);

/// Stops the child `id` of `sup` without restarting it.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::error
terminate_child(caf::actor_system& sys, const caf::actor& sup,
                const std::string& id,
                caf::timespan timeout = default_call_timeout);

/// Starts the stopped child `id` of `sup` again.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<caf::actor>
restart_child(caf::actor_system& sys, const caf::actor& sup,
              const std::string& id,
              caf::timespan timeout = default_call_timeout);

/// Removes the stopped child `id` from `sup`.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::error
delete_child(caf::actor_system& sys, const caf::actor& sup,
             const std::string& id,
             caf::timespan timeout = default_call_timeout);

/// Lists the children of `sup` in start order.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<std::vector<child_info>>
which_children(caf::actor_system& sys, const caf::actor& sup,
               caf::timespan timeout = default_call_timeout);

/// Counts the children of `sup`.
[[nodiscard]] RINGVISOR_SUPERVISION_EXPORT caf::expected<child_counts>
count_children(caf::actor_system& sys, const caf::actor& sup,
               caf::timespan timeout = default_call_timeout);

} // namespace ringvisor::supervision
