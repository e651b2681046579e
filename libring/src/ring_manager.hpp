#pragma once

// The ring manager (private to libring): this node's part of a ring
// supervisor, a supervisor spread over the cluster (see ring_supervisor.hpp
// and docs/ring-supervisor.md).
//
// Each node runs a ring manager (this actor) and, below it, an OTP
// supervisor for the children this node runs. The manager follows the
// cluster agent's views. Whenever the cluster is up (every reachable member
// confirmed the same view), it *rebalances*:
// 1. every child it runs but no longer owns moves: the child's state is
//    taken (migrate hook), the child stopped, then handed to the new owner,
//    which starts it with that state; requests for it wait meanwhile;
// 2. it asks every other member which children they run or hold that it
//    owns (the *inventory*, checked against the ring digest);
// 3. it starts fresh each child it owns that nobody reported, once every
//    member that died is proven dead (its port refuses connections) or has
//    been silent long enough that it has stopped its own children (the
//    fence: a node cut off from the majority reports `split` and stops them).
// So a child starts on a node only after the node that ran it stopped it
// (and said so by handing it over or by answering the inventory without it),
// or died.
//
// The manager owns the mailbox and does the messaging; the rules live in
// plain units behind small io interfaces that it implements: the child
// records and their replication (`record_keeper`), snapshots
// (`snapshot_keeper`), the children this node runs, starts, moves and holds
// (`child_host`), the rounds that start orphans (`rebalancer`), clients'
// changes to the child list (`change_desk`), and where a request goes
// (`routing`, `reply_cache`). Its member functions are defined in
// ring_manager.cpp (views, rounds, peers, lease, leave, the behavior),
// ring_manager_units.cpp (what the units ask for) and
// ring_manager_requests.cpp (requests, stores, listings).

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "change_desk.hpp"
#include "child_host.hpp"
#include "child_list.hpp"
#include "placement.hpp"
#include "protocol.hpp"
#include "rebalancer.hpp"
#include "record_keeper.hpp"
#include "reply_cache.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/death_probe.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/cluster/lease.hpp"
#include "ringvisor/ring/ownership.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "routing.hpp"
#include "snapshot_keeper.hpp"
#include "snapshots.hpp"
#include "store_worker.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// Whether `spec` can run on any node: an id, a known type, no start
/// function.
caf::error check_ring_child(const child_spec& spec, const actor::factory_registry* factories,
                            const std::string& sup);

