#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringvisor/cluster/export.hpp"
#include "ringvisor/cluster/member.hpp"

namespace ringvisor::cluster {

/// A node's view of the cluster: one entry per member name, merged from the
/// views that gossip brings in. Merging is commutative, associative and
/// idempotent, so every node that has seen the same updates holds the same
/// view, whatever their order:
///
/// - a higher incarnation of a name replaces a lower one (a restarted node);
/// - within one incarnation the later status wins
///   (joining < up < leaving < down < removed);
/// - a removed incarnation never comes back: a stale gossip of it is ignored.
///
/// Example:
/// ```
/// membership view;
/// view.update({"node-a", 0x1f, "127.0.0.2:4900", member_status::up});
/// view.merge(peer_view.members());          // gossip from a peer
/// for (auto& m : view.up_members()) ...
/// ```
class RINGVISOR_CLUSTER_EXPORT membership {
public:
  /// Applies one member record; returns whether the view changed.
  bool update(const member& x);

  /// Applies every record of `xs`; returns whether the view changed.
  bool merge(const std::vector<member>& xs);

  /// Returns the record of `name`, if any.
  std::optional<member> find(std::string_view name) const;

  /// Returns all records, sorted by name, removed ones included (so that
  /// gossip spreads removals too).
  std::vector<member> members() const;

  /// Returns the names of members whose status is `up`, sorted.
  std::vector<std::string> up_members() const;

  /// Returns a digest that equals on two nodes exactly when their views
  /// are equal, to cheaply check convergence.
  uint64_t digest() const;

  /// Returns how many updates changed the view so far.
  uint64_t version() const noexcept {
    return version_;
  }

private:
  std::map<std::string, member, std::less<>> members_;
  uint64_t version_ = 0;
};

} // namespace ringvisor::cluster
