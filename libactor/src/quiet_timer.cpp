// ringvisor's scheduler: CAF 0.17's coordinator with a clock whose thread
// sleeps until the earliest deadline and is woken only when a new one comes
// before it. Setting and cancelling timeouts (two per request) then costs a
// short lock instead of an allocation, a queue push and a futex wake of the
// timer thread each.

#include "ringvisor/actor/scheduler.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/config.hpp>
#include <caf/defaults.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/settings.hpp>

#include "module_factory.hpp"

static_assert(CAF_VERSION == 1706, "the quiet timer relies on CAF 0.17.6 internals");

namespace ringvisor::actor {

namespace {

// The schedule is simple_actor_clock's, guarded by a mutex instead of fed
// through a queue. It derives from thread_safe_actor_clock only because the
// coordinator's `clock()` must return one; that base's queue stays unused.
//
// Two rules keep it from deadlocking on itself: events leave the schedule
// under the lock but are shipped and destroyed outside it (dropping an
// event's reference may destroy an actor, whose cleanup cancels its
// timeouts here); and an event is only destroyed under the lock on behalf
// of the actor it belongs to, which holds a reference itself.
class quiet_clock final : public caf::detail::thread_safe_actor_clock {
public:
  using base = caf::detail::simple_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    base::set_ordinary_timeout(t, self, type, id);
    wake_if_earlier(t);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    request_key key{self->id(), id.integer_value()};
    if (answered_early_.erase(key) > 0)
      return; // the answer came before the timeout was set
    auto ev = std::make_unique<request_timeout>(t, self->ctrl(), id);
    auto& backlink = ev->backlink;
    add_schedule_entry(t, std::move(ev));
    requests_[key] = backlink;
    wake_if_earlier(t);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    base::set_multi_timeout(t, self, type, id);
    wake_if_earlier(t);
  }

  // A cancellation never needs the thread: it wakes at worst once for a
  // deadline that is gone, and sleeps again.
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    std::lock_guard<std::mutex> guard{mtx_};
    base::cancel_ordinary_timeout(self, type);
  }

  // CAF itself never calls this in 0.17 (a request's timeout stays set after
  // its answer); the wire does when an answer arrives, possibly before the
  // requester's thread set the timeout (CAF sends the request first): then
  // the timeout is not set at all. Found by (actor, message id) in one step,
  // not by a pass over the actor's timeouts: an actor may hold many.
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    request_key key{self->id(), id.integer_value()};
    if (auto i = requests_.find(key); i != requests_.end()) {
      auto lookup = i->second;
      requests_.erase(i);
      schedule_.erase(lookup->second); // the caller holds a reference to `self`
      actor_lookup_.erase(lookup);
      return;
    }
    if (answered_early_.insert(key).second) {
      early_order_.push_back(key);
      if (early_order_.size() > max_answered_early) { // requests without a timeout
        answered_early_.erase(early_order_.front());
        early_order_.pop_front();
      }
    }
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    std::lock_guard<std::mutex> guard{mtx_};
    forget_requests_of(self->id());
    base::cancel_timeouts(self);
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    std::lock_guard<std::mutex> guard{mtx_};
    base::schedule_message(t, std::move(receiver), std::move(content));
    wake_if_earlier(t);
  }

  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    std::lock_guard<std::mutex> guard{mtx_};
    base::schedule_message(t, std::move(target), std::move(sender), std::move(content));
    wake_if_earlier(t);
  }

  void cancel_all() override {
    take_all(); // destroyed here, outside the lock
  }

  // Runs on the timer thread until `stop`.
  void run() {
    std::vector<unique_delayed_event_ptr> due;
    std::unique_lock<std::mutex> guard{mtx_};
    while (!stopped_) {
      if (schedule_.empty()) {
        sleeping_until_ = time_point::max();
        cv_.wait(guard);
        continue;
      }
      auto t = now();
      if (schedule_.begin()->first > t) {
        sleeping_until_ = schedule_.begin()->first;
        cv_.wait_until(guard, sleeping_until_);
        continue;
      }
      take_due(t, due);
      guard.unlock();
      for (auto& ev : due)
        ship(*ev);
      due.clear();
      guard.lock();
    }
  }

  size_t size() {
    std::lock_guard<std::mutex> guard{mtx_};
    return schedule_.size();
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopped_ = true;
      cv_.notify_one();
    }
    take_all();
  }

