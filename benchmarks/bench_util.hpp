#pragma once

// Small helpers shared by the benchmark binaries.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace ringvisor::bench {

using clk = std::chrono::steady_clock;

/// Returns `d` in microseconds.
inline double us(clk::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

/// Returns the `p`-quantile (0..1) of `xs`, nearest rank.
inline double percentile(std::vector<double> xs, double p) {
  std::sort(xs.begin(), xs.end());
  return xs[static_cast<size_t>(p * static_cast<double>(xs.size() - 1) + 0.5)];
}

} // namespace ringvisor::bench
