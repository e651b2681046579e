#pragma once

// Who sends a replicated copy where after the ring changed (private to
// libring): the same rule for child records and for snapshots.

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ringvisor/cluster/hash_ring.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// Returns whether `xs` (names) holds `x`.
template <class Names>
bool contains(const Names& xs, std::string_view x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

/// Returns the members that `self`, holding a copy of a key, sends it to
/// after the key's preference list changed from `before` (at the last
/// settling) to `now` (on `ring`): the members new to the list, and those
/// that restarted since (`restarted`: they lost their copies). One holder
/// sends: the first member of `before` still on the ring that did not
/// restart, which every node computes alike. If there is none (all of them
/// are gone, or nothing was settled yet, as for copies read from a store),
/// every holder sends, to every other member of `now`. A holder that is not
/// on `now` (it is to forget its copy) sends to every member of `now`: its
/// copy may be newer than the sender's.
inline std::vector<std::string_view>
settle_targets(const std::vector<std::string_view>& before,
               const std::vector<std::string_view>& now, const cluster::hash_ring& ring,
               std::string_view self, const std::set<std::string>& restarted) {
  if (!contains(now, self))
    return now;
  auto restarted_ = [&](std::string_view x) { return restarted.count(std::string{x}) > 0; };
  std::string_view sender;
  for (auto r : before)
    if (ring.contains(r) && !restarted_(r)) {
      sender = r;
      break;
    }
  std::vector<std::string_view> result;
  if (!sender.empty() && sender != self)
    return result;
  for (auto r : now)
    if (r != self && (sender.empty() || !contains(before, r) || restarted_(r)))
      result.push_back(r);
  return result;
}

} // namespace ringvisor::ring
