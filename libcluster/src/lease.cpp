#include "ringvisor/cluster/lease.hpp"

#include <map>
#include <mutex>

#include "lease_registry.hpp"

namespace ringvisor::cluster {

namespace {

// One entry per actor system that runs an agent (tests run several in one
// process); weak, so an entry ends with its agent.
std::mutex registry_mtx;
std::map<const caf::actor_system*, std::weak_ptr<const lease_clock>> registry;

} // namespace

std::shared_ptr<const lease_clock> lease_of(caf::actor_system& sys) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  auto i = registry.find(&sys);
  return i == registry.end() ? nullptr : i->second.lock();
}

namespace detail {

void register_lease(caf::actor_system& sys, std::shared_ptr<const lease_clock> lease) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  for (auto i = registry.begin(); i != registry.end();)
    i = i->second.expired() ? registry.erase(i) : std::next(i);
  registry[&sys] = std::move(lease);
}

} // namespace detail

} // namespace ringvisor::cluster
