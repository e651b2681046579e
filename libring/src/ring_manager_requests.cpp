// The ring manager's requests: serving and routing calls to children, the
// child list's stores, and listing the children.

#include "ring_manager.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

// -- requests ----------------------------------------------------------------

void ring_manager::dispatch(pending p) {
  auto id = id_of(p.msg);
  route_facts facts;
  auto c = host_.find(id);
  if (c != nullptr)
    facts.local = c->ph == local_child::phase::running ? route_facts::here::running
                                                       : route_facts::here::busy;
  facts.split = status_ == cluster::cluster_status::split;
  facts.stopping = stopping_;
  facts.owner = children().who_owns(id);
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

void ring_manager::serve(local_child& c, pending p) {
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
  // Asks `hdl` and gives `answer` its reply, whatever its type (CAF hands
  // a reply that no typed handler takes to the error handler).
  auto relay = [this, answer](const caf::actor& hdl, caf::message msg) {
    auto [on_ok, on_other] =
      cluster::any_reply([answer](caf::message reply) { answer(std::move(reply), {}); },
                         [answer](caf::error err) { answer({}, std::move(err)); });
    request(hdl, child_call_timeout, std::move(msg)).then(on_ok, on_other);
  };
  if (p.msg.match_element<ring_call_atom>(0))
    return relay(c.handle, p.msg.get_as<caf::message>(3));
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
  relay(worker, caf::make_message(run_atom::value));
}

void ring_manager::flush(local_child& c) {
  auto waiting = std::move(c.waiting);
  c.waiting.clear();
  for (auto& p : waiting)
    dispatch(std::move(p));
}

void ring_manager::fail_all(const caf::error& err) {
  host_.fail_all(err);
  desk_.fail_all(err);
}

// -- the child list ----------------------------------------------------------

void ring_manager::reload_specs() {
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

void ring_manager::persist_states() {
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

caf::error ring_manager::check_spec(const child_spec& spec) const {
  return check_ring_child(spec, spec_.factories.get(), spec_.name);
}

caf::error ring_manager::refused(const std::string& id) const {
  if (status_ == cluster::cluster_status::split)
    return make_error(errc::no_owner, spec_.name, id, split_off_reason);
  if (status_ == cluster::cluster_status::starting)
    return make_error(errc::no_owner, spec_.name, id, not_up_reason);
  return caf::none;
}

caf::result<placement> ring_manager::on_start(child_spec& spec) {
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

} // namespace ringvisor::ring
