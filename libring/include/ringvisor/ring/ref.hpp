#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/ring/export.hpp"
#include "ringvisor/ring/info.hpp"
#include "ringvisor/supervision/child_spec.hpp"
#include "ringvisor/supervision/supervisor.hpp"

namespace ringvisor::ring {

namespace detail {

using reply_fn = std::function<void(caf::message&)>;
using error_fn = std::function<void(caf::error&)>;

// The requests behind `ref` (their atoms, request ids and hop counts are
// the protocol's business, in libring).
RINGVISOR_RING_EXPORT caf::message start_message(supervision::child_spec spec);
RINGVISOR_RING_EXPORT caf::message delete_message(const std::string& id);
RINGVISOR_RING_EXPORT caf::message terminate_message(const std::string& id);
RINGVISOR_RING_EXPORT caf::message restart_message(const std::string& id);
RINGVISOR_RING_EXPORT caf::message pin_message(const std::string& id, const std::string& member);
RINGVISOR_RING_EXPORT caf::message find_message(const std::string& id);
RINGVISOR_RING_EXPORT caf::message call_message(const std::string& id, caf::message msg);
RINGVISOR_RING_EXPORT caf::message exec_message(const std::string& id, const std::string& function,
                                                caf::message args);
RINGVISOR_RING_EXPORT caf::message stats_message();

/// Asks `sup` from a thread outside the actor system; a routed request
/// waits out a moving child until `timeout`.
RINGVISOR_RING_EXPORT caf::expected<caf::message> ask(caf::actor_system& sys, const caf::actor& sup,
                                                      const caf::message& msg,
                                                      caf::timespan timeout, bool routed);

/// Asks `sup` from the actor `self` without blocking it; `f` or `g` runs in
/// `self`'s context.
RINGVISOR_RING_EXPORT void ask(caf::event_based_actor* self, const caf::actor& sup,
                               caf::message msg, caf::timespan timeout, bool routed, reply_fn f,
                               error_fn g);

/// Returns the reply as `R`; `unexpected_response` if it is not one `R`.
template <class R>
caf::expected<R> reply_as(caf::message& reply) {
  if constexpr (std::is_same_v<R, caf::message>) {
    return std::move(reply);
  } else {
    if (!reply.match_elements<R>())
      return caf::make_error(caf::sec::unexpected_response, reply);
    return std::move(reply.get_mutable_as<R>(0));
  }
}

template <class R>
caf::expected<R> reply_as(caf::expected<caf::message> reply) {
  if (!reply)
    return std::move(reply.error());
  return reply_as<R>(*reply);
}

} // namespace detail

/// A request made from an actor, waiting for its continuation: call
/// `then(on_reply, on_error)` once (nothing is sent before). `on_reply`
/// takes an `R` (or `R&`), `on_error` a `caf::error&`; exactly one of them
/// runs, later, in the actor's own context.
template <class R>
class [[nodiscard]] pending_reply {
public:
  pending_reply(caf::event_based_actor* self, caf::actor sup, caf::message msg,
                caf::timespan timeout, bool routed)
    : self_(self), sup_(std::move(sup)), msg_(std::move(msg)), timeout_(timeout), routed_(routed) {
    // nop
  }

  /// Sends the request; `on_reply(R)` gets the reply, `on_error(caf::error&)`
  /// a failure (a reply that is not one `R` is `sec::unexpected_response`).
  template <class OnReply, class OnError>
  void then(OnReply on_reply, OnError on_error) && {
    auto g = std::make_shared<OnError>(std::move(on_error));
    detail::ask(
      self_, sup_, std::move(msg_), timeout_, routed_,
      [f = std::move(on_reply), g](caf::message& reply) mutable {
        auto x = detail::reply_as<R>(reply);
        if (x)
          f(*x);
        else
          (*g)(x.error());
      },
      [g](caf::error& err) { (*g)(err); });
  }

private:
  caf::event_based_actor* self_;
  caf::actor sup_;
  caf::message msg_;
  caf::timespan timeout_;
  bool routed_;
};

/// A handle to a ring supervisor, in the spirit of Akka's `EntityRef`: it
/// reaches each child by id, wherever in the cluster the child runs, from a
/// plain thread (the functions that return a result block) or from an actor
/// (those that take `self` return a `pending_reply` that goes on with
/// `.then`, and never block the actor's thread). `ring::start_supervisor`
/// and `ring::lookup` give one; a copy is cheap.
///
/// Calls and execs are routed to the child's owner and retried across moves
/// and failovers under one request id until the handle's timeout, so the
/// child handles each message at most once; changes (start, delete,
/// terminate, restart) are asked once, and a change that fails with
/// `request_receiver_down` (an owner lost on the way) may have been made:
/// ask `find`. Every request waits while this handle's node is not up in a
/// cluster yet (it acts on nothing before).
///
/// Example:
/// ```
/// auto counters = ring::lookup(node, "counters");            // from main
/// auto n = counters->call<int64_t>("c42", inc_atom::value);  // caf::expected<int64_t>
///
/// // from an actor:
/// counters->call<int64_t>(self, "c42", inc_atom::value)
///   .then([=](int64_t n) { ... }, [=](caf::error& err) { ... });
/// ```
class RINGVISOR_RING_EXPORT ref {
public:
  /// A handle that reaches nothing (its requests fail).
  ref() = default;

  /// A handle to the ring supervisor `sup` (this node's part, or another
  /// node's from its directory) in `sys`.
  ref(caf::actor_system& sys, caf::actor sup);

  /// Returns a copy whose requests wait at most `timeout` (default: 5 s).
  [[nodiscard]] ref within(caf::timespan timeout) const;

  /// Returns how long a request waits at most.
  caf::timespan timeout() const noexcept {
    return timeout_;
  }

