#include "ringvisor/cluster/singleton.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/death_probe.hpp"
#include "ringvisor/cluster/errc.hpp"

namespace ringvisor::cluster {

namespace {

using release_atom = caf::atom_constant<caf::atom("rv_release")>;
using acquire_atom = caf::atom_constant<caf::atom("rv_acquire")>;
using timer_atom = caf::atom_constant<caf::atom("rv_stimer")>;
using dead_atom = caf::atom_constant<caf::atom("rv_sdead")>;
using present_atom = caf::atom_constant<caf::atom("rv_present")>;
using roll_call_atom = caf::atom_constant<caf::atom("rv_roll")>;

using clock_type = std::chrono::steady_clock;

constexpr auto retry_after = std::chrono::milliseconds{100};
constexpr auto ask_timeout = std::chrono::seconds{1};

enum class role { follower, acquiring, leader, split };

const char* to_string(role x) {
  switch (x) {
    case role::follower:
      return "follower";
    case role::acquiring:
      return "acquiring";
    case role::leader:
      return "leader";
    case role::split:
      return "split";
  }
  return "?";
}

// The up member with the lowest incarnation (the longest-running process);
// names break ties.
const member* oldest(const std::vector<member>& up) {
  auto i = std::min_element(up.begin(), up.end(), [](auto& x, auto& y) {
    return std::tie(x.incarnation, x.name) < std::tie(y.incarnation, y.name);
  });
  return i != up.end() ? &*i : nullptr;
}

class activator_actor : public caf::event_based_actor {
public:
  activator_actor(caf::actor_config& cfg, actor::node& node, caf::actor agent,
                  std::string name, std::unique_ptr<activator> impl)
    : caf::event_based_actor(cfg),
      agent_(std::move(agent)),
      name_(std::move(name)),
      dir_name_(activator_name(name_)),
      self_name_(node.identity().name),
      fence_(node.config().suspect_after + node.config().heartbeat_interval),
      has_seeds_(!node.config().seeds.empty()),
      impl_(std::move(impl)) {
    // nop
  }

  const char* name() const override {
    return "ringvisor.activator";
  }

  caf::behavior make_behavior() override;

private:
  // -- events to the user

  void tell(activator_event kind, const std::string& reason) {
    log::info("activator_event", {{"activator", name_}, {"event", to_string(kind)},
                                  {"reason", reason}});
    impl_->event(kind, reason);
  }

  // Runs `fn` if the agent grants the lease now and the role did not change
  // meanwhile, else `otherwise`.
  template <class F, class G>
  void with_lease(F fn, G otherwise) {
    auto gen = generation_;
    request(agent_, ask_timeout, caf::get_atom::value, lease_atom::value)
      .then(
        [this, gen, fn, otherwise](bool granted) mutable {
          if (granted && gen == generation_)
            fn();
          else
            otherwise();
        },
        [otherwise](caf::error&) mutable { otherwise(); });
  }

  // -- the cluster

  void on_view(std::vector<member> now) {
    auto deadline = clock_type::now() + fence_;
    for (auto& before : view_) {
      if (before.status != member_status::up || before.name == self_name_)
        continue;
      auto i = std::find_if(now.begin(), now.end(), [&](auto& m) { return m.name == before.name; });
      auto gone = i == now.end() || i->incarnation != before.incarnation
                  || i->status == member_status::down;
      if (!gone || (i != now.end() && i->status == member_status::removed))
        continue; // still there, or left in order
      auto key = fences_.add(before, deadline);
      probe_death(system(), before.endpoint, deadline, caf::actor{this},
                  caf::make_message(dead_atom::value, key));
    }
    auto changed = up_names(now) != up_names(view_);
    view_ = std::move(now);
    // A new incarnation of ourselves: we were declared down (hung, cut off)
    // and came back; others may lead meanwhile, so let go and ask again.
    auto me = std::find_if(view_.begin(), view_.end(),
                           [this](auto& m) { return m.name == self_name_; });
    if (me != view_.end()) {
      if (incarnation_ != 0 && me->incarnation != incarnation_)
        step_down("this node was declared down");
      incarnation_ = me->incarnation;
    }
    if (changed) {
      change_pending_ = role_ == role::leader;
      roll_call();
    }
    evaluate();
  }

  void on_status(cluster_status now) {
    status_ = now;
    evaluate();
    if (now == cluster_status::up)
      tell_change();
  }

