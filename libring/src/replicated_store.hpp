#pragma once

// Wire types of the replicated child store (private to libring;
// registered by ring::add_types because they cross nodes).

#include <cstdint>
#include <string>
#include <tuple>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "ringvisor/actor/stateful_child.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

using bytes = actor::bytes;

using store_merge_atom = caf::atom_constant<caf::atom("rv_smerge")>;

/// Names one add: the replica that made it and its counter there.
struct store_dot {
  std::string origin;
  uint64_t counter = 0;

  friend bool operator<(const store_dot& x, const store_dot& y) {
    return std::tie(x.origin, x.counter) < std::tie(y.origin, y.counter);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_dot& x) {
  return f(caf::meta::type_name("ringvisor::store_dot"), x.origin, x.counter);
}

/// One added spec, serialized, with its dot.
struct store_entry {
  std::string id;
  std::string origin;
  uint64_t counter = 0;
  bytes spec;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_entry& x) {
  return f(caf::meta::type_name("ringvisor::store_entry"), x.id, x.origin,
           x.counter, x.spec);
}

} // namespace ringvisor::ring
