#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/export.hpp"

namespace ringvisor::actor {

/// Spawns children from a type name and a `caf::message` of arguments, so
/// that a child spec can name its child type and travel between nodes.
///
/// Example:
/// ```
/// caf::behavior counter(caf::event_based_actor* self, int32_t start);
///
/// factory_registry factories;
/// factories.add<int32_t>("counter", counter);
/// auto child = factories.spawn(sys, "counter", caf::make_message(int32_t{5}));
/// ```
class RINGVISOR_ACTOR_EXPORT factory_registry {
public:
  /// Spawns one child from its arguments.
  using factory = std::function<caf::expected<caf::actor>(
    caf::actor_system&, const caf::message&)>;

  /// Registers `fn`, an actor function taking `Args...` after its self
  /// pointer, under `name`. Arguments must match `Args...` exactly, and each
  /// of `Args` must be default-constructible (the registry keeps a prototype
  /// for error messages). Fails with `errc::duplicate_child_type`.
  template <class... Args, class F>
  caf::error add(std::string name, F fn) {
    return add_factory(
      std::move(name), caf::make_message(Args{}...),
      [fn](caf::actor_system& sys, const caf::message& args) {
        return spawn_with<Args...>(sys, fn, args,
                                   std::index_sequence_for<Args...>{});
      });
  }

  /// Registers a hand-written factory. `prototype` holds one value of each
  /// argument type; `spawn` checks the arguments' types against it before
  /// calling `fn`.
  caf::error add_factory(std::string name, caf::message prototype, factory fn);

  /// Spawns a child of type `type`. Fails with `errc::unknown_child_type`
  /// or `errc::bad_child_args`, naming the type and the expected arguments.
  [[nodiscard]] caf::expected<caf::actor>
  spawn(caf::actor_system& sys, std::string_view type,
        const caf::message& args) const;

  /// Returns whether `type` is registered.
  bool contains(std::string_view type) const;

  /// Returns all registered type names, sorted.
  std::vector<std::string> names() const;

private:
  struct entry {
    caf::message prototype;
    factory fn;
  };

  template <class... Args, class F, size_t... Is>
  static caf::expected<caf::actor>
  spawn_with(caf::actor_system& sys, const F& fn, const caf::message& args,
             std::index_sequence<Is...>) {
    return sys.spawn(fn, args.get_as<Args>(Is)...);
  }

  std::unordered_map<std::string, entry> entries_;
};

} // namespace ringvisor::actor
