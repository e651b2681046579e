#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/supervision/export.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace ringvisor::supervision {

/// When a supervisor restarts a child that exited (OTP's `restart`).
enum class restart_type : uint8_t {
  /// Always restarted.
  permanent,
  /// Restarted only after an abnormal exit: any reason other than `normal`
  /// or `user_shutdown`.
  transient,
  /// Never restarted; its spec is removed once it exits.
  temporary,
};

/// Whether a child is a worker or a supervisor (OTP's `type`).
enum class child_kind : uint8_t { worker, supervisor };

/// How a supervisor stops a child (OTP's `shutdown`).
struct shutdown_policy {
  enum class mode : uint8_t {
    /// Send `user_shutdown`, wait up to `timeout`, then `kill`.
    timeout,
    /// Send `kill` at once.
    brutal_kill,
    /// Send `user_shutdown` and wait as long as it takes (for supervisors).
    infinity,
  };

  mode how = mode::timeout;
  caf::timespan timeout = std::chrono::seconds{5};

  /// Stop with `user_shutdown`, kill after `t`.
  static shutdown_policy after(caf::timespan t) {
    return {mode::timeout, t};
  }

  /// Kill at once.
  static shutdown_policy brutal_kill() {
    return {mode::brutal_kill, caf::timespan{0}};
  }

  /// Stop with `user_shutdown` and wait without limit.
  static shutdown_policy infinity() {
    return {mode::infinity, caf::timespan{0}};
  }
};

/// When a ring supervisor copies a child's state to the child's replicas
/// (see `ring::supervisor_spec::replicas`), so that the child starts from it
/// again after its node dies. Local supervisors ignore it.
struct snapshot_policy {
  enum class mode : uint8_t {
    /// Never (the default): the child starts afresh after a crash of its
    /// node, and a failover asks no member for snapshots.
    off,
    /// Whenever the child asks for a checkpoint (`checkpoint_atom`).
    on_request,
    /// Every `interval`, and on checkpoints.
    every,
    /// After each call the child answered (`ring::ref::call`), and on checkpoints.
    after_each_call,
  };

  mode when = mode::off;
  caf::timespan interval = std::chrono::seconds{1};

  /// Never.
  static snapshot_policy off() {
    return {mode::off, caf::timespan{0}};
  }

  /// Only when the child asks.
  static snapshot_policy on_request() {
    return {mode::on_request, caf::timespan{0}};
  }

  /// Every `t` (and when the child asks).
  static snapshot_policy every(caf::timespan t) {
    return {mode::every, t};
  }

  /// After each answered call (and when the child asks).
  static snapshot_policy after_each_call() {
    return {mode::after_each_call, caf::timespan{0}};
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot_policy& x) {
  return f(caf::meta::type_name("ringvisor::snapshot_policy"), x.when, x.interval);
}

/// Describes one child of a supervisor, as OTP's child spec does.
///
/// Example:
/// ```
/// child_spec spec;
/// spec.id = "importer";
/// spec.type = "importer";                 // a name in the factory registry
/// spec.args = caf::make_message(std::string{"/data/in"});
/// spec.restart = restart_type::transient;
/// spec.shutdown = shutdown_policy::after(std::chrono::seconds{2});
/// ```
struct child_spec {
  /// Unique among the supervisor's children.
  std::string id;

  /// Child type in the supervisor's factory registry.
  std::string type;

  /// Arguments for the factory.
  caf::message args;

  restart_type restart = restart_type::permanent;

  shutdown_policy shutdown;

  child_kind kind = child_kind::worker;

  /// When a ring supervisor snapshots the child's state.
  snapshot_policy snapshot;

  /// Optional local start function, used instead of `type`. A spec that has
  /// one does not survive serialization: only `type` travels between nodes.
  std::function<caf::expected<caf::actor>(caf::actor_system&)> start;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_policy& x) {
  return f(caf::meta::type_name("ringvisor::shutdown_policy"), x.how,
           x.timeout);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_spec& x) {
  return f(caf::meta::type_name("ringvisor::child_spec"), x.id, x.type, x.args,
           x.restart, x.shutdown, x.kind, x.snapshot);
}

/// A child as `which_children` reports it.
struct child_info {
  std::string id;
  /// Invalid while the child is not running.
  caf::actor handle;
  std::string type;
  restart_type restart = restart_type::permanent;
  child_kind kind = child_kind::worker;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("ringvisor::child_info"), x.id, x.handle,
           x.type, x.restart, x.kind);
}

/// Counts as `count_children` reports them (OTP's `specs`, `active`,
/// `supervisors`, `workers`).
struct child_counts {
  size_t specs = 0;
  size_t active = 0;
  size_t supervisors = 0;
  size_t workers = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("ringvisor::child_counts"), x.specs, x.active,
           x.supervisors, x.workers);
}

/// Returns `"permanent"`, `"transient"` or `"temporary"`.
RINGVISOR_SUPERVISION_EXPORT const char* to_string(restart_type x);

} // namespace ringvisor::supervision
