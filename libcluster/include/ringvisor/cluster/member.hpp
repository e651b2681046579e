#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

/// A member's lifecycle. The order is the merge order: a later status wins
/// over an earlier one of the same incarnation.
enum class member_status : uint8_t {
  joining,
  up,
  leaving,
  down,
  removed,
};

/// Returns `"joining"`, `"up"`, `"leaving"`, `"down"` or `"removed"`.
RINGVISOR_CLUSTER_EXPORT const char* to_string(member_status x);

/// One node of the cluster as the membership view records it.
struct member {
  /// Logical node name, unique in the cluster.
  std::string name;

  /// Grows with every start of the node's process (and when a live node
  /// refutes its own down): a higher incarnation replaces a lower one.
  uint64_t incarnation = 0;

  /// `host:port` of the node.
  std::string endpoint;

  member_status status = member_status::joining;

  /// Named rings the node takes part in (`ringvisor.groups`), sorted.
  std::vector<std::string> groups;

  /// What the node offers its peers now, sorted: the ring supervisors that
  /// run on it (a ring places children only on members that offer it).
  /// Set by the node itself (`service_atom`).
  std::vector<std::string> services;

  /// What the node stopped offering but still winds down, sorted: a ring
  /// supervisor that leaves and still hands its children off (its peers ask
  /// it what it runs until it is done). Set by the node itself.
  std::vector<std::string> draining;

  /// Grows whenever the node changes its own record within one incarnation
  /// (its services): a higher revision replaces a lower one of the same
  /// incarnation and status.
  uint64_t revision = 0;

  /// Returns whether the node offers `service`.
  bool offers(const std::string& service) const;

  /// Returns whether the node winds `service` down.
  bool drains(const std::string& service) const;
};

/// What a node does about one of its services (`service_atom`).
enum class service_state : uint8_t {
  off,      // neither offers nor winds it down
  offered,  // takes part
  draining, // takes no new part, winds down what it has
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member& x) {
  return f(caf::meta::type_name("ringvisor::member"), x.name, x.incarnation,
           x.endpoint, x.status, x.groups, x.services, x.draining, x.revision);
}

} // namespace ringvisor::cluster