  // The leader hears of a membership change once the views agree again
  // (the agent is `rehashing` meanwhile and grants no lease).
  void tell_change() {
    if (!change_pending_ || role_ != role::leader)
      return;
    with_lease(
      [this] {
        if (!change_pending_ || role_ != role::leader)
          return;
        change_pending_ = false;
        tell(activator_event::cluster_change, "members: " + members_text());
      },
      [] {});
  }

  // Asks every up member whether it runs this activator: only those may lead.
  void roll_call() {
    auto round = ++roll_round_;
    request(agent_, ask_timeout + std::chrono::seconds{1}, multicall_atom::value, dir_name_,
            caf::make_message(present_atom::value), caf::timespan{ask_timeout})
      .then(
        [this, round](std::vector<node_reply>& replies) {
          if (round != roll_round_)
            return;
          std::set<std::string> present{self_name_};
          bool complete = true;
          for (auto& r : replies) {
            if (!r.error)
              present.insert(r.node);
            else if (r.error != actor::errc::not_registered)
              complete = false; // no answer: ask again
          }
          candidates_ = std::move(present);
          rolled_ = true;
          if (!complete || candidates_.size() < up_names(view_).size())
            delayed_send(this, std::chrono::seconds{1}, roll_call_atom::value, round);
          evaluate();
        },
        [this, round](caf::error&) {
          delayed_send(this, retry_after, roll_call_atom::value, round);
        });
  }

  std::vector<member> up_members() const {
    std::vector<member> result;
    for (auto& m : view_)
      if (m.status == member_status::up)
        result.push_back(m);
    return result;
  }

  // The up members that run this activator (as the last roll call found).
  std::vector<member> up_candidates() const {
    auto result = up_members();
    result.erase(std::remove_if(result.begin(), result.end(),
                                [this](auto& m) { return candidates_.count(m.name) == 0; }),
                 result.end());
    return result;
  }

  static std::vector<std::string> up_names(const std::vector<member>& view) {
    std::vector<std::string> result;
    for (auto& m : view)
      if (m.status == member_status::up)
        result.push_back(m.name);
    return result;
  }

  std::string members_text() const {
    std::string result;
    for (auto& n : up_names(view_))
      result += (result.empty() ? "" : ",") + n;
    return result;
  }

  // Decides the role from the status and the view; each node decides the
  // same from the same view.
  void evaluate() {
    if (status_ == cluster_status::split)
      return become_split("this side lost its majority");
    if (status_ != cluster_status::up || !rolled_)
      return; // starting or rehashing: decide once the views agree
    auto up = up_members();
    auto validity = impl_->cluster_valid(up);
    if (validity == cluster_validity::split)
      return become_split("cluster_valid says split");
    if (role_ == role::split) {
      role_ = role::follower;
      tell(activator_event::now_follower, "the cluster is whole again");
    }
    if (validity == cluster_validity::no) {
      leader_.clear();
      return step_down("cluster_valid says no");
    }
    auto candidates = up_candidates();
    auto first = oldest(candidates); // points into candidates
    leader_ = first ? first->name : std::string{};
    if (leader_ != self_name_)
      return step_down(leader_ + " is the oldest up member");
    if (role_ == role::follower)
      acquire();
  }

  void become_split(const std::string& why) {
    if (role_ == role::split)
      return;
    role_ = role::split;
    leader_.clear();
    ++generation_;
    fail_pending(why);
    tell(activator_event::cluster_split, why);
  }

  void step_down(const std::string& why) {
    if (role_ != role::leader && role_ != role::acquiring)
      return;
    auto was_leader = role_ == role::leader;
    role_ = role::follower;
    ++generation_;
    fail_pending(why);
    if (was_leader)
      tell(activator_event::now_follower, why);
  }

  // -- taking the lead

