#include "ringvisor/actor/directory.hpp"

#include <charconv>
#include <map>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/node.hpp"
#include "ringvisor/actor/wire.hpp"

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
    [](stop_atom) -> caf::result<caf::ok_atom> {
      if (!node::request_stop())
        return caf::make_error(caf::sec::feature_disabled,
                               "this node's program does not wait in node::await_signal");
      log::info("stop_requested", {});
      return caf::ok_atom::value;
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

caf::expected<caf::actor> remote_directory(caf::actor_system& sys,
                                           const std::string& endpoint,
                                           caf::timespan timeout) {
  auto colon = endpoint.rfind(':');
  uint16_t port = 0;
  auto digits = colon == std::string::npos ? std::string_view{}
                                           : std::string_view{endpoint}.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (colon == 0 || digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()
      || port == 0)
    return make_error(errc::bad_config, "endpoint '" + endpoint + "'",
                      "expected host:port, e.g. 127.0.0.1:4900");
  caf::scoped_actor self{sys};
  caf::expected<caf::actor> result{caf::sec::request_timeout};
  self->request(connector(sys), timeout, caf::connect_atom::value,
                endpoint.substr(0, colon), port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& dir, const std::set<std::string>&) {
        result = caf::actor_cast<caf::actor>(dir);
      },
      [&](caf::error& err) { result = std::move(err); });
  if (result && !*result)
    return make_error(errc::not_registered, "directory at " + endpoint,
                      "is it a ringvisor node?");
  return result;
}

} // namespace ringvisor::actor
