#include "ringvisor/cluster/agent.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "call_worker.hpp"
#include "failure_detector.hpp"
#include "formation.hpp"
#include "lease_registry.hpp"
#include "membership_file.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/actor/wire.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/discovery.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/cluster/membership.hpp"
#include "ringvisor/cluster/registry.hpp"

namespace ringvisor::cluster {

namespace {

// Agent-to-agent messages. Only `announce` is a request: CAF 0.17 sends a
// handler's result back even for plain sends, so one-way handlers return
// nothing.
using gossip_atom = caf::atom_constant<caf::atom("rv_gossip")>;
using seen_atom = caf::atom_constant<caf::atom("rv_seen")>;
using hello_atom = caf::atom_constant<caf::atom("rv_hello")>;
using reject_atom = caf::atom_constant<caf::atom("rv_reject")>;
using unreachable_atom = caf::atom_constant<caf::atom("rv_unreach")>;
using retry_atom = caf::atom_constant<caf::atom("rv_retry")>;
/// `(announce_atom, std::vector<member>) -> ok`: merge this view now (a node
/// left, or changed its services) and say so.
using announce_atom = caf::atom_constant<caf::atom("rv_goodbye")>;
using seeds_atom = caf::atom_constant<caf::atom("rv_seeds")>;
using ping_atom = caf::atom_constant<caf::atom("rv_ping")>;
using tick_atom = caf::atom_constant<caf::atom("rv_tick")>;
using slow_atom = caf::atom_constant<caf::atom("rv_slow")>;
using remembered_membership = detail::remembered_membership;

using clock = std::chrono::steady_clock;

constexpr auto connect_timeout = std::chrono::seconds{2};
// How long a node waits for its peers to acknowledge a view it announces
// (it leaves, or changes its services).
constexpr auto announce_timeout = std::chrono::seconds{1};

using names = std::vector<std::string>;

/// A linked peer: its agent and what it last told us.
struct peer_info {
  std::string name;
  caf::actor agent;
  caf::actor directory;    // its node's, for calls to named actors
  uint64_t digest = 0;     // of the last view it sent or confirmed
  names unreachable;       // the members it cannot reach
  clock::time_point heard; // when it last sent us anything
  names remembered;        // the membership it last belonged to (formation)
};

struct agent_state {
  member self;
  caf::actor directory; // this node's
  std::vector<std::string> seeds;     // as configured: names or addresses
  std::vector<std::string> seed_endpoints; // resolved: addresses
  bool resolving = false;
  agent_options opts;
  split_brain_strategy strategy = split_brain_strategy::keep_majority;
  size_t quorum = 0;
  size_t consensus = 1;
  caf::timespan heartbeat_interval{0};
  caf::timespan suspect_after{0};
  clock::time_point last_tick = clock::now(); // of the heartbeat timer
  clock::time_point no_lease_until;           // after a pause
  std::optional<detail::failure_detector> detector;
  membership view;
  std::map<std::string, peer_info> peers; // member name -> linked peer
  std::set<std::string> unreachable;      // members whose link we lost
  std::set<std::string> connecting;       // endpoints with a connect in flight
  std::vector<caf::actor> greeted;        // agents we said hello to
  std::vector<caf::actor> listeners;
  cluster_status status = cluster_status::starting;
  bool was_up = false;
  std::vector<caf::response_promise> awaiting_up;
  std::map<std::string, hash_ring> rings; // by group, "" = all; of up members
  // -- formation (see docs/cluster.md)
  std::string data_dir;                          // empty: remembers nothing
  bool form_alone = false;                       // may form with seeds unreached
  bool forced = false;                           // an operator said: form
  std::optional<remembered_membership> remembered; // the last view we were up in
  std::shared_ptr<lease_clock> lease; // what lease_of(system) reads
  static inline const char* name = "ringvisor.cluster_agent";

  agent_state() = default;
  agent_state(const agent_state&) = delete;
  agent_state& operator=(const agent_state&) = delete;

  ~agent_state() {
    if (lease)
      lease->set_until(clock::time_point::min()); // a stopped agent holds nothing
  }
};

using agent_actor = caf::stateful_actor<agent_state>;

bool counts(const member& m) {
  return m.status <= member_status::leaving;
}

uint64_t digest_of(const std::vector<member>& members) {
  membership tmp;
  tmp.merge(members);
  return tmp.digest();
}

class agent_impl {
public:
  explicit agent_impl(agent_actor* self) : self_(self), st_(self->state) {
    // nop
  }

  // -- views -----------------------------------------------------------------

  // A peer's view: merge it, then tell the peer whether we agree.
  void on_gossip(const std::vector<member>& members) {
    auto* peer = linked_sender();
    if (peer == nullptr)
      return; // not a member we linked (or one we turned away)
    peer->digest = digest_of(members);
    if (merge(members))
      return; // changed() sent our new view to every peer and judged it
    if (peer->digest == st_.view.digest())
      self_->send(peer->agent, seen_atom::value, peer->digest);
    else
      self_->send(peer->agent, gossip_atom::value, st_.view.members());
    evaluate();
  }

  void on_seen(uint64_t digest) {
    if (auto* peer = linked_sender()) {
      peer->digest = digest;
      evaluate();
    }
  }

  // Applies `members`; on a change tells listeners and peers, links up and
  // judges the new view. Returns whether the view changed.
  bool merge(const std::vector<member>& members) {
    if (!st_.view.merge(members))
      return false;
    refute();
    changed();
    return true;
  }

