#include "ringvisor/actor/directory.hpp"

#include <map>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"

namespace ringvisor::actor {

namespace {

struct directory_state {
  std::map<std::string, caf::actor> names;
  static inline const char* name = "ringvisor.directory";
};

caf::behavior directory(caf::stateful_actor<directory_state>* self) {
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& names = self->state.names;
    for (auto i = names.begin(); i != names.end();)
      i = i->second.address() == dm.source ? names.erase(i) : std::next(i);
  });
  return {
    [self](caf::put_atom, const std::string& name,
           const caf::actor& hdl) -> caf::result<caf::ok_atom> {
      auto& slot = self->state.names[name];
      if (slot && slot != hdl)
        return make_error(errc::name_taken, name);
      if (!slot) {
        slot = hdl;
        self->monitor(hdl);
        log::debug("name_registered", {{"name", name}, {"actor", hdl.id()}});
      }
      return caf::ok_atom::value;
    },
    [self](caf::get_atom, const std::string& name) -> caf::result<caf::actor> {
      auto i = self->state.names.find(name);
      if (i == self->state.names.end())
        return make_error(errc::not_registered, name);
      return i->second;
    },
    [self](forward_atom, const std::string& name,
           caf::message& msg) -> caf::result<caf::message> {
      auto i = self->state.names.find(name);
      if (i == self->state.names.end())
        return make_error(errc::not_registered, name);
      return self->delegate(i->second, std::move(msg));
    },
    [self](caf::get_atom) {
      std::vector<std::string> result;
      for (auto& kvp : self->state.names)
        result.push_back(kvp.first);
      return result;
    },
  };
}

} // namespace

caf::actor spawn_directory(caf::actor_system& sys) {
  return sys.spawn(directory);
}

} // namespace ringvisor::actor