  // Waits for the fences of members that went down, then asks every up
  // member to release the lead; retries until all agree.
  void acquire() {
    role_ = role::acquiring;
    auto gen = ++generation_;
    auto now = clock_type::now();
    // Alone with seeds, we may be about to join a cluster that has a
    // leader: give the seeds a fence's time to answer first.
    if (has_seeds_ && up_members().size() == 1 && now < started_at_ + fence_) {
      delayed_send(this, started_at_ + fence_ - now, acquire_atom::value, gen);
      return;
    }
    if (auto end = fences_.next_end(now)) {
      delayed_send(this, *end - now, acquire_atom::value, gen);
      return;
    }
    request(agent_, ask_timeout + std::chrono::seconds{1}, multicall_atom::value, dir_name_,
            caf::make_message(release_atom::value, self_name_), caf::timespan{ask_timeout})
      .then(
        [this, gen](std::vector<node_reply>& replies) {
          if (gen != generation_ || role_ != role::acquiring)
            return;
          // Every up member let go, or runs no activator at all.
          std::vector<std::string> answered;
          auto all = std::all_of(replies.begin(), replies.end(), [&answered](auto& r) {
            answered.push_back(r.node);
            return r.error ? r.error == actor::errc::not_registered
                           : r.reply.template match_elements<caf::ok_atom>();
          });
          std::sort(answered.begin(), answered.end());
          if (all && answered == up_names(view_))
            return with_lease([this] { become_leader(); },
                              [this, gen] {
                                delayed_send(this, retry_after, acquire_atom::value, gen);
                              });
          delayed_send(this, retry_after, acquire_atom::value, gen);
        },
        [this, gen](caf::error&) { delayed_send(this, retry_after, acquire_atom::value, gen); });
  }

  void on_acquire(uint64_t gen) {
    if (gen == generation_ && role_ == role::acquiring && status_ == cluster_status::up
        && leader_ == self_name_)
      acquire();
  }

  void become_leader() {
    role_ = role::leader;
    ++generation_;
    change_pending_ = false;
    tell(activator_event::now_leader, "the oldest up member (" + members_text() + ")");
    arm_timer();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [reason, rp] : pending)
      deliver_trigger(reason, rp);
  }

  // A member that wants the lead asks us to let go.
  caf::result<caf::ok_atom> on_release(const std::string& who) {
    if (who == self_name_ || (role_ != role::leader && role_ != role::acquiring))
      return caf::ok_atom::value;
    if (leader_ == who) { // our view agrees: it is older
      step_down(who + " takes over");
      return caf::ok_atom::value;
    }
    return make_error(errc::no_leader, name_, self_name_ + " still leads by its view");
  }

  // -- leader-only events

  void arm_timer() {
    if (role_ != role::leader)
      return;
    if (auto in = impl_->next_timer_in())
      delayed_send(this, *in, timer_atom::value, generation_);
  }

  void on_timer(uint64_t gen) {
    if (gen != generation_ || role_ != role::leader)
      return;
    with_lease(
      [this] {
        tell(activator_event::timer, "next_timer_in");
        tell_change();
        arm_timer();
      },
      [this, gen] {
        if (gen == generation_)
          delayed_send(this, retry_after, timer_atom::value, gen);
      });
  }

  void deliver_trigger(const std::string& reason, caf::response_promise rp) {
    with_lease(
      [this, reason, rp]() mutable {
        if (role_ != role::leader)
          return rp.deliver(make_error(errc::no_leader, name_, self_name_ + " let go"));
        tell(activator_event::trigger, reason);
        rp.deliver(caf::ok_atom::value);
      },
      [this, rp]() mutable {
        rp.deliver(make_error(errc::no_leader, name_, self_name_ + " has no lease"));
      });
  }

  caf::result<caf::ok_atom> on_trigger(std::string& reason, bool forwarded) {
    auto rp = make_response_promise<caf::ok_atom>();
    if (role_ == role::leader) {
      deliver_trigger(reason, rp);
    } else if (role_ == role::acquiring) {
      pending_.emplace_back(std::move(reason), rp);
    } else if (!forwarded && !leader_.empty() && leader_ != self_name_) {
      rp.delegate(agent_, call_atom::value, leader_, dir_name_,
                  caf::make_message(trigger_atom::value, std::move(reason), true),
                  caf::timespan{ask_timeout});
    } else {
      rp.deliver(make_error(errc::no_leader, name_));
    }
    return rp;
  }

  void fail_pending(const std::string& why) {
    for (auto& [reason, rp] : pending_)
      rp.deliver(make_error(errc::no_leader, name_, why));
    pending_.clear();
  }

