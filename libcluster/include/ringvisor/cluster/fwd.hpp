#pragma once

#include <cstdint>

namespace ringvisor::cluster {

enum class activator_event : uint8_t;
enum class cluster_status : uint8_t;
enum class cluster_validity : uint8_t;
enum class connect_outcome : uint8_t;
enum class errc : uint8_t;
enum class member_status : uint8_t;
enum class service_state : uint8_t;
enum class split_brain_strategy : uint8_t;
enum class verdict : uint8_t;
class activator;
class fence_set;
class hash_ring;
class lease_clock;
class membership;
class name_registry;
class service_pool;
struct agent_options;
struct member;
struct node_reply;
struct registered_name;
struct resolved_seeds;
struct side;

} // namespace ringvisor::cluster
