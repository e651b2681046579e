#include "rebalancer.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "ringvisor/actor/log.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// Snapshots asked of every peer for children this node may start.
struct rebalancer::fetch {
  std::vector<std::string> peers; // asked
  size_t open = 0;                // requests not answered yet
  bool failed = false;
  std::unordered_map<std::string, snapshot> best;
  // Once every request is answered. They get the fetch rather than hold it:
  // a fetch whose answers never come (its actor ended) is freed with them.
  std::vector<std::function<void(fetch&)>> then;

  // Runs `fn` once every peer answered (at once if all did).
  void when_done(std::function<void(fetch&)> fn) {
    if (open == 0)
      fn(*this);
    else
      then.push_back(std::move(fn));
  }

  void one_done() {
    if (--open == 0)
      for (auto& fn : std::exchange(then, {}))
        fn(*this);
  }
};

rebalancer::rebalancer(std::string self, std::string sup, rebalance_io& io,
                       record_keeper& records, child_host& host, snapshot_keeper& snapshots,
                       rebalance_limits limits)
  : self_(std::move(self)),
    sup_(std::move(sup)),
    io_(io),
    records_(records),
    host_(host),
    snapshots_(snapshots),
    limits_(limits) {
  // nop
}

void rebalancer::round(const std::vector<std::string>& peers) {
  auto round = ++round_;
  peers_ = peers;
  auto pins = records_.list().pinned_to(self_);
  asked_pins_ = std::set<std::string>{pins.begin(), pins.end()};
  if (peers.empty())
    return decide(round, {});
  // Every peer says which of our children it runs or holds, and sends its
  // records of the ranges we own where its digests differ from ours: a node
  // that owns an orphan knows its spec, as long as any member does. After a
  // start or a split, the owner of each other range we keep sends its
  // records too.
  auto claimed = std::make_shared<std::set<std::string>>();
  auto open = std::make_shared<size_t>(peers.size());
  auto more = std::make_shared<bool>(false);
  for (auto& name : peers) {
    auto answered = [this, round, claimed, open, more, name](caf::expected<inventory> inv) {
      if (!inv) {
        if (round == round_)
          io_.retry_in(limits_.retry_delay); // the rings differ, or the peer is slow
        return;
      }
      records_.inventory_answered(name, *inv, round == round_);
      claimed->insert(inv->claimed.begin(), inv->claimed.end());
      if (round != round_)
        return;
      *more = *more || inv->more;
      if (--*open > 0)
        return;
      if (*more)
        io_.again(); // the next round asks for the pieces still missing
      else
        decide(round, *claimed);
    };
    if (!io_.ask_inventory(name, records_.inventory_ask(name), std::move(answered))) {
      io_.retry_in(limits_.retry_delay);
      return;
    }
  }
}

void rebalancer::decide(uint64_t round, const std::set<std::string>& claimed) {
  if (round != round_ || !io_.serving())
    return;
  auto gate = io_.gate();
  if (!gate.open) {
    if (gate.retry_in)
      io_.retry_in(*gate.retry_in);
    return;
  }
  records_.round_complete();
  io_.learned();
  std::vector<std::string> orphans;
  bool pins_learned = false;
  records_.list().for_each_alive_owned_by(self_, [&](const child_record& rec) {
    auto& id = rec.spec.id;
    if (rec.terminated || host_.contains(id) || claimed.count(id))
      return;
    if (rec.pin == self_ && !asked_pins_.count(id))
      pins_learned = true; // the next round asks every member for its record
    else
      orphans.push_back(id);
  });
  if (pins_learned)
    io_.again();
  restore(round, std::move(orphans));
}