  caf::actor agent_;
  std::string name_;
  std::string dir_name_;
  std::string self_name_;
  caf::timespan fence_;
  bool has_seeds_;
  clock_type::time_point started_at_ = clock_type::now();
  std::unique_ptr<activator> impl_;
  std::vector<member> view_;
  cluster_status status_ = cluster_status::starting;
  role role_ = role::follower;
  std::string leader_; // the oldest up candidate by our view
  std::set<std::string> candidates_; // members that run this activator
  bool rolled_ = false;              // candidates_ is known
  uint64_t roll_round_ = 0;
  bool change_pending_ = false;      // a cluster_change to tell
  uint64_t incarnation_ = 0; // ours, as the view shows it
  uint64_t generation_ = 0; // bumped on every role change; stale timers and retries drop
  fence_set fences_; // members that went down
  std::vector<std::pair<std::string, caf::response_promise>> pending_; // triggers
};

caf::behavior activator_actor::make_behavior() {
  impl_->init();
  send(agent_, subscribe_atom::value, caf::actor{this});
  set_exit_handler([this](caf::exit_msg& msg) {
    fail_pending("the activator stops");
    tell(activator_event::shutdown, "this node stops");
    quit(msg.reason);
  });
  return {
    [this](view_atom, std::vector<member>& view) { on_view(std::move(view)); },
    [this](status_atom, cluster_status, cluster_status now, std::vector<member>&) {
      on_status(now);
    },
    [this](release_atom, const std::string& who) { return on_release(who); },
    [this](acquire_atom, uint64_t gen) { on_acquire(gen); },
    [](present_atom) { return caf::ok_atom::value; },
    [this](roll_call_atom, uint64_t round) {
      if (round == roll_round_)
        roll_call();
    },
    [this](timer_atom, uint64_t gen) { on_timer(gen); },
    [this](dead_atom, const std::string& key) {
      fences_.lift(key);
      if (role_ == role::acquiring)
        acquire();
    },
    [this](trigger_atom, std::string& reason) { return on_trigger(reason, false); },
    [this](trigger_atom, std::string& reason, bool forwarded) {
      return on_trigger(reason, forwarded);
    },
    [this](leader_atom) -> caf::result<std::string> {
      if (status_ != cluster_status::up || role_ == role::split || leader_.empty())
        return make_error(errc::no_leader, name_);
      return leader_;
    },
    [this](dump_atom) {
      return std::string{"role="} + to_string(role_) + " leader=" + leader_ + " "
             + impl_->dump();
    },
  };
}

} // namespace

// -- activator ------------------------------------------------------------------

activator::~activator() = default;

void activator::init() {
  // nop
}

std::optional<caf::timespan> activator::next_timer_in() {
  return std::nullopt;
}

cluster_validity activator::cluster_valid(const std::vector<member>&) {
  return cluster_validity::yes;
}

std::string activator::dump() const {
  return {};
}

const char* to_string(activator_event x) {
  switch (x) {
    case activator_event::now_leader:
      return "now_leader";
    case activator_event::now_follower:
      return "now_follower";
    case activator_event::cluster_change:
      return "cluster_change";
    case activator_event::cluster_split:
      return "cluster_split";
    case activator_event::timer:
      return "timer";
    case activator_event::trigger:
      return "trigger";
    case activator_event::shutdown:
      return "shutdown";
  }
  return "?";
}

std::string activator_name(const std::string& name) {
  return "ringvisor.activator." + name;
}

caf::expected<caf::actor> start_activator(actor::node& node, const caf::actor& agent,
                                          std::string name, std::unique_ptr<activator> impl) {
  auto dir_name = activator_name(name);
  auto hdl = node.system().spawn<activator_actor>(node, agent, std::move(name), std::move(impl));
  if (auto err = node.register_name(dir_name, hdl)) {
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return err;
  }
  node.adopt(hdl);
  return hdl;
}

caf::expected<std::string> whereis_leader(caf::actor_system& sys, const caf::actor& act,
                                          caf::timespan timeout) {
  return actor::blocking_request<std::string>(sys, act, timeout, leader_atom::value);
}

caf::error trigger(caf::actor_system& sys, const caf::actor& act, std::string reason,
                   caf::timespan timeout) {
  auto ok = actor::blocking_request<caf::ok_atom>(sys, act, timeout, trigger_atom::value,
                                                  std::move(reason));
  return ok ? caf::none : std::move(ok.error());
}

caf::expected<std::string> dump(caf::actor_system& sys, const caf::actor& act,
                                caf::timespan timeout) {
  return actor::blocking_request<std::string>(sys, act, timeout, dump_atom::value);
}

} // namespace ringvisor::cluster