  // Others declared us down (we were hung, or cut off) while we live: come
  // back as a new incarnation, which every view takes over the old one.
  void refute() {
    auto mine = st_.view.find(st_.self.name);
    if (!mine || st_.status == cluster_status::stopping
        || (mine->incarnation == st_.self.incarnation && mine->status == st_.self.status))
      return;
    if (mine->incarnation > st_.self.incarnation) {
      // A newer process runs under our name (we were replaced while hung):
      // outbidding it would make the two refute each other forever.
      log::error("cluster_replaced",
                 {{"by_incarnation", fmt::format("{:016x}", mine->incarnation)},
                  {"hint", "another process took this node's name; stop this one"}});
      return;
    }
    auto old = st_.self.incarnation;
    st_.self.incarnation = old + 1;
    st_.self.status = std::min(st_.self.status, member_status::up); // joining stays
    st_.view.update(st_.self);
    log::warn("cluster_rejoin", {{"was", to_string(mine->status)},
                                 {"old_incarnation", fmt::format("{:016x}", old)},
                                 {"incarnation", fmt::format("{:016x}", st_.self.incarnation)}});
  }

  // The view changed: tell listeners and peers, link up, judge again.
  void changed() {
    auto members = st_.view.members();
    log::info("cluster_view", {{"members", members.size()},
                               {"up", st_.view.up_members().size()},
                               {"digest", fmt::format("{:016x}", st_.view.digest())}});
    for (auto& l : st_.listeners)
      self_->send(l, view_atom::value, members);
    for (auto& [name, peer] : st_.peers)
      self_->send(peer.agent, gossip_atom::value, members);
    rebuild_rings(members);
    connect_missing();
    evaluate();
  }

  // -- rings and calls --------------------------------------------------------

  // Keeps one ring per group (and "" for all) over the up members; a ring
  // whose members did not change is kept as is.
  void rebuild_rings(const std::vector<member>& members) {
    std::map<std::string, std::vector<std::string>> wanted{{"", {}}};
    for (auto& m : members)
      if (m.status == member_status::up) {
        wanted[""].push_back(m.name);
        for (auto& g : m.groups)
          wanted[g].push_back(m.name);
      }
    for (auto i = st_.rings.begin(); i != st_.rings.end();)
      i = wanted.count(i->first) ? std::next(i) : st_.rings.erase(i);
    for (auto& [group, ring_names] : wanted) {
      auto i = st_.rings.find(group);
      if (i == st_.rings.end() || i->second.members() != ring_names)
        st_.rings.insert_or_assign(group, hash_ring{ring_names});
    }
  }

  caf::result<std::string> whois(const std::string& key, const std::string& group) {
    auto i = st_.rings.find(group);
    if (i == st_.rings.end() || i->second.empty())
      return make_error(errc::empty_ring, group);
    return std::string{*i->second.whois(key)};
  }

  std::vector<std::string> ring_members(const std::string& group) {
    auto i = st_.rings.find(group);
    return i == st_.rings.end() ? std::vector<std::string>{} : i->second.members();
  }

  // The up members to call: this node through its own directory, peers
  // through theirs, unlinked ones without (their call fails at once).
  std::vector<detail::call_target> call_targets() {
    std::vector<detail::call_target> result;
    for (auto& name : st_.view.up_members()) {
      if (name == st_.self.name) {
        result.push_back({name, st_.directory});
        continue;
      }
      auto i = st_.peers.find(name);
      result.push_back({name, i != st_.peers.end() ? i->second.directory : caf::actor{}});
    }
    return result;
  }

  caf::result<caf::message>
  multicall(const std::string& name, caf::message& msg, caf::timespan timeout) {
    auto worker = detail::spawn_call_worker(self_->system(), call_targets(), name,
                                            std::move(msg), timeout);
    return self_->delegate(worker, detail::go_atom::value);
  }