// Starts the children this node owns and nobody runs (`ids`), each from the
// newest snapshot that any member holds of it.
void rebalancer::restore(uint64_t round, std::vector<std::string> ids) {
  if (ids.empty())
    return;
  // Children without snapshots start at once; the others after the fetch.
  std::vector<std::string> now;
  std::vector<std::string> wanted;
  for (auto& id : ids) {
    auto rec = records_.list().alive(id);
    bool may_have = rec != nullptr && rec->spec.snapshot.when != snapshot_policy::mode::off;
    (may_have ? wanted : now).push_back(id);
  }
  std::unordered_map<std::string, snapshot> none;
  start_orphans(round, now, none);
  // A round that follows another one soon (the views of one failure come
  // in several steps) waits for the fetches still in flight for the same
  // peers instead of asking again.
  std::map<fetch_ptr, std::vector<std::string>> joined;
  std::vector<std::string> fresh;
  for (auto& id : wanted) {
    auto i = fetching_.find(id);
    if (i != fetching_.end() && i->second->peers == peers_)
      joined[i->second].push_back(id);
    else
      fresh.push_back(id);
  }
  for (auto& [f, xs] : joined)
    f->when_done([this, round, xs = std::move(xs)](fetch& x) { fetched(round, xs, x); });
  // A chunk's children start as soon as every peer answered for them: the
  // first ones run while the peers still send the others.
  for (auto& chunk : chunked(std::move(fresh), snapshots_.limits().per_message)) {
    auto f = fetch_snapshots(chunk);
    f->when_done([this, round, chunk = std::move(chunk)](fetch& x) { fetched(round, chunk, x); });
  }
}

void rebalancer::fetched(uint64_t round, const std::vector<std::string>& ids, fetch& f) {
  if (f.failed) {
    if (round == round_)
      io_.retry_in(limits_.retry_delay);
    return;
  }
  // This node's own copies may have grown since the fetch began (a round
  // that joined an earlier one's fetch).
  for (auto& id : ids)
    if (auto x = snapshots_.table().find(id)) {
      auto i = f.best.find(id);
      if (i == f.best.end() || newer(*x, i->second))
        f.best[id] = *x;
    }
  start_orphans(round, ids, f.best);
}

// Asks every peer for its snapshots of `ids` (one message's worth); this
// node's own copies count too.
rebalancer::fetch_ptr rebalancer::fetch_snapshots(const std::vector<std::string>& ids) {
  auto f = std::make_shared<fetch>();
  for (auto& id : ids)
    if (auto x = snapshots_.table().find(id))
      f->best[id] = *x;
  if (ids.empty() || peers_.empty())
    return f;
  f->peers = peers_;
  f->open = peers_.size();
  for (auto& id : ids)
    fetching_[id] = f;
  f->when_done([this, ids](fetch& x) {
    for (auto& id : ids)
      if (auto i = fetching_.find(id); i != fetching_.end() && i->second.get() == &x)
        fetching_.erase(i);
  });
  for (auto& name : peers_) {
    auto answered = [f](caf::expected<std::vector<snapshot_entry>> xs) {
      if (xs)
        keep_newest(f->best, *xs);
      else
        f->failed = true;
      f->one_done();
    };
    if (!io_.ask_snapshots(name, ids, std::move(answered))) {
      f->failed = true;
      f->one_done();
    }
  }
  return f;
}

void rebalancer::start_orphans(uint64_t round, const std::vector<std::string>& ids,
                               std::unordered_map<std::string, snapshot>& best) {
  if (round != round_ || !io_.serving())
    return;
  size_t started = 0;
  size_t restored = 0;
  auto now = io_.wall_us();
  for (auto& id : ids) {
    auto rec = records_.list().alive(id);
    if (rec == nullptr || rec->terminated || host_.contains(id)
        || !records_.list().owned_by(id, self_))
      continue; // changed while the snapshots came
    local_child c;
    c.spec = rec->spec;
    c.record = rec->version;
    c.epoch = host_.next_epoch(0);
    // Only a snapshot of this record (or a newer one) counts: a child deleted
    // and started again, or terminated and restarted, starts afresh.
    if (auto i = best.find(id); i != best.end() && good_for(i->second, rec->version)) {
      auto& x = i->second;
      c.record = std::max(c.record, x.record);
      c.epoch = host_.next_epoch(x.epoch); // above the placement it follows
      snapshots_.adopt(id, x);
      if (x.has_state) {
        c.has_state = true;
        c.state = x.state;
        auto age = std::chrono::microseconds{now - std::min(now, x.taken_us)};
        c.restored = restore_info{restore_info::origin::snapshot, age};
        ++restored;
      }
    }
    host_.start(id, std::move(c));
    ++started;
  }
  recovered_ += started;
  restored_ += restored;
  if (started > 0)
    log::info("ring_orphans_started",
              {{"sup", sup_}, {"children", started}, {"from_snapshots", restored}});
}

} // namespace ringvisor::ring
