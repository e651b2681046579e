#include "child_list.hpp"

#include <algorithm>

namespace ringvisor::supervision {

child_list::change child_list::apply(child_record rec) {
  if (rec.deleted)
    rec.spec.args = caf::message{};
  auto i = records_.find(rec.spec.id);
  if (i == records_.end()) {
    auto deleted = rec.deleted;
    auto key = key_hash(rec.spec.id);
    if (deleted)
      tombstones_.emplace(rec.version, rec.spec.id);
    auto id = rec.spec.id;
    auto fp = fingerprint(rec);
    auto& e = records_.emplace(std::move(id), entry{std::move(rec), key, fp, owner_index(key)})
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
  toggle_digest(e);
  e.rec = std::move(rec);
  e.fingerprint = fingerprint(e.rec);
  toggle_digest(e);
  if (e.rec.deleted)
    return was_alive ? change::removed : change::none;
  return was_alive ? change::updated : change::added;
}

void child_list::expire(uint64_t before) {
  while (!tombstones_.empty() && tombstones_.begin()->first < before) {
    auto i = records_.find(tombstones_.begin()->second);
    toggle_digest(i->second);
    records_.erase(i);
    tombstones_.erase(tombstones_.begin());
  }
}

void child_list::place_on(cluster::hash_ring ring) {
  if (ring.members() == ring_.members() && ring.vnodes() == ring_.vnodes())
    return;
  ring_ = std::move(ring);
  owner_digests_.assign(ring_.members().size(), 0);
  for (auto& [id, e] : records_) {
    e.owner = owner_index(e.key);
    if (e.owner != nobody)
      owner_digests_[e.owner] ^= e.fingerprint;
  }
}

std::optional<std::string_view> child_list::owner_of(const std::string& id) const {
  // Hashing the key and searching the ring (which stays in the cache) is
  // faster than finding the record among 100k (which does not).
  auto m = owner_index(key_hash(id));
  if (m == nobody)
    return std::nullopt;
  return std::string_view{ring_.members()[m]};
}

std::vector<child_record> child_list::select(std::string_view member) const {
  std::vector<child_record> result;
  auto m = index_of(member);
  if (m == nobody)
    return result;
  for (auto& [id, e] : records_)
    if (e.owner == m)
      result.push_back(e.rec);
  return result;
}

std::vector<child_record> child_list::select() const {
  std::vector<child_record> result;
  result.reserve(records_.size());
  for (auto& [id, e] : records_)
    result.push_back(e.rec);
  return result;
}

uint64_t child_list::fingerprint(const child_record& rec) {
  return cluster::hash_ring::hash(rec.spec.id + '/' + std::to_string(rec.version)
                                  + (rec.deleted ? "/d" : rec.terminated ? "/t" : "/r"));
}

uint32_t child_list::index_of(std::string_view member) const {
  auto& xs = ring_.members();
  auto i = std::lower_bound(xs.begin(), xs.end(), member);
  return i != xs.end() && *i == member ? static_cast<uint32_t>(i - xs.begin()) : nobody;
}

} // namespace ringvisor::supervision
