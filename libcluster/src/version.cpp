#include "ringvisor/cluster/version.hpp"

namespace ringvisor::cluster {

const char* version() noexcept {
  return RINGVISOR_VERSION;
}

} // namespace ringvisor::cluster
