// The supervisor actor.
//
// All work runs through one agenda of steps, processed in order. A step that
// stops a child pauses the agenda until the child's down message (or its
// shutdown timeout) arrives, which keeps OTP's semantics of a supervisor that
// does one thing at a time without ever blocking a scheduler thread:
// requests and exits that arrive meanwhile are queued behind the current
// work, and steps that a running step creates go in front of the queue.

#include "ringvisor/supervision/supervisor.hpp"

#include <deque>
#include <list>
#include <string_view>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"

namespace ringvisor::supervision {

namespace {

using shutdown_timeout_atom = caf::atom_constant<caf::atom("sd_timeout")>;
using restart_due_atom = caf::atom_constant<caf::atom("restartdue")>;

bool is_normal(const caf::error& reason) {
  return !reason || reason == caf::exit_reason::user_shutdown;
}

class supervisor_actor : public caf::event_based_actor {
public:
  supervisor_actor(caf::actor_config& cfg, supervisor_spec spec)
    : caf::event_based_actor(cfg),
      name_(std::move(spec.name)),
      strategy_(spec.strategy),
      max_restarts_(spec.max_restarts),
      period_(spec.period),
      restart_delay_(spec.restart_delay),
      max_restart_delay_(spec.max_restart_delay),
      factories_(std::move(spec.factories)),
      observer_(std::move(spec.observer)),
      initial_(std::move(spec.children)) {
    // nop
  }

  const char* name() const override {
    return "ringvisor.supervisor";
  }

  caf::behavior make_behavior() override;

  void on_exit() override {
    // Killed, crashed or unreachable with children still alive: take them
    // along. Anonymous, since this may run while the actor is destroyed.
    for (auto& c : children_)
      if (c.handle)
        caf::anon_send_exit(c.handle, caf::exit_reason::kill);
    // Killed with requests still queued (a kill skips shut_down): answer
    // them, since a caller may wait without a timeout (the ring supervisor
    // does). Their promises also hold this actor, which would never be freed.
    shutting_down_ = true;
    for (auto& x : agenda_)
      if (x.what == step::kind::run)
        x.fn();
    agenda_.clear();
  }

private:
  struct child {
    child_spec spec;
    caf::actor handle;
    uint64_t generation = 0;
  };

  using child_list = std::list<child>;

  struct step {
    enum class kind { start, stop, forget, exited, run, quit };
    kind what;
    std::string id;
    uint64_t generation = 0;
    caf::error reason;
    std::function<void()> fn;
  };

  // -- agenda -----------------------------------------------------------------

  void enqueue(step x) {
    agenda_.push_back(std::move(x));
    run_agenda();
  }

  void push_front(std::vector<step> xs) {
    agenda_.insert(agenda_.begin(), std::make_move_iterator(xs.begin()),
                   std::make_move_iterator(xs.end()));
  }

  void run_agenda() {
    while (waiting_for_.empty() && !agenda_.empty() && !quitting_) {
      auto x = std::move(agenda_.front());
      agenda_.pop_front();
      execute(x);
    }
  }

  void execute(step& x) {
    switch (x.what) {
      case step::kind::start:
        // A delayed start (generation set) is void once the child moved on.
        if (auto c = find(x.id); c != nullptr && !c->handle
                                 && (x.generation == 0
                                     || x.generation == c->generation))
          if (auto err = start(*c))
            on_start_failure(*c, std::move(err));
        break;
      case step::kind::stop:
        if (auto c = find(x.id); c != nullptr && c->handle)
          begin_stop(*c);
        break;
      case step::kind::forget:
        if (auto c = find(x.id); c != nullptr && !c->handle)
          erase(x.id);
        break;
      case step::kind::exited:
        if (auto c = find(x.id);
            c != nullptr && !c->handle && c->generation == x.generation)
          on_child_exit(*c, x.reason);
        break;
      case step::kind::run:
        x.fn();
        break;
      case step::kind::quit:
        quitting_ = true;
        quit(std::move(x.reason));
        break;
    }
  }

  // -- children ---------------------------------------------------------------

  child* find(std::string_view id) {
    auto i = by_id_.find(id);
    return i != by_id_.end() ? &*i->second : nullptr;
  }

