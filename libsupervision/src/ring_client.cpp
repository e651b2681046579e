// The client side of the ring supervisor: the blocking functions that ask
// one ring manager, and `ring::client`, which asks another member when the
// one it asks fails.

#include "ringvisor/supervision/ring_client.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include <caf/scoped_actor.hpp>

#include "blocking_ok.hpp"
#include "ring_wire.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/ownership.hpp"

namespace ringvisor::supervision::ring {

namespace {

using clock_type = std::chrono::steady_clock;
using actor::blocking_request;
using detail::blocking_ok;

/// Pause before asking again while the ring moves, or after every member
/// failed to connect.
constexpr auto retry_pause = std::chrono::milliseconds{20};

/// How long one attempt may take before the member counts as silent.
constexpr auto attempt_timeout = std::chrono::seconds{1};

uint64_t new_request_id() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

caf::message find_msg(const std::string& id) {
  return caf::make_message(ring_find_atom::value, id, uint8_t{0});
}

// A new request id per call: a retry, through any member, reuses it.
caf::message call_msg(const std::string& id, caf::message msg) {
  return caf::make_message(ring_call_atom::value, new_request_id(), id, std::move(msg),
                           uint8_t{0});
}

caf::message exec_msg(const std::string& id, const std::string& function, caf::message args) {
  return caf::make_message(ring_exec_atom::value, new_request_id(), id, function,
                           std::move(args), uint8_t{0});
}

template <class T>
caf::expected<T> as(caf::expected<caf::message> reply, const char* what) {
  if (!reply)
    return std::move(reply.error());
  if (!reply->match_elements<T>())
    return make_error(errc::bad_spec, std::string{"unexpected reply to "} + what, *reply);
  return reply->get_as<T>(0);
}

caf::error as_ok(caf::expected<caf::message> reply) {
  return reply ? caf::error{} : std::move(reply.error());
}

child_counts counts_of(const std::vector<ring_child>& all) {
  child_counts result;
  for (auto& c : all) {
    ++result.specs;
    ++result.workers;
    if (!c.where.node.empty())
      ++result.active;
  }
  return result;
}

// Whether the node said it cannot serve for now: it is split off (until
// the partition heals; it changes no child list either), holds no lease, or
// is not up yet. Either way it did not act on the request.
bool refused_for_now(const caf::error& err) {
  auto& ctx = err.context();
  if (err != errc::no_owner || ctx.empty() || !ctx.match_element<std::string>(ctx.size() - 1))
    return false;
  auto& why = ctx.get_as<std::string>(ctx.size() - 1);
  return why == split_off_reason || why == no_lease_reason || why == not_up_reason;
}

/// How asking one member may end without an answer.
enum class fault {
  none,      // an answer (or an error no other member would change)
  gone,      // the member died or restarted, or cannot be reached
  refused,   // split off, no lease, or not up yet: it did not act
  silent,    // no answer within an attempt
};

fault fault_of(const caf::error& err) {
  if (refused_for_now(err))
    return fault::refused;
  // member_down: the member was lost with the request in flight (it may
  // have acted; a change is not repeated, a routed request keeps its id).
  if (err == caf::sec::request_receiver_down || err == caf::sec::cannot_connect_to_node
      || err == actor::errc::member_down)
    return fault::gone;
  if (err == caf::sec::request_timeout)
    return fault::silent;
  return fault::none;
}

/// How long to keep asking one member.
struct patience {
  bool while_moving;     // ask again while the child moves or the rings differ
  bool through_silence;  // ask again after an attempt without an answer
  caf::timespan attempt; // at most, for one attempt
};

// Sends `msg` to `sup` until an answer or a fault that `how` does not wait
// out, within `deadline`; sets `sent` once a request went out.
caf::expected<caf::message> ask(caf::actor_system& sys, const caf::actor& sup,
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
    caf::scoped_actor self{sys};
    self->request(sup, std::min<caf::timespan>(left, how.attempt), msg)
      .receive([&](caf::ok_atom) { result = caf::make_message(caf::ok_atom::value); },
               [&](caf::error& err) {
                 if (auto reply = cluster::untyped_reply(err))
                   result = std::move(*reply);
                 else
                   result = std::move(err);
               });
    if (result)
      return result;
    auto& err = result.error();
    auto moving = err == errc::no_owner && !refused_for_now(err);
    auto again = (moving && how.while_moving)
                 || (err == caf::sec::request_timeout && how.through_silence)
                 || err == caf::sec::request_receiver_down; // gone, says the next round
    if (!again)
      return result;
    std::this_thread::sleep_for(retry_pause);
  }
}

// Asks the one member `sup` until an answer or a final error, within `timeout`.
caf::expected<caf::message> routed(caf::actor_system& sys, const caf::actor& sup,
                                   const caf::message& msg, caf::timespan timeout) {
  bool sent = false;
  return ask(sys, sup, msg, clock_type::now() + timeout,
             patience{true, true, attempt_timeout}, sent);
}

} // namespace

