// Consistent-hash ring benchmarks, printed as a table (see docs/benchmarks.md):
// whois latency over 1M distinct keys, and the time to rebuild the ring when
// a member joins. Usage: ring_bench

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ringvisor/cluster/hash_ring.hpp"

using ringvisor::cluster::hash_ring;
using clk = std::chrono::steady_clock;

namespace {

double ns_since(clk::time_point t0) {
  return std::chrono::duration<double, std::nano>(clk::now() - t0).count();
}

hash_ring make_ring(size_t members) {
  std::vector<std::string> names;
  for (size_t i = 1; i <= members; ++i)
    names.push_back("node-" + std::to_string(i));
  return hash_ring{names};
}

} // namespace

int main() {
  constexpr size_t lookups = 1'000'000;
  std::vector<std::string> keys;
  keys.reserve(lookups);
  for (size_t i = 0; i < lookups; ++i)
    keys.push_back("child/" + std::to_string(i));
  std::printf("| members | vnodes | whois (ns/op) | join rebuild (us) |\n");
  std::printf("|---------|--------|---------------|-------------------|\n");
  for (size_t members : {3, 5, 16, 64}) {
    auto ring = make_ring(members);
    size_t sink = 0;
    auto t0 = clk::now();
    for (auto& k : keys)
      sink += ring.whois(k)->size();
    auto per_op = ns_since(t0) / lookups;
    t0 = clk::now();
    ring.add("node-new");
    auto rebuild_us = ns_since(t0) / 1000;
    std::printf("| %7zu | %6zu | %13.1f | %17.0f |%s\n", members, ring.vnodes(),
                per_op, rebuild_us, sink == 0 ? " (no keys?)" : "");
  }
  return 0;
}
