#pragma once

#include <vector>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/message_handler.hpp>
#include <caf/stateful_actor.hpp>

#include "ringvisor/actor/errc.hpp"

/// The stateful-child contract: a child that can move between nodes answers
/// `get_state` with its state as bytes and accepts `put_state` before it
/// handles anything else. The ring supervisor's default `migrate` hook uses it.
///
/// Example:
/// ```
/// struct hero_state { std::string name; int32_t wins = 0; };
/// template <class Inspector>
/// typename Inspector::result_type inspect(Inspector& f, hero_state& x) {
///   return f(caf::meta::type_name("hero_state"), x.name, x.wins);
/// }
///
/// caf::behavior hero(caf::stateful_actor<hero_state>* self) {
///   caf::message_handler own{[=](fight_atom) { ++self->state.wins; }};
///   return own.or_else(ringvisor::actor::state_handlers(self));
/// }
/// ```
namespace ringvisor::actor {

/// Serialized child state. `std::vector<char>` is one of CAF's built-in
/// message types, so it needs no registration on any node.
using bytes = std::vector<char>;

/// Asks a child for its state; the reply is `bytes`.
using get_state_atom = caf::atom_constant<caf::atom("get_state")>;

/// Hands a child its state as `(put_state_atom, bytes)`; the reply is `ok`.
using put_state_atom = caf::atom_constant<caf::atom("put_state")>;

/// Serializes `x` with its `inspect` overload.
template <class T>
caf::expected<bytes> to_bytes(caf::actor_system& sys, const T& x) {
  bytes result;
  caf::binary_serializer sink{sys, result};
  if (auto err = sink(const_cast<T&>(x)))
    return make_error(errc::bad_state, sys.render(err));
  return result;
}

/// Deserializes `x` from `buf`, which must hold exactly one value.
template <class T>
caf::error from_bytes(caf::actor_system& sys, const bytes& buf, T& x) {
  caf::binary_deserializer source{sys, buf};
  if (auto err = source(x))
    return make_error(errc::bad_state, sys.render(err));
  if (source.remaining() != 0)
    return make_error(errc::bad_state, "trailing bytes after the state");
  return caf::none;
}

/// Handlers that implement the contract for `self->state`: `get_state`
/// serializes it, `put_state` replaces it (or fails, leaving it untouched).
template <class State, class Base>
caf::message_handler state_handlers(caf::stateful_actor<State, Base>* self) {
  return {
    [self](get_state_atom) -> caf::result<bytes> {
      auto buf = to_bytes(self->system(), self->state);
      if (!buf)
        return std::move(buf.error());
      return std::move(*buf);
    },
    [self](put_state_atom, const bytes& buf) -> caf::result<caf::ok_atom> {
      State tmp;
      if (auto err = from_bytes(self->system(), buf, tmp))
        return err;
      self->state = std::move(tmp);
      return caf::ok_atom::value;
    },
  };
}

} // namespace ringvisor::actor
