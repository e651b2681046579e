#pragma once

#include <cstdint>

namespace ringvisor::supervision {

enum class child_kind : uint8_t;
enum class errc : uint8_t;
enum class restart_strategy : uint8_t;
enum class restart_type : uint8_t;
struct child_counts;
struct child_info;
struct child_spec;
struct shutdown_policy;
struct supervisor_spec;

} // namespace ringvisor::supervision
