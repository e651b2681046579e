#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/node.hpp"
#include "ringvisor/cluster/export.hpp"
#include "ringvisor/cluster/member.hpp"
#include "ringvisor/cluster/split_brain.hpp"

namespace ringvisor::cluster {

/// The cluster agent: one per node, registered as `"cluster"` in the node
/// directory. It joins through the seeds, connects to every member it learns
/// of (full mesh: handles relayed through a third node lose their down
/// messages) and spreads membership views by push gossip.
///
/// Failure detection and split brain: a member whose link drops (a crash
/// closes the TCP connection at once; a hung or cut-off peer misses CAF's
/// heartbeats) becomes *unreachable* for this node, which tells its peers.
/// The node then judges its side, the members it still reaches, by the
/// `ringvisor.split-brain` strategy (or the user's `cluster_valid`): a
/// winning side marks an unreachable member `down` once every member of the
/// side reports it unreachable too (so a single broken link downs nobody);
/// a losing side downs nobody, reports `split` and stops serving until the
/// partition heals, when it rejoins and converges to one view.
///
/// Status (Cloister's, plus `split`): `starting` until `ringvisor.consensus`
/// members are up and all reachable members hold the same view, then `up`;
/// `rehashing` while views differ after a change; `split` on a losing side;
/// `stopping` once the agent shuts down. On an orderly shutdown the agent
/// tells its peers that it left (`removed`) before it exits, so they do not
/// take it for a crash.
///
/// A live agent that finds itself declared down (it was hung or cut off)
/// comes back as a new, higher incarnation, which every view takes over the
/// old one (SWIM's refutation); a process that finds a *newer* incarnation
/// under its name (it was replaced while hung) does not outbid it. A node
/// that says hello under the name of a member that is linked, counts and is
/// not silent is turned away, with an error in its log; it gets in once that
/// member is downed, silent or gone. A side that lost members and reports
/// `split` takes no newcomers until the heal.
///
/// Messages:
/// - `(caf::get_atom, members_atom)` -> `std::vector<member>`, sorted by name;
/// - `(caf::get_atom, status_atom)` -> `cluster_status`;
/// - `(whois_atom, std::string key, std::string group)` -> the name of the
///   up member that owns `key` on the group's ring (`""`: all members), or
///   `errc::empty_ring`;
/// - `(caf::get_atom, ring_atom, std::string group)` ->
///   `std::vector<std::string>`, the ring's members;
/// - `(caf::get_atom, siblings_atom)` -> `std::vector<std::string>`, the up
///   members other than this node;
/// - multicall, call and multicast: see `calls.hpp`;
/// - `(caf::get_atom, lease_atom)` -> `bool`: whether this node may act for
///   the cluster now (what a singleton leader asks before it acts): `up` or
///   `rehashing`, its heartbeat timer on time, not paused for longer than
///   `suspect-after` within the last `suspect-after` + 2 heartbeats (the
///   others may have declared it down meanwhile), and a majority of the
///   counted members (itself included) heard from within `suspect-after`;
///   `cluster::lease_of` reads the same without a message;
/// - `(caf::get_atom, health_atom)` -> `node_health`: the lease, how late
///   the heartbeat timer fires and every member's link, for an operator
///   (every member's at once: a multicall to `agent_directory_name`);
/// - `(form_atom)` -> `caf::ok_atom`: an operator's word that this node,
///   which waits to form a cluster (see docs/cluster.md), may form one with
///   the members it reaches (`ringvisor-ctl form`); logged;
/// - `(await_up_atom)` -> `caf::ok_atom` once the cluster is up; bound it
///   with the request's timeout;
/// - `(service_atom, std::string name, uint8_t state)` -> `caf::ok_atom`:
///   this node offers `name`, winds it down or drops it (`service_state`;
///   `member::services` and `member::draining`: a ring supervisor places
///   children only on members that offer it, and asks those that wind it
///   down what they still run); answered once every linked peer merged the
///   change, or after a second;
/// - `(subscribe_atom, caf::actor listener)`: the listener receives
///   `(view_atom, std::vector<member>)` now and after every change, and
///   `(status_atom, cluster_status before, cluster_status now,
///   std::vector<member>)` on every status transition (`split` is
///   Stoker's `cluster_split` event).
///
/// Example:
/// ```
/// auto agent = cluster::start_agent(node);   // adopted by the node; check it
/// ```
using members_atom = caf::atom_constant<caf::atom("members")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using view_atom = caf::atom_constant<caf::atom("rv_view")>;
using status_atom = caf::atom_constant<caf::atom("rv_status")>;
using await_up_atom = caf::atom_constant<caf::atom("rv_awaitup")>;
using whois_atom = caf::atom_constant<caf::atom("rv_whois")>;
using ring_atom = caf::atom_constant<caf::atom("rv_ring")>;
using siblings_atom = caf::atom_constant<caf::atom("rv_sibling")>;
using lease_atom = caf::atom_constant<caf::atom("rv_lease")>;
using form_atom = caf::atom_constant<caf::atom("rv_form")>;
using health_atom = caf::atom_constant<caf::atom("rv_health")>;

/// The name of the agent in every node directory, for calls to the agents
/// of other members (`multicall(sys, agent, agent_directory_name, msg, t)`).
inline constexpr const char* agent_directory_name = "cluster";
using service_atom = caf::atom_constant<caf::atom("rv_service")>;

/// The cluster as one node sees it (Cloister's states, plus `split`).
enum class cluster_status : uint8_t { starting, up, rehashing, split, stopping };

/// Returns `"starting"`, `"up"`, `"rehashing"`, `"split"` or `"stopping"`.
RINGVISOR_CLUSTER_EXPORT const char* to_string(cluster_status x);

/// How one member looks from a node: its link and its heartbeats.
struct peer_health {
  std::string name;
  /// Whether a link to it is up now.
  bool linked = false;
  /// Whether it is unreachable from this node: its link is gone, or the
  /// failure detector suspects it (its pings stopped), also once downed.
  bool unreachable = false;
  /// How long since it last sent anything (while linked; 0 otherwise): one
  /// heartbeat interval at most, for a healthy peer.
  caf::timespan silence{0};
  /// How sure the failure detector is that it is gone (phi; it suspects at
  /// 8, a chance of about 10^-8 that a live peer's ping is this late).
  double phi = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_health& x) {
  return f(caf::meta::type_name("ringvisor::peer_health"), x.name, x.linked, x.unreachable,
           x.silence, x.phi);
}

/// What a node's agent knows about its own health (`(caf::get_atom,
/// health_atom)`).
struct node_health {
  /// Whether it may act for the cluster now (see `lease_atom`).
  bool lease = false;
  /// How long the lease lasts if no news comes (0 without one).
  caf::timespan lease_left{0};
  /// How late its heartbeat timer fired lately, at worst: a starved or
  /// paused process shows here first.
  caf::timespan lateness{0};
  /// Every other member of its view that is not removed, by name.
  std::vector<peer_health> peers;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_health& x) {
  return f(caf::meta::type_name("ringvisor::node_health"), x.lease, x.lease_left, x.lateness,
           x.peers);
}

/// Options of `start_agent` beyond the node's configuration.
struct agent_options {
  /// How often the agent retries seeds and members it has no link to.
  caf::timespan retry = std::chrono::milliseconds{500};

  /// Judges this node's side instead of `ringvisor.split-brain`, if set.
  /// Called on the agent's thread: keep it quick and do not block.
  cluster_valid_fn cluster_valid;
};

/// Spawns the node's cluster agent, registers it in the node directory and
/// makes the node stop it on shutdown. Fails if the membership remembered
/// in `ringvisor.data-dir` cannot be read (the error names the file).
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT caf::expected<caf::actor>
start_agent(actor::node& node, agent_options opts = {});

/// Returns the cluster agent that `start_agent` started on `node`; fails
/// with `actor::errc::bad_config` if it started none (or it stopped). Sends
/// nothing: any thread or actor may call it.
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT caf::expected<caf::actor> agent_of(actor::node& node);

/// Registers libcluster's message types with `cfg`. Call it on every node.
RINGVISOR_CLUSTER_EXPORT void add_types(caf::actor_system_config& cfg);

} // namespace ringvisor::cluster
