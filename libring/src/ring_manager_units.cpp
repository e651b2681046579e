// The ring manager's side of its units: the messages and timers that the
// record keeper, the snapshot keeper, the child host, the rebalancer and the
// change desk ask for.

#include "ring_manager.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

// -- rebalancing (the rebalancer's messaging) --------------------------------

bool ring_manager::ask_inventory(const std::string& name, inventory_request ask,
                                 std::function<void(caf::expected<inventory>)> answer) {
  auto hdl = peer(name);
  if (hdl == nullptr)
    return false;
  request(*hdl, spec_.handoff_timeout, rm_inventory_atom::value, self_name_,
          records_.digest(), std::move(ask))
    .then([answer](inventory& inv) { answer(std::move(inv)); },
          [answer](caf::error& err) { answer(std::move(err)); });
  return true;
}

bool ring_manager::ask_snapshots(
  const std::string& name, std::vector<std::string> ids,
  std::function<void(caf::expected<std::vector<snapshot_entry>>)> answer) {
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

start_gate ring_manager::gate() {
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

void ring_manager::retry_in(caf::timespan delay) {
  if (retry_pending_)
    return;
  retry_pending_ = true;
  delayed_send(this, delay, round_atom::value);
}

void ring_manager::again() {
  rebalance();
}

void ring_manager::learned() {
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

// -- the children here (the host's messaging) --------------------------------

void ring_manager::start_child(const child_spec& spec,
                               std::function<void(caf::expected<caf::actor>)> answer) {
  request(local_sup_, caf::infinite, start_child_atom::value, spec)
    .then([answer](caf::actor& hdl) { answer(std::move(hdl)); },
          [answer](caf::error& err) { answer(std::move(err)); });
}

void ring_manager::started(const std::string&, const local_child& c) {
  if (c.has_state)
    send(c.handle, actor::put_state_atom::value, c.state);
  if (spec_.tell_placement)
    send(c.handle, placed_atom::value, placement{self_name_, c.epoch}, c.restored);
}

void ring_manager::request_state(const caf::actor& hdl, caf::message ask,
                                 std::function<void(caf::expected<bytes>)> answer) {
  request(hdl, spec_.handoff_timeout, std::move(ask))
    .then([answer](bytes& state) { answer(std::move(state)); },
          [answer](caf::error& err) { answer(std::move(err)); });
}

void ring_manager::stop_child(const std::string& id, std::function<void()> then) {
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

void ring_manager::kill_child(const std::string& id) {
  request(local_sup_, caf::infinite, detach_child_atom::value, id)
    .then(
      [this](caf::actor& hdl) {
        if (hdl)
          send_exit(hdl, caf::exit_reason::kill);
      },
      [](caf::error&) {});
}

bool ring_manager::hand_off(const std::string& target, handoff x, std::function<void(caf::error,
                            const caf::actor&)> answer) {
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

bool ring_manager::reachable(const std::string& member) const {
  return up_.count(member) > 0 && peer(member) != nullptr;
}

void ring_manager::emptied() {
  if (leaving_self_)
    finish_leave();
}

caf::result<caf::ok_atom> ring_manager::on_handoff(child_spec& spec, uint64_t epoch, bool has_state,
                                                   bytes& state, const restore_info& origin,
                                                   std::vector<recent_reply>& recent) {
  // A child that is here already (a retry after a timeout) is acknowledged
  // whatever else holds: refused, its sender would keep a second copy.
  if (!host_.contains(spec.id)
      && (status_ == cluster::cluster_status::split || leaving_self_ || stopping_))
    return make_error(errc::no_owner, spec_.name, spec.id, "this node cannot take it now");
  handoff x{std::move(spec), epoch, has_state, std::move(state), origin, std::move(recent)};
  if (auto err = host_.take(x))
    return err;
  return caf::ok_atom::value;
}

void ring_manager::stop_all(const std::string& why) {
  host_.clear(why);
  replace_local_sup();
}

void ring_manager::replace_local_sup() {
  if (local_sup_) {
    demonitor(local_sup_);
    send_exit(local_sup_, caf::exit_reason::kill); // all children at once
  }
  supervision::supervisor_spec sup;
  sup.name = "ring:" + spec_.name;
  sup.strategy = spec_.strategy;
  sup.max_restarts = spec_.max_restarts;
  sup.period = spec_.period;
  sup.factories = spec_.factories;
  sup.observer = caf::actor{this};
  local_sup_ = *spawn_supervisor(system(), std::move(sup)); // no children: no errors
  monitor(local_sup_);
}

void ring_manager::on_local_sup_down(const caf::error& reason) {
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

void ring_manager::global_stop(const std::string& why) {
  stopping_ = true;
  fail_all(make_error(errc::shutting_down, spec_.name, why));
  host_.clear(why);
  if (local_sup_)
    send_exit(local_sup_, caf::exit_reason::kill);
  quit(make_error(errc::reached_max_restart_intensity, spec_.name,
                  "stopped on every node: " + why));
}

// -- snapshots (the keeper's messaging) --------------------------------------

bool ring_manager::busy() {
  // Children waiting to start come first: their recovery is what a failover
  // waits for, and a running child's next interval snapshot is one interval
  // away.
  return host_.starts_backlogged();
}

bool ring_manager::may_ask(const std::string& id, uint64_t gen) {
  auto c = host_.find(id);
  return c != nullptr && c->ph == local_child::phase::running && c->start_gen == gen
         && c->handle && has_lease();
}

void ring_manager::ask_state(const std::string& id, uint64_t gen) {
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

void ring_manager::send_snapshots(const std::string& member, std::vector<snapshot_entry> xs) {
  // To a member whose handle is not here yet they are dropped: the next
  // snapshot of the child brings it.
  if (auto hdl = peer(member))
    send(*hdl, rm_snapshot_atom::value, std::move(xs));
}

void ring_manager::arm_round(caf::timespan delay) {
  delayed_send(this, delay, snap_tick_atom::value);
}

void ring_manager::flush_soon() {
  send(this, snap_flush_atom::value);
}

ring_manager::clock_type::time_point ring_manager::now() {
  return clock_type::now();
}

uint64_t ring_manager::wall_us() {
  return now_us();
}

void ring_manager::settle_later() {
  delayed_send(this, snapshot_settle_delay, snap_settle_atom::value, ++settle_gen_);
}

void ring_manager::settle_records() {
  records_.settle(restarted_);
  delayed_send(this, forget_delay, forget_atom::value, settle_gen_);
}

void ring_manager::exchange_digests() {
  delayed_send(this, anti_entropy_interval, anti_entropy_atom::value);
  records_.exchange_digests(serving());
}

// -- records (the keeper's messaging) ----------------------------------------

bool ring_manager::write(const std::string& member, const child_record& rec, uint64_t digest,
                         caf::timespan timeout, std::function<void(write_answer)> answered) {
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

void ring_manager::send_records(const std::string& member, std::vector<child_record> xs) {
  if (auto hdl = peer(member))
    send(*hdl, rm_records_atom::value, std::move(xs));
}

void ring_manager::send_digests(const std::string& member, uint64_t digest,
                                std::vector<range_digest> xs) {
  if (auto hdl = peer(member))
    send(*hdl, rm_digests_atom::value, self_name_, digest, std::move(xs));
}

void ring_manager::later(caf::timespan delay, std::function<void()> f) {
  auto key = ++later_counter_;
  later_.emplace(key, std::move(f));
  delayed_send(this, delay, later_atom::value, key);
}

void ring_manager::ended(const child_record& rec) {
  auto& id = rec.spec.id;
  auto err = make_error(errc::not_found, spec_.name, id,
                        rec.deleted ? "deleted" : "terminated");
  snapshots_.forget(id);
  host_.fail_expected(id, err);
  host_.drop(id, err, true);
}

void ring_manager::repinned(const child_record&) {
  rebalance(); // moves it out if it runs here, or starts it here
}

void ring_manager::on_checkpoint(const std::string& id, bytes& state) {
  auto c = host_.find(id);
  if (c == nullptr || c->ph != local_child::phase::running || !has_lease()
      || current_sender() != c->handle.address())
    return;
  snapshots_.checkpoint(id, c->start_gen, c->record, c->epoch, c->spec.snapshot,
                        std::move(state));
}

// -- changes (the desk's messaging) ------------------------------------------

bool ring_manager::pass_place(const std::string& owner, caf::response_promise& rp,
                              const child_record& rec, bool fresh) {
  auto hdl = peer(owner);
  if (hdl == nullptr) {
    fetch_peer(owner);
    return false;
  }
  rp.delegate(*hdl, rm_place_atom::value, rec, fresh);
  return true;
}

bool ring_manager::pass_change(const std::string& owner, caf::response_promise& rp,
                               change_kind kind, const std::string& id, const std::string& to,
                               uint8_t hops) {
  auto hdl = peer(owner);
  if (hdl == nullptr) {
    fetch_peer(owner);
    return false;
  }
  rp.delegate(*hdl, rm_change_atom::value, static_cast<uint8_t>(kind), id, to,
              static_cast<uint8_t>(hops + 1));
  return true;
}

void ring_manager::unstore(const child_spec& spec, std::function<void(caf::error)> answer) {
  request(store_, caf::infinite, store_del_atom::value, spec)
    .then([answer](caf::ok_atom) { answer(caf::none); },
          [answer](caf::error& err) { answer(std::move(err)); });
}

void ring_manager::when_running(local_child& c, const std::string& id, caf::response_promise rp) {
  if (c.ph == local_child::phase::running)
    return rp.deliver(placement{self_name_, c.epoch});
  c.waiting.push_back(pending{caf::make_message(ring_find_atom::value, id, uint8_t{0}), rp});
}

caf::response_promise ring_manager::on_change(change_kind kind, const std::string& id, uint8_t hops,
                                              const std::string& to) {
  auto rp = make_response_promise();
  desk_.change(kind, id, hops, rp, to);
  return rp;
}

void ring_manager::on_finished(const std::string& id) {
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

std::vector<ring_child> ring_manager::which_here() const {
  auto result = host_.list();
  for (auto& x : result)
    if (auto rec = children().find(x.id))
      x.pin = rec->pin;
  children().for_each_alive_owned_by(self_name_, [&](const child_record& rec) {
    if (!host_.contains(rec.spec.id))
      result.push_back(ring_child{rec.spec.id, rec.spec.type, rec.spec.restart, {}, rec.pin});
  });
  return result;
}

void ring_manager::which_children(caf::typed_response_promise<std::vector<ring_child>> rp) {
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

} // namespace ringvisor::ring
