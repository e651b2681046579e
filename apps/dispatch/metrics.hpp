// The dispatch node's Prometheus metrics: gauges read from the cluster at
// every scrape, counters advanced by what the ring supervisor, the wire and
// the HTTP front counted since the last one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "http_front.hpp"
#include "ringvisor/actor/wire.hpp"
#include "ringvisor/cluster/member.hpp"
#include "ringvisor/ring/info.hpp"

namespace dispatch {

/// The metrics of one node, labelled with its name.
class metrics {
public:
  explicit metrics(const std::string& node);

  /// Returns the histogram of `route`.
  prometheus::Histogram& route(const std::string& name);

  /// Takes in a scrape's readings and returns the text format.
  std::string scrape(const std::vector<ringvisor::cluster::member>& view,
                     const ringvisor::ring::ring_stats& now,
                     const ringvisor::actor::wire_counters& wire, const http_front_counters& http);

private:
  // A reading below the last one means the ring supervisor restarted and
  // counts from 0 again: all of it is new.
  void advance(const std::string& event, uint64_t now);

  // The same for one label of another counter family.
  void advance(prometheus::Family<prometheus::Counter>& family, const std::string& label,
               uint64_t now);

  std::mutex mtx_;
  std::map<const void*, std::map<std::string, uint64_t>> last_; // by family, label
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& members_;
  prometheus::Gauge& children_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& wire_events_;
  prometheus::Family<prometheus::Counter>& wire_bytes_;
  prometheus::Family<prometheus::Gauge>& wire_links_;
  prometheus::Family<prometheus::Counter>& connections_;
  prometheus::Family<prometheus::Histogram>& latency_;
};

} // namespace dispatch
