#include "ringvisor/cluster/calls.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "call_worker.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/errc.hpp"

namespace ringvisor::cluster {

std::optional<caf::message> untyped_reply(const caf::error& err) {
  if (err == caf::sec::unexpected_response)
    return err.context();
  return std::nullopt;
}

namespace detail {

namespace {

struct worker_state {
  std::vector<call_target> targets;
  std::vector<node_reply> replies;
  std::vector<bool> settled;
  size_t open = 0;
  caf::response_promise rp;
  static inline const char* name = "ringvisor.call_worker";
};

using worker_actor = caf::stateful_actor<worker_state>;

void settle(worker_actor* self, size_t i, caf::message reply, caf::error err) {
  auto& st = self->state;
  if (st.settled[i])
    return;
  st.settled[i] = true;
  st.replies[i].reply = std::move(reply);
  st.replies[i].error = std::move(err);
  if (--st.open == 0) {
    st.rp.deliver(std::move(st.replies));
    self->quit();
  }
}

void settle_error(worker_actor* self, size_t i, caf::error err) {
  if (auto reply = untyped_reply(err))
    settle(self, i, std::move(*reply), {});
  else
    settle(self, i, {}, std::move(err));
}

caf::behavior call_worker(worker_actor* self, std::vector<call_target> targets,
                          std::string name, caf::message msg,
                          caf::timespan timeout) {
  auto& st = self->state;
  st.targets = std::move(targets);
  st.open = st.targets.size();
  st.settled.assign(st.open, false);
  for (auto& t : st.targets)
    st.replies.push_back(node_reply{t.node, {}, {}});
  // A dropped link downs the remote directory's proxy: fail its call now.
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& ts = self->state.targets;
    for (size_t i = 0; i < ts.size(); ++i)
      if (ts[i].directory.address() == dm.source)
        settle(self, i, {}, make_error(errc::member_down, ts[i].node));
  });
  return {
    [self, name, msg, timeout](go_atom) -> caf::result<std::vector<node_reply>> {
      auto& state = self->state;
      state.rp = self->make_response_promise();
      if (state.targets.empty()) {
        state.rp.deliver(std::vector<node_reply>{});
        self->quit();
        return state.rp;
      }
      for (size_t i = 0; i < state.targets.size(); ++i) {
        auto& dir = state.targets[i].directory;
        if (!dir) {
          settle(self, i, {}, make_error(errc::member_unreachable, state.targets[i].node));
          continue;
        }
        self->monitor(dir);
        self->request(dir, timeout, actor::forward_atom::value, name, msg)
          .then([self, i](caf::error& err) { settle_error(self, i, std::move(err)); });
      }
      return state.rp;
    },
  };
}

} // namespace

caf::actor spawn_call_worker(caf::actor_system& sys, std::vector<call_target> targets,
                             std::string name, caf::message msg,
                             caf::timespan timeout) {
  return sys.spawn(call_worker, std::move(targets), std::move(name),
                   std::move(msg), timeout);
}

} // namespace detail

caf::expected<std::vector<node_reply>>
multicall(caf::actor_system& sys, const caf::actor& agent, const std::string& name,
          caf::message msg, caf::timespan timeout) {
  caf::expected<std::vector<node_reply>> result{std::vector<node_reply>{}};
  caf::scoped_actor self{sys};
  // The agent's own answer is bounded by `timeout`; allow for the hops.
  self->request(agent, timeout + std::chrono::seconds{1}, multicall_atom::value,
                name, std::move(msg), timeout)
    .receive([&](std::vector<node_reply>& xs) { result = std::move(xs); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<caf::message> call(caf::actor_system& sys, const caf::actor& agent,
                                 const std::string& node, const std::string& name,
                                 caf::message msg, caf::timespan timeout) {
  // The agent's own answer is bounded by `timeout`; allow for the hops.
  return request_any(sys, agent,
                     caf::make_message(call_atom::value, node, name, std::move(msg), timeout),
                     timeout + std::chrono::seconds{1});
}

void multicast(const caf::actor& agent, const std::string& name, caf::message msg) {
  caf::anon_send(agent, multicast_atom::value, name, std::move(msg));
}

caf::expected<caf::message> request_any(caf::actor_system& sys, const caf::actor& dest,
                                        caf::message msg, caf::timespan timeout) {
  caf::expected<caf::message> result{caf::sec::request_timeout};
  caf::scoped_actor self{sys};
  auto [on_ok, on_other] = any_reply([&](caf::message reply) { result = std::move(reply); },
                                     [&](caf::error err) { result = std::move(err); });
  self->request(dest, timeout, std::move(msg)).receive(on_ok, on_other);
  return result;
}

caf::error stop_member(caf::actor_system& sys, const caf::actor& agent,
                       const std::string& name, caf::timespan timeout) {
  auto view = actor::blocking_request<std::vector<member>>(sys, agent, timeout,
                                                           caf::get_atom::value,
                                                           members_atom::value);
  if (!view)
    return std::move(view.error());
  auto m = std::find_if(view->begin(), view->end(), [&](const member& x) {
    return x.name == name && x.status == member_status::up;
  });
  if (m == view->end())
    return make_error(errc::not_member, name);
  auto dir = actor::remote_directory(sys, m->endpoint, timeout);
  if (!dir)
    return std::move(dir.error());
  auto ok = actor::blocking_request<caf::ok_atom>(sys, *dir, timeout, actor::stop_atom::value);
  return ok ? caf::none : std::move(ok.error());
}

std::string to_string(errc x) {
  switch (x) {
    case errc::member_down:
      return "member_down";
    case errc::member_unreachable:
      return "member_unreachable";
    case errc::not_member:
      return "not_member";
    case errc::empty_ring:
      return "empty_ring";
    case errc::no_leader:
      return "no_leader";
    case errc::name_conflict:
      return "name_conflict";
    case errc::split_off:
      return "split_off";
    case errc::not_ready:
      return "not_ready";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

} // namespace ringvisor::cluster