  caf::result<caf::message> call(const std::string& node, const std::string& name,
                                 caf::message& msg, caf::timespan timeout) {
    auto targets = call_targets();
    auto i = std::find_if(targets.begin(), targets.end(),
                          [&](auto& t) { return t.node == node; });
    if (i == targets.end())
      return make_error(errc::not_member, node);
    auto worker = detail::spawn_call_worker(self_->system(), {*i}, name,
                                            std::move(msg), timeout);
    auto rp = self_->make_response_promise<caf::message>();
    self_->request(worker, caf::infinite, detail::go_atom::value)
      .then(
        [rp](std::vector<node_reply>& replies) mutable {
          auto& r = replies.front();
          if (r.error)
            rp.deliver(std::move(r.error));
          else
            rp.deliver(std::move(r.reply));
        },
        [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return rp;
  }

  void multicast(const std::string& name, const caf::message& msg) {
    for (auto& t : call_targets())
      if (t.directory)
        caf::anon_send(t.directory, actor::forward_atom::value, name, msg);
  }

  // -- split brain -----------------------------------------------------------

  // Judges this node's side and sets the status; a winning side downs the
  // unreachable members that its whole side agrees on.
  void evaluate() {
    if (st_.status == cluster_status::stopping)
      return;
    if (form())
      return changed(); // judges the new view
    auto s = current_side();
    auto v = st_.opts.cluster_valid ? st_.opts.cluster_valid(s)
                                    : judge(st_.strategy, st_.quorum, s);
    if (v == verdict::yes && down_agreed(s))
      return changed(); // judges the new view
    auto next = status_for(v);
    if (next == cluster_status::up)
      remember(); // on disk before anyone hears that we are up
    set_status(next);
  }

  // -- formation ---------------------------------------------------------------

  // A node is `joining` until it may count as a member of a cluster, and
  // `up` from then on (see docs/cluster.md). Returns whether it turned up.
  bool form() {
    if (st_.self.status != member_status::joining)
      return false;
    auto why = formation_reason();
    if (!why)
      return false;
    st_.self.status = member_status::up;
    st_.view.update(st_.self);
    log::info("cluster_formed", {{"because", *why}});
    return true;
  }

  // Why this node may be up now, or nothing while it must wait.
  std::optional<std::string> formation_reason() const {
    detail::formation_facts facts;
    facts.self_name = st_.self.name;
    facts.self_endpoint = st_.self.endpoint;
    facts.seeded = !st_.seeds.empty();
    facts.seeds = st_.seed_endpoints;
    facts.form_alone = st_.form_alone;
    facts.forced = st_.forced;
    facts.remembered = remembered_names();
    for (auto& [name, peer] : st_.peers) {
      auto m = st_.view.find(name);
      if (!m || !reachable_peer(name))
        continue;
      facts.peers.push_back({name, m->endpoint, m->status == member_status::up,
                             peer.remembered});
    }
    return detail::formation_reason(facts);
  }

  // The names of the membership this node last belonged to, if any.
  std::vector<std::string> remembered_names() const {
    std::vector<std::string> result;
    if (st_.remembered)
      for (auto& r : *st_.remembered)
        result.push_back(r.name);
    return result;
  }

  bool reachable_peer(const std::string& name) const {
    return st_.peers.count(name) > 0 && st_.unreachable.count(name) == 0;
  }

  // Keeps the up members in the data directory, for the next start.
  void remember() {
    if (st_.data_dir.empty())
      return;
    remembered_membership now;
    for (auto& m : st_.view.members())
      if (m.status == member_status::up)
        now.push_back({m.name, m.endpoint});
    if (st_.remembered == now)
      return;
    if (auto err = detail::write_membership(st_.data_dir, now)) {
      log::error("cluster_membership_not_saved", {{"reason", actor::render(err)}});
      return; // the old file stays; the next change tries again
    }
    st_.remembered = std::move(now);
  }

  // An operator's word: this node forms a cluster with whom it reaches.
  void force_form() {
    if (st_.self.status != member_status::joining)
      return;
    log::warn("cluster_form_forced", {{"remembered", st_.remembered ? st_.remembered->size() : 0},
                                      {"peers", st_.peers.size()}});
    st_.forced = true;
    evaluate();
  }

  side current_side() {
    side s;
    s.self = st_.self.name;
    for (auto& m : st_.view.members())
      if (counts(m))
        s.members.push_back(m);
    // Forget members that left or were downed meanwhile, and say so: a
    // peer must not keep our old word against a later incarnation.
    bool pruned = false;
    for (auto i = st_.unreachable.begin(); i != st_.unreachable.end();) {
      auto m = st_.view.find(*i);
      if (m && counts(*m)) {
        s.unreachable.push_back(*i);
        ++i;
      } else {
        i = st_.unreachable.erase(i);
        pruned = true;
      }
    }
    if (pruned)
      publish_unreachable();
    return s;
  }

  // Marks `down` every member we cannot reach that every linked member of
  // our side cannot reach either. Returns whether it downed any.
  bool down_agreed(const side& s) {
    bool downed = false;
    for (auto& name : s.unreachable) {
      if (!agreed_unreachable(s, name))
        continue;
      auto m = *st_.view.find(name);
      m.status = member_status::down;
      st_.view.update(m);
      log::info("cluster_member_downed", {{"member", name},
                                          {"strategy", to_string(st_.strategy)}});
      downed = true;
    }
    return downed;
  }

  bool agreed_unreachable(const side& s, const std::string& name) {
    for (auto& m : s.members) {
      if (m.name == st_.self.name || !s.reachable(m.name))
        continue;
      auto i = st_.peers.find(m.name);
      if (i == st_.peers.end())
        return false; // not linked yet: wait for its word
      auto& theirs = i->second.unreachable;
      if (std::find(theirs.begin(), theirs.end(), name) == theirs.end())
        return false;
    }
    return true;
  }

  cluster_status status_for(verdict v) {
    if (st_.self.status == member_status::joining)
      return cluster_status::starting; // not formed: runs nothing
    if (v == verdict::split)
      return cluster_status::split;
    if (v == verdict::no || st_.view.up_members().size() < st_.consensus)
      return cluster_status::starting;
    if (!converged())
      return st_.was_up ? cluster_status::rehashing : cluster_status::starting;
    return cluster_status::up;
  }

  // Whether we are linked to every member we can reach and each of them
  // confirmed our current view.
  bool converged() {
    auto mine = st_.view.digest();
    for (auto& m : st_.view.members()) {
      if (m.name == st_.self.name || !counts(m) || st_.unreachable.count(m.name) > 0)
        continue;
      auto i = st_.peers.find(m.name);
      if (i == st_.peers.end() || i->second.digest != mine)
        return false;
    }
    return true;
  }

  void set_status(cluster_status now) {
    auto before = st_.status;
    if (now == before)
      return;
    st_.status = now;
    publish_lease();
    if (now == cluster_status::up)
      st_.was_up = true;
    auto log_fn = now == cluster_status::split ? log::warn : log::info;
    log_fn("cluster_status", {{"from", to_string(before)}, {"to", to_string(now)},
                              {"up", st_.view.up_members().size()},
                              {"unreachable", st_.unreachable.size()},
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

  // Tells every peer which members we cannot reach.
  void publish_unreachable() {
    names list{st_.unreachable.begin(), st_.unreachable.end()};
    for (auto& [name, peer] : st_.peers)
      self_->send(peer.agent, unreachable_atom::value, list);
  }

  void on_unreachable(names list) {
    if (auto* peer = linked_sender()) {
      peer->unreachable = std::move(list);
      evaluate();
    }
  }

  // -- leaving ---------------------------------------------------------------

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
      self_->request(peer, announce_timeout, announce_atom::value, members)
        .then([one_done](caf::ok_atom) { one_done(); },
              [one_done](const caf::error&) { one_done(); });
  }

  void finish_leave(const caf::error& reason) {
    log::info("cluster_left", {{"told", st_.greeted.size()}});
    self_->quit(reason);
  }

  void on_announce(const std::vector<member>& members) {
    if (linked_sender() != nullptr && !merge(members))
      evaluate(); // the sender may have been heard again
  }

  // -- services --------------------------------------------------------------

  // This node offers `name` (a ring supervisor), winds it down or drops it:
  // its own record changes. The answer comes once every linked peer merged
  // the new view (and told its listeners first), or after
  // `announce_timeout`: a ring supervisor that leaves hands its children to
  // peers whose rings left it out already.
  caf::result<caf::ok_atom> set_service(const std::string& name, service_state state) {
    auto put = [&name](std::vector<std::string>& xs, bool in) {
      auto i = std::lower_bound(xs.begin(), xs.end(), name);
      bool has = i != xs.end() && *i == name;
      if (has == in)
        return false;
      if (in)
        xs.insert(i, name);
      else
        xs.erase(i);
      return true;
    };
    if (st_.status == cluster_status::stopping)
      return caf::ok_atom::value;
    bool changed_offer = put(st_.self.services, state == service_state::offered);
    bool changed_drain = put(st_.self.draining, state == service_state::draining);
    if (!changed_offer && !changed_drain)
      return caf::ok_atom::value;
    ++st_.self.revision;
    st_.view.update(st_.self);
    changed();
    if (st_.peers.empty())
      return caf::ok_atom::value;
    auto rp = self_->make_response_promise<caf::ok_atom>();
    auto pending = std::make_shared<size_t>(st_.peers.size());
    auto one_done = [rp, pending]() mutable {
      if (--*pending == 0)
        rp.deliver(caf::ok_atom::value);
    };
    auto members = st_.view.members();
    for (auto& [peer_name, peer] : st_.peers)
      self_->request(peer.agent, announce_timeout, announce_atom::value, members)
        .then([one_done](caf::ok_atom) mutable { one_done(); },
              [one_done](const caf::error&) mutable { one_done(); });
    return rp;
  }

  // -- heartbeats ------------------------------------------------------------

  // Pings every peer and suspects those whose pings stopped: a node whose
  // actors are stuck still answers CAF's link heartbeats. The failure
  // detector judges by the intervals each peer's pings came at and by how
  // late this node's own timer fires: a starved node reads its peers' pings
  // late, and must not take that for their silence (see failure_detector).
  void tick() {
    auto now = clock::now();
    auto& fd = *st_.detector;
    fd.tick(now);
    // Paused longer than a peer waits before suspecting us (SIGSTOP, a
    // stalled VM): the others may have declared us down, and what we read
    // now (their queued pings) tells nothing about when it was sent. No
    // lease until we heard the news.
    if (now - st_.last_tick > st_.suspect_after)
      st_.no_lease_until = now + st_.suspect_after + 2 * st_.heartbeat_interval;
    st_.last_tick = now;
    bool suspected = false;
    for (auto& [name, peer] : st_.peers) {
      self_->send(peer.agent, ping_atom::value);
      auto m = st_.view.find(name);
      if (m && counts(*m) && fd.suspect(name, now) && st_.unreachable.insert(name).second) {
        using ms = std::chrono::milliseconds;
        log::warn("cluster_peer_silent",
                  {{"peer", name},
                   {"silent_ms", std::chrono::duration_cast<ms>(fd.silence(name, now)).count()},
                   {"phi", fmt::format("{:.1f}", fd.phi(name, now))},
                   {"own_lateness_ms",
                    std::chrono::duration_cast<ms>(fd.local_lateness()).count()}});
        suspected = true;
      }
    }
    if (suspected) {
      publish_unreachable();
      evaluate();
    }
    publish_lease();
  }

  // Whether this node may act for the cluster right now. A request for it
  // waits behind everything that arrived before, so after a pause (SIGSTOP,
  // a stalled scheduler) the answer reflects the gossip that came meanwhile,
  // such as being declared down.
  bool lease() const {
    return clock::now() < lease_until();
  }

  // The lease, the timer's lateness and every member's link, for an operator.
  node_health health() const {
    auto now = clock::now();
    node_health result;
    auto until = lease_until();
    result.lease = now < until;
    if (result.lease)
      result.lease_left = std::chrono::duration_cast<caf::timespan>(until - now);
    result.lateness = st_.detector->local_lateness();
    for (auto& m : st_.view.members()) {
      if (m.name == st_.self.name || m.status == member_status::removed)
        continue;
      peer_health p;
      p.name = m.name;
      auto i = st_.peers.find(m.name);
      p.linked = i != st_.peers.end();
      p.unreachable = st_.unreachable.count(m.name) > 0 || st_.detector->suspect(m.name, now);
      if (p.linked)
        p.silence = std::chrono::duration_cast<caf::timespan>(now - i->second.heard);
      p.phi = st_.detector->phi(m.name, now);
      result.peers.push_back(std::move(p));
    }
    return result;
  }

  // When the lease ends, by what this node knows now: two heartbeats after
  // its timer last fired (its peers hear from it at every tick), and
  // `suspect-after` after it heard from the last of a majority; never while
  // it is not up (or rehashing: views that converge take nothing away from
  // anyone) or just came back from a pause.
  clock::time_point lease_until() const {
    auto member = st_.status == cluster_status::up || st_.status == cluster_status::rehashing;
    if (!member || clock::now() < st_.no_lease_until)
      return clock::time_point::min();
    std::vector<clock::time_point> heard; // of the counted peers, linked or not
    size_t counted = 0;
    for (auto& m : st_.view.members()) {
      if (!counts(m))
        continue;
      ++counted;
      if (m.name == st_.self.name)
        continue;
      auto p = st_.peers.find(m.name);
      heard.push_back(p != st_.peers.end() ? p->second.heard : clock::time_point::min());
    }
    auto until = st_.last_tick + 2 * st_.heartbeat_interval;
    auto peers_needed = counted / 2; // with itself, a majority
    if (peers_needed == 0)
      return until;
    if (heard.size() < peers_needed)
      return clock::time_point::min();
    std::nth_element(heard.begin(), heard.begin() + (peers_needed - 1), heard.end(),
                     std::greater<>{});
    auto last_of_majority = heard[peers_needed - 1];
    if (last_of_majority == clock::time_point::min())
      return clock::time_point::min();
    return std::min(until, last_of_majority + st_.suspect_after);
  }

  // Tells every reader of the node's lease clock what `lease_until` says; a
  // lease taken away ends now (or when it ended already), so that readers
  // can tell how long it has been out.
  void publish_lease() {
    auto until = lease_until();
    if (until == clock::time_point::min())
      until = std::min(st_.lease->until(), clock::now());
    st_.lease->set_until(until);
  }

  void on_ping() {
    if (auto* peer = linked_sender()) {
      st_.detector->heartbeat(peer->name, peer->heard);
      evaluate();
      publish_lease();
    }
  }

  // -- seeds -----------------------------------------------------------------

  // Resolves the seeds again (a DNS name may list new nodes) on a detached
  // thread, since getaddrinfo blocks; the result comes back as a message.
  void resolve_seeds_async() {
    if (st_.seeds.empty() || st_.resolving)
      return;
    st_.resolving = true;
    // Hidden: a resolver blocked in getaddrinfo must not hold up shutdown.
    auto agent = caf::actor_cast<caf::actor_addr>(self_);
    self_->spawn<caf::detached + caf::hidden>([agent, seeds = st_.seeds] {
      auto found = resolve_seeds(seeds);
      for (auto& problem : found.problems)
        log::warn("cluster_seed_unresolved", {{"problem", problem}});
      if (auto hdl = caf::actor_cast<caf::actor>(agent))
        caf::anon_send(hdl, seeds_atom::value, std::move(found.endpoints));
    });
  }

  void on_seeds(std::vector<std::string> endpoints) {
    st_.resolving = false;
    st_.seed_endpoints = std::move(endpoints);
    connect_missing();
  }

  // -- links -----------------------------------------------------------------

  // Links to every member that counts and has no link, and to the seeds
  // while we know nobody else.
  void connect_missing() {
    for (auto& m : st_.view.members())
      if (m.name != st_.self.name && m.status <= member_status::up
          && st_.peers.count(m.name) == 0)
        connect(m.endpoint, m);
    if (st_.peers.empty())
      for (auto& seed : st_.seed_endpoints)
        if (seed != st_.self.endpoint)
          connect(seed, std::nullopt);
    // Not formed yet: the members we last belonged to are seeds too (a
    // restarted node without seeds finds its cluster again this way).
    if (st_.self.status == member_status::joining && st_.remembered)
      for (auto& r : *st_.remembered)
        if (r.name != st_.self.name && st_.peers.count(r.name) == 0)
          connect(r.endpoint, std::nullopt);
  }

  // Connects to `endpoint` without blocking: the wire hands us the peer's
  // node directory, which names its agent. If `target` is set and
  // the connect fails, that member (if still the same) is unreachable.
  void connect(const std::string& endpoint, std::optional<member> target) {
    auto parsed = parse_endpoint(endpoint);
    if (!parsed) {
      // A peer's record or a seed we cannot use: drop it, do not crash.
      log::warn("cluster_bad_endpoint", {{"reason", actor::render(parsed.error())}});
      return;
    }
    if (!st_.connecting.insert(endpoint).second)
      return;
    // There is one connect per endpoint until it ends; the member is
    // unreachable for us once it takes longer than connect_timeout.
    if (target)
      self_->delayed_send(self_, connect_timeout, slow_atom::value, endpoint, *target);
    // The wire dials without blocking and gives up after its handshake
    // timeout.
    via_connector(endpoint, target, parsed->first, parsed->second);
  }

  // Asks the node's connector for the directory at `host:port`, then the
  // directory for the peer's agent, which it greets.
  void via_connector(const std::string& endpoint, const std::optional<member>& target,
                     const std::string& host, uint16_t port) {
    auto failed = [this, endpoint, target](const caf::error& err) {
      connect_failed(endpoint, target, err);
    };
    self_->request(actor::connector(self_->system()), caf::infinite, caf::connect_atom::value,
                   host, port)
      .then(
        [this, endpoint, failed](const caf::node_id&, caf::strong_actor_ptr& ptr,
                                 const std::set<std::string>&) {
          auto dir = caf::actor_cast<caf::actor>(ptr);
          if (!dir)
            return failed(
              actor::make_error(actor::errc::not_registered, "no directory at the endpoint"));
          self_
            ->request(dir, connect_timeout, caf::get_atom::value, std::string{agent_directory_name})
            .then(
              [this, endpoint](const caf::actor& peer) {
                st_.connecting.erase(endpoint);
                greet(peer);
              },
              failed);
        },
        failed);
  }

  void connect_failed(const std::string& endpoint, const std::optional<member>& target,
                      const caf::error& err) {
    st_.connecting.erase(endpoint);
    log::debug("cluster_connect_failed",
               {{"endpoint", endpoint}, {"reason", actor::render(err)}});
    if (target)
      unreachable(*target);
  }

  void on_slow_connect(const std::string& endpoint, const member& target) {
    if (st_.connecting.count(endpoint) > 0)
      unreachable(target);
  }

  // A connect to `target` failed: unless it linked meanwhile, or is no
  // longer that incarnation (a connect can take seconds), it is unreachable
  // for us, which our side must hear to judge it.
  void unreachable(const member& target) {
    auto now = st_.view.find(target.name);
    if (!now || now->incarnation != target.incarnation || !counts(*now)
        || st_.peers.count(target.name) > 0
        || !st_.unreachable.insert(target.name).second)
      return;
    publish_unreachable();
    evaluate();
  }

  // Says hello, and remembers to announce a leave even if no answer came yet.
  void greet(const caf::actor& peer) {
    if (std::find(st_.greeted.begin(), st_.greeted.end(), peer)
        == st_.greeted.end())
      st_.greeted.push_back(peer);
    self_->send(peer, hello_atom::value, st_.self, st_.directory, remembered_names());
  }

  // A peer introduced itself (or answered our hello).
  void on_hello(const member& who, const caf::actor& peer, const caf::actor& directory,
                names remembered) {
    if (who.name == st_.self.name || !peer)
      return;
    if (!st_.view.find(who.name) && st_.status == cluster_status::split
        && !st_.unreachable.empty()) {
      // A side that lost members and judged itself the loser takes no
      // newcomers: with them it could outvote the side that downed it.
      // They get in once the partition heals.
      self_->send(peer, reject_atom::value, who.name, std::string{"(cluster split)"});
      return;
    }
    auto holder = st_.peers.find(who.name);
    if (holder != st_.peers.end() && holder->second.agent != peer) {
      if (holds_name(who.name)) {
        // Another live agent holds the name: a duplicate, or a restart
        // whose old self is not gone yet; either way not now.
        log::warn("cluster_name_taken", {{"name", who.name}, {"endpoint", who.endpoint}});
        self_->send(peer, reject_atom::value, who.name, st_.view.find(who.name)->endpoint);
        return;
      }
      // The holder was downed or is silent: the newcomer replaces it.
      self_->demonitor(holder->second.agent);
      st_.peers.erase(holder);
    }
    auto [slot, is_new] = st_.peers.try_emplace(who.name);
    if (is_new) {
      slot->second.name = who.name;
      slot->second.agent = peer;
      slot->second.directory = directory;
      slot->second.heard = clock::now();
      st_.detector->remove(who.name);
      st_.detector->heartbeat(who.name, slot->second.heard); // silent from now on
      self_->monitor(peer);
      log::info("cluster_peer_linked", {{"peer", who.name}, {"endpoint", who.endpoint}});
      greet(peer);
      if (st_.unreachable.erase(who.name) > 0)
        publish_unreachable();
    }
    slot->second.remembered = std::move(remembered);
    self_->send(peer, gossip_atom::value, st_.view.members());
    self_->send(peer, unreachable_atom::value,
                names{st_.unreachable.begin(), st_.unreachable.end()});
    if (st_.view.update(who))
      return changed();
    if (is_new)
      connect_missing();
    evaluate();
  }

  // Whether the linked agent under `name` still holds it: its member counts
  // and it is not silent.
  bool holds_name(const std::string& name) {
    auto m = st_.view.find(name);
    return m && counts(*m) && st_.unreachable.count(name) == 0;
  }

  // A member turned our hello away: our name is taken by a live node.
  void on_reject(const std::string& name, const std::string& holder) {
    auto sender = self_->current_sender();
    auto& greeted = st_.greeted;
    greeted.erase(std::remove_if(greeted.begin(), greeted.end(),
                                 [&](const caf::actor& x) {
                                   return x.address() == sender;
                                 }),
                  greeted.end());
    log::error("cluster_name_taken",
               {{"name", name}, {"held_by", holder},
                {"hint", "give this node another ringvisor.name; retrying in case "
                         "the holder is a hung former self"}});
  }

  // The link to a peer's agent dropped: its process died, hung, or is cut
  // off. It is unreachable for us until it links again.
  void on_down(const caf::down_msg& dm) {
    auto& ls = st_.listeners;
    ls.erase(std::remove_if(ls.begin(), ls.end(),
                            [&](const caf::actor& x) { return x.address() == dm.source; }),
             ls.end());
    auto& greeted = st_.greeted;
    greeted.erase(std::remove_if(greeted.begin(), greeted.end(),
                                 [&](const caf::actor& x) {
                                   return x.address() == dm.source;
                                 }),
                  greeted.end());
    auto i = std::find_if(st_.peers.begin(), st_.peers.end(),
                          [&](auto& kvp) { return kvp.second.agent.address() == dm.source; });
    if (i == st_.peers.end())
      return;
    auto name = i->first;
    st_.peers.erase(i);
    st_.detector->remove(name);
    log::info("cluster_peer_unreachable",
              {{"peer", name}, {"reason", actor::render(dm.reason)}});
    auto m = st_.view.find(name);
    if (m && counts(*m) && st_.unreachable.insert(name).second)
      publish_unreachable();
    evaluate();
  }

private:
  // The linked peer that sent the current message, if any. Hearing from a
  // peer we suspected makes it reachable again; the caller judges after it
  // applied the message.
  peer_info* linked_sender() {
    auto sender = self_->current_sender();
    for (auto& [name, peer] : st_.peers)
      if (peer.agent.address() == sender) {
        peer.heard = clock::now();
        if (st_.unreachable.erase(name) > 0) {
          log::info("cluster_peer_heard_again", {{"peer", name}});
          publish_unreachable();
        }
        return &peer;
      }
    return nullptr;
  }

  agent_actor* self_;
  agent_state& st_;
};

/// What the agent starts from, besides its options.
struct agent_setup {
  member me;
  caf::actor directory;
  std::vector<std::string> seeds;
  size_t consensus = 1;
  split_brain_strategy strategy = split_brain_strategy::keep_majority;
  size_t quorum = 0;
  caf::timespan heartbeat_interval{0};
  caf::timespan suspect_after{0};
  std::string data_dir;
  bool form_alone = false;
  std::optional<remembered_membership> remembered;
  std::shared_ptr<lease_clock> lease;
};

caf::behavior agent(agent_actor* self, agent_setup setup, agent_options opts) {
  auto impl = std::make_shared<agent_impl>(self);
  auto& st = self->state;
  st.self = setup.me;
  st.directory = std::move(setup.directory);
  st.seeds = std::move(setup.seeds);
  st.data_dir = std::move(setup.data_dir);
  st.form_alone = setup.form_alone;
  st.remembered = std::move(setup.remembered);
  st.lease = std::move(setup.lease);
  st.opts = std::move(opts);
  st.consensus = setup.consensus;
  st.strategy = setup.strategy;
  st.quorum = setup.quorum;
  st.heartbeat_interval = setup.heartbeat_interval;
  st.suspect_after = setup.suspect_after;
  st.detector.emplace(setup.heartbeat_interval, setup.suspect_after);
  st.view.update(st.self);
  self->set_down_handler([impl](caf::down_msg& dm) { impl->on_down(dm); });
  self->set_exit_handler([impl](caf::exit_msg& em) {
    if (em.reason)
      impl->leave(std::move(em.reason));
  });
  impl->changed();
  self->send(self, retry_atom::value);
  self->send(self, tick_atom::value);
  return {
    [self, impl](tick_atom) {
      impl->tick();
      self->delayed_send(self, self->state.heartbeat_interval, tick_atom::value);
    },
    [impl](ping_atom) { impl->on_ping(); },
    [impl](slow_atom, const std::string& endpoint, const member& target) {
      impl->on_slow_connect(endpoint, target);
    },
    [self, impl](retry_atom) {
      if (self->state.peers.empty())
        impl->resolve_seeds_async();
      impl->connect_missing();
      self->delayed_send(self, self->state.opts.retry, retry_atom::value);
    },
    [self, impl](hello_atom, const member& who, const caf::actor& dir, names& remembered) {
      impl->on_hello(who, caf::actor_cast<caf::actor>(self->current_sender()), dir,
                     std::move(remembered));
    },
    [impl](reject_atom, const std::string& name, const std::string& holder) {
      impl->on_reject(name, holder);
    },
    [impl](gossip_atom, const std::vector<member>& members) { impl->on_gossip(members); },
    [impl](seen_atom, uint64_t digest) { impl->on_seen(digest); },
    [impl](seeds_atom, std::vector<std::string>& endpoints) {
      impl->on_seeds(std::move(endpoints));
    },
    [impl](unreachable_atom, names& list) { impl->on_unreachable(std::move(list)); },
    [impl](announce_atom, const std::vector<member>& members) {
      impl->on_announce(members);
      return caf::ok_atom::value;
    },
    [impl](service_atom, const std::string& name, uint8_t state) {
      return impl->set_service(name, static_cast<service_state>(state));
    },
    [self](caf::get_atom, members_atom) { return self->state.view.members(); },
    [impl](whois_atom, const std::string& key, const std::string& group) {
      return impl->whois(key, group);
    },
    [impl](caf::get_atom, ring_atom, const std::string& group) {
      return impl->ring_members(group);
    },
    [self](caf::get_atom, siblings_atom) {
      auto result = self->state.view.up_members();
      result.erase(std::remove(result.begin(), result.end(), self->state.self.name),
                   result.end());
      return result;
    },
    [impl](multicall_atom, const std::string& name, caf::message& msg, caf::timespan timeout) {
      return impl->multicall(name, msg, timeout);
    },
    [impl](call_atom, const std::string& node, const std::string& name, caf::message& msg,
           caf::timespan timeout) { return impl->call(node, name, msg, timeout); },
    [impl](multicast_atom, const std::string& name, const caf::message& msg) {
      impl->multicast(name, msg);
    },
    [self](caf::get_atom, status_atom) { return self->state.status; },
    [impl](form_atom) {
      impl->force_form();
      return caf::ok_atom::value;
    },
    [impl](caf::get_atom, lease_atom) { return impl->lease(); },
    [impl](caf::get_atom, health_atom) { return impl->health(); },
    [self](await_up_atom) -> caf::result<caf::ok_atom> {
      if (self->state.status == cluster_status::up)
        return caf::ok_atom::value;
      auto rp = self->make_response_promise<caf::ok_atom>();
      self->state.awaiting_up.push_back(rp);
      return rp;
    },
    [self](subscribe_atom, const caf::actor& listener) {
      auto& state = self->state;
      state.listeners.push_back(listener);
      self->monitor(listener);
      self->send(listener, view_atom::value, state.view.members());
      self->send(listener, status_atom::value, state.status, state.status,
                 state.view.members());
    },
  };
}

} // namespace

caf::expected<caf::actor> start_agent(actor::node& node, agent_options opts) {
  auto& id = node.identity();
  auto& cfg = node.config();
  // What the agent says to its peers: a node that cannot say it would sit
  // alone, unable to greet a seed.
  auto greeting = caf::make_message(hello_atom::value, member{}, caf::actor{}, names{},
                                    gossip_atom::value, std::vector<member>{});
  if (auto err = actor::check_wire_types(node.system(), greeting, "the cluster agent's greeting"))
    return err;
  agent_setup setup;
  if (!cfg.data_dir.empty()) {
    auto remembered = detail::read_membership(cfg.data_dir);
    if (!remembered)
      return std::move(remembered.error());
    setup.remembered = std::move(*remembered);
  }
  auto groups = cfg.groups;
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  // Joining until it may count as a member (see `agent_impl::form`).
  setup.me = member{id.name, id.incarnation, id.endpoint(), member_status::joining, groups, {},
                    {},      0};
  // node_config::validate accepted the spelling.
  if (auto err = parse(cfg.split_brain, setup.strategy))
    log::error("cluster_config", {{"error", actor::render(err)}});
  setup.directory = node.directory();
  setup.seeds = cfg.seeds;
  setup.consensus = cfg.consensus;
  setup.quorum = cfg.quorum;
  setup.heartbeat_interval = cfg.heartbeat_interval;
  setup.suspect_after = cfg.suspect_after;
  setup.data_dir = cfg.data_dir;
  setup.form_alone = cfg.form_alone;
  setup.lease = std::make_shared<lease_clock>();
  detail::register_lease(node.system(), setup.lease);
  if (cfg.seeds.empty() && cfg.data_dir.empty())
    log::warn("cluster_no_data_dir",
              {{"hint", "without seeds and ringvisor.data-dir, this node forms a new "
                        "cluster whenever it starts, even if restarted while cut off from "
                        "its cluster (docs/cluster.md)"}});
  auto hdl = node.system().spawn(agent, std::move(setup), std::move(opts));
  detail::register_agent(node.system(), hdl);
  caf::anon_send(node.directory(), caf::put_atom::value, std::string{agent_directory_name}, hdl);
  node.adopt(hdl);
  return hdl;
}

caf::expected<caf::actor> agent_of(actor::node& node) {
  if (auto hdl = detail::registered_agent(node.system()))
    return hdl;
  return actor::make_error(actor::errc::bad_config,
                           "this node runs no cluster agent (cluster::start_agent first)");
}

const char* to_string(cluster_status x) {
  switch (x) {
    case cluster_status::starting:
      return "starting";
    case cluster_status::up:
      return "up";
    case cluster_status::rehashing:
      return "rehashing";
    case cluster_status::split:
      return "split";
    case cluster_status::stopping:
      return "stopping";
  }
  return "?";
}

void add_types(caf::actor_system_config& cfg) {
  actor::add_types(cfg); // libactor's types, and CAF's link heartbeats
  cfg.add_message_type<cluster_status>("ringvisor::cluster_status");
  cfg.add_message_type<member>("ringvisor::member");
  cfg.add_message_type<node_health>("ringvisor::node_health");
  cfg.add_message_type<std::vector<member>>("ringvisor::member_list");
  cfg.add_message_type<node_reply>("ringvisor::node_reply");
  cfg.add_message_type<std::vector<node_reply>>("ringvisor::node_reply_list");
  cfg.add_message_type<registered_name>("ringvisor::registered_name");
  cfg.add_message_type<std::vector<registered_name>>("ringvisor::registered_name_list");
  actor::add_error_renderer(cfg, errc_category, "ringvisor.cluster",
                            [](uint8_t code) {
                              return to_string(static_cast<errc>(code));
                            });
}

} // namespace ringvisor::cluster
