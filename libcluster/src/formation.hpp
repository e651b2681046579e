#pragma once

// When a node may count as a member of a cluster, and so run anything
// (private to libcluster; docs/cluster.md has the rule and its scenarios).
// Plain code: the agent gathers the facts, this judges them.

#include <optional>
#include <string>
#include <vector>

namespace ringvisor::cluster::detail {

/// A peer this node is linked to and hears from.
struct formation_peer {
  std::string name;
  std::string endpoint;
  /// Whether it is `up`: a member of a cluster that formed already.
  bool member = false;
  /// The names it remembers belonging to (empty: it remembers nothing).
  std::vector<std::string> remembered;
};

/// What a node that is not a member yet knows when it asks whether it may
/// become one.
struct formation_facts {
  std::string self_name;
  std::string self_endpoint;
  /// Whether it was given seeds (names may not have resolved yet).
  bool seeded = false;
  /// Its seeds, as the addresses they resolved to so far.
  std::vector<std::string> seeds;
  /// `ringvisor.form-alone`.
  bool form_alone = false;
  /// An operator said so (`ringvisor-ctl form`).
  bool forced = false;
  /// The names of the membership it last belonged to (empty: none).
  std::vector<std::string> remembered;
  /// The peers it reaches.
  std::vector<formation_peer> peers;
};

/// Returns why the node may count as a member now, or nothing while it must
/// wait. In order:
/// 1. an operator said so;
/// 2. it reaches a member of a cluster that formed: it joins that cluster
///    (which then judges, like any view, whether its side may run);
/// 3. if it or any peer it reaches remembers a membership: it reaches a
///    majority of all the names remembered (the union, so that a node whose
///    memory is older than a peer's cannot form with a minority of the
///    newer membership);
/// 4. else (a first start): it has no seeds, or `form-alone`, or it reaches
///    a majority of its seeds (itself counted when it is one).
std::optional<std::string> formation_reason(const formation_facts& facts);

} // namespace ringvisor::cluster::detail
