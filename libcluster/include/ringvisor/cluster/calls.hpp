#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

/// Calls to actors registered by name in the node directories of the
/// members (Cloister's multicall). Each request goes to the member's
/// directory, which hands it to the named actor, so the reply takes one hop.
/// A request to a member that goes down while it is in flight fails at once
/// with `errc::member_down`, not after its timeout (CAF alone would wait).
///
/// Agent messages (send them to `start_agent`'s handle):
/// - `(multicall_atom, std::string name, caf::message msg, caf::timespan
///   timeout)` -> `std::vector<node_reply>`, one per up member, by name;
/// - `(call_atom, std::string node, std::string name, caf::message msg,
///   caf::timespan timeout)` -> the named actor's reply on `node`;
/// - `(multicast_atom, std::string name, caf::message msg)`: one-way to the
///   named actor on every up member.
///
/// Example:
/// ```
/// auto replies = cluster::multicall(sys, agent, "stats", caf::make_message(get), 1s);
/// for (auto& r : *replies)
///   if (r.error) std::cerr << r.node << ": " << actor::render(r.error) << '\n';
/// ```
using multicall_atom = caf::atom_constant<caf::atom("rv_mcall")>;
using multicast_atom = caf::atom_constant<caf::atom("rv_mcast")>;
using call_atom = caf::atom_constant<caf::atom("rv_call")>;

/// One member's answer to a multicall: its reply, or why there is none.
struct node_reply {
  std::string node;
  caf::message reply;
  caf::error error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_reply& x) {
  return f(caf::meta::type_name("ringvisor::node_reply"), x.node, x.reply,
           x.error);
}

/// Asks the actor named `name` on every up member, waiting at most
/// `timeout` for all of them. Fails only if the agent does not answer.
RINGVISOR_CLUSTER_EXPORT caf::expected<std::vector<node_reply>>
multicall(caf::actor_system& sys, const caf::actor& agent,
          const std::string& name, caf::message msg, caf::timespan timeout);

/// Asks the actor named `name` on member `node`.
RINGVISOR_CLUSTER_EXPORT caf::expected<caf::message>
call(caf::actor_system& sys, const caf::actor& agent, const std::string& node,
     const std::string& name, caf::message msg, caf::timespan timeout);

/// Returns the reply inside `err` if `err` carries one. CAF 0.17 has no
/// handler for "any reply": a request whose reply matches none of the
/// handlers gets `sec::unexpected_response` with the reply as the error's
/// context. Take replies of unknown type (from `call_atom` requests to the
/// agent) with an error handler and this function.
RINGVISOR_CLUSTER_EXPORT std::optional<caf::message>
untyped_reply(const caf::error& err);

/// Returns the two handlers of a request whose reply may have any type:
/// `f(caf::message)` gets the reply (`ok` too), `g(caf::error)` a real
/// error (see `untyped_reply`).
///
/// Example:
/// ```
/// auto [on_ok, on_other] = cluster::any_reply(f, g);
/// self->request(dest, timeout, msg).then(on_ok, on_other);
/// ```
template <class F, class G>
auto any_reply(F f, G g) {
  auto on_ok = [f](caf::ok_atom) mutable { f(caf::make_message(caf::ok_atom::value)); };
  auto on_other = [f, g](caf::error& err) mutable {
    if (auto reply = untyped_reply(err))
      f(std::move(*reply));
    else
      g(std::move(err));
  };
  return std::make_pair(std::move(on_ok), std::move(on_other));
}

/// Asks the up member `name` to stop in order (its agent leaves, its ring
/// supervisors hand their children off), through its node directory.
/// Returns once it accepted; `errc::not_member` if no up member has that name.
RINGVISOR_CLUSTER_EXPORT caf::error stop_member(caf::actor_system& sys, const caf::actor& agent,
                                                const std::string& name, caf::timespan timeout);

/// Asks `dest` (any actor, local or remote) from outside the actor system
/// and returns its reply, whatever its type, or the error.
RINGVISOR_CLUSTER_EXPORT caf::expected<caf::message>
request_any(caf::actor_system& sys, const caf::actor& dest, caf::message msg,
            caf::timespan timeout);

/// Sends `msg` to the actor named `name` on every up member; replies are
/// dropped.
RINGVISOR_CLUSTER_EXPORT void multicast(const caf::actor& agent,
                                        const std::string& name,
                                        caf::message msg);

} // namespace ringvisor::cluster
