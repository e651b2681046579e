#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

#include "ringvisor/cluster/export.hpp"
#include "ringvisor/cluster/member.hpp"

namespace ringvisor::cluster {

/// How a node decides, when members became unreachable, whether its side of
/// the cluster carries on (and downs the others) or stops serving. The
/// sides of a partition judge the same member list (the view they shared
/// before it), so at most one of them wins. keep-oldest after a crash of the
/// oldest member, and down-all after any crash, leave every node `split`
/// until an operator restarts the lost node (or it leaves in order): that is
/// the price of never guessing.
enum class split_brain_strategy : uint8_t {
  /// The side with more than half of the members wins; on a tie, the side
  /// with the lowest member name (Akka's keep-majority).
  keep_majority,
  /// A side with at least `quorum` members wins; more than one side can
  /// only win if `quorum` is at most half the cluster, so choose it above.
  static_quorum,
  /// The side with the oldest member (lowest incarnation) wins.
  keep_oldest,
  /// Any unreachable member stops every node until it is back or left.
  down_all,
};

/// Returns `"keep-majority"`, `"static-quorum"`, `"keep-oldest"` or
/// `"down-all"`, the spelling of `ringvisor.split-brain`.
RINGVISOR_CLUSTER_EXPORT const char* to_string(split_brain_strategy x);

/// Parses the spelling of `to_string`; fails with `actor::errc::bad_config`.
RINGVISOR_CLUSTER_EXPORT caf::error parse(std::string_view str,
                                          split_brain_strategy& x);

/// A side's answer to "may we serve?", Stoker's `cluster_valid?`.
enum class verdict : uint8_t {
  /// This side is the cluster: serve, and down the unreachable members.
  yes,
  /// Not a valid cluster yet (too few members): wait, down nobody.
  no,
  /// This side lost: stop serving, down nobody, wait for the heal.
  split,
};

/// Returns `"yes"`, `"no"` or `"split"`.
RINGVISOR_CLUSTER_EXPORT const char* to_string(verdict x);

/// What a node sees when it judges its side.
struct side {
  /// This node's name.
  std::string self;

  /// Every member that counts: joining, up or leaving, reachable or not.
  std::vector<member> members;

  /// Names of the members this node cannot reach (a subset of `members`).
  std::vector<std::string> unreachable;

  /// Returns how many members are on this node's side.
  size_t reachable_count() const noexcept {
    return members.size() - unreachable.size();
  }

  /// Returns whether `name` is on this node's side.
  bool reachable(std::string_view name) const;
};

/// A user's judgement of a side, replacing the configured strategy.
using cluster_valid_fn = std::function<verdict(const side&)>;

/// Judges `s` by `strategy`; `quorum` is for `static_quorum`.
RINGVISOR_CLUSTER_EXPORT verdict judge(split_brain_strategy strategy,
                                       size_t quorum, const side& s);

} // namespace ringvisor::cluster
