#pragma once

// The ledger that ring-test-node children write: one line per start and stop
// of a child instance, with a machine-wide monotonic time. Parsed into
// intervals per child, it proves (or refutes) that no two instances of a
// child ever ran at once.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace ringvisor::test {

/// One instance of a child: where, which epoch, from when to when.
struct instance {
  std::string node;
  uint64_t epoch = 0;
  int64_t start_ns = 0;
  int64_t stop_ns = -1; // -1: still running (or its node was killed)
  int64_t start_count = 0;
};

inline int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

class ledger {
public:
  /// Reads every `*.log` file of `dir`.
  explicit ledger(const std::string& dir) {
    for (auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".log")
        continue;
      std::ifstream in{entry.path()};
      std::string line;
      while (std::getline(in, line)) {
        std::istringstream fields{line};
        std::string kind, id, node;
        int64_t ns = 0, count = 0;
        uint64_t epoch = 0;
        if (fields >> kind >> ns >> id >> node >> epoch >> count)
          events_[id].push_back({kind == "start", ns, node, epoch, count});
      }
    }
    for (auto& [id, evs] : events_) {
      std::sort(evs.begin(), evs.end(),
                [](auto& x, auto& y) { return x.ns < y.ns; });
      auto& xs = instances_[id];
      for (auto& e : evs) {
        if (e.start) {
          xs.push_back(instance{e.node, e.epoch, e.ns, -1, e.count});
          continue;
        }
        for (auto i = xs.rbegin(); i != xs.rend(); ++i)
          if (i->node == e.node && i->epoch == e.epoch && i->stop_ns < 0) {
            i->stop_ns = e.ns;
            break;
          }
      }
    }
  }

  /// Closes the open instances on `node` at `ns` (it was killed then).
  void killed(const std::string& node, int64_t ns) {
    for (auto& [id, xs] : instances_)
      for (auto& x : xs)
        if (x.node == node && x.stop_ns < 0 && x.start_ns <= ns)
          x.stop_ns = ns;
  }

  /// Returns a description of every pair of instances of one child that
  /// ran at the same time; empty if none did.
  std::vector<std::string> overlaps() const {
    std::vector<std::string> result;
    for (auto& [id, xs] : instances_)
      for (size_t i = 1; i < xs.size(); ++i)
        for (size_t j = 0; j < i; ++j) {
          auto& a = xs[j];
          auto& b = xs[i];
          bool a_open_at_b = a.stop_ns < 0 || a.stop_ns > b.start_ns;
          if (a_open_at_b)
            result.push_back(id + ": " + a.node + "@" + std::to_string(a.epoch)
                             + " still ran when " + b.node + "@"
                             + std::to_string(b.epoch) + " started");
        }
    return result;
  }

  /// Returns the instances of `id`, in start order.
  const std::vector<instance>& of(const std::string& id) const {
    static const std::vector<instance> none;
    auto i = instances_.find(id);
    return i != instances_.end() ? i->second : none;
  }

  /// Returns the instances of every child, by id.
  const std::map<std::string, std::vector<instance>>& all() const noexcept {
    return instances_;
  }

private:
  struct event {
    bool start;
    int64_t ns;
    std::string node;
    uint64_t epoch;
    int64_t count;
  };

  std::map<std::string, std::vector<event>> events_;
  std::map<std::string, std::vector<instance>> instances_;
};

} // namespace ringvisor::test
