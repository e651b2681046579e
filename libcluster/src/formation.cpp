#include "formation.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace ringvisor::cluster::detail {

namespace {

// Whether the node reaches `name`: itself or a peer.
bool reaches_name(const formation_facts& facts, const std::string& name) {
  return name == facts.self_name
         || std::any_of(facts.peers.begin(), facts.peers.end(),
                        [&](const formation_peer& p) { return p.name == name; });
}

bool reaches_endpoint(const formation_facts& facts, const std::string& endpoint) {
  return endpoint == facts.self_endpoint
         || std::any_of(facts.peers.begin(), facts.peers.end(),
                        [&](const formation_peer& p) { return p.endpoint == endpoint; });
}

} // namespace

std::optional<std::string> formation_reason(const formation_facts& facts) {
  if (facts.forced)
    return "an operator said so (ringvisor-ctl form)";
  for (auto& p : facts.peers)
    if (p.member)
      return "linked to " + p.name + ", a member of a cluster";
  std::set<std::string> remembered{facts.remembered.begin(), facts.remembered.end()};
  for (auto& p : facts.peers)
    remembered.insert(p.remembered.begin(), p.remembered.end());
  if (!remembered.empty()) {
    auto reached = std::count_if(remembered.begin(), remembered.end(),
                                 [&](const std::string& x) { return reaches_name(facts, x); });
    if (2 * static_cast<size_t>(reached) > remembered.size())
      return fmt::format("reaches {} of the {} members remembered", reached, remembered.size());
    return std::nullopt;
  }
  if (!facts.seeded)
    return "no seeds: a new cluster";
  if (facts.form_alone)
    return "ringvisor.form-alone";
  std::set<std::string> seeds{facts.seeds.begin(), facts.seeds.end()};
  auto reached = std::count_if(seeds.begin(), seeds.end(), [&](const std::string& x) {
    return reaches_endpoint(facts, x);
  });
  if (2 * static_cast<size_t>(reached) > seeds.size())
    return fmt::format("reaches {} of its {} seeds, none a member yet", reached, seeds.size());
  return std::nullopt;
}

} // namespace ringvisor::cluster::detail
