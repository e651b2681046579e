#pragma once

// Every public header of libring: the ring supervisor, its handles and its
// child stores.

#include "ringvisor/ring/child_store.hpp"
#include "ringvisor/ring/client.hpp"
#include "ringvisor/ring/fwd.hpp"
#include "ringvisor/ring/info.hpp"
#include "ringvisor/ring/ownership.hpp"
#include "ringvisor/ring/ref.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "ringvisor/ring/types.hpp"
#include "ringvisor/types.hpp"
