#pragma once

// What a new cluster view means for a ring manager (private to
// libring), as pure functions: whether this node was declared down,
// which members are gone (crashed, removed, or back as a new process),
// which members children are placed on, and which still hand children off. The manager acts on the answers
// (fences, death probes, stopping its children, the ring).

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/cluster/member.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// What changed with a new view, seen from this node.
struct view_change {
  /// This node is in the view as down, or with a higher incarnation (a
  /// refuted down): the others may run its children by now.
  bool declared_down = false;

  /// This node's incarnation after a refutation (else unchanged).
  uint64_t incarnation = 0;

  /// Members that were up and are not any more, or are back as a new
  /// process: their state before the view.
  std::vector<cluster::member> gone;

  /// The other members that are not down, by name.
  std::map<std::string, cluster::member> up;
};

/// Compares `view` with the members that were up (`up_before`), for the
/// node `self` of `incarnation`.
inline view_change diff_view(const std::map<std::string, cluster::member>& up_before,
                             const std::vector<cluster::member>& view, const std::string& self,
                             uint64_t incarnation) {
  view_change result;
  result.incarnation = incarnation;
  for (auto& m : view) {
    if (m.name == self) {
      bool refuted = m.incarnation > incarnation;
      bool downed = m.incarnation == incarnation && m.status >= cluster::member_status::down;
      if (refuted || downed)
        result.declared_down = true;
      if (refuted)
        result.incarnation = m.incarnation;
    } else if (m.status <= cluster::member_status::leaving) {
      result.up.emplace(m.name, m);
    }
  }
  for (auto& [name, before] : up_before) {
    auto i = result.up.find(name);
    if (i == result.up.end() || i->second.incarnation != before.incarnation)
      result.gone.push_back(before);
  }
  return result;
}

/// Returns whether `m` takes part in the ring of `group` (empty: all).
inline bool in_group(const cluster::member& m, const std::string& group) {
  return group.empty() || std::binary_search(m.groups.begin(), m.groups.end(), group);
}

/// Who children are placed on, and a digest of them that changes when one
/// of them is a new process.
struct ring_members {
  std::vector<std::string> names;
  uint64_t digest = 0;
};

/// The members of `view` children are placed on: up, in `group` (empty:
/// all), offering `service` (their ring supervisor runs and does not leave),
/// and not `self` if this node is leaving.
inline ring_members placement_members(const std::vector<cluster::member>& view,
                                      const std::string& group, const std::string& service,
                                      const std::string& self, bool self_leaving) {
  ring_members result;
  std::string digest_input;
  for (auto& m : view) {
    if (m.status == cluster::member_status::up && in_group(m, group) && m.offers(service)
        && !(self_leaving && m.name == self)) {
      result.names.push_back(m.name);
      digest_input += m.name + "/" + std::to_string(m.incarnation) + ";";
    }
  }
  result.digest = cluster::hash_ring::hash(digest_input);
  return result;
}

/// The other members of `view` that may still run children they hand off:
/// not down, in `group`, and winding `service` down (their ring supervisor
/// leaves). A node asks them too in its rounds, until they are done.
inline std::set<std::string> handing_off(const std::vector<cluster::member>& view,
                                         const std::string& group, const std::string& service,
                                         const std::string& self) {
  std::set<std::string> result;
  for (auto& m : view)
    if (m.name != self && m.status <= cluster::member_status::leaving && in_group(m, group)
        && m.drains(service))
      result.insert(m.name);
  return result;
}

} // namespace ringvisor::ring
