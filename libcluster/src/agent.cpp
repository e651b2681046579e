#include "ringvisor/cluster/agent.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/cluster/membership.hpp"

namespace ringvisor::cluster {

namespace {

using gossip_atom = caf::atom_constant<caf::atom("rv_gossip")>;
using hello_atom = caf::atom_constant<caf::atom("rv_hello")>;
using retry_atom = caf::atom_constant<caf::atom("rv_retry")>;
// A leaving member's last view; unlike gossip (one-way: CAF 0.17 sends a
// handler's result back even for plain sends), it is acknowledged.
using goodbye_atom = caf::atom_constant<caf::atom("rv_goodbye")>;

constexpr auto connect_timeout = std::chrono::seconds{2};
constexpr auto leave_ack_timeout = std::chrono::seconds{1};

struct agent_state {
  member self;
  std::vector<std::string> seeds;
  caf::timespan retry{0};
  membership view;
  std::map<std::string, caf::actor> peers; // member name -> its agent
  std::set<std::string> connecting;        // endpoints with a connect in flight
  std::vector<caf::actor> greeted;         // agents we said hello to
  std::vector<caf::actor> listeners;
  size_t consensus = 1;
  cluster_status status = cluster_status::starting;
  std::vector<caf::response_promise> awaiting_up;
  static inline const char* name = "ringvisor.cluster_agent";
};

using agent_actor = caf::stateful_actor<agent_state>;

class agent_impl {
public:
  explicit agent_impl(agent_actor* self) : self_(self), st_(self->state) {
    // nop
  }

  // Applies `members`; on a change tells listeners and peers and links up.
  void merge(const std::vector<member>& members) {
    if (!st_.view.merge(members))
      return;
    refute();
    changed();
  }

  // Others declared us down (we were hung, or cut off) while we live: come
  // back as a new incarnation, which every view takes over the old one.
  void refute() {
    auto mine = st_.view.find(st_.self.name);
    if (!mine || st_.status == cluster_status::stopping
        || (mine->incarnation == st_.self.incarnation
            && mine->status == member_status::up))
      return;
    auto old = st_.self.incarnation;
    st_.self.incarnation = std::max(mine->incarnation, old) + 1;
    st_.self.status = member_status::up;
    st_.view.update(st_.self);
    log::warn("cluster_rejoin", {{"was", to_string(mine->status)},
                                 {"old_incarnation", fmt::format("{:016x}", old)},
                                 {"incarnation", fmt::format("{:016x}", st_.self.incarnation)}});
  }

  void changed() {
    auto members = st_.view.members();
    auto up = st_.view.up_members().size();
    log::info("cluster_view", {{"members", members.size()},
                               {"up", up},
                               {"digest", fmt::format("{:016x}", st_.view.digest())}});
    for (auto& l : st_.listeners)
      self_->send(l, view_atom::value, members);
    for (auto& [name, peer] : st_.peers)
      self_->send(peer, gossip_atom::value, members);
    if (st_.status != cluster_status::stopping)
      set_status(up >= st_.consensus ? cluster_status::up
                                     : cluster_status::starting);
    connect_missing();
  }

  void set_status(cluster_status now) {
    auto before = st_.status;
    if (now == before)
      return;
    st_.status = now;
    log::info("cluster_status", {{"from", to_string(before)}, {"to", to_string(now)},
                                 {"up", st_.view.up_members().size()},
                                 {"consensus", st_.consensus}});
    auto members = st_.view.members();
    for (auto& l : st_.listeners)
      self_->send(l, status_atom::value, before, now, members);
    if (now == cluster_status::up) {
      for (auto& rp : st_.awaiting_up)
        rp.deliver(caf::ok_atom::value);
      st_.awaiting_up.clear();
    }
  }

  // An orderly shutdown: tell the peers we left and wait for their acks (a
  // process that exits right away would cut its connections before the
  // news went out), then go.
  void leave(caf::error reason) {
    if (st_.status == cluster_status::stopping)
      return;
    set_status(cluster_status::stopping);
    auto me = st_.self;
    me.status = member_status::removed;
    st_.view.update(me);
    auto members = st_.view.members();
    // Everyone we greeted, linked or not yet: a peer that has not answered
    // our hello may already count us as a member.
    auto pending = std::make_shared<size_t>(st_.greeted.size());
    auto one_done = [this, pending, reason] {
      if (--*pending == 0)
        finish_leave(reason);
    };
    if (*pending == 0)
      return finish_leave(reason);
    for (auto& peer : st_.greeted)
      self_->request(peer, leave_ack_timeout, goodbye_atom::value, members)
        .then([one_done](caf::ok_atom) { one_done(); },
              [one_done](const caf::error&) { one_done(); });
  }

  void finish_leave(const caf::error& reason) {
    log::info("cluster_left", {{"told", st_.greeted.size()}});
    self_->quit(reason);
  }

  // Links to every live member we have no link to, and to the seeds while
  // we know nobody else.
  void connect_missing() {
    for (auto& m : st_.view.members())
      if (m.name != st_.self.name && m.status <= member_status::up
          && st_.peers.count(m.name) == 0)
        connect(m.endpoint);
    if (st_.peers.empty())
      for (auto& seed : st_.seeds)
        if (seed != st_.self.endpoint)
          connect(seed);
  }

