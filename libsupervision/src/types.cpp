#include "ringvisor/types.hpp"

#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/supervision/types.hpp"

namespace ringvisor {

void add_types(caf::actor_system_config& cfg) {
  cluster::add_types(cfg); // libactor's too
  supervision::add_types(cfg);
}

} // namespace ringvisor
