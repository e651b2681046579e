#pragma once

#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

namespace ringvisor::actor {

/// Returns whether `hdl` is gone for good: its actor terminated or, for a
/// remote actor, the connection to its node dropped. CAF 0.17 never revives
/// such a handle, and a request to it would only time out. Sends nothing.
inline bool is_gone(const caf::actor& hdl) {
  auto ptr = caf::actor_cast<caf::abstract_actor*>(hdl);
  return ptr == nullptr || ptr->getf(caf::abstract_actor::is_cleaned_up_flag);
}

/// The error for a request to a handle that `is_gone`.
inline caf::error gone_error() {
  return caf::make_error(caf::sec::request_receiver_down,
                         "the actor or its node is gone; get a new handle");
}

/// Asks `dest` from a thread outside the actor system (a main function, an
/// HTTP handler) and returns the reply of type `T` or the error; a reply
/// of another type is `caf::sec::unexpected_response`, and a handle that
/// `is_gone` fails at once with `caf::sec::request_receiver_down`. Each call
/// uses a scoped actor of its own, so a late reply never piles up anywhere.
///
/// Example:
/// ```
/// auto view = actor::blocking_request<std::vector<cluster::member>>(
///   sys, agent, 1s, caf::get_atom::value, cluster::members_atom::value);
/// ```
template <class T, class... Ts>
caf::expected<T> blocking_request(caf::actor_system& sys, const caf::actor& dest,
                                  caf::timespan timeout, Ts&&... xs) {
  if (is_gone(dest))
    return gone_error();
  caf::expected<T> result{caf::sec::request_timeout};
  caf::scoped_actor self{sys};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// As `blocking_request` for a request whose reply is `caf::ok_atom`:
/// returns the error, or none.
template <class... Ts>
caf::error blocking_ok(caf::actor_system& sys, const caf::actor& dest, caf::timespan timeout,
                       Ts&&... xs) {
  auto result = blocking_request<caf::ok_atom>(sys, dest, timeout, std::forward<Ts>(xs)...);
  return result ? caf::error{} : std::move(result.error());
}

} // namespace ringvisor::actor