  child& add(child_spec spec) {
    children_.push_back(child{std::move(spec), nullptr, 0});
    auto last = std::prev(children_.end());
    by_id_.emplace(last->spec.id, last);
    return *last;
  }

  void erase(std::string_view id) {
    auto i = by_id_.find(id);
    if (i == by_id_.end())
      return;
    auto pos = i->second;
    by_id_.erase(i);
    children_.erase(pos);
  }

  caf::error start(child& c) {
    caf::expected<caf::actor> hdl{caf::error{}};
    if (c.spec.start)
      hdl = c.spec.start(system());
    else if (factories_)
      hdl = factories_->spawn(system(), c.spec.type, c.spec.args);
    else
      hdl = make_error(errc::bad_spec, c.spec.id, "no factory registry");
    if (!hdl)
      return std::move(hdl.error());
    monitor(*hdl);
    c.handle = std::move(*hdl);
    ++c.generation;
    by_handle_.emplace(c.handle.id(), &c);
    if (observer_)
      send(observer_, child_started_atom::value, c.spec.id, c.handle);
    if (log::enabled(log::level::debug)) // hot path: skip building fields
      log::debug("child_started", {{"sup", name_}, {"child", c.spec.id},
                                   {"actor", c.handle.id()}});
    return caf::none;
  }

  void begin_stop(child& c) {
    waiting_for_ = c.spec.id;
    switch (c.spec.shutdown.how) {
      case shutdown_policy::mode::brutal_kill:
        send_exit(c.handle, caf::exit_reason::kill);
        break;
      case shutdown_policy::mode::timeout:
        send_exit(c.handle, caf::exit_reason::user_shutdown);
        delayed_send(this, c.spec.shutdown.timeout, shutdown_timeout_atom::value,
                     ++stop_token_);
        break;
      case shutdown_policy::mode::infinity:
        send_exit(c.handle, caf::exit_reason::user_shutdown);
        break;
    }
  }

  void on_shutdown_timeout(uint64_t token) {
    if (token != stop_token_ || waiting_for_.empty())
      return;
    if (auto c = find(waiting_for_); c != nullptr && c->handle) {
      log::warn("child_shutdown_timeout",
                {{"sup", name_}, {"child", c->spec.id}, {"action", "kill"}});
      send_exit(c->handle, caf::exit_reason::kill);
    }
  }

  void on_down(caf::down_msg& dm) {
    auto i = by_handle_.find(dm.source.id());
    if (i == by_handle_.end())
      return;
    auto& c = *i->second;
    by_handle_.erase(i);
    c.handle = nullptr;
    if (waiting_for_ == c.spec.id) {
      // A stop we asked for: no restart, continue with the agenda.
      waiting_for_.clear();
      ++stop_token_;
      if (log::enabled(log::level::debug))
        log::debug("child_stopped", {{"sup", name_}, {"child", c.spec.id}});
      run_agenda();
      return;
    }
    enqueue(step{step::kind::exited, c.spec.id, c.generation,
                 std::move(dm.reason), {}});
  }

  // -- restart logic ----------------------------------------------------------

  void on_child_exit(child& c, const caf::error& reason) {
    auto id = c.spec.id;
    auto normal = is_normal(reason);
    auto reason_str = actor::render(reason);
    if (c.spec.restart == restart_type::temporary
        || (c.spec.restart == restart_type::transient && normal)) {
      log::info("child_exited", {{"sup", name_}, {"child", id},
                                 {"reason", reason_str},
                                 {"restart", to_string(c.spec.restart)}});
      if (observer_)
        send(observer_, child_finished_atom::value, id, reason);
      if (c.spec.restart == restart_type::temporary)
        erase(id);
      return;
    }
    if (!record_restart()) {
      log::error("escalate", {{"sup", name_}, {"child", id},
                              {"reason", reason_str},
                              {"max_restarts", max_restarts_},
                              {"period_ms", to_ms(period_)}});
      shut_down(make_error(errc::reached_max_restart_intensity, name_, id,
                           reason_str));
      return;
    }
    auto delay = restart_delay();
    log::info("child_restarting", {{"sup", name_}, {"child", id},
                                   {"reason", reason_str},
                                   {"strategy", strategy_name()},
                                   {"delay_ms", to_ms(delay)}});
    auto plan = restart_plan(c);
    if (delay.count() > 0)
      plan = delay_starts(std::move(plan), delay);
    push_front(std::move(plan));
  }