class ring_manager : public caf::event_based_actor,
                     private snapshot_io,
                     private record_io,
                     private host_io,
                     private rebalance_io,
                     private change_io<caf::response_promise> {
private:
  using bytes = actor::bytes;
  using clock_type = std::chrono::steady_clock;
  using round_atom = caf::atom_constant<caf::atom("rm_round")>;
  using rebalance_atom = caf::atom_constant<caf::atom("rm_rebal")>;
  using dead_atom = caf::atom_constant<caf::atom("rm_dead")>;
  using leave_deadline_atom = caf::atom_constant<caf::atom("rm_lvdead")>;
  using persist_atom = caf::atom_constant<caf::atom("rm_persist")>;
  using run_atom = caf::atom_constant<caf::atom("rm_run")>;
  using kill_atom = caf::atom_constant<caf::atom("rm_kill")>;
  using lease_check_atom = caf::atom_constant<caf::atom("rm_lease")>;
  using snap_tick_atom = caf::atom_constant<caf::atom("rm_stick")>;
  using snap_flush_atom = caf::atom_constant<caf::atom("rm_sflush")>;
  using snap_settle_atom = caf::atom_constant<caf::atom("rm_settle")>;
  using anti_entropy_atom = caf::atom_constant<caf::atom("rm_ae")>;
  using forget_atom = caf::atom_constant<caf::atom("rm_forget")>;
  using later_atom = caf::atom_constant<caf::atom("rm_later")>;

  /// How long a child may take to answer a routed call.
  static constexpr auto child_call_timeout = std::chrono::seconds{60};

  /// Delay before a rebalance that could not finish is tried again.
  static constexpr auto retry_delay = std::chrono::milliseconds{100};

  /// How often a node writes the snapshots that changed to the children's
  /// stores: what a whole-cluster crash may lose on top of the snapshot
  /// interval.
  static constexpr auto persist_interval = std::chrono::seconds{1};

  /// How long after a ring change snapshots move to the replicas new to a
  /// child's list (and old replicas forget theirs): the ring settles first.
  static constexpr auto snapshot_settle_delay = std::chrono::milliseconds{500};

  /// How long settling waits at most for a backlog of starts to clear.
  static constexpr auto max_settle_wait = std::chrono::seconds{5};

  // Between two digest exchanges with each member that keeps records this
  // node keeps too: a replica that missed a write (it was paused, or its link
  // dropped) has it again within about this long.
  static constexpr auto anti_entropy_interval = std::chrono::seconds{2};

  // How long a node keeps the records and snapshots it sent to their new
  // replicas after a ring change: their inventories and anti-entropy may still
  // find them here if a message was lost.
  static constexpr auto forget_delay = std::chrono::seconds{10};

  /// Local-supervisor failures within 2 x period that stop the ring supervisor.
  static constexpr size_t max_local_failures = 2;

  static uint64_t now_us() {
    using namespace std::chrono;
    return static_cast<uint64_t>(
      duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
  }

  // The limits of a ring supervisor's record keeper.
  static record_limits record_limits_of(const supervisor_spec& spec) {
    record_limits result;
    result.replicas = spec.replicas;
    result.write_timeout = spec.handoff_timeout;
    result.retry_delay = retry_delay;
    return result;
  }

public:
  ring_manager(caf::actor_config& cfg, actor::node* node, caf::actor agent, supervisor_spec spec)
    : caf::event_based_actor(cfg),
      node_(*node),
      self_name_(node->identity().name),
      incarnation_(node->identity().incarnation),
      agent_(std::move(agent)),
      spec_(std::move(spec)),
      dir_name_(directory_name(spec_.name)),
      fence_(node->config().suspect_after + node->config().heartbeat_interval),
      records_(self_name_, spec_.name + "/", *this, record_limits_of(spec_)),
      snapshots_(
        self_name_, *this, [this](const std::string& id) { return children().key_hash(id); },
        snapshot_limits{spec_.replicas}),
      host_(self_name_, spec_.name, *this, records_, snapshots_, spec_.migrate),
      rebalancer_(self_name_, spec_.name, *this, records_, host_, snapshots_),
      desk_(self_name_, spec_.name, *this, records_, host_) {
    if (!spec_.factories)
      spec_.factories = node->factories();
    for (auto& c : spec_.children)
      records_.apply(child_record{c});
  }

  const char* name() const override;

  caf::behavior make_behavior() override;

  void on_exit() override;

private:
  // -- the ring ---------------------------------------------------------------

  // The members children are placed on, as the agent's view says: up, in
  // the group, their ring supervisor running and not leaving (they offer
  // it, see `cluster::member::services`).
  void rebuild_ring();

  // The records this node keeps, and the ring they are placed on.
  const child_list& children() const;

  bool owns(const std::string& id) const;

  // Whether this node may start and take children.
  bool serving() const override;

  // -- views ------------------------------------------------------------------

  void on_view(std::vector<cluster::member> view);

  // A member left the view or came back as a new incarnation. Unless it left
  // gracefully, its children may start elsewhere only after the fence, or
  // once its port refuses connections.
  void on_gone(const cluster::member& before);

  void on_status(cluster::cluster_status now, std::vector<cluster::member> view);

  // -- rebalancing --------------------------------------------------------------

  std::vector<std::string> others() const;

  // Rebalances once the messages already queued are handled: a failure
  // brings a burst of views and fence lifts, and each rebalance asks every
  // peer and passes over every child.
  void rebalance();

  void rebalance_now();

  void retry_later() override;

  // -- rebalancing (the rebalancer's messaging) ---------------------------------------

  bool ask_inventory(const std::string& name, inventory_request ask,
                     std::function<void(caf::expected<inventory>)> answer) override;

  bool ask_snapshots(const std::string& name, std::vector<std::string> ids,
                     std::function<void(caf::expected<std::vector<snapshot_entry>>)> answer)
    override;

  // Orphans start only once the stores are read, and once no member that
  // went down may still run children (see `on_gone`).
  start_gate gate() override;

  void retry_in(caf::timespan delay) override;

  void again() override;

  // Parked changes go on; requests for children this node owns but did not
  // know (it had not learned them yet) find out that they do not exist.
  void learned() override;

  // -- peers ------------------------------------------------------------------

  const caf::actor* peer(const std::string& name) const;

  void fetch_peer(const std::string& name);

  // Returns whether the handles of all `names` (this node aside) are known;
  // asks for the missing ones.
  bool peers_known(const std::vector<std::string>& names);

  // -- the lease ------------------------------------------------------------------

  // Whether the node holds its lease now (`cluster::lease_clock`): children
  // start and requests are served only then, so that a node that resumes
  // after a pause serves nothing its successor may serve too.
  bool has_lease() const override;

  // Every heartbeat: starts what waited for the lease, and stops the running
  // children once the lease is out for so long that the others may have
  // declared this node down and started them (`suspect-after`, less the two
  // heartbeats the lease ends after the last tick). A shorter gap (a late
  // timer on a loaded machine) only holds requests back. Children waiting to
  // start stay: they may hold the state a handoff brought.
  void check_lease();

  // -- the children here (the host's messaging) ---------------------------------------

  void start_child(const child_spec& spec,
                   std::function<void(caf::expected<caf::actor>)> answer) override;

  void started(const std::string&, const local_child& c) override;

  void request_state(const caf::actor& hdl, caf::message ask,
                     std::function<void(caf::expected<bytes>)> answer) override;

  // Many can stop at once (the supervisor stops one at a time).
  void stop_child(const std::string& id, std::function<void()> then) override;

  // Detached first, so that the local supervisor does not restart it.
  void kill_child(const std::string& id) override;

  bool hand_off(const std::string& target, handoff x,
                std::function<void(caf::error, const caf::actor&)> answer) override;

  bool reachable(const std::string& member) const override;

  void emptied() override;

  caf::result<caf::ok_atom> on_handoff(child_spec& spec, uint64_t epoch, bool has_state,
                                       bytes& state, const restore_info& origin,
                                       std::vector<recent_reply>& recent);

  // Stops every child without handing it off (split, declared down, global
  // stop) by replacing the local supervisor; waiting requests fail with
  // `no_owner` so that callers retry elsewhere.
  void stop_all(const std::string& why);

  void replace_local_sup();

  // The local supervisor gave up (restart intensity): restart it with fresh
  // children, or stop the ring supervisor everywhere if that keeps happening.
  void on_local_sup_down(const caf::error& reason);

  void global_stop(const std::string& why);

  // -- snapshots (the keeper's messaging) ------------------------------------------

  bool busy() override;
  bool may_ask(const std::string& id, uint64_t gen) override;

  void ask_state(const std::string& id, uint64_t gen) override;

  void send_snapshots(const std::string& member, std::vector<snapshot_entry> xs) override;

  void arm_round(caf::timespan delay) override;

  void flush_soon() override;

  clock_type::time_point now() override;

  uint64_t wall_us() override;

  // Settles the records and snapshots (`record_keeper::settle`,
  // `snapshot_keeper::settle`) once the ring is quiet.
  void settle_later();

  // After a ring change: the records go to the members new to their lists,
  // and leave this node later where it is no longer on them.
  void settle_records();

  // Anti-entropy: tells each member the digests of the ranges both keep; it
  // sends back its records of those that differ (and does the same the
  // other way round). Expired tombstones go first, here only.
  void exchange_digests();

  // -- records (the keeper's messaging) ---------------------------------------------

  bool write(const std::string& member, const child_record& rec, uint64_t digest,
             caf::timespan timeout, std::function<void(write_answer)> answered) override;

  void send_records(const std::string& member, std::vector<child_record> xs) override;

  void send_digests(const std::string& member, uint64_t digest,
                    std::vector<range_digest> xs) override;

  void later(caf::timespan delay, std::function<void()> f) override;

  // A record deleted or terminated the child: it stops here.
  void ended(const child_record& rec) override;
  void repinned(const child_record& rec) override;

  // A child asks for a checkpoint: only the instance that runs now counts.
  void on_checkpoint(const std::string& id, bytes& state);

  // -- graceful leave -----------------------------------------------------------

  // Stops offering this ring supervisor (the agent answers once the peers
  // merged that, so their rings leave this node out), then hands every
  // child to its next owner; quits once all are handed off or the grace is
  // nearly over.
  void begin_leave();

  // Hands every child that is not on its way yet to its next owner.
  void hand_off_all();

  void finish_leave();

  // -- requests -----------------------------------------------------------------

  // Serves, holds, forwards or fails a request about one child, as
  // `decide_route` says.
  void dispatch(pending p);

  void serve(local_child& c, pending p);

  void flush(local_child& c) override;

  // Answers every request this node holds (it quits or stops serving).
  void fail_all(const caf::error& err);

  // -- the child list -------------------------------------------------------------

  // Reads the stores (at start and after a split): stored children join the
  // list at version 0, below every recorded change, then their states; no
  // orphan starts before both are read.
  void reload_specs();

  // Writes the snapshots that changed since the last time to the stores of
  // their children (those whose spec a store keeps).
  void persist_states();

  caf::error check_spec(const child_spec& spec) const;

  // Only a node that is up changes the child list: a node split off from
  // the majority (the majority's list is the one that counts), and a node
  // that is not up yet (the cluster it joins would find the change after the
  // caller heard it failed), refuse at once, and a client asks another
  // member.
  caf::error refused(const std::string& id) const override;

  // Stores a new child (in its store, if any), then has its owner record and
  // start it.
  caf::result<placement> on_start(child_spec& spec);

  // -- changes (the desk's messaging) ------------------------------------------------

  bool pass_place(const std::string& owner, caf::response_promise& rp, const child_record& rec,
                  bool fresh) override;

  bool pass_change(const std::string& owner, caf::response_promise& rp, change_kind kind,
                   const std::string& id, const std::string& to, uint8_t hops) override;

  void unstore(const child_spec& spec, std::function<void(caf::error)> answer) override;

  void when_running(local_child& c, const std::string& id, caf::response_promise rp) override;

  // A client's terminate, restart, delete or pin (see `change_desk::change`).
  caf::response_promise on_change(change_kind kind, const std::string& id, uint8_t hops,
                                  const std::string& to = {});

  // A child exited for good (transient that ended normally, temporary): it
  // must not start again anywhere.
  void on_finished(const std::string& id);

  // The children running here, and those this node owns that run nowhere
  // (terminated, or not started yet).
  std::vector<ring_child> which_here() const;

  // Asks every node for its children (`which_here`).
  void which_children(caf::typed_response_promise<std::vector<ring_child>> rp);

  // -- state ------------------------------------------------------------------

  actor::node& node_;
  std::string self_name_;
  uint64_t incarnation_;
  caf::actor agent_;
  supervisor_spec spec_;
  std::string dir_name_;
  caf::timespan fence_;
  caf::actor local_sup_;
  caf::actor store_;

  record_keeper records_; // the child list, kept on its replicas
  snapshot_keeper snapshots_; // snapshots of the children here, and replicas' copies
  child_host host_; // the children this node runs, starts, moves or holds
  rebalancer rebalancer_; // starts the children nobody runs
  change_desk<caf::response_promise> desk_; // clients' changes to the child list
  std::vector<cluster::member> view_;
  cluster::cluster_status status_ = cluster::cluster_status::starting;
  std::map<std::string, cluster::member> up_; // other members, not down
  std::map<std::string, caf::actor> peers_;
  std::set<std::string> fetching_;
  std::set<std::string> leaving_; // left the ring, may still hand children off
  cluster::fence_set fences_; // members that went down

  bool retry_pending_ = false;
  bool rebalance_due_ = false;
  bool leaving_self_ = false;
  bool resync_ = false; // re-read the stores once up again (after a split)
  bool stopping_ = false;
  ring_stats stats_;
  std::deque<clock_type::time_point> local_failures_;
  std::shared_ptr<const cluster::lease_clock> lease_; // the node's: read without messages
  std::map<caf::actor_addr, std::function<void()>> stopping_children_;
  clock_type::time_point started_at_ = clock_type::now();

  uint64_t settle_gen_ = 0; // the ring change the next settling is for
  std::optional<clock_type::time_point> settle_waits_since_; // for a backlog of starts
  std::set<std::string> restarted_; // members restarted since the last settling
  std::map<std::string, uint64_t> incarnations_; // of the members seen up
  uint64_t later_counter_ = 0;
  std::map<uint64_t, std::function<void()>> later_; // see `later`
  bool stores_read_ = true; // specs and states read from the stores
};

} // namespace ringvisor::ring
