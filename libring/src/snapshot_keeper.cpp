#include "snapshot_keeper.hpp"

#include "supervision_names.hpp"
#include <algorithm>
#include <map>
#include <unordered_set>

namespace ringvisor::ring {

snapshot_keeper::snapshot_keeper(std::string self, snapshot_io& io, key_hash_fn key_hash,
                                 snapshot_limits limits)
  : self_(std::move(self)),
    io_(io),
    key_hash_(std::move(key_hash)),
    limits_(limits),
    round_(limits.max_round) {
  // nop
}

// -- the children running here --------------------------------------------------

void snapshot_keeper::started(const std::string& id, uint64_t gen, uint64_t record,
                              uint64_t epoch, const snapshot_policy& policy, bool has_state,
                              actor::bytes state) {
  using mode = snapshot_policy::mode;
  if (policy.when != mode::every && policy.when != mode::after_each_call) {
    // Off, or on request: nothing to keep until the child asks (a checkpoint
    // makes the entry). Its replicas keep what it asked for; copying the
    // state of every start would cost every child that never asks.
    stopped(id);
    return;
  }
  auto& c = children_[id];
  c = child{gen, record, epoch, 0, policy, false, false};
  put(id, c, has_state, std::move(state));
  if (policy.when != mode::every)
    return;
  // The first one within one interval, at a point that spreads the children
  // that start together over the interval.
  auto every = interval_of(c);
  round_ = std::min(round_, std::max<caf::timespan>(every / 10, limits_.min_interval));
  auto share = static_cast<double>(key_hash_(id) % 1024) / 1024.0;
  schedule(id, gen, caf::timespan{static_cast<caf::timespan::rep>(every.count() * share)});
}

void snapshot_keeper::stopped(const std::string& id) {
  children_.erase(id); // its line and schedule entries go stale
  if (asks_out_.erase(id) > 0)
    pump();
}

void snapshot_keeper::stopped_all() {
  children_.clear();
  line_.clear();
  clock_.clear();
  asks_out_.clear();
}

void snapshot_keeper::called(const std::string& id) {
  auto i = children_.find(id);
  if (i != children_.end() && i->second.policy.when == snapshot_policy::mode::after_each_call)
    take(id, i->second);
}

void snapshot_keeper::checkpoint(const std::string& id, uint64_t gen, uint64_t record,
                                 uint64_t epoch, const snapshot_policy& policy,
                                 actor::bytes state) {
  if (policy.when == snapshot_policy::mode::off)
    return;
  auto [i, added] = children_.try_emplace(id);
  auto& c = i->second;
  if (added || c.gen != gen)
    c = child{gen, record, epoch, 0, policy, false, false};
  put(id, c, true, std::move(state));
}

void snapshot_keeper::answered(const std::string& id, uint64_t gen, actor::bytes* state,
                               bool may_keep) {
  auto out = asks_out_.find(id);
  if (out == asks_out_.end() || out->second != gen)
    return; // for a start that stopped: its place went with it
  asks_out_.erase(out);
  if (auto i = children_.find(id); i != children_.end() && i->second.gen == gen) {
    auto& c = i->second;
    c.busy = false;
    if (state != nullptr && may_keep)
      put(id, c, true, std::move(*state));
    if (c.again) {
      c.again = false;
      take(id, c);
    }
  }
  pump();
}

void snapshot_keeper::round() {
  armed_.reset();
  std::vector<std::pair<std::string, uint64_t>> due;
  clock_.pop_due(io_.now() + round_ / 2,
                 [&](const std::string& id, uint64_t gen) { due.emplace_back(id, gen); });
  auto busy = io_.busy();
  for (auto& [id, gen] : due) {
    auto i = children_.find(id);
    if (i == children_.end() || i->second.gen != gen)
      continue; // stopped or restarted since: a new entry exists if needed
    if (!busy)
      take(id, i->second);
    schedule(id, gen, interval_of(i->second));
  }
  if (auto next = clock_.next())
    arm(*next);
}

void snapshot_keeper::flush() {
  flush_due_ = false;
  for (auto& [member, xs] : out_)
    for (auto& chunk : chunked(std::move(xs), limits_.per_message))
      io_.send_snapshots(member, std::move(chunk));
  out_.clear();
}

// Keeps `state` as the newest snapshot of the child and sends it to the
// child's other replicas.
void snapshot_keeper::put(const std::string& id, child& c, bool has_state,
                          actor::bytes state) {
  snapshot x{c.record, c.epoch, c.seq++, io_.wall_us(), has_state, std::move(state)};
  for (auto r : replicas_of(id))
    if (r != self_)
      out_[std::string{r}].push_back(snapshot_entry{id, x});
  table_.apply(id, std::move(x));
  changed(id);
  ++taken_;
  if (!flush_due_) {
    flush_due_ = true;
    io_.flush_soon();
  }
}

// One state request per child at a time, `max_asks` in all.
void snapshot_keeper::take(const std::string& id, child& c) {
  if (c.busy) {
    c.again = true;
    return;
  }
  c.busy = true;
  if (asks() < limits_.max_asks)
    ask(id, c);
  else
    line_.emplace_back(id, c.gen);
}

void snapshot_keeper::ask(const std::string& id, child& c) {
  // An interval snapshot waiting in line when the node got busy is skipped
  // too: the line may hold a round's worth.
  bool skipped = c.policy.when == snapshot_policy::mode::every && io_.busy();
  if (skipped || !io_.may_ask(id, c.gen)) {
    c.busy = false;
    c.again = false;
    return;
  }
  asks_out_[id] = c.gen; // a new start's request replaces a stale one
  io_.ask_state(id, c.gen);
}

void snapshot_keeper::pump() {
  while (asks() < limits_.max_asks && !line_.empty()) {
    auto [id, gen] = std::move(line_.front());
    line_.pop_front();
    auto i = children_.find(id);
    if (i != children_.end() && i->second.gen == gen && i->second.busy)
      ask(id, i->second);
  }
}

void snapshot_keeper::schedule(const std::string& id, uint64_t gen, caf::timespan delay) {
  auto at = io_.now() + delay;
  clock_.schedule(id, gen, at);
  arm(at);
}

// Makes sure a round runs by `at`, but no sooner than one round from now.
void snapshot_keeper::arm(time_point at) {
  auto now = io_.now();
  at = std::max(at, now + round_);
  if (armed_ && *armed_ <= at)
    return;
  armed_ = at;
  io_.arm_round(at - now);
}

// -- the ring ------------------------------------------------------------------------

void snapshot_keeper::settle(const std::set<std::string>& restarted) {
  // Keys on one arc before and one arc now go alike: plan once per pair of
  // arcs, not per snapshot.
  struct plan {
    bool keep = false;
    std::vector<std::vector<snapshot_entry>*> to;
  };
  constexpr size_t unsettled = SIZE_MAX;
  std::map<std::pair<size_t, size_t>, plan> plans;
  left_.clear();
  table_.for_each([&](const std::string& id, const snapshot& x) {
    auto key = key_hash_(id);
    auto before = unsettled_.count(id) == 0 && !settled_ring_.empty()
                    ? settled_ring_.arc_of(key)
                    : unsettled;
    auto now = ring_.empty() ? unsettled : ring_.arc_of(key);
    auto [i, added] = plans.try_emplace({before, now});
    auto& p = i->second;
    if (added) {
      auto was = before != unsettled ? settled_ring_.preference_list_hash(key, limits_.replicas)
                                     : std::vector<std::string_view>{};
      auto is = ring_.preference_list_hash(key, limits_.replicas);
      p.keep = contains(is, self_); // else forgotten later
      for (auto to : settle_targets(was, is, ring_, self_, restarted))
        p.to.push_back(&out_[std::string{to}]);
    }
    for (auto* xs : p.to)
      xs->push_back(snapshot_entry{id, x});
    if (!p.keep && children_.count(id) == 0)
      left_.push_back(id);
  });
  settled_ring_ = ring_;
  unsettled_.clear();
  flush();
}

size_t snapshot_keeper::forget_left() {
  std::unordered_set<std::string> gone;
  for (auto& id : left_)
    if (children_.count(id) == 0 && !contains(replicas_of(id), self_))
      gone.insert(id);
  left_.clear();
  if (gone.empty())
    return 0;
  return table_.retain([&](const std::string& id) { return gone.count(id) == 0; });
}

} // namespace ringvisor::ring
