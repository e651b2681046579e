// `ring::client`: asks one member's ring supervisor, and another member
// when that one fails.

#include "ringvisor/ring/client.hpp"

#include <algorithm>
#include <thread>

#include "asking.hpp"
#include "protocol.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

namespace {

using actor::blocking_request;

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

/// How asking one member may end without an answer.
enum class fault {
  none,    // an answer (or an error no other member would change)
  gone,    // the member died or restarted, or cannot be reached
  refused, // split off, no lease, or not up yet: it did not act
  silent,  // no answer within an attempt
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

} // namespace

// -- ring::client ---------------------------------------------------------------

client::client(caf::actor_system& sys, std::string name, std::vector<std::string> endpoints)
  : sys_(sys), name_(std::move(name)), endpoints_(std::move(endpoints)) {
  // nop
}

caf::expected<placement> client::start_child(child_spec spec, caf::timespan timeout) {
  return as<placement>(request(detail::start_message(std::move(spec)), timeout, repeat::change),
                       "start_child");
}

caf::error client::delete_child(const std::string& id, caf::timespan timeout) {
  return as_ok(request(detail::delete_message(id), timeout, repeat::change));
}

caf::error client::terminate_child(const std::string& id, caf::timespan timeout) {
  return as_ok(request(detail::terminate_message(id), timeout, repeat::change));
}

caf::expected<placement> client::restart_child(const std::string& id, caf::timespan timeout) {
  return as<placement>(request(detail::restart_message(id), timeout, repeat::change),
                       "restart_child");
}

caf::error client::pin_child(const std::string& id, const std::string& member,
                             caf::timespan timeout) {
  return as_ok(request(detail::pin_message(id, member), timeout, repeat::change));
}

caf::expected<placement> client::find(const std::string& id, caf::timespan timeout) {
  return as<placement>(request(detail::find_message(id), timeout, repeat::routed), "find");
}

caf::expected<caf::message> client::call(const std::string& id, caf::message msg,
                                         caf::timespan timeout) {
  return request(detail::call_message(id, std::move(msg)), timeout, repeat::routed);
}

caf::expected<caf::message> client::exec(const std::string& id, const std::string& function,
                                         caf::message args, caf::timespan timeout) {
  return request(detail::exec_message(id, function, std::move(args)), timeout, repeat::routed);
}

caf::expected<std::vector<ring_child>> client::which_children(caf::timespan timeout) {
  return as<std::vector<ring_child>>(
    request(caf::make_message(ring_which_atom::value), timeout, repeat::read), "which_children");
}

caf::expected<child_counts> client::count_children(caf::timespan timeout) {
  auto all = which_children(timeout);
  if (!all)
    return std::move(all.error());
  return counts_of(*all);
}

caf::expected<caf::message> client::request(const caf::message& msg, caf::timespan timeout,
                                            repeat how) {
  auto deadline = clock_type::now() + timeout;
  // A routed request waits out a child that moves; a member silent for a
  // second is left for the next. A change is sent once and given the whole
  // deadline (a store's fsync may take seconds), since a silent member may
  // have acted.
  patience wait{how == repeat::routed, false,
                how == repeat::change ? caf::timespan{timeout} : caf::timespan{attempt_timeout},
                false, how != repeat::change};
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
    result = ask_member(sys_, *sup, msg, deadline, wait, sent);
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
                                            directory_name(name_));
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
  auto known =
    blocking_request<std::vector<std::string>>(sys_, sup, timeout, ring_endpoints_atom::value);
  if (!known)
    return;
  learned_ = true;
  for (auto& endpoint : *known)
    if (std::find(endpoints_.begin(), endpoints_.end(), endpoint) == endpoints_.end())
      endpoints_.push_back(endpoint);
}

} // namespace ringvisor::ring
