#include "cluster_state.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>

#include "hero.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/ring/info.hpp"

namespace dispatch {

namespace {

namespace rv = ringvisor;
using json = nlohmann::json;

/// Audit entries the state gives: the newest of all nodes'.
constexpr size_t audit_shown = 50;

int64_t milliseconds(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

// Returns the place of a ring point on a circle, in turns (0 to 1).
double on_circle(uint64_t point) {
  return std::ldexp(static_cast<double>(point), -64);
}

json to_json(const audit_entry& x) {
  return {{"at_ms", x.at_ms},   {"node", x.node},     {"client", x.client},
          {"action", x.action}, {"target", x.target}, {"outcome", x.outcome}};
}

// A member's own lease and timer.
json to_json(const rv::cluster::node_health& x) {
  return {{"lease", x.lease},
          {"lease_left_ms", milliseconds(x.lease_left)},
          {"lateness_ms", milliseconds(x.lateness)}};
}

// A member's link as another sees it.
json to_json(const rv::cluster::peer_health& x) {
  return {{"linked", x.linked},
          {"unreachable", x.unreachable},
          {"silence_ms", milliseconds(x.silence)},
          {"phi", std::round(x.phi * 10) / 10}};
}

} // namespace

json state_json(const cluster_facts& facts) {
  std::vector<const hero_view*> all;
  std::vector<const audit_entry*> audited;
  json errors = json::array();
  std::map<std::string, std::string> dashboards;
  std::map<std::string, size_t> counts;
  for (auto& r : facts.boards) {
    if (r.error || !r.reply.match_elements<board_report>()) {
      errors.push_back(
        {{"node", r.node}, {"error", r.error ? rv::actor::render(r.error) : "bad reply"}});
      continue;
    }
    auto& report = r.reply.get_as<board_report>(0);
    dashboards[r.node] = report.dashboard;
    counts[r.node] = report.heroes.size();
    for (auto& h : report.heroes)
      all.push_back(&h);
    for (auto& x : report.audit)
      audited.push_back(&x);
  }
  std::sort(all.begin(), all.end(), [](auto x, auto y) { return x->state.name < y->state.name; });
  // The newest changes first, from every node's dashboard; each member
  // keeps a copy of each.
  auto key = [](const audit_entry* x) {
    return std::tie(x->at_ms, x->node, x->client, x->action, x->target, x->outcome);
  };
  std::sort(audited.begin(), audited.end(), [&](auto x, auto y) { return key(x) > key(y); });
  audited.erase(
    std::unique(audited.begin(), audited.end(), [&](auto x, auto y) { return key(x) == key(y); }),
    audited.end());
  json audit = json::array();
  for (size_t i = 0; i < std::min(audited.size(), audit_shown); ++i)
    audit.push_back(to_json(*audited[i]));
  json listed = json::array();
  for (auto h : all) {
    listed.push_back(to_json(*h));
    listed.back()["ring_point"] = on_circle(rv::ring::ring_point(facts.heroes, h->id));
    auto pin = facts.pins.find(h->id);
    listed.back()["pin"] = pin != facts.pins.end() ? json(pin->second) : json(nullptr);
  }
  // Each member's part of the ring: a hero's id hashes to one point, so
  // a few heroes may leave a member with none by chance.
  rv::cluster::hash_ring placed{facts.ring};
  std::map<std::string, double> shares;
  auto xs = placed.shares();
  for (size_t i = 0; i < xs.size(); ++i)
    shares[placed.members()[i]] = xs[i];
  // Each member's own lease and timer; its link as this node sees it.
  std::map<std::string, json> links;
  if (auto mine = facts.health.find(facts.node); mine != facts.health.end())
    for (auto& p : mine->second.peers)
      links[p.name] = to_json(p);
  json nodes = json::array();
  for (auto& m : facts.view) {
    auto h = facts.health.find(m.name);
    nodes.push_back({{"name", m.name},
                     {"ring_share", shares.count(m.name) ? shares[m.name] : 0.0},
                     {"endpoint", m.endpoint},
                     {"status", to_string(m.status)},
                     // a string: JavaScript's numbers hold 53 bits
                     {"incarnation", std::to_string(m.incarnation)},
                     {"dashboard", dashboards[m.name]},
                     {"heroes", counts[m.name]},
                     {"health", h != facts.health.end() ? to_json(h->second) : json(nullptr)},
                     {"link", links.count(m.name) ? links[m.name] : json(nullptr)}});
  }
  return json{{"node", facts.node},          {"status", to_string(facts.status)},
              {"members", std::move(nodes)}, {"ring", placed.members()},
              {"heroes", std::move(listed)}, {"audit", std::move(audit)},
              {"errors", std::move(errors)}};
}

} // namespace dispatch
