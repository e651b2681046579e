#pragma once

// The table a chaos run prints, and the ledger windows of its violations.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "faults.hpp"
#include "ledger_check.hpp"
#include "workload.hpp"

namespace ringvisor::chaos {

/// Everything the table shows.
struct run_summary {
  size_t nodes = 0;
  size_t children = 0;
  uint64_t seed = 0;
  std::string dir;
  bool dir_kept = true;
  /// How long the workload ran, in seconds.
  double seconds = 0;
  std::vector<fault_record> faults;
  /// Skipped fault kinds, trouble in the final phase, ...
  std::vector<std::string> notes;
  workload_stats calls;
  size_t ledger_lines = 0;
  size_t splits = 0;
  check_result result;
};

/// Prints the table.
void print_table(std::ostream& out, const run_summary& s);

/// Prints up to `max` violations, each with the ledger lines of its child
/// around it.
void print_violations(std::ostream& out, const ledger& l, const check_result& r,
                      size_t max);

} // namespace ringvisor::chaos
