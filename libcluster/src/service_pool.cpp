#include "ringvisor/cluster/service_pool.hpp"

#include <algorithm>

#include "ringvisor/cluster/errc.hpp"

namespace ringvisor::cluster {

service_pool::service_pool(caf::actor_system& sys, name_registry reg, std::string group,
                           std::string key)
  : sys_(&sys), reg_(std::move(reg)), prefix_("pool/" + group + "/"), key_(std::move(key)) {
  // nop
}

caf::expected<service_pool> service_pool::join(actor::node& node, const name_registry& reg,
                                               std::string group, const caf::actor& service) {
  auto key = "pool/" + group + "/" + node.identity().name;
  if (auto err = reg.register_name(key, service))
    return err;
  return service_pool{node.system(), reg, std::move(group), std::move(key)};
}

std::vector<registered_name> service_pool::members() const {
  auto all = reg_.names();
  std::vector<registered_name> result;
  std::copy_if(all.begin(), all.end(), std::back_inserter(result),
               [this](auto& x) { return x.name.rfind(prefix_, 0) == 0; });
  std::sort(result.begin(), result.end(), older);
  return result;
}

caf::actor service_pool::leader() const {
  auto xs = members();
  return xs.empty() ? caf::actor{} : xs.front().actor;
}

caf::expected<caf::message> service_pool::leader_call(caf::message msg,
                                                      caf::timespan timeout) const {
  auto hdl = leader();
  if (!hdl)
    return make_error(errc::no_leader, prefix_);
  return request_any(*sys_, hdl, std::move(msg), timeout);
}

std::vector<node_reply> service_pool::multi_call(caf::message msg, caf::timespan timeout) const {
  std::vector<node_reply> result;
  for (auto& m : members()) {
    auto reply = request_any(*sys_, m.actor, msg, timeout);
    result.push_back({m.node, reply ? std::move(*reply) : caf::message{},
                      reply ? caf::error{} : std::move(reply.error())});
  }
  return result;
}

caf::error service_pool::leave() const {
  return reg_.unregister(key_);
}

} // namespace ringvisor::cluster
