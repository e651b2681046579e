#include "ringvisor/cluster/registry.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/cluster/lease.hpp"

namespace ringvisor::cluster {

namespace detail {

/// The names as this node knows them: written by the registry actor (and,
/// for read-your-writes, by the thread that registered), read by anyone.
struct name_table {
  mutable std::shared_mutex mtx;
  std::unordered_map<std::string, registered_name> names;

  caf::actor find(const std::string& name) const {
    std::shared_lock<std::shared_mutex> guard{mtx};
    auto i = names.find(name);
    return i != names.end() ? i->second.actor : caf::actor{};
  }

  void put(const registered_name& x) {
    std::unique_lock<std::shared_mutex> guard{mtx};
    names[x.name] = x;
  }

  // Erases `name` if `keep` says so of its entry.
  template <class Predicate>
  bool erase_if(const std::string& name, Predicate pred) {
    std::unique_lock<std::shared_mutex> guard{mtx};
    auto i = names.find(name);
    if (i == names.end() || !pred(i->second))
      return false;
    names.erase(i);
    return true;
  }
};

} // namespace detail

namespace {

using rg_register_atom = register_atom;
using rg_unregister_atom = unregister_atom;
using rg_claim_atom = caf::atom_constant<caf::atom("rg_claim")>;
using rg_release_atom = caf::atom_constant<caf::atom("rg_release")>;
using rg_set_atom = caf::atom_constant<caf::atom("rg_set")>;
using rg_del_atom = caf::atom_constant<caf::atom("rg_del")>;
using rg_all_atom = caf::atom_constant<caf::atom("rg_all")>;
using rg_hello_atom = caf::atom_constant<caf::atom("rg_hello")>;
using rg_pull_atom = caf::atom_constant<caf::atom("rg_pull")>;

const std::string dir_name = "ringvisor.registry";
constexpr auto call_timeout = std::chrono::seconds{3};

// How long a node remembers that a registration ended: longer than any
// partition it should heal from without bringing the name back.
constexpr auto tombstone_lifetime = std::chrono::hours{24};

uint64_t now_us() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
    duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

class registry_actor : public caf::event_based_actor {
public:
  registry_actor(caf::actor_config& cfg, caf::actor agent, std::string self_name,
                 std::shared_ptr<detail::name_table> table)
    : caf::event_based_actor(cfg),
      agent_(std::move(agent)),
      self_name_(std::move(self_name)),
      table_(std::move(table)) {
    // nop
  }

  const char* name() const override {
    return "ringvisor.registry";
  }

  caf::behavior make_behavior() override {
    lease_ = lease_of(system());
    send(agent_, subscribe_atom::value, caf::actor{this});
    set_down_handler([this](caf::down_msg& dm) {
      // A dropped link says nothing about the actor: its node may be fine.
      // Watch it again at the next view; if the node goes, so do its names.
      if (dm.reason == caf::exit_reason::remote_link_unreachable)
        held_.erase(dm.source);
      else
        on_down(dm.source);
    });
    return {
      [this](view_atom, std::vector<member>& view) { on_view(view); },
      [this](status_atom, cluster_status before, cluster_status now, std::vector<member>&) {
        status_ = now;
        // Back from a split: the other side may have names we never saw
        // (they pull ours when they see our new incarnation).
        if (before == cluster_status::split && now != cluster_status::split)
          for (auto& [name, inc] : up_)
            if (name != self_name_)
              pull(name);
      },
      [this](rg_register_atom, std::string& name, caf::actor& x) {
        return on_register(std::move(name), std::move(x));
      },
      [this](rg_unregister_atom, const std::string& name) { return on_unregister(name); },
      [this](rg_claim_atom, registered_name& x) -> caf::result<registered_name> {
        auto granted = claim(std::move(x));
        if (!granted)
          return std::move(granted.error());
        return std::move(*granted);
      },
      [this](rg_release_atom, const std::string& name) -> caf::result<uint64_t> {
        auto epoch = release(name);
        if (!epoch)
          return std::move(epoch.error());
        return *epoch;
      },
      [this](rg_set_atom, registered_name& x) { merge(std::move(x)); },
      [this](rg_del_atom, const std::string& name, uint64_t epoch) { bury(name, epoch); },
      [this](rg_hello_atom) { return caf::actor{this}; },
      [this](rg_pull_atom, const std::string& node) {
        if (up_.count(node) && !peers_.count(node))
          pull(node);
      },
      [this](rg_all_atom) {
        std::vector<registered_name> names;
        {
          std::shared_lock<std::shared_mutex> guard{table_->mtx};
          names.reserve(table_->names.size());
          for (auto& [name, x] : table_->names)
            names.push_back(x);
        }
        std::vector<registered_name> ended; // name and epoch only
        ended.reserve(buried_.size());
        for (auto& [name, t] : buried_)
          ended.push_back(registered_name{name, caf::actor{}, std::string{}, t.epoch});
        return caf::make_message(std::move(names), std::move(ended));
      },
    };
  }

private:
  // -- requests of this node's callers