  // Back-off doubling with each restart recorded within the period.
  caf::timespan restart_delay() const {
    if (restart_delay_.count() <= 0)
      return caf::timespan{0};
    auto delay = restart_delay_;
    for (size_t i = 1; i < restarts_.size() && delay < max_restart_delay_; ++i)
      delay *= 2;
    return std::min(delay, max_restart_delay_);
  }

  // Keeps the stops of `plan` and sends its starts to ourselves after `delay`.
  std::vector<step> delay_starts(std::vector<step> plan, caf::timespan delay) {
    std::vector<std::pair<std::string, uint64_t>> starts;
    std::vector<step> result;
    for (auto& x : plan) {
      if (x.what == step::kind::start) {
        auto c = find(x.id);
        starts.emplace_back(x.id, c != nullptr ? c->generation : 0);
      } else {
        result.push_back(std::move(x));
      }
    }
    auto batch = ++restart_batch_;
    delayed_restarts_.emplace(batch, std::move(starts));
    result.push_back(step{step::kind::run, {}, 0, {}, [this, delay, batch] {
                            delayed_send(this, delay, restart_due_atom::value,
                                         batch);
                          }});
    return result;
  }

  void on_restart_due(uint64_t batch) {
    auto i = delayed_restarts_.find(batch);
    if (i == delayed_restarts_.end())
      return;
    auto starts = std::move(i->second);
    delayed_restarts_.erase(i);
    if (shutting_down_)
      return;
    for (auto& [id, generation] : starts)
      agenda_.push_back(step{step::kind::start, id, generation, {}, {}});
    run_agenda();
  }

  void on_start_failure(child& c, caf::error err) {
    log::error("child_start_failed", {{"sup", name_}, {"child", c.spec.id},
                                      {"reason", actor::render(err)}});
    // A failed restart counts as another exit of the child.
    on_child_exit(c, make_error(errc::start_failed, c.spec.id,
                                actor::render(err)));
  }

  bool record_restart() {
    auto now = clock().now();
    restarts_.push_back(now);
    while (!restarts_.empty() && restarts_.front() + period_ <= now)
      restarts_.pop_front();
    return restarts_.size() <= max_restarts_;
  }

  // Steps that restart `failed` according to the strategy.
  std::vector<step> restart_plan(child& failed) {
    std::vector<step> result;
    if (strategy_ == restart_strategy::one_for_one) {
      result.push_back(step{step::kind::start, failed.spec.id, 0, {}, {}});
      return result;
    }
    // The affected children: all, or `failed` and those after it.
    auto first = children_.begin();
    if (strategy_ == restart_strategy::rest_for_one)
      while (&*first != &failed)
        ++first;
    std::vector<child*> affected;
    for (auto i = first; i != children_.end(); ++i)
      if (&*i == &failed || i->handle)
        affected.push_back(&*i);
    for (auto i = affected.rbegin(); i != affected.rend(); ++i)
      if ((*i)->handle)
        result.push_back(step{step::kind::stop, (*i)->spec.id, 0, {}, {}});
    for (auto c : affected) {
      auto kind = c->spec.restart == restart_type::temporary && c != &failed
                    ? step::kind::forget
                    : step::kind::start;
      result.push_back(step{kind, c->spec.id, 0, {}, {}});
    }
    return result;
  }

  // Stops every running child, newest first, then exits with `reason`.
  void shut_down(caf::error reason) {
    if (shutting_down_)
      return;
    shutting_down_ = true;
    for (auto& x : agenda_)
      if (x.what == step::kind::run)
        x.fn(); // requests fail fast once shutting_down_ is set
    agenda_.clear();
    for (auto i = children_.rbegin(); i != children_.rend(); ++i)
      if (i->handle)
        agenda_.push_back(step{step::kind::stop, i->spec.id, 0, {}, {}});
    agenda_.push_back(step{step::kind::quit, {}, 0, std::move(reason), {}});
    run_agenda();
  }

  // -- requests ---------------------------------------------------------------

