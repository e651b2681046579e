#pragma once

#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

namespace ringvisor::actor {

/// Asks `dest` from a thread outside the actor system (a main function, an
/// HTTP handler) and returns the reply of type `T` or the error; a reply
/// of another type is `caf::sec::unexpected_response`. Each call uses a
/// scoped actor of its own, so a late reply never piles up anywhere.
///
/// Example:
/// ```
/// auto view = actor::blocking_request<std::vector<cluster::member>>(
///   sys, agent, 1s, caf::get_atom::value, cluster::members_atom::value);
/// ```
template <class T, class... Ts>
caf::expected<T> blocking_request(caf::actor_system& sys, const caf::actor& dest,
                                  caf::timespan timeout, Ts&&... xs) {
  caf::expected<T> result{caf::sec::request_timeout};
  caf::scoped_actor self{sys};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace ringvisor::actor
