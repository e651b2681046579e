// What the dashboard's `GET /api/state` shows, made from what the cluster
// answered: this node's view and status, the ring, every member's board
// (its heroes and the changes made through its dashboard) and health.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/member.hpp"

namespace dispatch {

/// What the cluster answered the dashboard of `node`.
struct cluster_facts {
  std::string node;
  /// The name of the heroes' ring supervisor.
  std::string heroes;
  std::vector<ringvisor::cluster::member> view;
  ringvisor::cluster::cluster_status status;
  /// The ring's members; empty if the agent did not say.
  std::vector<std::string> ring;
  /// Every up member's `board_report`, or why there is none.
  std::vector<ringvisor::cluster::node_reply> boards;
  /// The health of the members whose agents answered, by name.
  std::map<std::string, ringvisor::cluster::node_health> health;
  /// The heroes pinned to a node by an operator: the node, by hero id.
  std::map<std::string, std::string> pins;
};

/// Returns `/api/state`: this node and its status; every member with its
/// share of the ring, heroes, dashboard, health and link (as this node sees
/// it); the ring; every hero with its place on the ring and its pin (null if
/// none), sorted by name; the
/// newest changes made through any dashboard; the members whose boards did
/// not answer.
nlohmann::json state_json(const cluster_facts& facts);

} // namespace dispatch