  // Asks the registry of `node`: straight if we know it, else through the
  // agent, which forwards the call to it.
  auto ask_home(const std::string& node, caf::message msg) {
    if (auto i = peers_.find(node); i != peers_.end())
      return request(i->second, call_timeout, std::move(msg));
    return request(agent_, call_timeout + std::chrono::seconds{1}, call_atom::value, node,
                   dir_name, std::move(msg), caf::timespan{call_timeout});
  }

  // Asks the name's home; once it agreed, this node's table holds the name
  // before the caller hears back (read your writes).
  caf::result<registered_name> on_register(std::string name, caf::actor x) {
    if (status_ == cluster_status::split)
      return make_error(errc::split_off, name);
    if (auto held = table_->find(name); held && held != x)
      return actor::make_error(actor::errc::name_taken, name);
    registered_name entry{name, std::move(x), self_name_, 0};
    auto home = home_of(name);
    if (!home)
      return std::move(home.error());
    if (home->empty()) {
      auto granted = claim(std::move(entry));
      if (!granted)
        return std::move(granted.error());
      return std::move(*granted);
    }
    auto rp = make_response_promise<registered_name>();
    ask_home(*home, caf::make_message(rg_claim_atom::value, std::move(entry)))
      .then(
        [this, rp](registered_name& granted) mutable {
          merge(granted);
          rp.deliver(std::move(granted));
        },
        [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return rp;
  }

  // A side that lost its majority ends nothing: the other side keeps the
  // name, and the heal would bring it back after the caller heard `ok`.
  caf::result<caf::ok_atom> on_unregister(const std::string& name) {
    if (status_ == cluster_status::split)
      return make_error(errc::split_off, name);
    auto home = home_of(name);
    if (!home)
      return std::move(home.error());
    if (home->empty()) {
      auto epoch = release(name);
      if (!epoch)
        return std::move(epoch.error());
      return caf::ok_atom::value;
    }
    auto rp = make_response_promise<caf::ok_atom>();
    ask_home(*home, caf::make_message(rg_release_atom::value, name))
      .then(
        [this, rp, name](uint64_t epoch) mutable {
          bury(name, epoch);
          rp.deliver(caf::ok_atom::value);
        },
        [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return rp;
  }

  // The home of `name`: "" if this node, else the home's name.
  caf::expected<std::string> home_of(const std::string& name) const {
    auto home = ring_.whois(name);
    if (!home)
      return make_error(errc::empty_ring, "no up member holds names yet");
    return *home == self_name_ ? std::string{} : std::string{*home};
  }


  // Tells every other registry; straight to those whose handle we have,
  // through the agent if we lack one (a member that just joined).
  void broadcast(const caf::message& msg) {
    if (peers_.size() + 1 < up_.size()) {
      multicast(agent_, dir_name, msg);
      return;
    }
    for (auto& [name, hdl] : peers_)
      send(hdl, msg);
  }

  // -- the home of a name

  // Grants a name, if it is free. A home that is still learning the names
  // (it just joined, a pull is out) cannot know that, and says so.
  caf::expected<registered_name> claim(registered_name x) {
    if (status_ == cluster_status::split)
      return make_error(errc::split_off, x.name);
    if (status_ != cluster_status::up || pulls_out_ > 0 || !ring_.mine(x.name, self_name_))
      return make_error(errc::not_ready, x.name, "the name's home is still learning the names");
    // A home that resumes after a pause may have been replaced meanwhile.
    if (!lease_ || !lease_->held())
      return make_error(errc::not_ready, x.name, "the name's home holds no lease");
    {
      std::shared_lock<std::shared_mutex> guard{table_->mtx};
      if (auto i = table_->names.find(x.name); i != table_->names.end())
        return i->second.actor == x.actor ? caf::expected<registered_name>{i->second}
                                          : actor::make_error(actor::errc::name_taken, x.name);
    }
    // Above the end of any earlier registration under the name, whatever
    // the clock of the home that ended it: else its tombstone would bury this.
    auto ended = buried_.count(x.name) ? buried_[x.name].epoch : 0;
    x.epoch = last_epoch_ = std::max({now_us(), last_epoch_ + 1, ended + 1});
    table_->put(x);
    watch(x);
    broadcast(caf::make_message(rg_set_atom::value, x));
    return x;
  }

  // Takes a name away; returns the epoch of the registration it ended.
  caf::expected<uint64_t> release(const std::string& name) {
    if (status_ == cluster_status::split)
      return make_error(errc::split_off, name);
    registered_name gone;
    auto erased = table_->erase_if(name, [&gone](auto& x) {
      gone = x;
      return true;
    });
    if (!erased)
      return actor::make_error(actor::errc::not_registered, name);
    bury(name, gone.epoch);
    unwatch(gone);
    broadcast(caf::make_message(rg_del_atom::value, name, gone.epoch));
    return gone.epoch;
  }

  void watch(const registered_name& x) {
    auto& names = held_[x.actor.address()];
    if (names.empty())
      monitor(x.actor);
    if (std::find(names.begin(), names.end(), x.name) == names.end())
      names.push_back(x.name);
  }

  void unwatch(const registered_name& x) {
    auto i = held_.find(x.actor.address());
    if (i == held_.end())
      return;
    auto& names = i->second;
    names.erase(std::remove(names.begin(), names.end(), x.name), names.end());
    if (names.empty()) {
      demonitor(x.actor);
      held_.erase(i);
    }
  }

  bool watched(const registered_name& x) const {
    auto i = held_.find(x.actor.address());
    return i != held_.end()
           && std::find(i->second.begin(), i->second.end(), x.name) != i->second.end();
  }

  // A watched actor died (or its node's link dropped): its names go.
  void on_down(const caf::actor_addr& who) {
    auto i = held_.find(who);
    if (i == held_.end())
      return;
    for (auto& name : i->second) {
      uint64_t epoch = 0;
      if (table_->erase_if(name, [&](auto& x) {
            epoch = x.epoch;
            return x.actor.address() == who;
          })) {
        bury(name, epoch);
        broadcast(caf::make_message(rg_del_atom::value, name, epoch));
      }
    }
    held_.erase(i);
  }

  // -- every node

  // Takes a name from a peer; two actors under one name: the older wins on
  // every node, and the node of the loser stops it.
  void merge(registered_name x) {
    // Its node is gone, so is the actor; a null handle is an actor whose
    // node this process could not reach when the name arrived (CAF reads
    // such a handle as null), nothing to hold a name or to watch; and a
    // registration that ended while the sender was cut off stays ended.
    if (!up_.count(x.node) || !x.actor || buried(x))
      return;
    registered_name loser;
    {
      std::unique_lock<std::shared_mutex> guard{table_->mtx};
      auto i = table_->names.find(x.name);
      if (i == table_->names.end() || i->second.actor == x.actor) {
        table_->names[x.name] = x;
      } else if (older(x, i->second)) {
        loser = std::exchange(i->second, x);
      } else {
        loser = x;
      }
    }
    if (ring_.mine(x.name, self_name_))
      watch(x);
    if (loser.actor && loser.node == self_name_) {
      log::warn("registry_conflict", {{"name", x.name}, {"kept_node", x.node}});
      send_exit(loser.actor, make_error(errc::name_conflict, loser.name));
    }
  }

  void on_view(const std::vector<member>& view) {
    std::map<std::string, uint64_t> up;
    for (auto& m : view)
      if (m.status == member_status::up)
        up.emplace(m.name, m.incarnation);
    // Back as a new incarnation (it was declared down while paused or cut
    // off): what ended meanwhile is news to it, so it asks everyone.
    bool rejoined = up_.count(self_name_) && up.count(self_name_)
                    && up_[self_name_] != up[self_name_];
    std::vector<std::string> newcomers;
    for (auto& [name, inc] : up)
      if (name != self_name_ && (rejoined || !up_.count(name) || up_[name] != inc))
        newcomers.push_back(name);
    up_ = std::move(up);
    for (auto i = peers_.begin(); i != peers_.end();)
      i = up_.count(i->first) && !std::count(newcomers.begin(), newcomers.end(), i->first)
            ? std::next(i)
            : peers_.erase(i);
    hash_ring ring;
    for (auto& [name, inc] : up_)
      ring.add(name);
    ring_ = std::move(ring);
    forget_gone_nodes();
    watch_homed_names();
    for (auto& name : newcomers)
      pull(name);
  }

  // Names of nodes that are no longer up died with them (no tombstone: a
  // node taken for dead in a partition may come back with its actors, and
  // then its older registrations win, see `merge`); old tombstones go.
  void forget_gone_nodes() {
    {
      std::unique_lock<std::shared_mutex> guard{table_->mtx};
      for (auto i = table_->names.begin(); i != table_->names.end();)
        i = up_.count(i->second.node) ? std::next(i) : table_->names.erase(i);
    }
    auto now = std::chrono::steady_clock::now();
    for (auto i = buried_.begin(); i != buried_.end();)
      i = now - i->second.at > tombstone_lifetime ? buried_.erase(i) : std::next(i);
  }

  // A registration ended: it goes, and no copy of it (nor of an older one
  // under the name) comes back, e.g. from a node that was cut off.
  void bury(const std::string& name, uint64_t epoch) {
    auto& t = buried_[name];
    t.epoch = std::max(t.epoch, epoch);
    t.at = std::chrono::steady_clock::now();
    table_->erase_if(name, [epoch](auto& x) { return x.epoch <= epoch; });
  }

  bool buried(const registered_name& x) const {
    auto i = buried_.find(x.name);
    return i != buried_.end() && x.epoch <= i->second.epoch;
  }

  // After a ring change this node is home to other names: watch their actors.
  void watch_homed_names() {
    std::vector<registered_name> mine;
    {
      std::shared_lock<std::shared_mutex> guard{table_->mtx};
      for (auto& [name, x] : table_->names)
        if (ring_.mine(name, self_name_) && !watched(x))
          mine.push_back(x);
    }
    for (auto& x : mine)
      watch(x);
  }

  // A member that joined (or came back after a partition) tells us its names
  // and gives us its registry's handle.
  void pull(const std::string& node) {
    request(agent_, call_timeout + std::chrono::seconds{1}, call_atom::value, node, dir_name,
            caf::make_message(rg_hello_atom::value), caf::timespan{call_timeout})
      .then([](caf::ok_atom) {},
            [this, node](caf::error& err) {
              auto reply = untyped_reply(err);
              if (reply && reply->match_elements<caf::actor>() && up_.count(node))
                peers_[node] = reply->get_as<caf::actor>(0);
              else // its registry may not be up yet: ask again
                delayed_send(this, std::chrono::milliseconds{500}, rg_pull_atom::value, node);
            });
    ++pulls_out_;
    request(agent_, call_timeout + std::chrono::seconds{1}, call_atom::value, node, dir_name,
            caf::make_message(rg_all_atom::value), caf::timespan{call_timeout})
      .then([this](caf::ok_atom) { --pulls_out_; },
            [this, node](caf::error& err) {
              --pulls_out_;
              using names = std::vector<registered_name>;
              auto reply = untyped_reply(err);
              if (!reply || !reply->match_elements<names, names>()) {
                log::debug("registry_pull_failed",
                           {{"node", node}, {"reason", actor::render(err)}});
                return;
              }
              for (auto& x : reply->get_as<names>(1)) // ended first
                bury(x.name, x.epoch);
              for (auto& x : reply->get_as<names>(0))
                merge(x);
            });
  }

  caf::actor agent_;
  std::string self_name_;
  std::shared_ptr<detail::name_table> table_;
  cluster_status status_ = cluster_status::starting;
  std::map<std::string, uint64_t> up_; // up members and their incarnations
  hash_ring ring_;
  uint64_t last_epoch_ = 0;
  std::unordered_map<caf::actor_addr, std::vector<std::string>> held_; // watched actors
  std::map<std::string, caf::actor> peers_; // other up members' registries
  size_t pulls_out_ = 0;                     // names asked of peers, not yet here
  struct tombstone {
    uint64_t epoch = 0; // of the last registration under the name that ended
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, tombstone> buried_; // ended registrations
  std::shared_ptr<const lease_clock> lease_;          // the node's, read without messages
};

} // namespace

bool older(const registered_name& x, const registered_name& y) {
  return std::tie(x.epoch, x.node) < std::tie(y.epoch, y.node);
}

// -- name_registry --------------------------------------------------------------

name_registry::name_registry(caf::actor_system& sys, caf::actor hdl,
                             std::shared_ptr<detail::name_table> t)
  : sys_(&sys), actor_(std::move(hdl)), table_(std::move(t)) {
  // nop
}

caf::expected<name_registry> name_registry::start(actor::node& node, const caf::actor& agent) {
  auto table = std::make_shared<detail::name_table>();
  auto hdl = node.system().spawn<registry_actor>(agent, node.identity().name, table);
  if (auto err = node.register_name(dir_name, hdl)) {
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return err;
  }
  node.adopt(hdl);
  return name_registry{node.system(), hdl, std::move(table)};
}

namespace {

// Asks the registry, again while it answers `not_ready` (it is learning the
// names, or the home changes hands) or `member_unreachable` (the agent has
// no link to the name's home yet, as just after a join), until `timeout`.
template <class T, class... Ts>
caf::error ask_registry(caf::actor_system& sys, const caf::actor& reg, caf::timespan timeout,
                        Ts&&... xs) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = deadline - std::chrono::steady_clock::now();
    auto reply = actor::blocking_request<T>(sys, reg, std::max<caf::timespan>(left, {}), xs...);
    if (reply)
      return caf::none;
    auto transient = reply.error() == errc::not_ready
                     || reply.error() == errc::member_unreachable;
    if (!transient || std::chrono::steady_clock::now() >= deadline)
      return std::move(reply.error());
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
}

} // namespace

caf::error name_registry::register_name(const std::string& name, const caf::actor& x,
                                        caf::timespan timeout) const {
  return ask_registry<registered_name>(*sys_, actor_, timeout, rg_register_atom::value, name, x);
}

caf::error name_registry::unregister(const std::string& name, caf::timespan timeout) const {
  return ask_registry<caf::ok_atom>(*sys_, actor_, timeout, rg_unregister_atom::value, name);
}

caf::actor name_registry::whereis(const std::string& name) const {
  return table_->find(name);
}

std::vector<registered_name> name_registry::names() const {
  std::vector<registered_name> result;
  {
    std::shared_lock<std::shared_mutex> guard{table_->mtx};
    result.reserve(table_->names.size());
    for (auto& [name, x] : table_->names)
      result.push_back(x);
  }
  std::sort(result.begin(), result.end(),
            [](auto& x, auto& y) { return x.name < y.name; });
  return result;
}

} // namespace ringvisor::cluster
