#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/node.hpp"
#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

/// A name of the global registry.
struct registered_name {
  std::string name;
  caf::actor actor;
  /// The member the actor runs on (the one that registered it).
  std::string node;
  /// When it was registered: the home's wall clock in microseconds, never
  /// below the home's last epoch. On a conflict after a partition heals, the
  /// older registration wins (then the lower node name).
  uint64_t epoch = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registered_name& x) {
  return f(caf::meta::type_name("ringvisor::registered_name"), x.name, x.actor, x.node,
           x.epoch);
}

/// Returns whether `x` was registered before `y` (the lower node name breaks
/// a tie): the order that resolves conflicts and ranks pool members.
RINGVISOR_CLUSTER_EXPORT bool older(const registered_name& x, const registered_name& y);

namespace detail {
struct name_table;
} // namespace detail

/// `(register_atom, std::string name, caf::actor x) -> registered_name`,
/// sent to `name_registry::handle()`: what `register_name` does, for actors
/// that keep many registrations in flight; `errc::not_ready` means ask again.
using register_atom = caf::atom_constant<caf::atom("rg_reg")>;
/// `(unregister_atom, std::string name) -> caf::ok_atom`.
using unregister_atom = caf::atom_constant<caf::atom("rg_unreg")>;

/// The cluster-wide name registry (Erlang's `:global`, Horde.Registry), as
/// one node sees it. Every node keeps a full copy of the names, so
/// `whereis` reads memory and sends nothing.
///
/// A name has a *home*, its owner on the ring of up members: the home
/// decides who gets a name (first come, first served), watches the actor
/// and tells every node when the name comes or goes. A name dies with its
/// actor and with its actor's node; an ended registration leaves a tombstone
/// for a day, so that a node that missed the end cannot bring it back. A side
/// that lost its majority (`split`) registers and unregisters nothing. When a
/// partition heals, the nodes exchange their names and tombstones; two registrations of one name are resolved the same way on every
/// node, the older one winning (then the lower node name), and the losing
/// actor exits with `errc::name_conflict`.
///
/// Example:
/// ```
/// auto reg = cluster::name_registry::start(node, agent);
/// if (auto err = reg->register_name("importer", self)) ...   // errc::name_taken if held
/// auto where = reg->whereis("importer");                      // on any node
/// ```
class RINGVISOR_CLUSTER_EXPORT name_registry {
public:
  /// Starts this node's registry (one per node), registered as
  /// `"ringvisor.registry"` in the node directory.
  [[nodiscard]] static caf::expected<name_registry> start(actor::node& node,
                                                          const caf::actor& agent);

  /// Gives `name` to `x`, an actor of this node, for the cluster. Fails with
  /// `actor::errc::name_taken` if a live actor holds it, `errc::split_off`
  /// on a side without a majority; asks again, until `timeout`, while the
  /// name's home is learning the names or cannot be reached yet.
  [[nodiscard]] caf::error register_name(const std::string& name, const caf::actor& x,
                                         caf::timespan timeout = std::chrono::seconds{5}) const;

  /// Takes `name` away; fails with `actor::errc::not_registered` if nobody
  /// holds it.
  [[nodiscard]] caf::error unregister(const std::string& name,
                                      caf::timespan timeout = std::chrono::seconds{5}) const;

  /// Returns the actor holding `name`, or an invalid handle.
  caf::actor whereis(const std::string& name) const;

  /// Returns every name with its actor's node (Stoker's `ps`), by name.
  std::vector<registered_name> names() const;

  /// Returns the registry actor of this node.
  const caf::actor& handle() const noexcept {
    return actor_;
  }

private:
  name_registry(caf::actor_system& sys, caf::actor hdl, std::shared_ptr<detail::name_table> t);

  caf::actor_system* sys_;
  caf::actor actor_;
  std::shared_ptr<detail::name_table> table_;
};

} // namespace ringvisor::cluster
