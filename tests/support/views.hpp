#pragma once

// Helpers to inspect membership views in cluster tests.

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ringvisor/cluster/member.hpp"

namespace ringvisor::test {

using strings = std::vector<std::string>;
using view = std::vector<cluster::member>;



/// Names of the members in `status`, in view order (sorted by name).
inline strings with_status(const view& xs, cluster::member_status status) {
  strings result;
  for (auto& m : xs)
    if (m.status == status)
      result.push_back(m.name);
  return result;
}

/// Returns the record of `name` in `xs`, if any.
inline std::optional<cluster::member> member_named(const view& xs,
                                                   const std::string& name) {
  for (auto& m : xs)
    if (m.name == name)
      return m;
  return std::nullopt;
}

/// Renders names as `{a,b}`.
inline std::string to_string(const strings& xs) {
  std::string result = "{";
  for (auto& x : xs)
    result += (result.size() > 1 ? "," : "") + x;
  return result + "}";
}

/// Returns whether two views list the same names, incarnations and statuses.
inline bool same_members(const view& x, const view& y) {
  auto same = [](const cluster::member& a, const cluster::member& b) {
    return a.name == b.name && a.incarnation == b.incarnation
           && a.status == b.status;
  };
  return std::equal(x.begin(), x.end(), y.begin(), y.end(), same);
}

/// Renders `xs` as `[a:up#<incarnation>, b:down#<incarnation>]`.
inline std::string to_string(const view& xs) {
  std::ostringstream out;
  out << '[' << std::hex;
  for (auto& m : xs)
    out << (&m == &xs.front() ? "" : ", ") << m.name << ':'
        << cluster::to_string(m.status) << '#' << m.incarnation;
  out << ']';
  return out.str();
}

} // namespace ringvisor::test
