#pragma once

// The blocking request behind libsupervision's client functions (private).

#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

namespace ringvisor::supervision::detail {

/// Asks `dest` with a scoped actor of its own (so a late reply never piles
/// up in a caller's mailbox) and returns the reply of type `T` or the error.
template <class T, class... Ts>
caf::expected<T> blocking_call(caf::actor_system& sys, const caf::actor& dest,
                               caf::timespan timeout, Ts&&... xs) {
  caf::expected<T> result{caf::sec::request_timeout};
  caf::scoped_actor self{sys};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Sends `(op, id)` to `dest` and expects `ok`.
inline caf::error blocking_ok(caf::actor_system& sys, const caf::actor& dest,
                              caf::timespan timeout, caf::atom_value op,
                              const std::string& id) {
  auto result = blocking_call<caf::ok_atom>(sys, dest, timeout, op, id);
  return result ? caf::none : std::move(result.error());
}

} // namespace ringvisor::supervision::detail
