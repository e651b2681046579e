#include "child_list.hpp"

#include "supervision_names.hpp"
#include <algorithm>
#include <map>

namespace ringvisor::ring {

child_list::change child_list::apply(child_record rec) {
  if (rec.deleted) {
    rec.spec.args = caf::message{};
    rec.pin.clear();
  }
  auto i = records_.find(rec.spec.id);
  if (i == records_.end()) {
    auto deleted = rec.deleted;
    auto key = key_hash(rec.spec.id);
    if (deleted)
      tombstones_.emplace(rec.version, rec.spec.id);
    if (!rec.pin.empty())
      pinned_.insert(rec.spec.id);
    auto id = rec.spec.id;
    auto fp = fingerprint(rec);
    auto& e = records_.emplace(std::move(id), entry{std::move(rec), key, fp, range_of(key)})
                .first->second;
    toggle_digest(e);
    return deleted ? change::none : change::added;
  }
  auto& e = i->second;
  if (!newer(rec, e.rec))
    return change::none;
  auto was_alive = !e.rec.deleted;
  if (!was_alive)
    tombstones_.erase({e.rec.version, e.rec.spec.id});
  if (rec.deleted)
    tombstones_.emplace(rec.version, rec.spec.id);
  if (rec.pin.empty())
    pinned_.erase(rec.spec.id);
  else
    pinned_.insert(rec.spec.id);
  toggle_digest(e);
  e.rec = std::move(rec);
  e.fingerprint = fingerprint(e.rec);
  toggle_digest(e);
  if (e.rec.deleted)
    return was_alive ? change::removed : change::none;
  return was_alive ? change::updated : change::added;
}

void child_list::expire(uint64_t before) {
  while (!tombstones_.empty() && tombstones_.begin()->first < before)
    erase(tombstones_.begin()->second);
}

void child_list::erase(const std::string& id) {
  auto i = records_.find(id);
  if (i == records_.end())
    return;
  if (i->second.rec.deleted)
    tombstones_.erase({i->second.rec.version, id});
  toggle_digest(i->second);
  unsettled_.erase(id);
  pinned_.erase(id);
  records_.erase(i);
}

void child_list::place_on(cluster::hash_ring ring) {
  if (ring.members() == ring_.members() && ring.vnodes() == ring_.vnodes())
    return;
  ring_ = std::move(ring);
  // Every arc's preference list, each distinct list a range, ordered by the
  // list so that nodes with the same ring number the ranges alike.
  std::vector<std::vector<uint32_t>> lists(ring_.arcs());
  std::map<std::vector<uint32_t>, uint32_t> ids;
  for (size_t a = 0; a < lists.size(); ++a) {
    lists[a] = ring_.preference_indices(a, replicas_);
    ids.emplace(lists[a], 0);
  }
  ranges_.clear();
  for (auto& [members, id] : ids) {
    id = static_cast<uint32_t>(ranges_.size());
    ranges_.push_back(range{members});
  }
  arc_ranges_.resize(lists.size());
  for (size_t a = 0; a < lists.size(); ++a)
    arc_ranges_[a] = ids[lists[a]];
  piece_digests_.assign(ranges_.size() * pieces, 0);
  for (auto& [id, e] : records_) {
    e.range = range_of(e.key);
    if (e.range != nobody)
      piece_digests_[piece_of(e)] ^= e.fingerprint;
  }
  if (!placed_) {
    placed_ = true;
    mark_settled();
  }
}

void child_list::mark_settled() {
  settled_ring_ = ring_;
  settled_lists_.clear();
  for (auto& r : ranges_)
    settled_lists_.push_back(r.members);
  settled_arc_ranges_ = arc_ranges_;
}

std::map<std::string, std::vector<child_record>>
child_list::settle(std::string_view self, const std::set<std::string>& restarted) {
  std::map<std::string, std::vector<child_record>> out;
  left_.clear();
  if (ring_.empty())
    return out;
  // Records of one range before and one range now go alike: plan once per
  // pair of ranges, not per record.
  struct plan {
    bool keep = false;
    std::vector<std::vector<child_record>*> to;
  };
  std::map<std::pair<uint32_t, uint32_t>, plan> plans;
  auto names = [](const cluster::hash_ring& ring, const std::vector<uint32_t>& xs) {
    std::vector<std::string_view> result;
    for (auto x : xs)
      result.emplace_back(ring.members()[x]);
    return result;
  };
  auto plan_for = [&](uint32_t before, uint32_t now) -> const plan& {
    auto [i, added] = plans.try_emplace({before, now});
    auto& p = i->second;
    if (!added)
      return p;
    auto was = before != nobody ? names(settled_ring_, settled_lists_[before])
                                : std::vector<std::string_view>{};
    auto is = names(ring_, ranges_[now].members);
    p.keep = contains(is, self); // else forgotten later
    for (auto to : settle_targets(was, is, ring_, self, restarted))
      p.to.push_back(&out[std::string{to}]);
    return p;
  };
  for (auto& [id, e] : records_) {
    auto before = !settled_lists_.empty() && unsettled_.count(id) == 0
                    ? settled_arc_ranges_[settled_ring_.arc_of(e.key)]
                    : nobody;
    auto& p = plan_for(before, e.range);
    // Version 0: from the spec, which every node has, or read from a store
    // (then unsettled, and sent once).
    if (e.rec.version > 0 || before == nobody)
      for (auto* xs : p.to)
        xs->push_back(e.rec);
    if (!p.keep)
      left_.push_back(id);
  }
  mark_settled();
  unsettled_.clear();
  return out;
}

std::optional<std::string_view> child_list::owner_of(const std::string& id) const {
  if (auto pin = pin_of(id))
    return pin;
  return ring_owner_of(id);
}

std::optional<std::string_view> child_list::ring_owner_of(const std::string& id) const {
  // Hashing the key and searching the ring (which stays in the cache) is
  // faster than finding the record among 100k (which does not).
  auto m = ring_.whois_index(key_hash(id));
  if (!m)
    return std::nullopt;
  return std::string_view{ring_.members()[*m]};
}

std::optional<std::string_view> child_list::pin_of(const std::string& id) const {
  if (pinned_.empty() || pinned_.count(id) == 0)
    return std::nullopt;
  return on_ring(records_.at(id).rec.pin);
}

std::vector<std::string> child_list::pinned() const {
  std::vector<std::string> result;
  for (auto& id : pinned_)
    if (pin_of(id))
      result.push_back(id);
  return result;
}

std::vector<std::string> child_list::pinned_to(std::string_view member) const {
  std::vector<std::string> result;
  for (auto& id : pinned_)
    if (records_.at(id).rec.pin == member)
      result.push_back(id);
  return result;
}

namespace {

bool has(const std::vector<uint32_t>& xs, uint32_t x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace

std::vector<range_digest> child_list::digests(std::string_view member) const {
  auto m = index_of(member);
  if (m == nobody)
    return {};
  return digests_if([m](auto& xs) { return xs.front() == m; });
}

std::vector<range_digest> child_list::learn_digests(std::string_view member,
                                                    std::string_view from) const {
  auto m = index_of(member);
  auto f = index_of(from);
  if (m == nobody || f == nobody)
    return {};
  return digests_if([m, f](auto& xs) { return xs.front() == f && has(xs, m); });
}

std::vector<range_digest> child_list::shared_digests(std::string_view member,
                                                     std::string_view other) const {
  auto m = index_of(member);
  auto o = index_of(other);
  if (m == nobody || o == nobody)
    return {};
  return digests_if([m, o](auto& xs) { return has(xs, m) && has(xs, o); });
}

std::vector<uint32_t> child_list::differing(const std::vector<range_digest>& theirs) const {
  std::vector<uint32_t> result;
  for (auto& x : theirs)
    if (x.range < piece_digests_.size() && piece_digests_[x.range] != x.digest)
      result.push_back(x.range);
  return result;
}

std::vector<child_record> child_list::select(const std::vector<uint32_t>& ranges) const {
  std::vector<child_record> result;
  if (ranges.empty())
    return result;
  std::vector<bool> wanted(piece_digests_.size(), false);
  for (auto r : ranges)
    if (r < wanted.size())
      wanted[r] = true;
  for (auto& [id, e] : records_)
    if (e.range != nobody && wanted[piece_of(e)])
      result.push_back(e.rec);
  return result;
}

std::vector<child_record> child_list::select(std::vector<uint32_t>& ranges,
                                             size_t budget) const {
  if (ranges.empty())
    return {}; // the usual answer: no range differs
  std::vector<size_t> sizes(piece_digests_.size(), 0);
  for (auto& [id, e] : records_)
    if (e.range != nobody)
      ++sizes[piece_of(e)];
  size_t total = 0;
  size_t n = 0;
  while (n < ranges.size() && total < budget) {
    total += ranges[n] < sizes.size() ? sizes[ranges[n]] : 0;
    ++n;
  }
  ranges.resize(n);
  return select(ranges);
}

std::vector<child_record> child_list::select() const {
  std::vector<child_record> result;
  result.reserve(records_.size());
  for (auto& [id, e] : records_)
    result.push_back(e.rec);
  return result;
}

uint64_t child_list::fingerprint(const child_record& rec) {
  const char* state = rec.deleted ? "/d" : rec.terminated ? "/t" : "/r";
  auto pin = rec.pin.empty() ? std::string{} : "/p" + rec.pin;
  return cluster::hash_ring::hash(rec.spec.id + '/' + std::to_string(rec.version) + state + pin);
}

uint32_t child_list::index_of(std::string_view member) const {
  auto& xs = ring_.members();
  auto i = std::lower_bound(xs.begin(), xs.end(), member);
  return i != xs.end() && *i == member ? static_cast<uint32_t>(i - xs.begin()) : nobody;
}

} // namespace ringvisor::ring
