#pragma once

// How child stores write specs down (private to libring).

#include <string>

#include <caf/expected.hpp>

#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/supervision/child_spec.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// Serializes `spec` with CAF; fails with `errc::bad_spec` if it has a
/// `start` function or arguments that cannot be serialized.
caf::expected<actor::bytes> encode_spec(caf::actor_system& sys, const child_spec& spec);

/// Reads back a spec of `encode_spec`; fails with `errc::store_failed`
/// naming `store` and the child `id`.
caf::expected<child_spec> decode_spec(caf::actor_system& sys, const actor::bytes& blob,
                                      const std::string& store, const std::string& id);

} // namespace ringvisor::ring