  // Queues `f(rp)` behind the current work; `f` delivers the response.
  template <class F>
  caf::response_promise defer(F f) {
    auto rp = make_response_promise();
    if (shutting_down_) { // the agenda ends with quit: nothing queued now runs
      rp.deliver(make_error(errc::shutting_down, name_));
      return rp;
    }
    enqueue(step{step::kind::run, {}, 0, {}, [this, rp, f]() mutable {
                   if (shutting_down_)
                     rp.deliver(make_error(errc::shutting_down, name_));
                   else
                     f(rp);
                 }});
    return rp;
  }

  void do_start_child(caf::response_promise& rp, child_spec& spec) {
    if (spec.id.empty() || (spec.type.empty() && !spec.start))
      return deliver(rp, make_error(errc::bad_spec,
                                    "a child spec needs an id and a type"));
    if (auto c = find(spec.id))
      return deliver(rp, make_error(c->handle ? errc::already_started
                                              : errc::already_present,
                                    spec.id));
    auto& c = add(std::move(spec));
    if (auto err = start(c)) {
      erase(c.spec.id);
      return deliver(rp, make_error(errc::start_failed, actor::render(err)));
    }
    rp.deliver(c.handle);
  }

  void do_terminate_child(caf::response_promise& rp, const std::string& id) {
    auto c = find(id);
    if (c == nullptr)
      return deliver(rp, make_error(errc::not_found, id));
    std::vector<step> steps;
    if (c->handle)
      steps.push_back(step{step::kind::stop, id, 0, {}, {}});
    if (c->spec.restart == restart_type::temporary)
      steps.push_back(step{step::kind::forget, id, 0, {}, {}});
    steps.push_back(step{step::kind::run, {}, 0, {}, [rp]() mutable {
                           rp.deliver(caf::ok_atom::value);
                         }});
    push_front(std::move(steps));
  }

  void do_restart_child(caf::response_promise& rp, const std::string& id) {
    auto c = find(id);
    if (c == nullptr)
      return deliver(rp, make_error(errc::not_found, id));
    if (c->handle)
      return deliver(rp, make_error(errc::running, id));
    if (auto err = start(*c))
      return deliver(rp, make_error(errc::start_failed, actor::render(err)));
    rp.deliver(c->handle);
  }

  // Hands a running child over to the caller: no longer monitored, its
  // spec removed; the caller stops it (or keeps it).
  void do_detach_child(caf::response_promise& rp, const std::string& id) {
    auto c = find(id);
    if (c == nullptr)
      return deliver(rp, make_error(errc::not_found, id));
    auto hdl = c->handle;
    if (hdl) {
      demonitor(hdl);
      by_handle_.erase(hdl.id());
    }
    erase(id);
    rp.deliver(hdl);
  }

  void do_delete_child(caf::response_promise& rp, const std::string& id) {
    auto c = find(id);
    if (c == nullptr)
      return deliver(rp, make_error(errc::not_found, id));
    if (c->handle)
      return deliver(rp, make_error(errc::running, id));
    erase(id);
    rp.deliver(caf::ok_atom::value);
  }

  std::vector<child_info> which_children() const {
    std::vector<child_info> result;
    result.reserve(children_.size());
    for (auto& c : children_)
      result.push_back(child_info{c.spec.id, c.handle, c.spec.type,
                                  c.spec.restart, c.spec.kind});
    return result;
  }

  child_counts count_children() const {
    child_counts result;
    for (auto& c : children_) {
      ++result.specs;
      if (c.handle)
        ++result.active;
      if (c.spec.kind == child_kind::supervisor)
        ++result.supervisors;
      else
        ++result.workers;
    }
    return result;
  }

  static void deliver(caf::response_promise& rp, caf::error err) {
    rp.deliver(std::move(err));
  }

  const char* strategy_name() const {
    switch (strategy_) {
      case restart_strategy::one_for_one:
        return "one_for_one";
      case restart_strategy::one_for_all:
        return "one_for_all";
      case restart_strategy::rest_for_one:
        return "rest_for_one";
    }
    return "?";
  }

  static int64_t to_ms(caf::timespan x) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
  }

  // -- state ------------------------------------------------------------------

  std::string name_;
  restart_strategy strategy_;
  size_t max_restarts_;
  caf::timespan period_;
  caf::timespan restart_delay_;
  caf::timespan max_restart_delay_;
  std::shared_ptr<const actor::factory_registry> factories_;
  caf::actor observer_;
  std::vector<child_spec> initial_;

