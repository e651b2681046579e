#pragma once

// Installing a module factory into a config (private to libactor).

#include <algorithm>
#include <typeinfo>

#include <caf/actor_system_config.hpp>

namespace ringvisor::actor {

/// Makes `factory` the one factory of its type in `cfg`, replacing an
/// earlier one: a node started again from the same config (or an installer
/// called twice) adds no second module.
template <class F>
void put_module_factory(caf::actor_system_config& cfg, F factory) {
  auto& fs = cfg.module_factories;
  auto ours = std::find_if(fs.begin(), fs.end(), [](const auto& f) {
    return f.target_type() == typeid(F);
  });
  if (ours != fs.end())
    *ours = std::move(factory);
  else
    fs.push_back(std::move(factory));
}

} // namespace ringvisor::actor
