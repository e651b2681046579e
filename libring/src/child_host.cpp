#include "child_host.hpp"

#include <algorithm>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "routing.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

child_host::child_host(std::string self, std::string sup, host_io& io, record_keeper& records,
                       snapshot_keeper& snapshots, migrate_function migrate, host_limits limits)
  : self_(std::move(self)),
    sup_(std::move(sup)),
    io_(io),
    records_(records),
    snapshots_(snapshots),
    migrate_(std::move(migrate)),
    starts_(limits.max_parallel_starts),
    moves_(limits.max_parallel_moves) {
  // nop
}


std::vector<ring_child> child_host::list() const {
  std::vector<ring_child> result;
  for (auto& [id, c] : local_)
    if (c.ph == phase::running || c.ph == phase::starting)
      result.push_back(ring_child{id, c.spec.type, c.spec.restart, placement{self_, c.epoch}});
  std::sort(result.begin(), result.end(), [](auto& x, auto& y) { return x.id < y.id; });
  return result;
}

void child_host::erase(const std::string& id) {
  if (auto i = local_.find(id); i != local_.end()) {
    --in_phase_[static_cast<size_t>(i->second.ph)];
    local_.erase(i);
  }
  snapshots_.stopped(id);
}

void child_host::set_phase(local_child& c, phase to) {
  --in_phase_[static_cast<size_t>(c.ph)];
  ++in_phase_[static_cast<size_t>(to)];
  c.ph = to;
}

// -- starting -----------------------------------------------------------------

void child_host::start(const std::string& id, local_child c) {
  auto [i, added] = local_.try_emplace(id);
  if (!added)
    --in_phase_[static_cast<size_t>(i->second.ph)];
  ++in_phase_[static_cast<size_t>(c.ph)];
  i->second = std::move(c);
  relaunch(id);
}

// Starts the child in the local supervisor, a few hundred at a time (a burst
// of 30k spawns would starve the scheduler, and the failure detector with
// it); requests for it wait meanwhile.
void child_host::relaunch(const std::string& id) {
  auto& c = local_.at(id);
  set_phase(c, phase::starting);
  auto gen = c.start_gen = ++start_counter_;
  if (auto i = expected_.find(id); i != expected_.end()) {
    for (auto& p : i->second)
      c.waiting.push_back(std::move(p));
    expected_.erase(i);
  }
  starts_.enqueue({id, gen});
  pump_starts();
}

// Starts queued children while fewer than the limit start and the node holds
// its lease (else they wait for `pump_starts` once it is back). A start whose
// child moved on meanwhile is passed over.
void child_host::pump_starts() {
  while (io_.has_lease()) {
    auto next = starts_.next();
    if (!next)
      return;
    auto& [id, gen] = *next;
    auto i = local_.find(id);
    if (i != local_.end() && i->second.ph == phase::starting && i->second.start_gen == gen)
      launch(id, gen);
    else
      starts_.finish(*next);
  }
}

void child_host::start_finished(const std::string& id, uint64_t gen) {
  starts_.finish({id, gen});
  pump_starts();
}

void child_host::launch(const std::string& id, uint64_t gen) {
  io_.start_child(local_.at(id).spec, [this, id, gen](caf::expected<caf::actor> hdl) {
    start_finished(id, gen);
    auto i = local_.find(id);
    if (!hdl) {
      if (i == local_.end() || i->second.start_gen != gen)
        return; // a start for a supervisor that was replaced meanwhile
      log::error("ring_child_start_failed",
                 {{"sup", sup_}, {"child", id}, {"reason", actor::render(hdl.error())}});
      fail_waiting(i->second, hdl.error());
      erase(id);
      return;
    }
    if (i == local_.end() || i->second.ph != phase::starting || i->second.start_gen != gen)
      return;
    auto& c = i->second;
    c.handle = std::move(*hdl);
    last_start_us_ = io_.wall_us();
    io_.started(id, c);
    set_phase(c, phase::running);
    snapshots_.started(id, gen, c.record, c.epoch, c.spec.snapshot, c.has_state,
                       std::move(c.state));
    c.has_state = false;
    c.state.clear();
    io_.flush(c);
    // Handed here by a node whose ring was behind ours, or the ring changed
    // while it started: pass it on.
    if (io_.serving())
      if (auto owner = records_.list().who_owns(id); owner && *owner != self_)
        begin_move(id, *owner);
  });
}

bool child_host::restarted(const std::string& id, caf::actor hdl) {
  auto i = local_.find(id);
  if (i == local_.end() || i->second.ph != phase::running)
    return false; // the first start is `launch`'s
  i->second.handle = std::move(hdl);
  return true;
}

void child_host::restart_all() {
  for (auto& [id, c] : local_) {
    if (c.ph == phase::running || c.ph == phase::starting) {
      c.handle = nullptr;
      c.restored = restore_info{};
      c.epoch = next_epoch(c.epoch);
      relaunch(id);
    }
  }
}

