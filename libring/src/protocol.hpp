#pragma once

// The ring supervisor's protocol (private to libring; its types are
// registered by ring::add_types): what clients ask any node's part, and what
// the parts on different nodes send each other. `ring::ref` and
// `ring::client` are the public face of the first.

#include <cstdint>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>

#include "supervision_names.hpp"

namespace ringvisor::ring {

// -- from clients, to any node's ring supervisor ------------------------------

/// `(ring_start_atom, child_spec) -> placement`: records and starts a child.
using ring_start_atom = caf::atom_constant<caf::atom("rr_start")>;
/// `(ring_delete_atom, std::string id) -> ok`: stops a child and forgets it.
using ring_delete_atom = caf::atom_constant<caf::atom("rr_delete")>;
/// `(ring_terminate_atom, std::string id) -> ok`: stops a child, keeping its
/// spec: it stays stopped, wherever it would move, until restarted.
using ring_terminate_atom = caf::atom_constant<caf::atom("rr_term")>;
/// `(ring_restart_atom, std::string id) -> placement`: starts a terminated child.
using ring_restart_atom = caf::atom_constant<caf::atom("rr_restart")>;
/// `(ring_pin_atom, std::string id, std::string member) -> ok`: moves a child
/// to `member` and keeps it there while `member` is on the ring (empty: back
/// to its ring owner).
using ring_pin_atom = caf::atom_constant<caf::atom("rr_pin")>;
/// `(ring_find_atom, std::string id, uint8_t hops) -> placement`.
using ring_find_atom = caf::atom_constant<caf::atom("rr_find")>;
/// `(ring_call_atom, uint64_t request, std::string id, caf::message, uint8_t
/// hops) -> the child's reply`; a retry with the same request id gets the
/// first reply without asking the child again.
using ring_call_atom = caf::atom_constant<caf::atom("rr_call")>;
/// `(ring_exec_atom, uint64_t request, std::string id, std::string function,
/// caf::message args, uint8_t hops) -> the function's result`.
using ring_exec_atom = caf::atom_constant<caf::atom("rr_exec")>;
/// `(ring_which_atom) -> std::vector<ring_child>`: every child of the cluster.
using ring_which_atom = caf::atom_constant<caf::atom("rr_which")>;
/// `(ring_local_atom) -> std::vector<ring_child>`: the children of this node.
using ring_local_atom = caf::atom_constant<caf::atom("rr_local")>;
/// `(ring_count_atom) -> std::vector<node_count>`: children running per
/// node, cheap enough to poll (a dashboard, a benchmark).
using ring_count_atom = caf::atom_constant<caf::atom("rr_count")>;
/// `(ring_stats_atom) -> ring_stats` of the node that receives it.
using ring_stats_atom = caf::atom_constant<caf::atom("rr_stats")>;
/// `(ring_records_atom) -> std::vector<ring_record>`: the records this node
/// keeps, sorted by id.
using ring_records_atom = caf::atom_constant<caf::atom("rr_records")>;
/// `(ring_endpoints_atom) -> std::vector<std::string>`: the endpoints
/// (`host:port`) of the up members that run this ring supervisor.
using ring_endpoints_atom = caf::atom_constant<caf::atom("rr_endpts")>;

// -- between the parts of one ring supervisor --------------------------------

/// `(rm_hello_atom) -> caf::actor`: the ring supervisor's handle.
using rm_hello_atom = caf::atom_constant<caf::atom("rm_hello")>;
/// `(rm_inventory_atom, std::string asker, uint64_t ring digest,
/// inventory_request) -> inventory`: the children this node runs or holds
/// that the asker may own, and this node's records of the pieces whose
/// digests differ and of the children pinned to the asker; fails if the
/// rings differ.
using rm_inventory_atom = caf::atom_constant<caf::atom("rm_invent")>;
/// `(rm_handoff_atom, child_spec, uint64_t epoch, bool has_state, bytes
/// state, restore_info origin, std::vector<recent_reply>) -> ok`: the new
/// owner takes the child; `origin` says whether the state is exact (handed
/// over) or the old owner's newest snapshot (the child did not answer).
using rm_handoff_atom = caf::atom_constant<caf::atom("rm_handoff")>;
/// `(rm_place_atom, child_record, bool fresh) -> placement`: the owner
/// records the child on its replicas (a write quorum of them) and starts it;
/// a `fresh` start fails if the child exists.
using rm_place_atom = caf::atom_constant<caf::atom("rm_place")>;
/// `(rm_change_atom, uint8_t change, std::string id, std::string to, uint8_t
/// hops) -> ok or placement`: the owner terminates, restarts, deletes or
/// pins (to `to`) a child (a client's request, passed on by another member).
using rm_change_atom = caf::atom_constant<caf::atom("rm_change")>;
/// `(rm_record_atom, child_record, uint64_t ring digest) -> ok`: a replica
/// keeps a record (a child was added, terminated, restarted, deleted or
/// finished); fails unless the receiver is one of the record's replicas on
/// the same ring.
using rm_record_atom = caf::atom_constant<caf::atom("rm_record")>;
/// `(rm_records_atom, std::vector<child_record>)`: a replica keeps these
/// records (a ring change moved them, or anti-entropy found them missing);
/// no reply.
using rm_records_atom = caf::atom_constant<caf::atom("rm_records")>;
/// `(rm_digests_atom, std::string from, uint64_t ring digest,
/// std::vector<range_digest>)`: the digests of the ranges both nodes keep;
/// the receiver sends `from` its records of those that differ; no reply.
using rm_digests_atom = caf::atom_constant<caf::atom("rm_digests")>;
/// `(rm_which_atom) -> std::vector<ring_child>`: the children running here,
/// and those this node owns that run nowhere (terminated, or not started
/// yet).
using rm_which_atom = caf::atom_constant<caf::atom("rm_which")>;
/// `(rm_snapshot_atom, std::vector<snapshot_entry>)`: an owner's snapshots
/// for the replicas of its children; no reply.
using rm_snapshot_atom = caf::atom_constant<caf::atom("rm_snap")>;
/// `(rm_fetch_atom, std::vector<std::string> ids) ->
/// std::vector<snapshot_entry>`: the snapshots this node holds of `ids`.
using rm_fetch_atom = caf::atom_constant<caf::atom("rm_fetch")>;
/// `(rm_running_atom) -> uint64_t`: children running on this node.
using rm_running_atom = caf::atom_constant<caf::atom("rm_running")>;
/// `(rm_gstop_atom, std::string reason)`: stop on every node (escalation).
using rm_gstop_atom = caf::atom_constant<caf::atom("rm_gstop")>;

/// Why a node that is split off from the majority answers `no_owner` (the
/// last element of the error's context): it cannot serve before the
/// partition heals, so a client asks another member, or gives up, at once.
inline constexpr const char* split_off_reason = "this side of the cluster is split off";

/// Why a node that is not up yet (it has not joined or formed a cluster, or
/// its cluster is below `consensus`) refuses changes to the child list: the
/// cluster it joins later would otherwise find them there, after the caller
/// heard they failed.
inline constexpr const char* not_up_reason = "this node is not up in a cluster yet";

/// A reply the owner gave to a request id, kept so that a retry of the same
/// request gets it again instead of reaching the child twice. Moves with the
/// child.
struct recent_reply {
  uint64_t request = 0;
  caf::message reply;
  caf::error error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recent_reply& x) {
  return f(caf::meta::type_name("ringvisor::recent_reply"), x.request, x.reply,
           x.error);
}

} // namespace ringvisor::ring
