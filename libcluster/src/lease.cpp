#include "ringvisor/cluster/lease.hpp"

#include <map>
#include <mutex>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/weak_intrusive_ptr.hpp>

#include "lease_registry.hpp"

namespace ringvisor::cluster {

namespace {

// What a node's agent leaves for others to find without asking it: one
// entry per actor system that runs an agent (tests run several in one
// process); weak, so an entry ends with its agent.
struct registered {
  std::weak_ptr<const lease_clock> lease;
  caf::weak_actor_ptr agent;
};

std::mutex registry_mtx;
std::map<const caf::actor_system*, registered> registry;

} // namespace

std::shared_ptr<const lease_clock> lease_of(caf::actor_system& sys) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  auto i = registry.find(&sys);
  return i == registry.end() ? nullptr : i->second.lease.lock();
}

namespace detail {

void register_lease(caf::actor_system& sys, std::shared_ptr<const lease_clock> lease) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  for (auto i = registry.begin(); i != registry.end();)
    i = i->second.lease.expired() ? registry.erase(i) : std::next(i);
  registry[&sys] = registered{std::move(lease), {}};
}

void register_agent(caf::actor_system& sys, const caf::actor& agent) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  registry[&sys].agent = caf::actor_cast<caf::weak_actor_ptr>(agent);
}

caf::actor registered_agent(caf::actor_system& sys) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  auto i = registry.find(&sys);
  if (i == registry.end())
    return nullptr;
  return caf::actor_cast<caf::actor>(i->second.agent.lock());
}

} // namespace detail

} // namespace ringvisor::cluster