// -- moving -------------------------------------------------------------------

void child_host::move_out() {
  std::vector<std::string> moving;
  for (auto& [id, c] : local_)
    if ((c.ph == phase::running && !records_.list().owned_by(id, self_)) || c.ph == phase::held)
      moving.push_back(id);
  for (auto& id : moving) {
    auto owner = records_.list().who_owns(id);
    if (!owner)
      continue; // an empty ring: nobody to give it to
    if (local_.at(id).ph == phase::running)
      begin_move(id, *owner);
    else
      send_handoff(id, *owner);
  }
}

// Takes the child's state, stops it and hands it to `target`.
void child_host::begin_move(const std::string& id, const std::string& target) {
  // A few hundred moves at a time: a burst of 30k state requests would
  // starve the scheduler (and the failure detector with it).
  if (!moves_.admit(id))
    return; // its turn comes in move_finished
  auto& c = local_.at(id);
  set_phase(c, phase::moving); // new requests wait for the new owner
  c.target = target;
  // Requests in flight first: their replies move with the child, so that a
  // retry at the new owner gets the reply instead of running again (an exec
  // runs on a thread of its own and may outlast the state request).
  if (!c.replies.idle()) {
    c.take_state_when_answered = true;
    return;
  }
  take_state(id);
}

bool child_host::answered(const std::string& id) {
  auto c = find(id);
  if (c == nullptr || !c->replies.idle() || !c->take_state_when_answered
      || c->ph != phase::moving)
    return false;
  c->take_state_when_answered = false;
  take_state(id);
  return true;
}

void child_host::take_state(const std::string& id) {
  auto& c = local_.at(id);
  if (!c.handle)
    return from_snapshot(id, "the child is not running");
  auto ask = migrate_ ? migrate_(id, self_, c.target)
                      : caf::make_message(actor::get_state_atom::value);
  io_.request_state(c.handle, std::move(ask), [this, id](caf::expected<actor::bytes> state) {
    if (state)
      stop_and_hand(id, true, std::move(*state),
                    restore_info{restore_info::origin::handed_over, {}});
    else
      from_snapshot(id, actor::render(state.error()));
  });
}

// Without an answer, the child moves with its newest snapshot of this
// placement, if any, and its new owner learns so.
void child_host::from_snapshot(const std::string& id, const std::string& why) {
  auto i = local_.find(id);
  auto x = snapshots_.table().find(id);
  if (i != local_.end() && x != nullptr && x->has_state && x->epoch == i->second.epoch) {
    log::warn("ring_state_from_snapshot", {{"sup", sup_}, {"child", id}, {"reason", why}});
    auto now = io_.wall_us();
    auto age = std::chrono::microseconds{now - std::min(now, x->taken_us)};
    stop_and_hand(id, true, x->state, restore_info{restore_info::origin::snapshot, age});
    return;
  }
  log::warn("ring_state_lost", {{"sup", sup_}, {"child", id}, {"reason", why}});
  stop_and_hand(id, false, {}, restore_info{});
}

void child_host::stop_and_hand(const std::string& id, bool has_state, actor::bytes state,
                               restore_info origin) {
  auto i = local_.find(id);
  if (i == local_.end())
    return move_finished(id);
  i->second.has_state = has_state;
  i->second.state = std::move(state);
  i->second.handing = origin;
  io_.stop_child(id, [this, id] {
    auto j = local_.find(id);
    if (j != local_.end() && j->second.ph == phase::moving)
      send_handoff(id, j->second.target);
    else
      move_finished(id);
  });
}

// A move ended (handed off, held, or the child is gone): start queued ones.
void child_host::move_finished(const std::string& id) {
  if (!moves_.finish(id))
    return;
  while (auto next = moves_.next()) {
    auto i = local_.find(*next);
    auto owner = records_.list().who_owns(*next);
    if (i != local_.end() && i->second.ph == phase::running && owner && *owner != self_)
      begin_move(*next, *owner);
    else
      moves_.finish(*next); // no longer moves
  }
}

void child_host::send_handoff(const std::string& id, const std::string& target) {
  auto& c = local_.at(id);
  auto hold = [this, id] {
    set_phase(local_.at(id), phase::held);
    move_finished(id);
  };
  if (target == self_) {
    hold();
    if (io_.serving())
      relaunch(id);
    return;
  }
  set_phase(c, phase::moving);
  c.target = target;
  handoff x{c.spec, c.epoch, c.has_state, c.state, c.handing, c.replies.replies()};
  auto sent = io_.hand_off(target, std::move(x),
                           [this, id, target](const caf::error& err, const caf::actor& to) {
                             handed(id, target, err, to);
                           });
  if (!sent) {
    hold();
    io_.retry_later();
  }
}

