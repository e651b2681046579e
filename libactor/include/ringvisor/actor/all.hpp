#pragma once

#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/factory_registry.hpp"
#include "ringvisor/actor/fwd.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/node.hpp"
#include "ringvisor/actor/node_config.hpp"
#include "ringvisor/actor/scheduler.hpp"
#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/actor/wire.hpp"
