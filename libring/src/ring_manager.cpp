// The ring manager: its views, rounds, peers, lease and leave, and its
// behavior.

#include "ring_manager.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

// -- the actor -------------------------------------------------------------

const char* ring_manager::name() const {
  return "ringvisor.ring_supervisor";
}

void ring_manager::on_exit() {
  // Killed (node shutdown past its grace): take the children along.
  if (local_sup_ && !stopping_)
    caf::anon_send_exit(local_sup_, caf::exit_reason::kill);
  // The store worker runs detached: its thread ends only once nothing
  // refers to it, and remote nodes may keep this actor alive for long.
  if (store_)
    caf::anon_send_exit(store_, caf::exit_reason::user_shutdown);
  store_ = nullptr;
  local_sup_ = nullptr;
  // Whatever ended it: its peers stop asking it and placing children here.
  if (agent_)
    caf::anon_send(agent_, cluster::service_atom::value, dir_name_,
                   static_cast<uint8_t>(cluster::service_state::off));
  agent_ = nullptr;
  peers_.clear();
  stopping_children_.clear();
  host_.clear("stopped");
  desk_.fail_all(make_error(errc::no_owner, spec_.name, "stopped"));
  later_.clear();
}

// -- the ring ----------------------------------------------------------------

void ring_manager::rebuild_ring() {
  auto members = placement_members(view_, spec_.group, dir_name_, self_name_, leaving_self_);
  // Nodes agree on the ranges only with the same members and replicas.
  if (records_.place_on(std::move(members.names), members.digest * 31 + spec_.replicas)) {
    snapshots_.place_on(children().ring());
    settle_later();
  }
}

const child_list& ring_manager::children() const {
  return records_.list();
}

bool ring_manager::owns(const std::string& id) const {
  return children().owned_by(id, self_name_);
}

bool ring_manager::serving() const {
  return status_ == cluster::cluster_status::up && !leaving_self_ && !stopping_;
}

// -- views -------------------------------------------------------------------

void ring_manager::on_view(std::vector<cluster::member> view) {
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
  up_ = std::move(change.up);
  for (auto& [name, m] : up_) {
    auto [i, added] = incarnations_.emplace(name, m.incarnation);
    if (!added && i->second != m.incarnation) {
      i->second = m.incarnation;
      restarted_.insert(name); // its records and snapshots are gone with it
      settle_later();
    }
  }
  rebuild_ring();
  leaving_ = handing_off(view_, spec_.group, dir_name_, self_name_);
  rebalance();
}

