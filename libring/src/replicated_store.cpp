// The replicated child store: every node holds the whole list, as an
// observed-remove set. Each add is tagged with a unique dot (origin, counter);
// a delete tombstones the dots it saw. Merging is a union of both, so replicas
// that saw the same updates agree, whatever the order. An add or delete is
// acknowledged only when a majority of the up members stored it.

#include <map>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "replicated_store.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/ring/child_store.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "spec_codec.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

namespace {

using store_add_atom = caf::atom_constant<caf::atom("rv_sadd")>;
using store_del_atom = caf::atom_constant<caf::atom("rv_sdel")>;
using store_get_atom = caf::atom_constant<caf::atom("rv_sget")>;
using store_state_atom = caf::atom_constant<caf::atom("rv_sstate")>;
using pull_atom = caf::atom_constant<caf::atom("rv_spull")>;

constexpr auto pull_retry = std::chrono::milliseconds{500};

struct replica_state {
  std::string origin; // this process: node name and incarnation
  uint64_t counter = 0;
  std::map<store_dot, store_entry> live; // by dot
  std::set<store_dot> removed;
  std::set<std::string> pulled; // "name/incarnation" whose state we merged
  std::vector<cluster::member> view;
  caf::actor agent;
  std::string directory_name; // this replica's, on every node
  caf::timespan timeout{0};
  static inline const char* name = "ringvisor.replicated_store";
};

using replica_actor = caf::stateful_actor<replica_state>;

// Applies `entries` and `tombstones`: a tombstoned dot never comes back.
void merge(replica_state& st, const std::vector<store_entry>& entries,
           const std::vector<store_dot>& tombstones) {
  for (auto& d : tombstones)
    if (st.removed.insert(d).second)
      st.live.erase(d);
  for (auto& e : entries) {
    store_dot d{e.origin, e.counter};
    if (st.removed.count(d) == 0)
      st.live.emplace(d, e);
  }
}

std::vector<store_entry> all_entries(const replica_state& st) {
  std::vector<store_entry> result;
  for (auto& [dot, e] : st.live)
    result.push_back(e);
  return result;
}

// Sends `(merge, entries, tombstones)` to every up member's replica and
// delivers ok once a majority stored it.
void replicate(replica_actor* self, std::vector<store_entry> entries,
               std::vector<store_dot> tombstones, caf::response_promise rp,
               std::string what) {
  auto msg = caf::make_message(store_merge_atom::value, std::move(entries),
                               std::move(tombstones));
  self->request(self->state.agent, self->state.timeout + std::chrono::seconds{1},
                cluster::multicall_atom::value, self->state.directory_name, std::move(msg),
                self->state.timeout)
    .then(
      [rp, what](std::vector<cluster::node_reply>& replies) mutable {
        size_t acks = 0;
        for (auto& r : replies)
          acks += r.error ? 0 : 1;
        if (2 * acks > replies.size())
          rp.deliver(caf::ok_atom::value);
        else
          rp.deliver(make_error(errc::store_failed, what,
                                "only " + std::to_string(acks) + " of "
                                  + std::to_string(replies.size())
                                  + " members stored it; retry when a majority is up"));
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

// Merges the state of every up member not pulled from yet (new nodes,
// restarted ones, and all of them when this replica starts), so that
// replicas catch up after joins and heals. A failed pull is retried.
void pull_from_newcomers(replica_actor* self) {
  auto& st = self->state;
  for (auto& m : st.view) {
    auto key = m.name + "/" + std::to_string(m.incarnation);
    if (m.status != cluster::member_status::up || !st.pulled.insert(key).second)
      continue;
    self->request(st.agent, st.timeout + std::chrono::seconds{1}, cluster::call_atom::value,
                  m.name, st.directory_name, caf::make_message(store_state_atom::value),
                  st.timeout)
      .then([](caf::ok_atom) {}, // never: the reply is untyped
            [self, key](caf::error& err) {
              auto reply = cluster::untyped_reply(err);
              if (reply && reply->match_elements<std::vector<store_entry>,
                                                  std::vector<store_dot>>()) {
                merge(self->state, reply->get_as<std::vector<store_entry>>(0),
                      reply->get_as<std::vector<store_dot>>(1));
                return;
              }
              self->state.pulled.erase(key);
              self->delayed_send(self, pull_retry, pull_atom::value);
            });
  }
}

caf::behavior replica(replica_actor* self, std::string origin, caf::actor agent,
                      std::string name, caf::timespan timeout) {
  auto& st = self->state;
  st.origin = std::move(origin);
  st.agent = std::move(agent);
  st.directory_name = std::move(name);
  st.timeout = timeout;
  self->send(st.agent, cluster::subscribe_atom::value, caf::actor{self});
  return {
    [self](store_merge_atom, const std::vector<store_entry>& entries,
           const std::vector<store_dot>& tombstones) {
      merge(self->state, entries, tombstones);
      return caf::ok_atom::value;
    },
    [self](store_add_atom, const std::string& id,
           bytes& spec) -> caf::result<caf::ok_atom> {
      auto& state = self->state;
      for (auto& [dot, e] : state.live)
        if (e.id == id)
          return make_error(errc::already_present, id);
      store_entry entry{id, state.origin, ++state.counter, std::move(spec)};
      merge(state, {entry}, {});
      auto rp = self->make_response_promise();
      replicate(self, {std::move(entry)}, {}, rp, "child " + id);
      return rp;
    },
    [self](store_del_atom, const std::string& id) -> caf::result<caf::ok_atom> {
      auto& state = self->state;
      std::vector<store_dot> dots;
      for (auto& [dot, e] : state.live)
        if (e.id == id)
          dots.push_back(dot);
      if (dots.empty())
        return make_error(errc::not_found, id);
      merge(state, {}, dots);
      auto rp = self->make_response_promise();
      replicate(self, {}, std::move(dots), rp, "deletion of " + id);
      return rp;
    },
    [self](store_get_atom) { return all_entries(self->state); },
    [self](store_state_atom) {
      auto& state = self->state;
      std::vector<store_dot> tombstones{state.removed.begin(), state.removed.end()};
      return caf::make_message(all_entries(state), std::move(tombstones));
    },
    [self](cluster::view_atom, std::vector<cluster::member>& view) {
      self->state.view = std::move(view);
      pull_from_newcomers(self);
    },
    [self](pull_atom) { pull_from_newcomers(self); },
    [](cluster::status_atom, cluster::cluster_status, cluster::cluster_status,
       const std::vector<cluster::member>&) {
      // nop
    },
  };
}

/// The `child_store` face of a replica: blocking calls, one scoped actor each.
class replicated_store final : public child_store {
public:
  replicated_store(caf::actor_system& sys, caf::actor replica,
                   replicated_store_options opts)
    : sys_(sys), replica_(std::move(replica)), opts_(std::move(opts)) {
    // nop
  }

  bool match(const child_spec& spec) const override {
    return !opts_.match || opts_.match(spec);
  }

  caf::error add(const child_spec& spec) override {
    auto blob = encode_spec(sys_, spec);
    if (!blob)
      return std::move(blob.error());
    return ask(caf::make_message(store_add_atom::value, spec.id, std::move(*blob)));
  }

  caf::error del(const std::string& id) override {
    return ask(caf::make_message(store_del_atom::value, id));
  }

  caf::expected<std::vector<child_spec>> get_all() override {
    caf::expected<std::vector<child_spec>> result{std::vector<child_spec>{}};
    caf::scoped_actor self{sys_};
    self->request(replica_, opts_.timeout, store_get_atom::value)
      .receive(
        [&](std::vector<store_entry>& entries) {
          std::map<std::string, child_spec> by_id;
          for (auto& e : entries) {
            auto spec = decode_spec(sys_, e.spec, opts_.name, e.id);
            if (!spec) {
              result = std::move(spec.error());
              return;
            }
            by_id.emplace(e.id, std::move(*spec));
          }
          for (auto& kvp : by_id)
            result->push_back(std::move(kvp.second));
        },
        [&](caf::error& err) { result = std::move(err); });
    return result;
  }

private:
  caf::error ask(caf::message msg) {
    caf::error result;
    caf::scoped_actor self{sys_};
    self->request(replica_, opts_.timeout + std::chrono::seconds{2}, std::move(msg))
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  caf::actor_system& sys_;
  caf::actor replica_;
  replicated_store_options opts_;
};

} // namespace

caf::expected<std::unique_ptr<child_store>> open_replicated_store(actor::node& node,
                                                                  replicated_store_options opts) {
  auto agent = cluster::agent_of(node);
  if (!agent)
    return std::move(agent.error());
  auto& id = node.identity();
  auto origin = id.name + "/" + std::to_string(id.incarnation);
  auto name = "ringvisor.store." + opts.name;
  auto hdl = node.system().spawn(replica, origin, *agent, name, opts.timeout);
  node.adopt(hdl);
  if (auto err = node.register_name(name, hdl, opts.timeout)) {
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return err;
  }
  return std::unique_ptr<child_store>{
    new replicated_store(node.system(), hdl, std::move(opts))};
}

} // namespace ringvisor::ring
