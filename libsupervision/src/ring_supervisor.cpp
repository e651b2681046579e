// The ring supervisor: this node's part of a supervisor spread over the
// cluster (see ring_supervisor.hpp and docs/ring-supervisor.md).
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
// (`child_host`), the rounds that start orphans (`rebalancer`), and where a
// request goes (`routing`, `reply_cache`).

#include "ringvisor/supervision/ring_supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
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
#include "rebalancer.hpp"
#include "record_keeper.hpp"
#include "reply_cache.hpp"
#include "ring_wire.hpp"
#include "routing.hpp"
#include "snapshot_keeper.hpp"
#include "snapshots.hpp"
#include "store_worker.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/death_probe.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/cluster/lease.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/ownership.hpp"

namespace ringvisor::supervision {

namespace {

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
constexpr auto child_call_timeout = std::chrono::seconds{60};

/// Delay before a rebalance that could not finish is tried again.
constexpr auto retry_delay = std::chrono::milliseconds{100};

/// How often a node writes the snapshots that changed to the children's
/// stores: what a whole-cluster crash may lose on top of the snapshot
/// interval.
constexpr auto persist_interval = std::chrono::seconds{1};

/// How long after a ring change snapshots move to the replicas new to a
/// child's list (and old replicas forget theirs): the ring settles first.
constexpr auto snapshot_settle_delay = std::chrono::milliseconds{500};

// Between two digest exchanges with each member that keeps records this
// node keeps too: a replica that missed a write (it was paused, or its link
// dropped) has it again within about this long.
constexpr auto anti_entropy_interval = std::chrono::seconds{2};

// How long a node keeps the records and snapshots it sent to their new
// replicas after a ring change: their inventories and anti-entropy may still
// find them here if a message was lost.
constexpr auto forget_delay = std::chrono::seconds{10};

/// Local-supervisor failures within 2 x period that stop the ring supervisor.
constexpr size_t max_local_failures = 2;

uint64_t now_us() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
    duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

// Whether `spec` can run on any node: an id, a known type, no start function.
caf::error check_child(const child_spec& spec, const actor::factory_registry* factories,
                       const std::string& sup) {
  if (spec.id.empty() || spec.type.empty())
    return make_error(errc::bad_spec, sup, "a ring child needs an id and a type");
  if (spec.start)
    return make_error(errc::bad_spec, sup, spec.id,
                      "a ring child cannot have a start function: it must start on any node");
  if (factories == nullptr || !factories->contains(spec.type))
    return actor::make_error(actor::errc::unknown_child_type, spec.type,
                             "child " + spec.id + " of ring supervisor " + sup);
  return caf::none;
}

// The limits of a ring supervisor's record keeper.
record_limits record_limits_of(const ring_supervisor_spec& spec) {
  record_limits result;
  result.replicas = spec.replicas;
  result.write_timeout = spec.handoff_timeout;
  result.retry_delay = retry_delay;
  return result;
}

class ring_manager : public caf::event_based_actor,
                     private snapshot_io,
                     private record_io,
                     private host_io,
                     private rebalance_io,
                     private change_io<caf::response_promise> {
public:
  ring_manager(caf::actor_config& cfg, actor::node* node, caf::actor agent,
               ring_supervisor_spec spec)
    : caf::event_based_actor(cfg),
      node_(*node),
      self_name_(node->identity().name),
      incarnation_(node->identity().incarnation),
      agent_(std::move(agent)),
      spec_(std::move(spec)),
      dir_name_(ring_supervisor_name(spec_.name)),
      fence_(node->config().suspect_after + node->config().heartbeat_interval),
      records_(self_name_, spec_.name + "/", *this, record_limits_of(spec_)),
      snapshots_(self_name_, *this,
                 [this](const std::string& id) { return children().key_hash(id); },
                 snapshot_limits{spec_.replicas}),
      host_(self_name_, spec_.name, *this, records_, snapshots_, spec_.migrate),
      rebalancer_(self_name_, spec_.name, *this, records_, host_, snapshots_),
      desk_(self_name_, spec_.name, *this, records_, host_) {
    if (!spec_.factories)
      spec_.factories = node->factories();
    for (auto& c : spec_.children)
      records_.apply(child_record{c});
  }

  const char* name() const override {
    return "ringvisor.ring_supervisor";
  }

  caf::behavior make_behavior() override;

  void on_exit() override {
    // Killed (node shutdown past its grace): take the children along.
    if (local_sup_ && !stopping_)
      caf::anon_send_exit(local_sup_, caf::exit_reason::kill);
    // The store worker runs detached: its thread ends only once nothing
    // refers to it, and remote nodes may keep this actor alive for long.
    if (store_)
      caf::anon_send_exit(store_, caf::exit_reason::user_shutdown);
    store_ = nullptr;
    local_sup_ = nullptr;
    agent_ = nullptr;
    peers_.clear();
    stopping_children_.clear();
    host_.clear("stopped");
    desk_.fail_all(make_error(errc::no_owner, spec_.name, "stopped"));
    later_.clear();
  }

private:
  // -- the ring ---------------------------------------------------------------

  // The members children are placed on, as the agent's view says: up, in
  // the group, their ring supervisor running and not leaving (they offer
  // it, see `cluster::member::services`).
  void rebuild_ring() {
    auto members = placement_members(view_, spec_.group, dir_name_, self_name_, leaving_self_);
    // Nodes agree on the ranges only with the same members and replicas.
    if (records_.place_on(std::move(members.names), members.digest * 31 + spec_.replicas)) {
      snapshots_.place_on(children().ring());
      settle_later();
    }
  }

  // The records this node keeps, and the ring they are placed on.
  const child_list& children() const {
    return records_.list();
  }

  std::optional<std::string> owner_of(const std::string& id) const {
    auto x = children().owner_of(id);
    if (!x)
      return std::nullopt;
    return std::string{*x};
  }

  bool owns(const std::string& id) const {
    return children().owned_by(id, self_name_);
  }

  // Whether this node may start and take children.
  bool serving() const override {
    return status_ == cluster::cluster_status::up && !leaving_self_ && !stopping_;
  }

  // -- views ------------------------------------------------------------------

  void on_view(std::vector<cluster::member> view) {
    view_ = std::move(view);
    auto change = diff_view(up_, view_, self_name_, incarnation_);
    if (change.declared_down) {
      // The others may run our children by now.
      if (!host_.empty()) {
        log::warn("ring_declared_down", {{"sup", spec_.name}, {"children", host_.size()}});
        stop_all("this node was declared down");
      }
      resync_ = true;
      incarnation_ = change.incarnation;
    }
    for (auto& before : change.gone)
      on_gone(before);
    auto before = leaving_;
    for (auto& name : children().ring().members())
      before.insert(name);
    up_ = change.up;
    for (auto& [name, m] : up_) {
      auto [i, added] = incarnations_.emplace(name, m.incarnation);
      if (!added && i->second != m.incarnation) {
        i->second = m.incarnation;
        restarted_.insert(name); // its records and snapshots are gone with it
        settle_later();
      }
    }
    rebuild_ring();
    leaving_ = handing_off(before, children().ring().members(), up_, change.gone);
    rebalance();
  }

  // A member left the view or came back as a new incarnation. Unless it left
  // gracefully, its children may start elsewhere only after the fence, or
  // once its port refuses connections.
  void on_gone(const cluster::member& before) {
    peers_.erase(before.name);
    const cluster::member* now = nullptr;
    for (auto& x : view_)
      if (x.name == before.name)
        now = &x;
    if (now != nullptr && now->incarnation == before.incarnation
        && now->status == cluster::member_status::removed)
      return; // left gracefully, after handing its children off
    auto key = fences_.add(before, clock_type::now() + fence_);
    auto endpoint = before.endpoint;
    if (now != nullptr && now->incarnation != before.incarnation)
      return; // a new process holds the endpoint; only time helps
    cluster::probe_death(system(), endpoint, std::chrono::steady_clock::now() + fence_,
                         caf::actor{this}, caf::make_message(dead_atom::value, key));
  }

  void on_status(cluster::cluster_status now, std::vector<cluster::member> view) {
    auto before = status_;
    status_ = now;
    if (now == cluster::cluster_status::split)
      resync_ = true;
    if (now == cluster::cluster_status::up && before != now && resync_) {
      resync_ = false;
      records_.unlearn(); // learn every record again before starting a child
      reload_specs();
    }
    if (now == cluster::cluster_status::split && before != now) {
      log::warn("ring_split", {{"sup", spec_.name}, {"children", host_.size()}});
      stop_all(split_off_reason);
    }
    on_view(std::move(view));
  }

  // -- rebalancing --------------------------------------------------------------

  std::vector<std::string> others() const {
    std::vector<std::string> result;
    for (auto& name : children().ring().members())
      if (name != self_name_)
        result.push_back(name);
    for (auto& name : leaving_)
      result.push_back(name);
    return result;
  }

  // Rebalances once the messages already queued are handled: a failure
  // brings a burst of views and fence lifts, and each rebalance asks every
  // peer and passes over every child.
  void rebalance() {
    if (rebalance_due_)
      return;
    rebalance_due_ = true;
    send(this, rebalance_atom::value);
  }

  void rebalance_now() {
    rebalance_due_ = false;
    if (!serving())
      return;
    auto peers = others();
    bool missing = false;
    for (auto& name : peers)
      if (peer(name) == nullptr) {
        fetch_peer(name);
        missing = true;
      }
    if (missing)
      return; // again once the handles arrive
    host_.move_out();
    // Requests for children owned elsewhere go on to their owners.
    for (auto& p : host_.take_expected([this](const std::string& id) { return !owns(id); }))
      dispatch(std::move(p));
    rebalancer_.round(peers);
  }

  void retry_later() override {
    retry_in(retry_delay);
  }

  // -- rebalancing (the rebalancer's messaging) ---------------------------------------

  bool ask_inventory(const std::string& name, std::vector<range_digest> ask,
                     std::function<void(caf::expected<inventory>)> answer) override {
    auto hdl = peer(name);
    if (hdl == nullptr)
      return false;
    request(*hdl, spec_.handoff_timeout, rm_inventory_atom::value, self_name_,
            records_.digest(), std::move(ask))
      .then([answer](inventory& inv) { answer(std::move(inv)); },
            [answer](caf::error& err) { answer(std::move(err)); });
    return true;
  }

  bool ask_snapshots(const std::string& name, std::vector<std::string> ids,
                     std::function<void(caf::expected<std::vector<snapshot_entry>>)> answer)
    override {
    auto hdl = peer(name);
    if (hdl == nullptr)
      return false;
    // Urgent: orphans wait for it, and the peer's mailbox may hold a
    // second's worth of snapshots.
    request<caf::message_priority::high>(*hdl, spec_.handoff_timeout, rm_fetch_atom::value,
                                         std::move(ids))
      .then([answer](std::vector<snapshot_entry>& xs) { answer(std::move(xs)); },
            [answer](caf::error& err) { answer(std::move(err)); });
    return true;
  }

  // Orphans start only once the stores are read, and once no member that
  // went down may still run children (see `on_gone`).
  start_gate gate() override {
    if (!stores_read_)
      return {false, std::nullopt}; // reading the stores rebalances once done
    auto now = clock_type::now();
    // A node with seeds that sees only itself may not have joined yet: the
    // cluster it is about to join runs these children. Give it a fence's
    // time to find its peers before it starts anything alone.
    if (children().ring().members().size() == 1 && !node_.config().seeds.empty()
        && now < started_at_ + fence_)
      return {false, started_at_ + fence_ - now};
    if (auto end = fences_.next_end(now))
      return {false, *end - now};
    return {};
  }

  void retry_in(caf::timespan delay) override {
    if (retry_pending_)
      return;
    retry_pending_ = true;
    delayed_send(this, delay, round_atom::value);
  }

  void again() override {
    rebalance();
  }

  // Parked changes go on; requests for children this node owns but did not
  // know (it had not learned them yet) find out that they do not exist.
  void learned() override {
    desk_.retry_parked();
    auto unknown = host_.take_expected([this](const std::string& id) {
      auto rec = children().alive(id);
      return rec == nullptr || rec->terminated;
    });
    for (auto& p : unknown) {
      auto& id = id_of(p.msg);
      p.rp.deliver(children().alive(id) != nullptr
                     ? make_error(errc::not_found, spec_.name, id, "terminated")
                     : make_error(errc::not_found, spec_.name, id));
    }
  }

  // -- peers ------------------------------------------------------------------

  const caf::actor* peer(const std::string& name) const {
    auto i = peers_.find(name);
    return i != peers_.end() ? &i->second : nullptr;
  }

  void fetch_peer(const std::string& name) {
    if (!fetching_.insert(name).second)
      return;
    request(agent_, spec_.handoff_timeout + std::chrono::seconds{1},
            cluster::call_atom::value, name, dir_name_,
            caf::make_message(rm_hello_atom::value), spec_.handoff_timeout)
      .then([](caf::ok_atom) {},
            [this, name](caf::error& err) {
              fetching_.erase(name);
              auto reply = cluster::untyped_reply(err);
              if (reply && reply->match_elements<caf::actor>() && up_.count(name)) {
                auto hdl = reply->get_as<caf::actor>(0);
                monitor(hdl);
                peers_[name] = hdl;
                rebalance();
                return;
              }
              log::debug("ring_peer_unknown", {{"sup", spec_.name}, {"node", name},
                                              {"reason", actor::render(err)}});
              retry_later();
            });
  }

  // -- the lease ------------------------------------------------------------------

  // Whether the node holds its lease now (`cluster::lease_clock`): children
  // start and requests are served only then, so that a node that resumes
  // after a pause serves nothing its successor may serve too.
  bool has_lease() const override {
    return lease_->held();
  }

  // Every heartbeat: starts what waited for the lease, and stops the running
  // children once the lease is out for so long that the others may have
  // declared this node down and started them (`suspect-after`, less the two
  // heartbeats the lease ends after the last tick). A shorter gap (a late
  // timer on a loaded machine) only holds requests back. Children waiting to
  // start stay: they may hold the state a handoff brought.
  void check_lease() {
    delayed_send(this, node_.config().heartbeat_interval, lease_check_atom::value);
    if (has_lease()) {
      host_.pump_starts();
      return;
    }
    auto& cfg = node_.config();
    auto out_for = clock_type::now() - lease_->until();
    if (out_for <= cfg.suspect_after - 2 * cfg.heartbeat_interval || leaving_self_ || stopping_)
      return;
    std::vector<std::string> running;
    for (auto& [id, c] : host_.children())
      if (c.ph == local_child::phase::running)
        running.push_back(id);
    if (running.empty())
      return;
    log::warn("ring_lease_lapsed",
              {{"sup", spec_.name}, {"stopped", running.size()},
               {"out_ms", std::chrono::duration_cast<std::chrono::milliseconds>(out_for).count()}});
    for (auto& id : running)
      host_.kill(id, make_error(errc::no_owner, spec_.name, id, no_lease_reason));
    rebalance(); // starts what this node still owns once the lease is back
  }

  // -- the children here (the host's messaging) ---------------------------------------

  void start_child(const child_spec& spec,
                   std::function<void(caf::expected<caf::actor>)> answer) override {
    request(local_sup_, caf::infinite, start_child_atom::value, spec)
      .then([answer](caf::actor& hdl) { answer(std::move(hdl)); },
            [answer](caf::error& err) { answer(std::move(err)); });
  }

  void started(const std::string&, const local_child& c) override {
    if (c.has_state)
      send(c.handle, actor::put_state_atom::value, c.state);
    if (spec_.tell_placement)
      send(c.handle, placed_atom::value, placement{self_name_, c.epoch}, c.restored);
  }

  void request_state(const caf::actor& hdl, caf::message ask,
                     std::function<void(caf::expected<bytes>)> answer) override {
    request(hdl, spec_.handoff_timeout, std::move(ask))
      .then([answer](bytes& state) { answer(std::move(state)); },
            [answer](caf::error& err) { answer(std::move(err)); });
  }

  // Many can stop at once (the supervisor stops one at a time).
  void stop_child(const std::string& id, std::function<void()> then) override {
    request(local_sup_, caf::infinite, detach_child_atom::value, id)
      .then(
        [this, then](caf::actor& hdl) {
          if (!hdl)
            return then();
          monitor(hdl);
          stopping_children_.emplace(hdl.address(), std::move(then));
          send_exit(hdl, caf::exit_reason::user_shutdown);
          delayed_send(this, spec_.handoff_timeout, kill_atom::value, hdl);
        },
        [then](caf::error&) { then(); });
  }

  // Detached first, so that the local supervisor does not restart it.
  void kill_child(const std::string& id) override {
    request(local_sup_, caf::infinite, detach_child_atom::value, id)
      .then(
        [this](caf::actor& hdl) {
          if (hdl)
            send_exit(hdl, caf::exit_reason::kill);
        },
        [](caf::error&) {});
  }

  bool hand_off(const std::string& target, handoff x,
                std::function<void(caf::error, const caf::actor&)> answer) override {
    auto hdl = peer(target);
    if (hdl == nullptr) {
      fetch_peer(target);
      return false;
    }
    request(*hdl, spec_.handoff_timeout, rm_handoff_atom::value, std::move(x.spec), x.epoch,
            x.has_state, std::move(x.state), x.origin, std::move(x.recent))
      .then([answer, to = *hdl](caf::ok_atom) { answer(caf::none, to); },
            [answer, to = *hdl](caf::error& err) { answer(std::move(err), to); });
    return true;
  }

  bool reachable(const std::string& member) const override {
    return up_.count(member) > 0 && peer(member) != nullptr;
  }

  void emptied() override {
    if (leaving_self_)
      finish_leave();
  }

  caf::result<caf::ok_atom> on_handoff(child_spec& spec, uint64_t epoch, bool has_state,
                                       bytes& state, const restore_info& origin,
                                       std::vector<recent_reply>& recent) {
    if (status_ == cluster::cluster_status::split || leaving_self_ || stopping_)
      return make_error(errc::no_owner, spec_.name, spec.id, "this node cannot take it now");
    handoff x{std::move(spec), epoch, has_state, std::move(state), origin, std::move(recent)};
    if (auto err = host_.take(x))
      return err;
    return caf::ok_atom::value;
  }

  // Stops every child without handing it off (split, declared down, global
  // stop) by replacing the local supervisor; waiting requests fail with
  // `no_owner` so that callers retry elsewhere.
  void stop_all(const std::string& why) {
    host_.clear(why);
    replace_local_sup();
  }

  void replace_local_sup() {
    if (local_sup_) {
      demonitor(local_sup_);
      send_exit(local_sup_, caf::exit_reason::kill); // all children at once
    }
    supervisor_spec sup;
    sup.name = "ring:" + spec_.name;
    sup.strategy = spec_.strategy;
    sup.max_restarts = spec_.max_restarts;
    sup.period = spec_.period;
    sup.factories = spec_.factories;
    sup.observer = caf::actor{this};
    local_sup_ = *spawn_supervisor(system(), std::move(sup)); // no children: no errors
    monitor(local_sup_);
  }

  // The local supervisor gave up (restart intensity): restart it with fresh
  // children, or stop the ring supervisor everywhere if that keeps happening.
  void on_local_sup_down(const caf::error& reason) {
    local_sup_ = nullptr;
    if (stopping_)
      return;
    auto now = clock_type::now();
    local_failures_.push_back(now);
    while (!local_failures_.empty()
           && local_failures_.front() + 2 * spec_.period <= now)
      local_failures_.pop_front();
    auto why = actor::render(reason);
    if (local_failures_.size() > max_local_failures) {
      log::error("ring_escalate", {{"sup", spec_.name}, {"reason", why}});
      for (auto& [name, hdl] : peers_)
        send(hdl, rm_gstop_atom::value, why);
      global_stop(why);
      return;
    }
    log::warn("ring_local_restart", {{"sup", spec_.name}, {"reason", why}});
    replace_local_sup();
    host_.restart_all();
  }

  void global_stop(const std::string& why) {
    stopping_ = true;
    fail_all(make_error(errc::shutting_down, spec_.name, why));
    host_.clear(why);
    if (local_sup_)
      send_exit(local_sup_, caf::exit_reason::kill);
    quit(make_error(errc::reached_max_restart_intensity, spec_.name,
                    "stopped on every node: " + why));
  }

  // -- snapshots (the keeper's messaging) ------------------------------------------

  bool may_ask(const std::string& id, uint64_t gen) override {
    auto c = host_.find(id);
    return c != nullptr && c->ph == local_child::phase::running && c->start_gen == gen
           && c->handle && has_lease();
  }

  void ask_state(const std::string& id, uint64_t gen) override {
    auto ask = spec_.migrate ? spec_.migrate(id, self_name_, "")
                             : caf::make_message(actor::get_state_atom::value);
    // Without a timeout: a local request's timeout is never cancelled in CAF
    // 0.17 and would come back as a message for each snapshot. A child that
    // never answers takes no more snapshots (and fails its next move).
    request(host_.find(id)->handle, caf::infinite, std::move(ask))
      .then([this, id, gen](bytes& state) { snapshots_.answered(id, gen, &state, has_lease()); },
            [this, id, gen](caf::error& err) {
              log::debug("ring_snapshot_failed", {{"sup", spec_.name}, {"child", id},
                                                  {"reason", actor::render(err)}});
              snapshots_.answered(id, gen, nullptr, false);
            });
  }

  void send_snapshots(const std::string& member, std::vector<snapshot_entry> xs) override {
    // To a member whose handle is not here yet they are dropped: the next
    // snapshot of the child brings it.
    if (auto hdl = peer(member))
      send(*hdl, rm_snapshot_atom::value, std::move(xs));
  }

  void arm_round(caf::timespan delay) override {
    delayed_send(this, delay, snap_tick_atom::value);
  }

  void flush_soon() override {
    send(this, snap_flush_atom::value);
  }

  clock_type::time_point now() override {
    return clock_type::now();
  }

  uint64_t wall_us() override {
    return now_us();
  }

  // Settles the records and snapshots (`record_keeper::settle`,
  // `snapshot_keeper::settle`) once the ring is quiet.
  void settle_later() {
    delayed_send(this, snapshot_settle_delay, snap_settle_atom::value, ++settle_gen_);
  }

  // After a ring change: the records go to the members new to their lists,
  // and leave this node later where it is no longer on them.
  void settle_records() {
    records_.settle(restarted_);
    delayed_send(this, forget_delay, forget_atom::value, settle_gen_);
  }

  // Anti-entropy: tells each member the digests of the ranges both keep; it
  // sends back its records of those that differ (and does the same the
  // other way round). Expired tombstones go first, here only.
  void exchange_digests() {
    delayed_send(this, anti_entropy_interval, anti_entropy_atom::value);
    records_.exchange_digests(serving());
  }

  // -- records (the keeper's messaging) ---------------------------------------------

  bool write(const std::string& member, const child_record& rec, uint64_t digest,
             caf::timespan timeout, std::function<void(write_answer)> answered) override {
    auto hdl = peer(member);
    if (hdl == nullptr)
      return false;
    request(*hdl, timeout, rm_record_atom::value, rec, digest)
      .then([answered](caf::ok_atom) { answered(write_answer::stored); },
            [answered](caf::error& err) {
              answered(err == errc::no_owner ? write_answer::other_ring : write_answer::failed);
            });
    return true;
  }

  void send_records(const std::string& member, std::vector<child_record> xs) override {
    if (auto hdl = peer(member))
      send(*hdl, rm_records_atom::value, std::move(xs));
  }

  void send_digests(const std::string& member, uint64_t digest,
                    std::vector<range_digest> xs) override {
    if (auto hdl = peer(member))
      send(*hdl, rm_digests_atom::value, self_name_, digest, std::move(xs));
  }

  void later(caf::timespan delay, std::function<void()> f) override {
    auto key = ++later_counter_;
    later_.emplace(key, std::move(f));
    delayed_send(this, delay, later_atom::value, key);
  }

  // A record deleted or terminated the child: it stops here.
  void ended(const child_record& rec) override {
    auto& id = rec.spec.id;
    auto err = make_error(errc::not_found, spec_.name, id,
                          rec.deleted ? "deleted" : "terminated");
    snapshots_.forget(id);
    host_.fail_expected(id, err);
    host_.drop(id, err, true);
  }

  // A child asks for a checkpoint: only the instance that runs now counts.
  void on_checkpoint(const std::string& id, bytes& state) {
    auto c = host_.find(id);
    if (c == nullptr || c->ph != local_child::phase::running || !has_lease()
        || current_sender() != c->handle.address())
      return;
    snapshots_.checkpoint(id, c->start_gen, c->record, c->epoch, c->spec.snapshot,
                          std::move(state));
  }

  // -- graceful leave -----------------------------------------------------------

  // Stops offering this ring supervisor (the agent answers once the peers
  // merged that, so their rings leave this node out), then hands every
  // child to its next owner; quits once all are handed off or the grace is
  // nearly over.
  void begin_leave() {
    leaving_self_ = true;
    log::info("ring_leaving", {{"sup", spec_.name}, {"children", host_.size()}});
    bool alone = others().empty();
    rebuild_ring();
    auto grace = node_.config().shutdown_grace;
    delayed_send(this, grace - grace / 5, leave_deadline_atom::value);
    if (alone || !local_sup_) {
      finish_leave();
      return;
    }
    request(agent_, spec_.handoff_timeout, cluster::service_atom::value, dir_name_, false)
      .then([this](caf::ok_atom) { hand_off_all(); },
            [this](caf::error&) { hand_off_all(); });
  }

  // Hands every child that is not on its way yet to its next owner.
  void hand_off_all() {
    host_.move_out();
    if (host_.empty())
      finish_leave();
  }

  void finish_leave() {
    if (stopping_)
      return;
    stopping_ = true;
    if (!host_.empty())
      log::warn("ring_leave_incomplete", {{"sup", spec_.name}, {"children", host_.size()}});
    log::info("ring_left", {{"sup", spec_.name}, {"moved", host_.moved_out()}});
    fail_all(make_error(errc::no_owner, spec_.name, "node left"));
    if (local_sup_)
      send_exit(local_sup_, caf::exit_reason::kill); // all children at once
    quit();
  }

  // -- requests -----------------------------------------------------------------

  // Serves, holds, forwards or fails a request about one child, as
  // `decide_route` says.
  void dispatch(pending p) {
    auto id = id_of(p.msg);
    route_facts facts;
    auto c = host_.find(id);
    if (c != nullptr)
      facts.local = c->ph == local_child::phase::running ? route_facts::here::running
                                                         : route_facts::here::busy;
    facts.split = status_ == cluster::cluster_status::split;
    facts.stopping = stopping_;
    facts.owner = owner_of(id);
    facts.owner_is_self = facts.owner && *facts.owner == self_name_ && !leaving_self_;
    if (auto rec = children().alive(id))
      facts.rec = rec->terminated ? route_facts::record::terminated : route_facts::record::alive;
    facts.synced = records_.synced();
    auto hdl = facts.owner ? peer(*facts.owner) : nullptr;
    facts.owner_reachable = hdl != nullptr;
    facts.hops = hops_of(p.msg);
    auto r = decide_route(facts);
    switch (r.how) {
      case route::kind::serve:
        return serve(*c, std::move(p));
      case route::kind::wait:
        return c->waiting.push_back(std::move(p));
      case route::kind::expect:
        return host_.expect(id, std::move(p)); // starts or arrives soon
      case route::kind::forward:
        p.rp.delegate(*hdl, bump_hops(p.msg));
        return;
      case route::kind::fail:
        break;
    }
    auto code = r.not_found ? errc::not_found : errc::no_owner;
    if (r.reason.empty())
      return p.rp.deliver(make_error(code, spec_.name, id));
    p.rp.deliver(make_error(code, spec_.name, id, r.reason));
  }

  void serve(local_child& c, pending p) {
    if (!has_lease())
      return p.rp.deliver(make_error(errc::no_owner, spec_.name, c.spec.id, no_lease_reason));
    if (p.msg.match_element<ring_find_atom>(0))
      return p.rp.deliver(placement{self_name_, c.epoch});
    auto request_id = p.msg.get_as<uint64_t>(1);
    switch (c.replies.admit(request_id, p.rp)) {
      case reply_cache<caf::response_promise>::verdict::answered: {
        auto r = c.replies.cached(request_id);
        return r->error ? p.rp.deliver(r->error) : p.rp.deliver(r->reply);
      }
      case reply_cache<caf::response_promise>::verdict::joined:
        return;
      case reply_cache<caf::response_promise>::verdict::run:
        break;
    }
    auto id = c.spec.id;
    auto answer = [this, id, request_id](caf::message reply, caf::error err) {
      auto child = host_.find(id);
      if (child == nullptr)
        return;
      auto waiters = child->replies.finish(request_id, reply, err);
      if (waiters.empty())
        return; // failed meanwhile
      for (auto& rp : waiters)
        err ? rp.deliver(err) : rp.deliver(reply);
      if (!host_.answered(id)) // a move that waited for it goes on
        snapshots_.called(id);
    };
    if (p.msg.match_element<ring_call_atom>(0)) {
      auto msg = p.msg.get_as<caf::message>(3);
      request(c.handle, child_call_timeout, std::move(msg))
        .then([answer](caf::ok_atom) { answer(caf::make_message(caf::ok_atom::value), {}); },
              [answer](caf::error& err) {
                if (auto reply = cluster::untyped_reply(err))
                  answer(std::move(*reply), {});
                else
                  answer({}, std::move(err));
              });
      return;
    }
    // exec: run the function on a thread of its own
    auto fn = spec_.functions.find(p.msg.get_as<std::string>(3));
    if (fn == spec_.functions.end())
      return answer({}, make_error(errc::not_found, spec_.name,
                                 "no function " + p.msg.get_as<std::string>(3)));
    auto worker = system().spawn<caf::detached>(
      [f = fn->second, child = c.handle, args = p.msg.get_as<caf::message>(4)](
        caf::event_based_actor* self) -> caf::behavior {
        return {[=](run_atom) -> caf::result<caf::message> {
          auto result = f(self->system(), child, args);
          self->quit();
          if (!result)
            return std::move(result.error());
          return std::move(*result);
        }};
      });
    request(worker, child_call_timeout, run_atom::value)
      .then([answer](caf::ok_atom) { answer(caf::make_message(caf::ok_atom::value), {}); },
            [answer](caf::error& err) {
              if (auto reply = cluster::untyped_reply(err))
                answer(std::move(*reply), {});
              else
                answer({}, std::move(err));
            });
  }

  void flush(local_child& c) override {
    auto waiting = std::move(c.waiting);
    c.waiting.clear();
    for (auto& p : waiting)
      dispatch(std::move(p));
  }

  // Answers every request this node holds (it quits or stops serving).
  void fail_all(const caf::error& err) {
    host_.fail_all(err);
    desk_.fail_all(err);
  }

  // -- the child list -------------------------------------------------------------

  // Reads the stores (at start and after a split): stored children join the
  // list at version 0, below every recorded change, then their states; no
  // orphan starts before both are read.
  void reload_specs() {
    if (spec_.stores.empty())
      return;
    stores_read_ = false;
    auto failed = [this](caf::error& err) {
      log::error("ring_store_failed", {{"sup", spec_.name}, {"reason", actor::render(err)}});
      stores_read_ = true; // start what is known rather than nothing
      rebalance();
    };
    request(store_, caf::infinite, store_get_atom::value)
      .then(
        [this, failed](std::vector<child_spec>& stored) {
          for (auto& c : stored)
            records_.load(child_record{std::move(c)});
          request(store_, caf::infinite, store_get_states_atom::value)
            .then(
              [this](std::vector<stored_state>& states) {
                for (auto& x : states) {
                  snapshot snap{x.record, x.epoch, x.seq, x.taken_us, true, std::move(x.state)};
                  auto rec = children().alive(x.id);
                  if (rec != nullptr && good_for(snap, rec->version))
                    snapshots_.load(x.id, std::move(snap));
                }
                stores_read_ = true;
                settle_later(); // records this node does not keep go to their replicas
                rebalance();
              },
              failed);
        },
        failed);
  }

  // Writes the snapshots that changed since the last time to the stores of
  // their children (those whose spec a store keeps).
  void persist_states() {
    delayed_send(this, persist_interval, persist_atom::value);
    std::map<size_t, std::vector<stored_state>> per_store;
    for (auto& id : snapshots_.changes()) {
      auto x = snapshots_.table().find(id);
      auto rec = children().alive(id);
      if (x == nullptr || !x->has_state || rec == nullptr)
        continue;
      auto i = store_of(spec_.stores, rec->spec);
      if (i && spec_.stores[*i]->keeps_states())
        per_store[*i].push_back(stored_state{id, x->record, x->epoch, x->seq, x->taken_us,
                                             x->state});
    }
    for (auto& [index, xs] : per_store)
      request(store_, caf::infinite, store_put_states_atom::value, index, std::move(xs))
        .then([this](uint64_t n) { stats_.states_stored += n; },
              [this](caf::error& err) {
                log::error("ring_store_failed", {{"sup", spec_.name},
                                                 {"reason", actor::render(err)}});
              });
  }

  caf::error check_spec(const child_spec& spec) const {
    return check_child(spec, spec_.factories.get(), spec_.name);
  }

  // Only a node that is up changes the child list: a node split off from
  // the majority (the majority's list is the one that counts), and a node
  // that is not up yet (the cluster it joins would find the change after the
  // caller heard it failed), refuse at once, and a client asks another
  // member.
  caf::error refused(const std::string& id) const override {
    if (status_ == cluster::cluster_status::split)
      return make_error(errc::no_owner, spec_.name, id, split_off_reason);
    if (status_ == cluster::cluster_status::starting)
      return make_error(errc::no_owner, spec_.name, id, not_up_reason);
    return caf::none;
  }

  // Stores a new child (in its store, if any), then has its owner record and
  // start it.
  caf::result<placement> on_start(child_spec& spec) {
    if (auto err = check_spec(spec))
      return err;
    if (auto err = refused(spec.id))
      return err;
    auto rp = make_response_promise();
    auto stored = [this, rp, spec]() mutable {
      desk_.place(child_record{std::move(spec)}, true, rp); // the owner sets the version
    };
    if (!store_of(spec_.stores, spec)) {
      stored();
      return rp;
    }
    request(store_, caf::infinite, store_add_atom::value, spec)
      .then([stored](bool) mutable { stored(); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return rp;
  }

  // -- changes (the desk's messaging) ------------------------------------------------

  bool pass_place(const std::string& owner, caf::response_promise& rp, const child_record& rec,
                  bool fresh) override {
    auto hdl = peer(owner);
    if (hdl == nullptr) {
      fetch_peer(owner);
      return false;
    }
    rp.delegate(*hdl, rm_place_atom::value, rec, fresh);
    return true;
  }

  bool pass_change(const std::string& owner, caf::response_promise& rp, change_kind kind,
                   const std::string& id, uint8_t hops) override {
    auto hdl = peer(owner);
    if (hdl == nullptr) {
      fetch_peer(owner);
      return false;
    }
    rp.delegate(*hdl, rm_change_atom::value, static_cast<uint8_t>(kind), id,
                static_cast<uint8_t>(hops + 1));
    return true;
  }

  void unstore(const child_spec& spec, std::function<void(caf::error)> answer) override {
    request(store_, caf::infinite, store_del_atom::value, spec)
      .then([answer](caf::ok_atom) { answer(caf::none); },
            [answer](caf::error& err) { answer(std::move(err)); });
  }

  void when_running(local_child& c, const std::string& id, caf::response_promise rp) override {
    if (c.ph == local_child::phase::running)
      return rp.deliver(placement{self_name_, c.epoch});
    c.waiting.push_back(pending{caf::make_message(ring_find_atom::value, id, uint8_t{0}), rp});
  }

  // A client's terminate, restart or delete (see `change_desk::change`).
  caf::response_promise on_change(change_kind kind, const std::string& id, uint8_t hops) {
    auto rp = make_response_promise();
    desk_.change(kind, id, hops, rp);
    return rp;
  }

  // A child exited for good (transient that ended normally, temporary): it
  // must not start again anywhere.
  void on_finished(const std::string& id) {
    auto rec = children().alive(id);
    if (rec == nullptr)
      return;
    auto spec = rec->spec;
    host_.drop(id, make_error(errc::not_found, spec_.name, id, "finished"), false);
    request(local_sup_, caf::infinite, delete_child_atom::value, id)
      .then([](caf::ok_atom) {}, [](caf::error&) {});
    auto gone = records_.changed(*rec, false, true);
    records_.apply(gone);
    records_.replicate(gone, [](bool) {});
    request(store_, caf::infinite, store_del_atom::value, spec)
      .then([](caf::ok_atom) {},
            [this, id](caf::error& err) {
              log::error("ring_store_failed", {{"sup", spec_.name}, {"child", id},
                                               {"reason", actor::render(err)}});
            });
  }

  // The children running here, and those this node owns that run nowhere
  // (terminated, or not started yet).
  std::vector<ring_child> which_here() const {
    auto result = host_.list();
    children().for_each_alive_owned_by(self_name_, [&](const child_record& rec) {
      if (!host_.contains(rec.spec.id))
        result.push_back(ring_child{rec.spec.id, rec.spec.type, rec.spec.restart, {}});
    });
    return result;
  }

  // Asks every node for its children (`which_here`).
  void which_children(caf::typed_response_promise<std::vector<ring_child>> rp) {
    auto acc = std::make_shared<std::map<std::string, ring_child>>();
    auto add = [acc](std::vector<ring_child>& xs) {
      for (auto& x : xs) {
        auto& slot = (*acc)[x.id];
        if (slot.where.node.empty() || slot.where.epoch < x.where.epoch)
          slot = std::move(x);
      }
    };
    auto mine = which_here();
    add(mine);
    // Through the agent's multicall, which fails a member at once when its
    // link drops instead of waiting for a timeout.
    auto msg = caf::make_message(rm_which_atom::value);
    request(agent_, spec_.handoff_timeout + std::chrono::seconds{1},
            cluster::multicall_atom::value, dir_name_, std::move(msg), spec_.handoff_timeout)
      .then(
        [this, acc, add, rp](std::vector<cluster::node_reply>& replies) mutable {
          for (auto& r : replies)
            if (r.node != self_name_ && !r.error
                && r.reply.match_elements<std::vector<ring_child>>())
              add(r.reply.get_mutable_as<std::vector<ring_child>>(0));
          std::vector<ring_child> result;
          result.reserve(acc->size());
          for (auto& kvp : *acc)
            result.push_back(std::move(kvp.second));
          rp.deliver(std::move(result));
        },
        [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  }

  // -- state ------------------------------------------------------------------

  actor::node& node_;
  std::string self_name_;
  uint64_t incarnation_;
  caf::actor agent_;
  ring_supervisor_spec spec_;
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
  std::set<std::string> restarted_; // members restarted since the last settling
  std::map<std::string, uint64_t> incarnations_; // of the members seen up
  uint64_t later_counter_ = 0;
  std::map<uint64_t, std::function<void()>> later_; // see `later`
  bool stores_read_ = true; // specs and states read from the stores
};

caf::behavior ring_manager::make_behavior() {
  store_ = system().spawn<caf::detached>(store_worker, spec_.stores);
  replace_local_sup();
  send(agent_, cluster::subscribe_atom::value, caf::actor{this});
  send(agent_, cluster::service_atom::value, dir_name_, true); // place children here
  set_down_handler([this](caf::down_msg& dm) {
    if (auto i = stopping_children_.find(dm.source); i != stopping_children_.end()) {
      auto then = std::move(i->second);
      stopping_children_.erase(i);
      then();
      return;
    }
    if (dm.source == local_sup_) {
      on_local_sup_down(dm.reason);
      return;
    }
    for (auto i = peers_.begin(); i != peers_.end(); ++i)
      if (i->second == dm.source) {
        peers_.erase(i);
        retry_later();
        return;
      }
  });
  set_exit_handler([this](caf::exit_msg& em) {
    if (em.reason == caf::exit_reason::user_shutdown && serving() && !host_.empty()) {
      begin_leave();
      return;
    }
    stopping_ = true;
    fail_all(make_error(errc::no_owner, spec_.name, "stopped"));
    if (local_sup_)
      send_exit(local_sup_, caf::exit_reason::kill); // all children at once
    quit(em.reason);
  });
  set_error_handler([this](caf::error& err) {
    log::warn("ring_error", {{"sup", spec_.name}, {"reason", actor::render(err)}});
  });
  reload_specs();
  if (std::any_of(spec_.stores.begin(), spec_.stores.end(),
                  [](auto& x) { return x->keeps_states(); })) {
    snapshots_.track_changes();
    delayed_send(this, persist_interval, persist_atom::value);
  }
  lease_ = cluster::lease_of(system());
  check_lease();
  delayed_send(this, anti_entropy_interval, anti_entropy_atom::value);
  return {
    [this](cluster::view_atom, std::vector<cluster::member>& view) {
      on_view(std::move(view));
    },
    [this](cluster::status_atom, cluster::cluster_status, cluster::cluster_status now,
           std::vector<cluster::member>& view) { on_status(now, std::move(view)); },
    [this](rebalance_atom) { rebalance_now(); },
    [this](lease_check_atom) { check_lease(); },
    [this](round_atom) {
      retry_pending_ = false;
      if (leaving_self_) {
        hand_off_all();
        return;
      }
      rebalance();
      desk_.retry_parked();
    },
    [this](dead_atom, const std::string& key) {
      if (fences_.lift(key)) {
        log::info("ring_member_dead", {{"sup", spec_.name}, {"member", key}});
        rebalance();
      }
    },
    [this](leave_deadline_atom) { finish_leave(); },
    [this](kill_atom, const caf::actor& child) {
      if (stopping_children_.count(child.address()))
        send_exit(child, caf::exit_reason::kill); // ignored user_shutdown
    },
    [this](rm_hello_atom) { return caf::actor{this}; },
    [this](rm_inventory_atom, const std::string& asker, uint64_t digest,
           const std::vector<range_digest>& ranges) -> caf::result<inventory> {
      if (digest != records_.digest())
        return make_error(errc::no_owner, spec_.name, "rings differ");
      inventory result;
      for (auto& [id, c] : host_.children())
        if (children().owned_by(id, asker)
            || (c.ph == local_child::phase::moving && c.target == asker))
          result.claimed.push_back(id);
      records_.answer_inventory(ranges, result);
      return result;
    },
    [this](rm_handoff_atom, child_spec& spec, uint64_t epoch, bool has_state,
           bytes& state, const restore_info& origin, std::vector<recent_reply>& recent) {
      return on_handoff(spec, epoch, has_state, state, origin, recent);
    },
    [this](rm_place_atom, child_record& rec, bool fresh) {
      auto rp = make_response_promise();
      desk_.on_place(std::move(rec), fresh, rp);
      return rp;
    },
    [this](rm_record_atom, child_record& rec, uint64_t digest) -> caf::result<caf::ok_atom> {
      auto id = rec.spec.id;
      if (!records_.accept_write(std::move(rec), digest))
        return make_error(errc::no_owner, spec_.name, id, "not a replica on this ring");
      return caf::ok_atom::value;
    },
    [this](rm_records_atom, std::vector<child_record>& xs) { records_.receive(xs); },
    [this](rm_gstop_atom, const std::string& why) {
      log::error("ring_stopped_everywhere", {{"sup", spec_.name}, {"reason", why}});
      global_stop(why);
    },
    [this](child_started_atom, const std::string& id, caf::actor& hdl) {
      // The first start is `launch_start`'s; a running child starting again
      // was restarted by the local supervisor.
      if (host_.restarted(id, std::move(hdl)))
        ++stats_.restarts;
    },
    [this](child_finished_atom, const std::string& id, const caf::error&) {
      on_finished(id);
    },
    // -- client requests
    [this](ring_start_atom, child_spec& spec) { return on_start(spec); },
    [this](ring_delete_atom, const std::string& id) {
      return on_change(change_kind::erase, id, 0);
    },
    [this](ring_terminate_atom, const std::string& id) {
      return on_change(change_kind::terminate, id, 0);
    },
    [this](ring_restart_atom, const std::string& id) {
      return on_change(change_kind::restart, id, 0);
    },
    [this](rm_change_atom, uint8_t kind, const std::string& id, uint8_t hops) {
      return on_change(static_cast<change_kind>(kind), id, hops);
    },
    [this](ring_find_atom, const std::string&, uint8_t) {
      auto rp = make_response_promise();
      dispatch(pending{current_mailbox_element()->move_content_to_message(), rp});
      return rp;
    },
    [this](ring_call_atom, uint64_t, const std::string&, const caf::message&, uint8_t) {
      auto rp = make_response_promise();
      dispatch(pending{current_mailbox_element()->move_content_to_message(), rp});
      return rp;
    },
    [this](ring_exec_atom, uint64_t, const std::string&, const std::string&,
           const caf::message&, uint8_t) {
      auto rp = make_response_promise();
      dispatch(pending{current_mailbox_element()->move_content_to_message(), rp});
      return rp;
    },
    [this](ring_which_atom) {
      auto rp = make_response_promise<std::vector<ring_child>>();
      which_children(rp);
      return rp;
    },
    [this](ring_local_atom) { return host_.list(); },
    [this](rm_which_atom) { return which_here(); },
    [this](rm_running_atom) { return host_.running(); },
    [this](ring_endpoints_atom) {
      std::vector<std::string> result;
      for (auto& m : view_)
        if (m.status == cluster::member_status::up && in_group(m, spec_.group)
            && m.offers(dir_name_))
          result.push_back(m.endpoint);
      return result;
    },
    [this](ring_stats_atom) {
      auto result = stats_;
      result.node = self_name_;
      result.running = host_.running();
      result.started = desk_.started();
      result.recovered = rebalancer_.recovered();
      result.restored = rebalancer_.restored();
      result.moved_in = host_.moved_in();
      result.moved_out = host_.moved_out();
      result.snapshots_taken = snapshots_.taken();
      result.snapshots_held = snapshots_.table().size();
      result.snapshot_bytes = snapshots_.table().state_bytes();
      result.records_held = children().size();
      return result;
    },
    [this](ring_records_atom) {
      std::vector<ring_record> result;
      for (auto& rec : children().select())
        result.push_back(ring_record{rec.spec.id, rec.version, rec.terminated, rec.deleted});
      std::sort(result.begin(), result.end(), [](auto& x, auto& y) { return x.id < y.id; });
      return result;
    },
    [this](ring_count_atom) {
      auto rp = make_response_promise<std::vector<node_count>>();
      request(agent_, spec_.handoff_timeout + std::chrono::seconds{1},
              cluster::multicall_atom::value, dir_name_,
              caf::make_message(rm_running_atom::value), spec_.handoff_timeout)
        .then(
          [rp](std::vector<cluster::node_reply>& replies) mutable {
            std::vector<node_count> result;
            for (auto& r : replies)
              if (!r.error && r.reply.match_elements<uint64_t>())
                result.push_back(node_count{r.node, r.reply.get_as<uint64_t>(0)});
            rp.deliver(std::move(result));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [](caf::ok_atom) {
      // a child's answer to put_state, the agent's to service_atom
    },
    // -- snapshots (last: CAF tries the handlers in order, and these are
    // rarer than child starts and requests)
    [this](snap_tick_atom) { snapshots_.round(); },
    [this](persist_atom) { persist_states(); },
    [this](snap_flush_atom) { snapshots_.flush(); },
    [this](snap_settle_atom, uint64_t gen) {
      if (gen != settle_gen_ || !serving())
        return; // a later ring change settles
      // Copies go only to members whose handles are known.
      bool missing = false;
      for (auto& name : children().ring().members())
        if (name != self_name_ && peer(name) == nullptr) {
          fetch_peer(name);
          missing = true;
        }
      if (missing)
        return settle_later();
      settle_records();
      snapshots_.settle(restarted_);
      restarted_.clear();
    },
    [this](checkpoint_atom, const std::string& id, bytes& state) { on_checkpoint(id, state); },
    [this](rm_snapshot_atom, std::vector<snapshot_entry>& xs) {
      snapshots_.received(xs, [this](const snapshot_entry& x) {
        auto rec = children().find(x.id); // unknown: its record may come later
        return rec == nullptr
               || (!rec->deleted && !rec->terminated && good_for(x.snap, rec->version));
      });
    },
    [this](rm_fetch_atom, const std::vector<std::string>& ids) {
      return snapshots_.table().select(ids);
    },
    [this](anti_entropy_atom) { exchange_digests(); },
    [this](later_atom, uint64_t key) {
      if (auto i = later_.find(key); i != later_.end()) {
        auto f = std::move(i->second);
        later_.erase(i);
        f();
      }
    },
    [this](forget_atom, uint64_t gen) {
      if (gen != settle_gen_)
        return; // the next settling decides
      auto n = records_.forget_left([this](const std::string& id) { return host_.contains(id); });
      auto m = snapshots_.forget_left();
      if (n + m > 0)
        log::debug("ring_copies_dropped", {{"sup", spec_.name}, {"records", n}, {"snapshots", m}});
    },
    [this](rm_digests_atom, const std::string& from, uint64_t digest,
           const std::vector<range_digest>& ranges) {
      if (serving())
        records_.on_digests(from, digest, ranges);
    },
  };
}

caf::error check(const ring_supervisor_spec& spec,
                 const actor::factory_registry& factories) {
  if (spec.name.empty())
    return make_error(errc::bad_spec, "a ring supervisor needs a name");
  if (spec.replicas == 0)
    return make_error(errc::bad_spec, spec.name, "replicas must be at least 1");
  std::set<std::string> seen;
  for (auto& c : spec.children) {
    if (!seen.insert(c.id).second)
      return make_error(errc::bad_spec, spec.name, "duplicate child id " + c.id);
    if (auto err = check_child(c, &factories, spec.name))
      return err;
  }
  return caf::none;
}

caf::expected<caf::actor> spawn_ring_manager(actor::node& node, const caf::actor& agent,
                                             ring_supervisor_spec spec) {
  auto& factories = spec.factories ? *spec.factories : *node.factories();
  if (auto err = check(spec, factories))
    return err;
  if (!cluster::lease_of(node.system()))
    return actor::make_error(actor::errc::bad_config, "ring supervisor " + spec.name,
                             "this node runs no cluster agent (cluster::start_agent first)");
  // What ring managers and clients send each other.
  auto wire = caf::make_message(child_spec{}, child_record{}, std::vector<child_record>{},
                                inventory{}, std::vector<recent_reply>{}, placement{},
                                restore_info{}, std::vector<snapshot_entry>{},
                                std::vector<ring_child>{}, std::vector<node_count>{},
                                ring_stats{}, std::vector<ring_record>{},
                                std::vector<range_digest>{});
  if (auto err = actor::check_wire_types(node.system(), wire, "ring supervisor " + spec.name))
    return err;
  auto name = ring_supervisor_name(spec.name);
  auto hdl = node.system().spawn<ring_manager>(&node, agent, std::move(spec));
  if (auto err = node.register_name(name, hdl)) {
    caf::anon_send_exit(hdl, caf::exit_reason::kill);
    return err;
  }
  return hdl;
}

} // namespace

std::string ring_supervisor_name(const std::string& name) {
  return "ringvisor.ring." + name;
}

caf::expected<caf::actor> start_ring_supervisor(actor::node& node, const caf::actor& agent,
                                                ring_supervisor_spec spec) {
  auto hdl = spawn_ring_manager(node, agent, std::move(spec));
  if (hdl)
    node.adopt(*hdl);
  return hdl;
}

child_spec ring_supervisor_child(std::string id, actor::node& node, caf::actor agent,
                                 ring_supervisor_spec spec) {
  child_spec result;
  result.id = std::move(id);
  result.type = "ring_supervisor:" + spec.name;
  result.kind = child_kind::supervisor;
  result.shutdown = shutdown_policy::after(node.config().shutdown_grace);
  result.start = [&node, agent, spec](caf::actor_system&) {
    return spawn_ring_manager(node, agent, spec);
  };
  return result;
}

} // namespace ringvisor::supervision