  /// Returns the ring supervisor's actor (to monitor or link to it).
  const caf::actor& handle() const noexcept {
    return sup_;
  }

  // -- from a plain thread (blocking) ----------------------------------------

  /// Sends `(xs...)` to the child `id` and returns its reply as `R` (use
  /// `caf::message` for a reply of several elements); a reply of another
  /// type is `sec::unexpected_response`.
  template <class R, class... Ts>
  caf::expected<R> call(const std::string& id, Ts&&... xs) const {
    return detail::reply_as<R>(
      ask(detail::call_message(id, caf::make_message(std::forward<Ts>(xs)...)), true));
  }

  /// Runs the spec's function `function` on the node that owns `id`, with
  /// the child's handle and `args`, and returns its result as `R`.
  template <class R, class... Ts>
  caf::expected<R> exec(const std::string& id, const std::string& function, Ts&&... args) const {
    return detail::reply_as<R>(
      ask(detail::exec_message(id, function, caf::make_message(std::forward<Ts>(args)...)), true));
  }

  /// Returns where the child `id` runs, asking its owner; waits while it moves.
  caf::expected<placement> find(const std::string& id) const;

  /// Stores `spec` (in the first matching store, if any); then its owner
  /// records it on a majority of its replicas and starts it. Returns where
  /// it runs. Fails with `already_present` if the id is taken, and with
  /// `store_failed` if fewer than a majority of the replicas answered (the
  /// child may exist then: ask `find`).
  caf::expected<placement> start_child(supervision::child_spec spec) const;

  /// As `start_child(spec)` for the spec with `id`, `type` and the
  /// factory's arguments `args` (the other fields as a default spec has them).
  template <class... Ts>
  caf::expected<placement> start_child(std::string id, std::string type, Ts&&... args) const {
    supervision::child_spec spec;
    spec.id = std::move(id);
    spec.type = std::move(type);
    spec.args = caf::make_message(std::forward<Ts>(args)...);
    return start_child(std::move(spec));
  }

  /// Stops the child `id` wherever it runs and replaces its record with a
  /// tombstone on a majority of its replicas (and deletes it from its store).
  caf::error delete_child(const std::string& id) const;

  /// Stops the child `id`, keeping its spec: it stays stopped, wherever it
  /// would move, until restarted.
  caf::error terminate_child(const std::string& id) const;

  /// Starts the terminated child `id` again on its owner.
  caf::expected<placement> restart_child(const std::string& id) const;

  /// Moves the child `id` to `member` (with its state, as a ring change
  /// would) and keeps it there while `member` is on the ring; meanwhile it
  /// runs on its ring owner and comes back when `member` does. An empty
  /// `member` gives it back to its ring owner. Done once a majority of its
  /// replicas recorded the pin; the move follows. Fails with
  /// `cluster::errc::not_member` if `member` is not on the ring.
  caf::error pin_child(const std::string& id, const std::string& member) const;

  /// Lists every child of the cluster, sorted by id: each member reports
  /// those it runs and those it owns that run nowhere (terminated, or not
  /// started yet). The children of a member that does not answer in time
  /// are missing.
  caf::expected<std::vector<ring_child>> which_children() const;

  /// Counts the children of the cluster (`specs`: known, `active`: running).
  caf::expected<supervision::child_counts> count_children() const;

  /// Lists the children running on this handle's node, sorted by id.
  caf::expected<std::vector<ring_child>> local_children() const;

  /// Returns how many children run on each up member: cheap enough to poll.
  caf::expected<std::vector<node_count>> running_per_node() const;

  /// Returns what this handle's node did (see `ring_stats`).
  caf::expected<ring_stats> stats() const;

  /// Returns the records this handle's node keeps (tombstones too), sorted
  /// by id: to check where records live, and that replicas agree.
  caf::expected<std::vector<ring_record>> records() const;

  // -- from an actor (continues with .then) ----------------------------------

  /// As the blocking `call`, from the actor `self`.
  template <class R, class... Ts>
  pending_reply<R> call(caf::event_based_actor* self, const std::string& id, Ts&&... xs) const {
    return {self, sup_, detail::call_message(id, caf::make_message(std::forward<Ts>(xs)...)),
            timeout_, true};
  }

  /// As the blocking `exec`, from the actor `self`.
  template <class R, class... Ts>
  pending_reply<R> exec(caf::event_based_actor* self, const std::string& id,
                        const std::string& function, Ts&&... args) const {
    return {self, sup_,
            detail::exec_message(id, function, caf::make_message(std::forward<Ts>(args)...)),
            timeout_, true};
  }

  /// As the blocking `find`, from the actor `self`.
  pending_reply<placement> find(caf::event_based_actor* self, const std::string& id) const {
    return {self, sup_, detail::find_message(id), timeout_, true};
  }

  /// As the blocking `start_child`, from the actor `self`.
  pending_reply<placement> start_child(caf::event_based_actor* self,
                                       supervision::child_spec spec) const {
    return {self, sup_, detail::start_message(std::move(spec)), timeout_, false};
  }

  /// As the blocking `delete_child`, from the actor `self` (replies `ok`).
  pending_reply<caf::ok_atom> delete_child(caf::event_based_actor* self,
                                           const std::string& id) const {
    return {self, sup_, detail::delete_message(id), timeout_, false};
  }

  /// As the blocking `stats`, from the actor `self`.
  pending_reply<ring_stats> stats(caf::event_based_actor* self) const {
    return {self, sup_, detail::stats_message(), timeout_, false};
  }

private:
  caf::expected<caf::message> ask(const caf::message& msg, bool routed) const;

  caf::actor_system* sys_ = nullptr;
  caf::actor sup_;
  caf::timespan timeout_ = supervision::default_call_timeout;
};

} // namespace ringvisor::ring
