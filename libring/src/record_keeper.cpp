#include "record_keeper.hpp"

#include <algorithm>
#include <memory>

#include "snapshots.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// The replicas that stored one write, until a quorum did or none is left
/// to ask.
struct record_keeper::write_tally {
  size_t acks = 0;
  size_t open = 0;
  size_t quorum = 0;
  std::function<void(bool)> done;

  void check() {
    if (!done || (acks < quorum && open > 0))
      return;
    auto f = std::move(done);
    done = nullptr;
    f(acks >= quorum);
  }
};

record_keeper::record_keeper(std::string self, std::string key_prefix, record_io& io,
                             record_limits limits)
  : self_(std::move(self)),
    io_(io),
    limits_(limits),
    list_(std::move(key_prefix), limits.replicas) {
  // nop
}

bool record_keeper::place_on(std::vector<std::string> members, uint64_t digest) {
  digest_ = digest;
  if (members == list_.ring().members())
    return false;
  list_.place_on(cluster::hash_ring{std::move(members)});
  synced_ = false;  // learn the records of the ranges this node owns now
  covered_.clear(); // the ranges are numbered anew
  return true;
}

void record_keeper::apply(child_record rec) {
  auto now = io_.wall_us();
  if (rec.deleted && rec.version + limits_.tombstone_ttl_us < now)
    return;
  clock_ = std::max(clock_, rec.version);
  auto id = rec.spec.id;
  auto before = list_.find(id);
  auto pin_before = before != nullptr ? before->pin : std::string{};
  auto change = list_.apply(std::move(rec));
  auto after = list_.find(id);
  if (change == child_list::change::removed
      || (change == child_list::change::updated && after->terminated))
    io_.ended(*after);
  else if (change != child_list::change::none && after->pin != pin_before)
    io_.repinned(*after);
}

void record_keeper::replicate(const child_record& rec, std::function<void(bool)> done) {
  auto list = list_.replicas_of(rec);
  auto t = std::make_shared<write_tally>();
  t->quorum = list.size() / 2 + 1;
  t->done = std::move(done);
  auto deadline = io_.now() + limits_.write_timeout;
  auto shared = std::make_shared<const child_record>(rec); // one copy for all retries
  for (auto member : list) {
    if (member == self_) {
      ++t->acks;
      continue;
    }
    ++t->open;
    write_to(std::string{member}, shared, t, deadline);
  }
  t->check();
}

void record_keeper::write_to(const std::string& member,
                             const std::shared_ptr<const child_record>& rec,
                             const std::shared_ptr<write_tally>& t, time_point deadline) {
  auto left = deadline - io_.now();
  auto answered = [this, member, rec, t, deadline](record_io::write_answer x) {
    using answer = record_io::write_answer;
    if (x == answer::stored)
      ++t->acks;
    else if (x == answer::other_ring && io_.now() + limits_.retry_delay < deadline)
      return io_.later(limits_.retry_delay,
                       [this, member, rec, t, deadline] { write_to(member, rec, t, deadline); });
    --t->open;
    t->check();
  };
  if (left <= caf::timespan{0} || !io_.write(member, *rec, digest_, left, std::move(answered))) {
    --t->open;
    t->check();
  }
}

bool record_keeper::accept_write(child_record rec, uint64_t digest) {
  if (digest != digest_ || !contains(list_.replicas_of(rec), self_))
    return false;
  apply(std::move(rec));
  return true;
}

inventory_request record_keeper::inventory_ask(const std::string& peer) const {
  inventory_request result;
  auto& pieces = result.pieces;
  pieces = list_.digests(self_);
  if (!learned_) {
    auto theirs = list_.learn_digests(self_, peer);
    pieces.insert(pieces.end(), theirs.begin(), theirs.end());
  }
  if (auto i = covered_.find(peer); i != covered_.end())
    pieces.erase(std::remove_if(pieces.begin(), pieces.end(),
                                [&](auto& x) { return i->second.count(x.range) > 0; }),
                 pieces.end());
  result.pinned = list_.pinned_to(self_);
  return result;
}

void record_keeper::answer_inventory(const inventory_request& req, const std::string& asker,
                                     inventory& result) const {
  auto differ = list_.differing(req.pieces);
  auto n = differ.size();
  result.records = list_.select(differ, limits_.per_inventory);
  result.more = differ.size() < n;
  result.covered = std::move(differ);
  // Pinned children: those the asker names, and those pinned to it here
  // that it may not know of (a restarted pin). Few: pins are exceptions.
  auto pinned = list_.pinned_to(asker);
  pinned.insert(pinned.end(), req.pinned.begin(), req.pinned.end());
  std::sort(pinned.begin(), pinned.end());
  pinned.erase(std::unique(pinned.begin(), pinned.end()), pinned.end());
  for (auto& id : pinned)
    if (auto rec = list_.find(id))
      result.records.push_back(*rec);
}

void record_keeper::inventory_answered(const std::string& peer, inventory& inv, bool current) {
  receive(inv.records);
  if (!current)
    return; // piece numbers hold for one ring only
  if (inv.more)
    covered_[peer].insert(inv.covered.begin(), inv.covered.end());
  else
    covered_.erase(peer);
}

void record_keeper::send(const std::string& member, std::vector<child_record> xs) {
  if (xs.empty())
    return;
  for (auto& chunk : chunked(std::move(xs), limits_.per_message))
    io_.send_records(member, std::move(chunk));
}

void record_keeper::settle(const std::set<std::string>& restarted) {
  for (auto& [member, xs] : list_.settle(self_, restarted))
    send(member, std::move(xs));
}

void record_keeper::exchange_digests(bool exchange) {
  auto now = io_.wall_us();
  list_.expire(now - std::min(now, limits_.tombstone_ttl_us));
  if (!exchange || !learned_)
    return; // its first inventory round brings more than this would
  for (auto& name : list_.ring().members())
    if (name != self_)
      io_.send_digests(name, digest_, list_.shared_digests(self_, name));
}

void record_keeper::on_digests(const std::string& from, uint64_t digest,
                               const std::vector<range_digest>& pieces) {
  if (digest == digest_)
    send(from, list_.select(list_.differing(pieces)));
}

} // namespace ringvisor::ring
