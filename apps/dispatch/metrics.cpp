#include "metrics.hpp"

#include <algorithm>

#include <prometheus/text_serializer.h>

namespace dispatch {

namespace rv = ringvisor;

metrics::metrics(const std::string& node)
  : registry_(std::make_shared<prometheus::Registry>()),
    members_(prometheus::BuildGauge()
               .Name("ringvisor_cluster_members")
               .Help("Members in this node's view, by status")
               .Labels({{"node", node}})
               .Register(*registry_)),
    children_(prometheus::BuildGauge()
                .Name("ringvisor_ring_children")
                .Help("Children of the ring supervisor running on this node")
                .Labels({{"node", node}, {"sup", "heroes"}})
                .Register(*registry_)
                .Add({})),
    events_(prometheus::BuildCounter()
              .Name("ringvisor_ring_child_events_total")
              .Help("Children of the ring supervisor by how they came to run on or "
                    "left this node: started, recovered (a failover: nobody ran "
                    "them), restarted, migrated_in, migrated_out")
              .Labels({{"node", node}, {"sup", "heroes"}})
              .Register(*registry_)),
    wire_events_(prometheus::BuildCounter()
                   .Name("ringvisor_wire_events_total")
                   .Help("What the wire between nodes counted: links_accepted, peers_up, "
                         "peers_down, handshake_failures, handshake_timeouts, "
                         "unauthenticated_refused, refused_for_descriptors, "
                         "tls_failures, protocol_errors, oversize_frames, silent_closes, "
                         "duplicates_refused, queue_full, requests_failed, undecodable")
                   .Labels({{"node", node}})
                   .Register(*registry_)),
    wire_bytes_(prometheus::BuildCounter()
                  .Name("ringvisor_wire_bytes_total")
                  .Help("Bytes the wire moved, by direction (in, out)")
                  .Labels({{"node", node}})
                  .Register(*registry_)),
    wire_links_(prometheus::BuildGauge()
                  .Name("ringvisor_wire_links")
                  .Help("Links now: authenticated peers, and inbound links in their handshake")
                  .Labels({{"node", node}})
                  .Register(*registry_)),
    connections_(prometheus::BuildCounter()
                   .Name("ringvisor_http_connections_total")
                   .Help("What the dashboard's front did with connections: accepted, "
                         "expired (no whole head in time), evicted (for a newer one), "
                         "oversize (head too long), busy (refused, all workers busy), "
                         "served")
                   .Labels({{"node", node}})
                   .Register(*registry_)),
    latency_(prometheus::BuildHistogram()
               .Name("ringvisor_http_request_duration_seconds")
               .Help("Time to answer dashboard and API requests, by route")
               .Labels({{"node", node}})
               .Register(*registry_)) {
  // nop
}

prometheus::Histogram& metrics::route(const std::string& name) {
  static const prometheus::Histogram::BucketBoundaries buckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 3};
  return latency_.Add({{"route", name}}, buckets);
}

std::string metrics::scrape(const std::vector<rv::cluster::member>& view,
                            const rv::ring::ring_stats& now, const rv::actor::wire_counters& wire,
                            const http_front_counters& http) {
  std::lock_guard<std::mutex> guard{mtx_}; // scrapes may overlap
  for (auto s : {rv::cluster::member_status::joining, rv::cluster::member_status::up,
                 rv::cluster::member_status::leaving, rv::cluster::member_status::down,
                 rv::cluster::member_status::removed}) {
    auto n = std::count_if(view.begin(), view.end(), [s](auto& m) { return m.status == s; });
    members_.Add({{"status", to_string(s)}}).Set(static_cast<double>(n));
  }
  children_.Set(static_cast<double>(now.running));
  advance("started", now.started);
  advance("recovered", now.recovered);
  advance("restarted", now.restarts);
  advance("migrated_in", now.moved_in);
  advance("migrated_out", now.moved_out);
  std::pair<const char*, uint64_t> wire_events[] = {
    {"links_accepted", wire.links_accepted},
    {"peers_up", wire.peers_up},
    {"peers_down", wire.peers_down},
    {"handshake_failures", wire.handshake_failures},
    {"handshake_timeouts", wire.handshake_timeouts},
    {"unauthenticated_refused", wire.unauthenticated_refused},
    {"refused_for_descriptors", wire.refused_for_descriptors},
    {"tls_failures", wire.tls_failures},
    {"protocol_errors", wire.protocol_errors},
    {"oversize_frames", wire.oversize_frames},
    {"silent_closes", wire.silent_closes},
    {"duplicates_refused", wire.duplicates_refused},
    {"queue_full", wire.queue_full},
    {"requests_failed", wire.requests_failed},
    {"undecodable", wire.undecodable},
  };
  for (auto& [event, value] : wire_events)
    advance(wire_events_, event, value);
  std::pair<const char*, uint64_t> http_events[] = {
    {"accepted", http.accepted}, {"expired", http.expired}, {"evicted", http.evicted},
    {"oversize", http.oversize}, {"busy", http.busy},       {"served", http.served},
  };
  for (auto& [event, value] : http_events)
    advance(connections_, event, value);
  advance(wire_bytes_, "in", wire.bytes_in);
  advance(wire_bytes_, "out", wire.bytes_out);
  wire_links_.Add({{"state", "peer"}}).Set(static_cast<double>(wire.peers));
  wire_links_.Add({{"state", "unauthenticated"}}).Set(static_cast<double>(wire.unauthenticated));
  prometheus::TextSerializer text;
  return text.Serialize(registry_->Collect());
}

void metrics::advance(const std::string& event, uint64_t now) {
  advance(events_, event, now);
}

void metrics::advance(prometheus::Family<prometheus::Counter>& family, const std::string& label,
                      uint64_t now) {
  auto& last = last_[&family][label];
  auto added = now >= last ? now - last : now;
  last = now;
  auto label_name = &family == &wire_bytes_ ? "direction" : "event";
  auto& counter = family.Add({{label_name, label}});
  if (added > 0)
    counter.Increment(static_cast<double>(added));
}

} // namespace dispatch
