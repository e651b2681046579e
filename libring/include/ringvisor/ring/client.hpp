#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "ringvisor/ring/export.hpp"
#include "ringvisor/ring/info.hpp"
#include "ringvisor/supervision/child_spec.hpp"
#include "ringvisor/supervision/supervisor.hpp"

namespace ringvisor::ring {

/// A client of one ring supervisor that outlives the member it asks.
///
/// It starts from `endpoints` (`host:port` of cluster members), learns the
/// other members from the first one it reaches, and asks one member at a
/// time. When that member dies or restarts, refuses for now (it is split
/// off from the majority, holds no lease, or is not up yet), or stays silent
/// for a whole attempt (a second), the client asks the next member, within
/// the request's deadline:
/// - `find`, `call`, `exec`, `which_children` and `count_children` move on
///   whenever a member fails; `call` and `exec` keep their request id, so a
///   child still handles each message at most once;
/// - `start_child`, `delete_child`, `terminate_child` and `restart_child`
///   move on only when the member cannot have acted (gone before the request
///   was sent, or refused for now, which changes nothing); a member lost with the
///   request in flight leaves the outcome open, so the client returns that
///   error (`request_receiver_down`, `request_timeout`) instead of asking
///   another member. Changes get the whole deadline for their one attempt.
///
/// One client per thread; it opens a connection to each member it asks.
///
/// Example:
/// ```
/// ring::client heroes{sys, "heroes", {"10.0.0.1:4000", "10.0.0.2:4000"}};
/// auto reply = heroes.call("storm", caf::make_message(status_atom::value));
/// ```
///
/// Inside a node, use the node's own `ring::ref` instead (typed, and usable
/// from actors).
class RINGVISOR_RING_EXPORT client {
public:
  /// A client of the ring supervisor `name`, reached through `endpoints`.
  client(caf::actor_system& sys, std::string name, std::vector<std::string> endpoints);

  /// As `ring::ref::start_child`.
  [[nodiscard]] caf::expected<placement>
  start_child(supervision::child_spec spec,
              caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::delete_child`.
  [[nodiscard]] caf::error delete_child(const std::string& id,
                                        caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::terminate_child`.
  [[nodiscard]] caf::error
  terminate_child(const std::string& id, caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::restart_child`.
  [[nodiscard]] caf::expected<placement>
  restart_child(const std::string& id, caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::pin_child`.
  [[nodiscard]] caf::error pin_child(const std::string& id, const std::string& member,
                                     caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::find`.
  [[nodiscard]] caf::expected<placement>
  find(const std::string& id, caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::call`.
  [[nodiscard]] caf::expected<caf::message>
  call(const std::string& id, caf::message msg,
       caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::exec`.
  [[nodiscard]] caf::expected<caf::message>
  exec(const std::string& id, const std::string& function, caf::message args,
       caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::which_children`.
  [[nodiscard]] caf::expected<std::vector<ring_child>>
  which_children(caf::timespan timeout = supervision::default_call_timeout);

  /// As `ring::ref::count_children`.
  [[nodiscard]] caf::expected<supervision::child_counts>
  count_children(caf::timespan timeout = supervision::default_call_timeout);

  /// Returns the endpoint of the member asked last; empty before the first
  /// request.
  const std::string& member() const noexcept {
    return member_;
  }

  /// Returns the endpoints this client knows: the ones it was given, then
  /// the ones it learned.
  const std::vector<std::string>& endpoints() const noexcept {
    return endpoints_;
  }

private:
  using clock_type = std::chrono::steady_clock;

  /// How a request is repeated, on the same member and on others.
  enum class repeat {
    routed, // find, call, exec: waits out a moving child; any member after a fault
    read,   // once per member; any member after a fault
    change, // once per member; another only if this one cannot have acted
  };

  caf::expected<caf::message> request(const caf::message& msg, caf::timespan timeout, repeat how);

  // Returns the ring supervisor of the member to ask, connecting to the next
  // endpoint if there is none.
  caf::expected<caf::actor> member_sup(clock_type::time_point deadline);

  // Forgets the member asked last; the next request goes to the next one.
  void move_on();

  // Adds the endpoints that `sup` reports.
  void learn(const caf::actor& sup, caf::timespan timeout);

  caf::actor_system& sys_;
  std::string name_;
  std::vector<std::string> endpoints_;
  size_t next_ = 0; // index of the endpoint to connect to next
  caf::actor sup_;
  std::string member_;
  bool reached_ = false; // a member answered once
  bool learned_ = false; // and told the others
};

} // namespace ringvisor::ring
