#include "ringvisor/cluster/split_brain.hpp"

#include <algorithm>

#include "ringvisor/actor/errc.hpp"

namespace ringvisor::cluster {

namespace {

constexpr split_brain_strategy all_strategies[] = {
  split_brain_strategy::keep_majority, split_brain_strategy::static_quorum,
  split_brain_strategy::keep_oldest, split_brain_strategy::down_all};

verdict keep_majority(const side& s) {
  auto reachable = s.reachable_count();
  auto total = s.members.size();
  if (2 * reachable != total)
    return 2 * reachable > total ? verdict::yes : verdict::split;
  // A tie: the half with the lowest name wins (members are sorted by name).
  return s.reachable(s.members.front().name) ? verdict::yes : verdict::split;
}

verdict keep_oldest(const side& s) {
  auto oldest = std::min_element(s.members.begin(), s.members.end(),
                                 [](const member& x, const member& y) {
                                   return x.incarnation < y.incarnation;
                                 });
  return s.reachable(oldest->name) ? verdict::yes : verdict::split;
}

} // namespace

bool side::reachable(std::string_view name) const {
  return std::find(unreachable.begin(), unreachable.end(), name)
         == unreachable.end();
}

verdict judge(split_brain_strategy strategy, size_t quorum, const side& s) {
  if (s.members.empty())
    return verdict::no;
  switch (strategy) {
    case split_brain_strategy::keep_majority:
      return keep_majority(s);
    case split_brain_strategy::static_quorum:
      if (s.reachable_count() >= quorum)
        return verdict::yes;
      // Too few in all: still forming; too few here: cut off.
      return s.members.size() < quorum ? verdict::no : verdict::split;
    case split_brain_strategy::keep_oldest:
      return keep_oldest(s);
    case split_brain_strategy::down_all:
      return s.unreachable.empty() ? verdict::yes : verdict::split;
  }
  return verdict::split;
}

const char* to_string(split_brain_strategy x) {
  switch (x) {
    case split_brain_strategy::keep_majority:
      return "keep-majority";
    case split_brain_strategy::static_quorum:
      return "static-quorum";
    case split_brain_strategy::keep_oldest:
      return "keep-oldest";
    case split_brain_strategy::down_all:
      return "down-all";
  }
  return "?";
}

caf::error parse(std::string_view str, split_brain_strategy& x) {
  for (auto candidate : all_strategies)
    if (str == to_string(candidate)) {
      x = candidate;
      return caf::none;
    }
  return actor::make_error(actor::errc::bad_config,
                           "unknown split-brain strategy '" + std::string{str} + "'",
                           "use keep-majority, static-quorum, keep-oldest or down-all");
}

const char* to_string(verdict x) {
  switch (x) {
    case verdict::yes:
      return "yes";
    case verdict::no:
      return "no";
    case verdict::split:
      return "split";
  }
  return "?";
}

} // namespace ringvisor::cluster