void ring_manager::on_gone(const cluster::member& before) {
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

void ring_manager::on_status(cluster::cluster_status now, std::vector<cluster::member> view) {
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

// -- rebalancing -------------------------------------------------------------

std::vector<std::string> ring_manager::others() const {
  std::vector<std::string> result;
  for (auto& name : children().ring().members())
    if (name != self_name_)
      result.push_back(name);
  for (auto& name : leaving_)
    result.push_back(name);
  return result;
}

void ring_manager::rebalance() {
  if (rebalance_due_)
    return;
  rebalance_due_ = true;
  send(this, rebalance_atom::value);
}

void ring_manager::rebalance_now() {
  rebalance_due_ = false;
  if (!serving())
    return;
  auto peers = others();
  if (!peers_known(peers))
    return; // again once the handles arrive
  host_.move_out();
  // Requests for children owned elsewhere go on to their owners.
  for (auto& p : host_.take_expected([this](const std::string& id) { return !owns(id); }))
    dispatch(std::move(p));
  rebalancer_.round(peers);
}

void ring_manager::retry_later() {
  retry_in(retry_delay);
}

// -- peers -------------------------------------------------------------------

const caf::actor* ring_manager::peer(const std::string& name) const {
  auto i = peers_.find(name);
  return i != peers_.end() ? &i->second : nullptr;
}

bool ring_manager::peers_known(const std::vector<std::string>& names) {
  bool known = true;
  for (auto& name : names)
    if (name != self_name_ && peer(name) == nullptr) {
      fetch_peer(name);
      known = false;
    }
  return known;
}

void ring_manager::fetch_peer(const std::string& name) {
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

// -- the lease ---------------------------------------------------------------

bool ring_manager::has_lease() const {
  return lease_->held();
}

void ring_manager::check_lease() {
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

// -- graceful leave ----------------------------------------------------------

void ring_manager::begin_leave() {
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
  request(agent_, spec_.handoff_timeout, cluster::service_atom::value, dir_name_,
          static_cast<uint8_t>(cluster::service_state::draining))
    .then([this](caf::ok_atom) { hand_off_all(); },
          [this](caf::error&) { hand_off_all(); });
}

void ring_manager::hand_off_all() {
  host_.move_out();
  if (host_.empty())
    finish_leave();
}

void ring_manager::finish_leave() {
  if (stopping_)
    return;
  stopping_ = true;
  if (!host_.empty() && others().empty())
    // Nobody to take them: they stop, their records stay in the stores.
    log::info("ring_left_alone", {{"sup", spec_.name}, {"children", host_.size()}});
  else if (!host_.empty())
    log::warn("ring_leave_incomplete", {{"sup", spec_.name}, {"children", host_.size()}});
  log::info("ring_left", {{"sup", spec_.name}, {"moved", host_.moved_out()}});
  fail_all(make_error(errc::no_owner, spec_.name, "node left"));
  if (local_sup_)
    send_exit(local_sup_, caf::exit_reason::kill); // all children at once
  quit();
}

caf::behavior ring_manager::make_behavior() {
  store_ = system().spawn<caf::detached>(store_worker, spec_.stores);
  replace_local_sup();
  send(agent_, cluster::subscribe_atom::value, caf::actor{this});
  send(agent_, cluster::service_atom::value, dir_name_,
       static_cast<uint8_t>(cluster::service_state::offered)); // place children here
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
    // Also while the views converge (`rehashing`): a rolling restart stops
    // nodes while the last one's leave is still spreading.
    auto member = status_ == cluster::cluster_status::up
                  || status_ == cluster::cluster_status::rehashing;
    if (em.reason == caf::exit_reason::user_shutdown && member && !leaving_self_ && !stopping_
        && !host_.empty()) {
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
    [this](cluster::view_atom, std::vector<cluster::member>& view) { on_view(std::move(view)); },
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
           const inventory_request& req) -> caf::result<inventory> {
      if (digest != records_.digest())
        return make_error(errc::no_owner, spec_.name, "rings differ");
      inventory result;
      // Every child running here that the asker may think it owns: by this
      // node's records, by its ring key (the asker may not know a pin yet),
      // or by a pin it names (this node may not know it yet).
      for (auto& [id, c] : host_.children())
        if (children().owned_by(id, asker) || children().ring_owner_of(id) == asker
            || (c.ph == local_child::phase::moving && c.target == asker)
            || std::find(req.pinned.begin(), req.pinned.end(), id) != req.pinned.end())
          result.claimed.push_back(id);
      records_.answer_inventory(req, asker, result);
      return result;
    },
    [this](rm_handoff_atom, child_spec& spec, uint64_t epoch, bool has_state, bytes& state,
           const restore_info& origin, std::vector<recent_reply>& recent) {
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
    [this](child_finished_atom, const std::string& id, const caf::error&) { on_finished(id); },
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
    [this](ring_pin_atom, const std::string& id, const std::string& member) {
      return on_change(change_kind::pin, id, 0, member);
    },
    [this](rm_change_atom, uint8_t kind, const std::string& id, const std::string& to,
           uint8_t hops) { return on_change(static_cast<change_kind>(kind), id, hops, to); },
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
    [this](ring_exec_atom, uint64_t, const std::string&, const std::string&, const caf::message&,
           uint8_t) {
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
      result.starting = host_.starting();
      result.last_start_us = host_.last_start_us();
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
        result.push_back(
          ring_record{rec.spec.id, rec.version, rec.terminated, rec.deleted, rec.pin});
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
      // Orphans first: settling passes over every record and snapshot. Not
      // for long, though: until it runs, new replicas lack their copies.
      auto t = clock_type::now();
      if (host_.starts_backlogged()) {
        if (!settle_waits_since_)
          settle_waits_since_ = t;
        if (t - *settle_waits_since_ < max_settle_wait)
          return settle_later();
      }
      settle_waits_since_.reset();
      // Copies go only to members whose handles are known.
      if (!peers_known(children().ring().members()))
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

} // namespace ringvisor::ring