  child_list children_;
  std::unordered_map<std::string_view, child_list::iterator> by_id_;
  std::unordered_map<caf::actor_id, child*> by_handle_;
  std::deque<caf::actor_clock::time_point> restarts_;

  std::unordered_map<uint64_t, std::vector<std::pair<std::string, uint64_t>>>
    delayed_restarts_; // batch -> (child id, generation) to start
  uint64_t restart_batch_ = 0;

  std::deque<step> agenda_;
  std::string waiting_for_; // id of the child being stopped, if any
  uint64_t stop_token_ = 0;
  bool shutting_down_ = false;
  bool quitting_ = false;
};

caf::behavior supervisor_actor::make_behavior() {
  set_down_handler([this](caf::down_msg& dm) { on_down(dm); });
  set_exit_handler([this](caf::exit_msg& em) {
    if (em.reason) {
      log::info("supervisor_stopping",
                {{"sup", name_}, {"reason", actor::render(em.reason)}});
      shut_down(std::move(em.reason));
    }
  });
  // Start the initial children in order; on failure undo and give up.
  for (auto& spec : initial_) {
    auto& c = add(std::move(spec));
    if (auto err = start(c)) {
      log::error("child_start_failed", {{"sup", name_}, {"child", c.spec.id},
                                        {"reason", actor::render(err)}});
      shut_down(make_error(errc::start_failed, c.spec.id, actor::render(err)));
      break;
    }
  }
  initial_.clear();
  return {
    [this](shutdown_timeout_atom, uint64_t token) {
      on_shutdown_timeout(token);
    },
    [this](restart_due_atom, uint64_t batch) { on_restart_due(batch); },
    [this](start_child_atom, child_spec& spec) {
      return defer([this, spec](caf::response_promise& rp) mutable {
        do_start_child(rp, spec);
      });
    },
    [this](terminate_child_atom, const std::string& id) {
      return defer([this, id](caf::response_promise& rp) {
        do_terminate_child(rp, id);
      });
    },
    [this](restart_child_atom, const std::string& id) {
      return defer([this, id](caf::response_promise& rp) {
        do_restart_child(rp, id);
      });
    },
    [this](detach_child_atom, const std::string& id) {
      return defer([this, id](caf::response_promise& rp) {
        do_detach_child(rp, id);
      });
    },
    [this](delete_child_atom, const std::string& id) {
      return defer([this, id](caf::response_promise& rp) {
        do_delete_child(rp, id);
      });
    },
    [this](which_children_atom) {
      return defer([this](caf::response_promise& rp) {
        rp.deliver(which_children());
      });
    },
    [this](count_children_atom) {
      return defer([this](caf::response_promise& rp) {
        rp.deliver(count_children());
      });
    },
  };
}

// Checks what can be checked before spawning: ids and child types.
caf::error check(const supervisor_spec& spec) {
  std::unordered_map<std::string_view, int> seen;
  for (auto& c : spec.children) {
    if (c.id.empty())
      return make_error(errc::bad_spec, spec.name, "a child has an empty id");
    if (++seen[c.id] > 1)
      return make_error(errc::bad_spec, spec.name, "duplicate child id " + c.id);
    if (c.start)
      continue;
    if (!spec.factories)
      return make_error(errc::bad_spec, spec.name,
                        "child " + c.id + " names a type but there is no "
                                          "factory registry");
    if (!spec.factories->contains(c.type))
      return actor::make_error(actor::errc::unknown_child_type, c.type,
                               "child " + c.id + " of " + spec.name);
  }
  return caf::none;
}

} // namespace

caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys,
                                           supervisor_spec spec) {
  if (auto err = check(spec))
    return err;
  return sys.spawn<supervisor_actor>(std::move(spec));
}

child_spec supervisor_child(std::string id, supervisor_spec spec) {
  child_spec result;
  result.id = std::move(id);
  result.type = "supervisor:" + spec.name;
  result.kind = child_kind::supervisor;
  result.shutdown = shutdown_policy::infinity();
  result.start = [spec](caf::actor_system& sys) {
    return spawn_supervisor(sys, spec);
  };
  return result;
}

} // namespace ringvisor::supervision
