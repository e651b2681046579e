// Asking one member's ring supervisor, and asking again while a child moves.

#include "asking.hpp"

#include <algorithm>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "protocol.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/ring/ownership.hpp"

namespace ringvisor::ring {

namespace {

// Returns why a node refused (the last element of a `no_owner` error's
// context), or null if `err` says no such thing.
const std::string* refusal_reason(const caf::error& err) {
  auto& ctx = err.context();
  if (err != errc::no_owner || ctx.empty() || !ctx.match_element<std::string>(ctx.size() - 1))
    return nullptr;
  return &ctx.get_as<std::string>(ctx.size() - 1);
}

bool not_up_yet(const caf::error& err) {
  auto why = refusal_reason(err);
  return why != nullptr && *why == not_up_reason;
}

} // namespace

bool refused_for_now(const caf::error& err) {
  auto why = refusal_reason(err);
  return why != nullptr
         && (*why == split_off_reason || *why == no_lease_reason || *why == not_up_reason);
}

patience patience_for(bool routed, caf::timespan timeout) {
  if (routed)
    return {true, true, attempt_timeout, true, true};
  return {false, false, timeout, true, false};
}

bool ask_again(const caf::error& err, const patience& how) {
  auto moving = err == errc::no_owner && !refused_for_now(err);
  return (moving && how.while_moving) || (how.while_starting && not_up_yet(err))
         || (err == caf::sec::request_timeout && how.through_silence)
         || (err == caf::sec::request_receiver_down
             && how.through_gone); // gone, says the next round
}

caf::expected<caf::message> ask_member(caf::actor_system& sys, const caf::actor& sup,
                                       const caf::message& msg, clock_type::time_point deadline,
                                       patience how, bool& sent) {
  caf::expected<caf::message> result{caf::sec::request_timeout};
  for (;;) {
    auto left = deadline - clock_type::now();
    if (left <= caf::timespan{0})
      return result;
    if (actor::is_gone(sup)) // its node died or restarted: asking again is futile
      return actor::gone_error();
    sent = true;
    result = cluster::request_any(sys, sup, msg, std::min<caf::timespan>(left, how.attempt));
    if (result || !ask_again(result.error(), how))
      return result;
    std::this_thread::sleep_for(retry_pause);
  }
}

namespace {

using go_atom = caf::atom_constant<caf::atom("rv_go")>;
using again_atom = caf::atom_constant<caf::atom("rv_again")>;

// What asks again for an actor: it sleeps between attempts, so the actor
// that asked need not.
struct courier_state {
  caf::actor sup;
  caf::message msg;
  clock_type::time_point deadline;
  patience how;
  caf::response_promise rp;
  caf::error last; // of the attempt before
  static inline const char* name = "ringvisor.ring_courier";
};

using courier_actor = caf::stateful_actor<courier_state>;

void finish(courier_actor* self, caf::message reply, caf::error err) {
  err ? self->state.rp.deliver(std::move(err)) : self->state.rp.deliver(std::move(reply));
  self->quit();
}

void attempt(courier_actor* self) {
  auto& st = self->state;
  auto left = st.deadline - clock_type::now();
  if (left <= caf::timespan{0})
    return finish(self, {}, st.last);
  if (actor::is_gone(st.sup))
    return finish(self, {}, actor::gone_error());
  auto [on_ok, on_other] =
    cluster::any_reply([self](caf::message reply) { finish(self, std::move(reply), {}); },
                       [self](caf::error err) {
                         if (!ask_again(err, self->state.how))
                           return finish(self, {}, std::move(err));
                         self->state.last = std::move(err);
                         self->delayed_send(self, retry_pause, again_atom::value);
                       });
  self->request(st.sup, std::min<caf::timespan>(left, st.how.attempt), st.msg)
    .then(on_ok, on_other);
}

// Asks `sup` after the attempt that failed with `last`, until `deadline`.
// It stops with the actor that asked it: nobody would read its answer.
caf::behavior courier(courier_actor* self, caf::actor sup, caf::message msg,
                      clock_type::time_point deadline, patience how, caf::error last) {
  self->state.sup = std::move(sup);
  self->state.msg = std::move(msg);
  self->state.deadline = deadline;
  self->state.how = how;
  self->state.last = std::move(last);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  return {
    [self](go_atom) {
      self->monitor(self->current_sender());
      self->state.rp = self->make_response_promise();
      self->delayed_send(self, retry_pause, again_atom::value);
    },
    [self](again_atom) { attempt(self); },
  };
}

// Hands one attempt's outcome to `f` or `g`; after `retry` ran out of
// reasons to ask again.
template <class Retry>
auto take_reply(detail::reply_fn f, detail::error_fn g, Retry retry) {
  return cluster::any_reply([f = std::move(f)](caf::message reply) { f(reply); },
                            [g = std::move(g), retry = std::move(retry)](caf::error err) {
                              if (!retry(err))
                                g(err);
                            });
}

} // namespace

supervision::child_counts counts_of(const std::vector<ring_child>& all) {
  supervision::child_counts result;
  for (auto& c : all) {
    ++result.specs;
    ++result.workers;
    if (!c.where.node.empty())
      ++result.active;
  }
  return result;
}

void ask_member(caf::event_based_actor* self, const caf::actor& sup, caf::message msg,
                clock_type::time_point deadline, patience how, detail::reply_fn f,
                detail::error_fn g) {
  // After a first attempt that calls for another, a courier asks until the
  // deadline; its answer is final (bounded, should the courier die).
  auto retry = [self, sup, msg, deadline, how, f, g](const caf::error& err) {
    if (!ask_again(err, how) || clock_type::now() + retry_pause >= deadline)
      return false;
    auto c = self->spawn(courier, sup, msg, deadline, how, err);
    auto [on_reply, on_error] = take_reply(f, g, [](const caf::error&) { return false; });
    self->request(c, deadline - clock_type::now() + attempt_timeout, go_atom::value)
      .then(on_reply, on_error);
    return true;
  };
  auto [on_reply, on_error] = take_reply(std::move(f), std::move(g), std::move(retry));
  // Sent even to a handle that is gone, or past the deadline: the error
  // comes back later, as every answer does.
  auto left = std::max<caf::timespan>(deadline - clock_type::now(), std::chrono::milliseconds{1});
  self->request(sup, std::min<caf::timespan>(left, how.attempt), std::move(msg))
    .then(on_reply, on_error);
}

} // namespace ringvisor::ring