  // Connects to `endpoint` without blocking: the middleman hands us the
  // peer's node directory, which names its agent.
  void connect(const std::string& endpoint) {
    if (!st_.connecting.insert(endpoint).second)
      return;
    auto colon = endpoint.rfind(':');
    auto host = endpoint.substr(0, colon);
    auto port = static_cast<uint16_t>(std::stoul(endpoint.substr(colon + 1)));
    auto mm = self_->system().middleman().actor_handle();
    auto done = [this, endpoint] { st_.connecting.erase(endpoint); };
    auto failed = [this, endpoint, done](const caf::error& err) {
      done();
      log::debug("cluster_connect_failed",
                 {{"endpoint", endpoint}, {"reason", actor::render(err)}});
    };
    self_->request(mm, connect_timeout, caf::connect_atom::value, host, port)
      .then(
        [this, done, failed](const caf::node_id&, caf::strong_actor_ptr& ptr,
                             const std::set<std::string>&) {
          auto dir = caf::actor_cast<caf::actor>(ptr);
          if (!dir)
            return failed(actor::make_error(actor::errc::not_registered,
                                            "no directory at the endpoint"));
          self_->request(dir, connect_timeout, caf::get_atom::value,
                         std::string{"cluster"})
            .then(
              [this, done](const caf::actor& peer) {
                done();
                greet(peer);
              },
              failed);
        },
        failed);
  }

  // Says hello, and remembers to say goodbye even if no answer came yet.
  void greet(const caf::actor& peer) {
    if (std::find(st_.greeted.begin(), st_.greeted.end(), peer)
        == st_.greeted.end())
      st_.greeted.push_back(peer);
    self_->send(peer, hello_atom::value, st_.self);
  }

  // A peer introduced itself (or answered our hello).
  void on_hello(const member& who, const caf::actor& peer) {
    if (who.name == st_.self.name || !peer)
      return;
    auto& slot = st_.peers[who.name];
    bool is_new = slot != peer;
    if (is_new) {
      if (slot)
        self_->demonitor(slot);
      slot = peer;
      self_->monitor(peer);
      log::info("cluster_peer_linked", {{"peer", who.name}, {"endpoint", who.endpoint}});
      greet(peer);
    }
    self_->send(peer, gossip_atom::value, st_.view.members());
    if (!st_.view.update(who)) {
      if (is_new)
        connect_missing();
      return;
    }
    changed();
  }

  // The link to a peer's agent dropped: its process died or is unreachable.
  void on_down(const caf::down_msg& dm) {
    auto& greeted = st_.greeted;
    greeted.erase(std::remove_if(greeted.begin(), greeted.end(),
                                 [&](const caf::actor& x) {
                                   return x.address() == dm.source;
                                 }),
                  greeted.end());
    for (auto i = st_.peers.begin(); i != st_.peers.end(); ++i) {
      if (i->second.address() != dm.source)
        continue;
      auto name = i->first;
      st_.peers.erase(i);
      auto m = st_.view.find(name);
      log::info("cluster_peer_down", {{"peer", name}, {"reason", actor::render(dm.reason)}});
      if (m && m->status < member_status::down) {
        m->status = member_status::down;
        st_.view.update(*m);
        changed();
      }
      return;
    }
  }

private:
  agent_actor* self_;
  agent_state& st_;
};

caf::behavior agent(agent_actor* self, member me, std::vector<std::string> seeds,
                    size_t consensus, caf::timespan retry) {
  auto impl = std::make_shared<agent_impl>(self);
  self->state.self = me;
  self->state.seeds = std::move(seeds);
  self->state.retry = retry;
  self->state.consensus = consensus;
  self->state.view.update(me);
  self->set_down_handler([impl](caf::down_msg& dm) { impl->on_down(dm); });
  self->set_exit_handler([impl](caf::exit_msg& em) {
    if (em.reason)
      impl->leave(std::move(em.reason));
  });
  impl->changed();
  self->send(self, retry_atom::value);
  return {
    [self, impl](retry_atom) {
      impl->connect_missing();
      self->delayed_send(self, self->state.retry, retry_atom::value);
    },
    [self, impl](hello_atom, const member& who) {
      impl->on_hello(who, caf::actor_cast<caf::actor>(self->current_sender()));
    },
    [impl](gossip_atom, const std::vector<member>& members) {
      impl->merge(members);
    },
    [impl](goodbye_atom, const std::vector<member>& members) {
      impl->merge(members);
      return caf::ok_atom::value;
    },
    [self](caf::get_atom, members_atom) { return self->state.view.members(); },
    [self](caf::get_atom, status_atom) { return self->state.status; },
    [self](await_up_atom) -> caf::result<caf::ok_atom> {
      if (self->state.status == cluster_status::up)
        return caf::ok_atom::value;
      auto rp = self->make_response_promise<caf::ok_atom>();
      self->state.awaiting_up.push_back(rp);
      return rp;
    },
    [self](subscribe_atom, const caf::actor& listener) {
      self->state.listeners.push_back(listener);
      self->send(listener, view_atom::value, self->state.view.members());
      self->send(listener, status_atom::value, self->state.status,
                 self->state.status, self->state.view.members());
    },
  };
}

} // namespace

caf::actor start_agent(actor::node& node, caf::timespan retry) {
  auto& id = node.identity();
  member me{id.name, id.incarnation, id.endpoint(), member_status::up};
  auto hdl = node.system().spawn(agent, me, node.config().seeds,
                                 node.config().consensus, retry);
  caf::anon_send(node.directory(), caf::put_atom::value, std::string{"cluster"},
                 hdl);
  node.adopt(hdl);
  return hdl;
}

const char* to_string(cluster_status x) {
  switch (x) {
    case cluster_status::starting:
      return "starting";
    case cluster_status::up:
      return "up";
    case cluster_status::stopping:
      return "stopping";
  }
  return "?";
}

void add_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<cluster_status>("ringvisor::cluster_status");
  cfg.add_message_type<member>("ringvisor::member");
  cfg.add_message_type<std::vector<member>>("ringvisor::member_list");
}

} // namespace ringvisor::cluster