private:
  using request_key = std::pair<caf::actor_id, uint64_t>;

  struct request_key_hash {
    size_t operator()(const request_key& x) const noexcept {
      return std::hash<uint64_t>{}(x.first * 0x9e3779b97f4a7c15ull ^ x.second);
    }
  };

  // Answers remembered before their timeouts were set; requests without a
  // timeout leave entries here too, so it keeps only the newest.
  static constexpr size_t max_answered_early = 4096;

  // Moves the events due at `t` out of the schedule (with the lock held).
  void take_due(time_point t, std::vector<unique_delayed_event_ptr>& out) {
    for (auto i = schedule_.begin(); i != schedule_.end() && i->first <= t;) {
      auto& ev = *i->second;
      if (ev.subtype == request_timeout_type) {
        auto& rt = static_cast<request_timeout&>(ev);
        requests_.erase({rt.self->id(), rt.id.integer_value()});
      }
      if (ev.backlink != actor_lookup_.end())
        actor_lookup_.erase(ev.backlink);
      out.push_back(std::move(i->second));
      i = schedule_.erase(i);
    }
  }

  // Empties the schedule; its events die when the returned map does.
  void take_all() {
    schedule_map doomed;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      actor_lookup_.clear();
      requests_.clear();
      doomed.swap(schedule_);
    }
  }

  void forget_requests_of(caf::actor_id aid) {
    auto [first, last] = actor_lookup_.equal_range(aid);
    for (auto i = first; i != last; ++i) {
      auto& ev = *i->second->second;
      if (ev.subtype == request_timeout_type)
        requests_.erase({aid, static_cast<request_timeout&>(ev).id.integer_value()});
    }
  }

  void wake_if_earlier(time_point t) {
    if (t < sleeping_until_) {
      sleeping_until_ = t; // one wake-up per earlier deadline
      cv_.notify_one();
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  time_point sleeping_until_ = time_point::min(); // the thread's next look
  bool stopped_ = false;
  // The request timeouts by (actor, message id), into actor_lookup_.
  std::unordered_map<request_key, actor_lookup_map::iterator, request_key_hash> requests_;
  std::unordered_set<request_key, request_key_hash> answered_early_;
  std::deque<request_key> early_order_;
};

template <class Policy>
class quiet_coordinator final : public caf::scheduler::coordinator<Policy> {
public:
  using super = caf::scheduler::coordinator<Policy>;

  using super::super;

  caf::detail::thread_safe_actor_clock& clock() noexcept override {
    return clock_;
  }

protected:
  void start() override {
    thread_ = std::thread{[this] {
      caf::detail::set_thread_name("rv.timer");
      this->system().thread_started();
      clock_.run();
      this->system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    super::stop(); // actors may cancel timeouts until here
    clock_.stop();
    if (thread_.joinable())
      thread_.join();
  }

private:
  quiet_clock clock_;
  std::thread thread_;
};

} // namespace

size_t pending_timers(caf::actor_system& sys) {
  auto clock = dynamic_cast<quiet_clock*>(&sys.clock());
  return clock != nullptr ? clock->size() : 0;
}

void use_quiet_timer(caf::actor_system_config& cfg) {
  auto factory = [](caf::actor_system& sys) -> caf::actor_system::module* {
    auto policy = caf::get_or(sys.config(), "scheduler.policy", caf::defaults::scheduler::policy);
    if (policy == caf::atom("sharing"))
      return new quiet_coordinator<caf::policy::work_sharing>(sys);
    return new quiet_coordinator<caf::policy::work_stealing>(sys);
  };
  put_module_factory(cfg, factory);
}

} // namespace ringvisor::actor
