#pragma once

// Where a request about one ring child goes (private to libring):
// served by the child here, held until it runs here, forwarded to its
// owner, or failed with a reason. A pure decision over what the ring
// manager knows at that moment, so that every rule is tested as plain code;
// the manager carries the decision out.

#include <cstdint>
#include <optional>
#include <string>

#include <caf/message.hpp>

#include "protocol.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// How often a request may be passed on to another node while the rings of
/// the nodes differ.
inline constexpr uint8_t max_hops = 4;

/// What the ring manager knows when a request about a child arrives.
struct route_facts {
  /// The child on this node: absent, running, or in another phase
  /// (starting, moving, held).
  enum class here : uint8_t { absent, running, busy } local = here::absent;

  bool split = false;    // this node is on the losing side of a partition
  bool stopping = false; // this ring supervisor is stopping

  /// The child's owner on this node's ring (none: the ring is empty).
  std::optional<std::string> owner;
  bool owner_is_self = false; // and this node is not leaving

  /// The child's record here: unknown, alive or terminated.
  enum class record : uint8_t { unknown, alive, terminated } rec = record::unknown;
  bool synced = false; // this node has learned the whole child list

  bool owner_reachable = false; // a peer handle for `owner` exists
  uint8_t hops = 0;             // how often the request was passed on
};

/// Where the request goes.
struct route {
  enum class kind : uint8_t {
    serve,   // the child runs here: hand it the request
    wait,    // the child is here but not running: hold the request for it
    expect,  // this node owns it and will run it soon: hold the request
    forward, // pass it on to `owner`, one hop further
    fail,    // answer with `no_owner` (or `not_found`) and `reason`
  } how = kind::fail;

  bool not_found = false; // fail with not_found instead of no_owner
  std::string reason;
};

/// The request's hop count (its last element: requests are `(find, id,
/// hops)`, `(call, request, id, msg, hops)` or `(exec, request, id, name,
/// args, hops)`).
inline uint8_t hops_of(const caf::message& msg) {
  return msg.get_as<uint8_t>(msg.size() - 1);
}

/// The same request, one hop further.
inline caf::message bump_hops(const caf::message& msg) {
  auto n = msg.size();
  auto hops = static_cast<uint8_t>(hops_of(msg) + 1);
  return msg.take(n - 1) + caf::make_message(hops);
}

/// The id of the child a request is about.
inline const std::string& id_of(const caf::message& msg) {
  return msg.match_element<ring_find_atom>(0) ? msg.get_as<std::string>(1)
                                              : msg.get_as<std::string>(2);
}

/// Decides where a request goes, given `x`.
inline route decide_route(const route_facts& x) {
  using k = route::kind;
  if (x.local == route_facts::here::running)
    return {k::serve, false, {}};
  if (x.local == route_facts::here::busy)
    return {k::wait, false, {}};
  if (x.split)
    return {k::fail, false, split_off_reason};
  if (x.stopping)
    return {k::fail, false, "stopping"};
  if (!x.owner)
    return {k::fail, false, "the ring is empty"};
  if (x.owner_is_self) {
    // Not known yet: this node may still be learning the child list.
    if (x.rec == route_facts::record::unknown && x.synced)
      return {k::fail, true, {}};
    if (x.rec == route_facts::record::terminated)
      return {k::fail, true, "terminated"};
    return {k::expect, false, {}};
  }
  if (!x.owner_reachable || x.hops >= max_hops)
    return {k::fail, false, "owner " + *x.owner + " not reachable"};
  return {k::forward, false, {}};
}

} // namespace ringvisor::ring