caf::expected<placement> start_child(caf::actor_system& sys, const caf::actor& sup,
                                     child_spec spec, caf::timespan timeout) {
  return blocking_request<placement>(sys, sup, timeout, ring_start_atom::value, std::move(spec));
}

caf::error delete_child(caf::actor_system& sys, const caf::actor& sup,
                        const std::string& id, caf::timespan timeout) {
  return blocking_ok(sys, sup, timeout, ring_delete_atom::value, id);
}

caf::error terminate_child(caf::actor_system& sys, const caf::actor& sup,
                           const std::string& id, caf::timespan timeout) {
  return blocking_ok(sys, sup, timeout, ring_terminate_atom::value, id);
}

caf::expected<placement> restart_child(caf::actor_system& sys, const caf::actor& sup,
                                       const std::string& id, caf::timespan timeout) {
  return blocking_request<placement>(sys, sup, timeout, ring_restart_atom::value, id);
}

caf::expected<placement> find(caf::actor_system& sys, const caf::actor& sup,
                              const std::string& id, caf::timespan timeout) {
  return as<placement>(routed(sys, sup, find_msg(id), timeout), "find");
}

caf::expected<caf::message> call(caf::actor_system& sys, const caf::actor& sup,
                                 const std::string& id, caf::message msg,
                                 caf::timespan timeout) {
  return routed(sys, sup, call_msg(id, std::move(msg)), timeout);
}

caf::expected<caf::message> exec(caf::actor_system& sys, const caf::actor& sup,
                                 const std::string& id, const std::string& function,
                                 caf::message args, caf::timespan timeout) {
  return routed(sys, sup, exec_msg(id, function, std::move(args)), timeout);
}

caf::expected<std::vector<ring_child>>
which_children(caf::actor_system& sys, const caf::actor& sup, caf::timespan timeout) {
  return blocking_request<std::vector<ring_child>>(sys, sup, timeout, ring_which_atom::value);
}

caf::expected<std::vector<ring_child>>
local_children(caf::actor_system& sys, const caf::actor& sup, caf::timespan timeout) {
  return blocking_request<std::vector<ring_child>>(sys, sup, timeout, ring_local_atom::value);
}

caf::expected<std::vector<node_count>>
running_per_node(caf::actor_system& sys, const caf::actor& sup, caf::timespan timeout) {
  return blocking_request<std::vector<node_count>>(sys, sup, timeout, ring_count_atom::value);
}

caf::expected<ring_stats> stats(caf::actor_system& sys, const caf::actor& sup,
                                caf::timespan timeout) {
  return blocking_request<ring_stats>(sys, sup, timeout, ring_stats_atom::value);
}

caf::expected<std::vector<ring_record>> records(caf::actor_system& sys, const caf::actor& sup,
                                                caf::timespan timeout) {
  return blocking_request<std::vector<ring_record>>(sys, sup, timeout, ring_records_atom::value);
}

caf::expected<child_counts> count_children(caf::actor_system& sys, const caf::actor& sup,
                                           caf::timespan timeout) {
  auto all = which_children(sys, sup, timeout);
  if (!all)
    return std::move(all.error());
  return counts_of(*all);
}

// -- ring::client ---------------------------------------------------------------

client::client(caf::actor_system& sys, std::string name, std::vector<std::string> endpoints)
  : sys_(sys), name_(std::move(name)), endpoints_(std::move(endpoints)) {
  // nop
}

caf::expected<placement> client::start_child(child_spec spec, caf::timespan timeout) {
  return as<placement>(request(caf::make_message(ring_start_atom::value, std::move(spec)),
                               timeout, repeat::change),
                       "start_child");
}

caf::error client::delete_child(const std::string& id, caf::timespan timeout) {
  return as_ok(request(caf::make_message(ring_delete_atom::value, id), timeout,
                       repeat::change));
}

caf::error client::terminate_child(const std::string& id, caf::timespan timeout) {
  return as_ok(request(caf::make_message(ring_terminate_atom::value, id), timeout,
                       repeat::change));
}

caf::expected<placement> client::restart_child(const std::string& id, caf::timespan timeout) {
  return as<placement>(request(caf::make_message(ring_restart_atom::value, id), timeout,
                               repeat::change),
                       "restart_child");
}

