#include "ringvisor/cluster/hash_ring.hpp"

#include <algorithm>

#include <xxhash.h>

namespace ringvisor::cluster {

hash_ring::hash_ring(size_t vnodes) : vnodes_(std::max<size_t>(vnodes, 1)) {
  // nop
}

hash_ring::hash_ring(std::vector<std::string> members, size_t vnodes)
  : vnodes_(std::max<size_t>(vnodes, 1)), members_(std::move(members)) {
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
  rebuild();
}

bool hash_ring::add(std::string member) {
  auto i = std::lower_bound(members_.begin(), members_.end(), member);
  if (i != members_.end() && *i == member)
    return false;
  members_.insert(i, std::move(member));
  rebuild();
  return true;
}

bool hash_ring::remove(std::string_view member) {
  auto i = std::lower_bound(members_.begin(), members_.end(), member);
  if (i == members_.end() || *i != member)
    return false;
  members_.erase(i);
  rebuild();
  return true;
}

bool hash_ring::contains(std::string_view member) const {
  return std::binary_search(members_.begin(), members_.end(), member);
}

std::optional<std::string_view> hash_ring::whois_hash(uint64_t key_hash) const {
  if (auto i = whois_index(key_hash))
    return std::string_view{members_[*i]};
  return std::nullopt;
}

std::optional<size_t> hash_ring::whois_index(uint64_t key_hash) const {
  if (points_.empty())
    return std::nullopt;
  return points_[arc_of(key_hash)].member;
}

size_t hash_ring::arc_of(uint64_t key_hash) const {
  // The first point at or after the key, wrapping around.
  auto i = std::lower_bound(points_.begin(), points_.end(), key_hash,
                            [](const point& p, uint64_t h) { return p.hash < h; });
  return i == points_.end() ? 0 : static_cast<size_t>(i - points_.begin());
}

std::vector<uint32_t> hash_ring::preference_indices(size_t arc, size_t k) const {
  std::vector<uint32_t> result;
  k = std::min(k, members_.size());
  result.reserve(k);
  for (size_t n = 0; n < points_.size() && result.size() < k; ++n) {
    auto m = points_[(arc + n) % points_.size()].member;
    if (std::find(result.begin(), result.end(), m) == result.end())
      result.push_back(m);
  }
  return result;
}

std::vector<std::string_view> hash_ring::preference_list_hash(uint64_t key_hash,
                                                            size_t k) const {
  std::vector<std::string_view> result;
  if (points_.empty())
    return result;
  for (auto m : preference_indices(arc_of(key_hash), k))
    result.emplace_back(members_[m]);
  return result;
}

std::vector<double> hash_ring::shares() const {
  std::vector<double> result(members_.size(), 0.0);
  if (points_.empty())
    return result;
  // A point owns the keys after its predecessor up to itself; the first one
  // also those after the last point (unsigned arithmetic wraps around).
  // Summed in long double, exact up to 2^64: one member owns 1, not almost.
  std::vector<long double> owned(members_.size(), 0.0L);
  for (size_t i = 0; i < points_.size(); ++i) {
    auto from = points_[i == 0 ? points_.size() - 1 : i - 1].hash;
    auto span = points_[i].hash - from;
    owned[points_[i].member] += span == 0 && points_.size() == 1
                                  ? 18446744073709551616.0L // its own predecessor: all
                                  : static_cast<long double>(span);
  }
  for (size_t m = 0; m < owned.size(); ++m)
    result[m] = static_cast<double>(owned[m] / 18446744073709551616.0L); // 2^64
  return result;
}

std::vector<uint32_t> hash_ring::sector_owners(size_t sectors) const {
  if (points_.empty() || sectors == 0)
    return {};
  // Each arc's keys, split over the slices it crosses, in long double:
  // exact up to 2^64. owned[slice * members + member] is what it holds.
  constexpr long double space = 18446744073709551616.0L; // 2^64
  const long double width = space / static_cast<long double>(sectors);
  std::vector<long double> owned(sectors * members_.size(), 0.0L);
  auto add = [&](uint32_t member, long double lo, long double hi) { // keys [lo, hi)
    for (auto s = static_cast<size_t>(lo / width); s < sectors && lo < hi; ++s) {
      auto end = std::min(hi, width * static_cast<long double>(s + 1));
      owned[s * members_.size() + member] += end - lo;
      lo = end;
    }
  };
  // A point owns the keys after its predecessor up to itself; the first one
  // also those after the last point, around the end of the key space.
  for (size_t i = 1; i < points_.size(); ++i)
    add(points_[i].member, static_cast<long double>(points_[i - 1].hash) + 1,
        static_cast<long double>(points_[i].hash) + 1);
  add(points_.front().member, 0, static_cast<long double>(points_.front().hash) + 1);
  add(points_.front().member, static_cast<long double>(points_.back().hash) + 1, space);
  std::vector<uint32_t> result(sectors, 0);
  for (size_t s = 0; s < sectors; ++s) {
    auto first = owned.begin() + static_cast<std::ptrdiff_t>(s * members_.size());
    auto best = std::max_element(first, first + static_cast<std::ptrdiff_t>(members_.size()));
    result[s] = static_cast<uint32_t>(best - first);
  }
  return result;
}

uint64_t hash_ring::hash(std::string_view key) noexcept {
  return XXH3_64bits(key.data(), key.size());
}

void hash_ring::rebuild() {
  points_.clear();
  points_.reserve(members_.size() * vnodes_);
  for (uint32_t m = 0; m < members_.size(); ++m) {
    auto& name = members_[m];
    // Virtual node v of a member sits at XXH3(name, seed = v).
    for (uint64_t v = 0; v < vnodes_; ++v)
      points_.push_back({XXH3_64bits_withSeed(name.data(), name.size(), v), m});
  }
  // Members are sorted by name, so index order breaks hash ties by name.
  std::sort(points_.begin(), points_.end(), [](const point& x, const point& y) {
    return x.hash != y.hash ? x.hash < y.hash : x.member < y.member;
  });
}

} // namespace ringvisor::cluster
