#pragma once

// The actor that runs a ring supervisor's blocking child-store calls off the
// scheduler's threads (private to libring).

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include <caf/atom.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "ringvisor/ring/child_store.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// `(store_add_atom, child_spec) -> bool`: adds the spec to the store that
/// keeps it; false if none does.
using store_add_atom = caf::atom_constant<caf::atom("rm_sadd")>;
/// `(store_del_atom, child_spec) -> ok`: removes the spec from its store.
using store_del_atom = caf::atom_constant<caf::atom("rm_sdel")>;
/// `(store_get_atom) -> std::vector<child_spec>`: every stored spec.
using store_get_atom = caf::atom_constant<caf::atom("rm_sget")>;
/// `(store_put_states_atom, size_t store, std::vector<stored_state>) ->
/// uint64_t`: writes states to one store; returns how many.
using store_put_states_atom = caf::atom_constant<caf::atom("rm_sputst")>;
/// `(store_get_states_atom) -> std::vector<stored_state>`: every stored state.
using store_get_states_atom = caf::atom_constant<caf::atom("rm_sgetst")>;

using stores_type = std::vector<std::shared_ptr<child_store>>;

/// Returns the index of the store that keeps `spec`: the first that matches.
std::optional<size_t> store_of(const stores_type& stores, const child_spec& spec);

/// Serves the messages above for `stores` (spawn it detached).
caf::behavior store_worker(caf::event_based_actor* self, stores_type stores);

} // namespace ringvisor::ring