caf::expected<placement> client::find(const std::string& id, caf::timespan timeout) {
  return as<placement>(request(find_msg(id), timeout, repeat::routed), "find");
}

caf::expected<caf::message> client::call(const std::string& id, caf::message msg,
                                         caf::timespan timeout) {
  return request(call_msg(id, std::move(msg)), timeout, repeat::routed);
}

caf::expected<caf::message> client::exec(const std::string& id, const std::string& function,
                                         caf::message args, caf::timespan timeout) {
  return request(exec_msg(id, function, std::move(args)), timeout, repeat::routed);
}

caf::expected<std::vector<ring_child>> client::which_children(caf::timespan timeout) {
  return as<std::vector<ring_child>>(
    request(caf::make_message(ring_which_atom::value), timeout, repeat::read),
    "which_children");
}

caf::expected<child_counts> client::count_children(caf::timespan timeout) {
  auto all = which_children(timeout);
  if (!all)
    return std::move(all.error());
  return counts_of(*all);
}

caf::expected<caf::message> client::request(caf::message msg, caf::timespan timeout,
                                            repeat how) {
  auto deadline = clock_type::now() + timeout;
  // A routed request waits out a child that moves; a member silent for a
  // second is left for the next. A change is sent once and given the whole
  // deadline (a store's fsync may take seconds), since a silent member may
  // have acted.
  patience wait{how == repeat::routed, false,
                how == repeat::change ? caf::timespan{timeout} : caf::timespan{attempt_timeout}};
  caf::expected<caf::message> result{caf::sec::request_timeout};
  while (clock_type::now() < deadline) {
    auto sup = member_sup(deadline);
    if (!sup) {
      // No member runs a ring supervisor of that name, or none of the
      // given endpoints was ever reached (a typo, a cluster that is down):
      // waiting would not help. Members known to exist may come back.
      if (sup.error() != caf::sec::cannot_connect_to_node || !reached_)
        return std::move(sup.error());
      result = std::move(sup.error());
      std::this_thread::sleep_for(retry_pause);
      continue;
    }
    bool sent = false;
    result = ask(sys_, *sup, msg, deadline, wait, sent);
    if (result)
      return result;
    auto why = fault_of(result.error());
    if (why == fault::none)
      return result;
    if (how == repeat::change && sent && why != fault::refused)
      return result; // it may have acted: asking another member could act twice
    move_on();
  }
  return result;
}

caf::expected<caf::actor> client::member_sup(clock_type::time_point deadline) {
  if (sup_ && !actor::is_gone(sup_))
    return sup_;
  sup_ = nullptr;
  member_.clear();
  caf::error err = caf::make_error(caf::sec::cannot_connect_to_node,
                                   "no endpoint to reach ring supervisor " + name_);
  caf::error unknown; // a member that answered has no such ring supervisor
  for (size_t tried = 0; tried < endpoints_.size(); ++tried, ++next_) {
    auto left = deadline - clock_type::now();
    if (left <= caf::timespan{0})
      break;
    auto timeout = std::min<caf::timespan>(left, attempt_timeout);
    auto& endpoint = endpoints_[next_ % endpoints_.size()];
    auto dir = actor::remote_directory(sys_, endpoint, timeout);
    if (!dir) {
      err = caf::make_error(caf::sec::cannot_connect_to_node,
                            "cannot reach " + endpoint + ": " + actor::render(dir.error()));
      continue;
    }
    auto sup = blocking_request<caf::actor>(sys_, *dir, timeout, caf::get_atom::value,
                                            ring_supervisor_name(name_));
    if (!sup) {
      if (sup.error() == actor::errc::not_registered)
        unknown = std::move(sup.error());
      else
        err = caf::make_error(caf::sec::cannot_connect_to_node,
                              "cannot reach " + endpoint + ": " + actor::render(sup.error()));
      continue;
    }
    sup_ = std::move(*sup);
    member_ = endpoint;
    reached_ = true;
    if (!learned_)
      learn(sup_, timeout);
    return sup_;
  }
  return unknown ? unknown : err;
}

void client::move_on() {
  sup_ = nullptr;
  member_.clear();
  ++next_;
}

void client::learn(const caf::actor& sup, caf::timespan timeout) {
  auto known = blocking_request<std::vector<std::string>>(sys_, sup, timeout,
                                                          ring_endpoints_atom::value);
  if (!known)
    return;
  learned_ = true;
  for (auto& endpoint : *known)
    if (std::find(endpoints_.begin(), endpoints_.end(), endpoint) == endpoints_.end())
      endpoints_.push_back(endpoint);
}

} // namespace ringvisor::supervision::ring
