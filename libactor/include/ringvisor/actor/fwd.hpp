#pragma once

#include <cstdint>

namespace ringvisor::actor {

enum class errc : uint8_t;
class factory_registry;
class node;
class node_config;
struct node_identity;
struct wire_counters;
struct wire_options;

} // namespace ringvisor::actor
