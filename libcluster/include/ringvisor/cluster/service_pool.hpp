#pragma once

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/node.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/export.hpp"
#include "ringvisor/cluster/registry.hpp"

namespace ringvisor::cluster {

/// A group of equivalent services on many nodes, the longest-running of
/// which leads (the ServicePoolLeader demo), as a thin layer over the
/// registry: each member holds the name `pool/<group>/<node>`, and the
/// oldest registration (by its epoch) leads. When the leader's actor or node dies its name
/// goes, and the next oldest leads.
///
/// Example:
/// ```
/// auto pool = cluster::service_pool::join(node, reg, "cache", cache_actor);
/// auto reply = pool->leader_call(caf::make_message(get_atom::value), 1s);
/// auto all = pool->multi_call(caf::make_message(flush_atom::value), 1s);
/// ```
class RINGVISOR_CLUSTER_EXPORT service_pool {
public:
  /// Adds `service`, an actor of this node, to `group` (one per node).
  [[nodiscard]] static caf::expected<service_pool>
  join(actor::node& node, const name_registry& reg, std::string group,
       const caf::actor& service);

  /// Returns the members, oldest first.
  std::vector<registered_name> members() const;

  /// Returns the leader's actor, or an invalid handle if the pool is empty.
  caf::actor leader() const;

  /// Asks the leader; `errc::no_leader` if the pool is empty.
  [[nodiscard]] caf::expected<caf::message> leader_call(caf::message msg,
                                                        caf::timespan timeout) const;

  /// Asks every member, one after another; one reply (or error) per member,
  /// oldest first.
  std::vector<node_reply> multi_call(caf::message msg, caf::timespan timeout) const;

  /// Takes this node's service out of the group.
  [[nodiscard]] caf::error leave() const;

private:
  service_pool(caf::actor_system& sys, name_registry reg, std::string group, std::string key);

  caf::actor_system* sys_;
  name_registry reg_;
  std::string prefix_; // "pool/<group>/"
  std::string key_;    // this node's name in the registry
};

} // namespace ringvisor::cluster