void child_host::handed(const std::string& id, const std::string& target,
                        const caf::error& err, const caf::actor& to) {
  auto i = local_.find(id);
  if (i == local_.end())
    return move_finished(id);
  if (!err) {
    ++moved_out_;
    if (log::enabled(log::level::debug))
      log::debug("ring_child_moved", {{"sup", sup_}, {"child", id}, {"to", target}});
    for (auto& p : i->second.waiting)
      p.rp.delegate(to, bump_hops(p.msg));
    erase(id);
    move_finished(id);
    if (local_.empty())
      io_.emptied();
    return;
  }
  // A timeout is no refusal: the target may have taken the child. Ask it
  // again (it acknowledges a duplicate) while it is a member.
  if (err == caf::sec::request_timeout && i->second.ph == phase::moving && io_.reachable(target))
    return send_handoff(id, target);
  if (err == errc::not_found) {
    // Deleted or terminated while this node did not hear of it.
    log::info("ring_handoff_dropped", {{"sup", sup_}, {"child", id},
                                       {"reason", actor::render(err)}});
    fail_waiting(i->second, err);
    erase(id);
    move_finished(id);
    if (local_.empty())
      io_.emptied();
    return;
  }
  // The target's ring is behind ours (a join, a failover): it takes the
  // child once its ring caught up. Anything else is worth a warning.
  auto level = err == errc::no_owner ? log::level::debug : log::level::warn;
  if (log::enabled(level))
    log::write(level, "ring_handoff_failed",
               {{"sup", sup_}, {"child", id}, {"to", target}, {"reason", actor::render(err)}});
  set_phase(i->second, phase::held);
  move_finished(id);
  io_.retry_later();
}

caf::error child_host::take(handoff& x) {
  auto id = x.spec.id;
  // Here already (a retry after a timeout whose answer was lost): say so
  // before anything else, or the sender would keep a second copy.
  if (auto i = local_.find(id); i != local_.end()) {
    log::error("ring_duplicate_handoff",
               {{"sup", sup_}, {"child", id}, {"epoch", render_epoch(x.epoch)},
                {"held_epoch", render_epoch(i->second.epoch)}});
    return caf::none;
  }
  // Only the owner takes a child: a handoff sent under another ring is
  // refused and held by the sender, which reports it in its inventory, so
  // the owner does not start it fresh meanwhile.
  if (!records_.list().owned_by(id, self_))
    return make_error(errc::no_owner, sup_, id, "not the owner on this ring");
  // Deleted or terminated here: the sender missed it, and drops the child.
  auto known = records_.list().find(id);
  if (known != nullptr && (known->deleted || known->terminated))
    return make_error(errc::not_found, sup_, id, known->deleted ? "deleted" : "terminated");
  if (log::enabled(log::level::debug))
    log::debug("ring_handoff_in", {{"sup", sup_}, {"child", id}, {"epoch", render_epoch(x.epoch)},
                                   {"has_state", x.has_state}});
  if (known == nullptr)
    records_.apply(child_record{x.spec});
  local_child c;
  c.spec = std::move(x.spec);
  c.record = records_.list().find(id)->version;
  c.epoch = next_epoch(x.epoch);
  c.has_state = x.has_state;
  c.state = std::move(x.state);
  if (c.has_state)
    c.restored = x.origin;
  c.replies.restore(x.recent);
  start(id, std::move(c));
  ++moved_in_;
  return caf::none;
}

// -- stopping -----------------------------------------------------------------

void child_host::kill(const std::string& id, const caf::error& err) {
  if (auto c = find(id))
    fail_waiting(*c, err);
  erase(id);
  io_.kill_child(id);
}

void child_host::drop(const std::string& id, const caf::error& err, bool stop) {
  auto i = local_.find(id);
  if (i == local_.end())
    return;
  fail_waiting(i->second, err);
  erase(id);
  if (stop)
    io_.stop_child(id, [] {});
}

void child_host::clear(const std::string& why) {
  for (auto& [id, c] : local_)
    fail_waiting(c, make_error(errc::no_owner, sup_, id, why));
  for (auto& [id, ps] : expected_)
    for (auto& p : ps)
      p.rp.deliver(make_error(errc::no_owner, sup_, id, why));
  expected_.clear();
  local_.clear();
  in_phase_.fill(0);
  starts_.clear();
  moves_.clear();
  snapshots_.stopped_all();
}

// -- requests -----------------------------------------------------------------

void child_host::fail_expected(const std::string& id, const caf::error& err) {
  if (auto i = expected_.find(id); i != expected_.end()) {
    for (auto& p : i->second)
      p.rp.deliver(err);
    expected_.erase(i);
  }
}

void child_host::fail_all(const caf::error& err) {
  for (auto& [id, c] : local_)
    fail_waiting(c, err);
  for (auto& [id, ps] : expected_)
    for (auto& p : ps)
      p.rp.deliver(err);
  expected_.clear();
}

void child_host::fail_waiting(local_child& c, const caf::error& err) {
  for (auto& p : c.waiting)
    p.rp.deliver(err);
  c.waiting.clear();
  for (auto& rp : c.replies.take_waiters())
    rp.deliver(err);
}

} // namespace ringvisor::ring
