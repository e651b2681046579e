#pragma once

// The controller's command line: `--name value` or `--name=value`.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace ringvisor::chaos {

/// The faults a run can inject, one at a time.
enum class fault_kind : uint8_t { kill9, stop, term, partition, starve, isolated };

/// Returns `"kill9"`, `"stop"`, `"term"`, `"partition"`, `"starve"` or `"isolated"`.
const char* to_string(fault_kind x);

/// Every fault kind, in the order of `fault_kind`.
inline constexpr fault_kind all_fault_kinds[] = {fault_kind::kill9, fault_kind::stop,
                                                 fault_kind::term, fault_kind::partition,
                                                 fault_kind::starve, fault_kind::isolated};

/// What a run does; defaults as documented in `usage`.
struct options {
  size_t nodes = 5;
  size_t children = 200;
  /// How long the workload and the faults go on; 0: until `max_faults`.
  std::chrono::milliseconds duration = std::chrono::seconds{60};
  uint64_t seed = 0;
  bool seed_given = false;
  std::set<fault_kind> faults{std::begin(all_fault_kinds), std::end(all_fault_kinds)};
  /// Stop injecting after this many faults; 0: no limit.
  size_t max_faults = 0;
  /// Random gap between two faults: uniform in [min_gap, max_gap].
  std::chrono::milliseconds min_gap = std::chrono::seconds{1};
  std::chrono::milliseconds max_gap = std::chrono::seconds{4};
  /// Work (ledger) directory; empty: a fresh one under $TMPDIR or /tmp.
  std::string dir;
  /// Keep the work directory even if every check passed.
  bool keep = false;
  /// Acknowledged calls per second, over all client threads.
  double rate = 100;
  size_t clients = 4;
  /// Moves (pins and unpins) per second.
  double moves = 1;
  std::chrono::milliseconds call_timeout = std::chrono::seconds{3};
  /// How often each child acts (ledger `tick`).
  std::chrono::milliseconds tick = std::chrono::milliseconds{5};
  /// Bounds the final wait for a converged cluster and answering children.
  std::chrono::milliseconds settle = std::chrono::seconds{60};
  /// The nodes' `ringvisor.log-level`.
  std::string log_level = "info";
  bool help = false;
};

/// The help text.
extern const char* usage;

/// Parses the command line; on a usage error returns nothing and sets `err`.
std::optional<options> parse_options(int argc, char** argv, std::string& err);

} // namespace ringvisor::chaos
