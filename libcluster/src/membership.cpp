#include "ringvisor/cluster/membership.hpp"

#include <algorithm>

#include <xxhash.h>

namespace ringvisor::cluster {

const char* to_string(member_status x) {
  switch (x) {
    case member_status::joining:
      return "joining";
    case member_status::up:
      return "up";
    case member_status::leaving:
      return "leaving";
    case member_status::down:
      return "down";
    case member_status::removed:
      return "removed";
  }
  return "?";
}

bool member::offers(const std::string& service) const {
  return std::binary_search(services.begin(), services.end(), service);
}

bool member::drains(const std::string& service) const {
  return std::binary_search(draining.begin(), draining.end(), service);
}

namespace {

// Whether `x` supersedes `old`, the record held for the same name: a later
// incarnation, then a later status, then a later revision of the member's
// own record.
bool supersedes(const member& x, const member& old) {
  if (x.incarnation != old.incarnation)
    return x.incarnation > old.incarnation;
  if (x.status != old.status)
    return x.status > old.status;
  if (x.revision != old.revision)
    return x.revision > old.revision;
  // Same incarnation and status: only the endpoint can differ, and only by
  // mistake; pick the larger so that every node picks the same.
  return x.endpoint > old.endpoint;
}

} // namespace

bool membership::update(const member& x) {
  auto i = members_.find(x.name);
  if (i == members_.end()) {
    members_.emplace(x.name, x);
  } else if (supersedes(x, i->second)) {
    i->second = x;
  } else {
    return false;
  }
  ++version_;
  return true;
}

bool membership::merge(const std::vector<member>& xs) {
  bool changed = false;
  for (auto& x : xs)
    changed |= update(x);
  return changed;
}

std::optional<member> membership::find(std::string_view name) const {
  if (auto i = members_.find(name); i != members_.end())
    return i->second;
  return std::nullopt;
}

std::vector<member> membership::members() const {
  std::vector<member> result;
  result.reserve(members_.size());
  for (auto& kvp : members_)
    result.push_back(kvp.second);
  return result;
}

std::vector<std::string> membership::up_members() const {
  std::vector<std::string> result;
  for (auto& [name, m] : members_)
    if (m.status == member_status::up)
      result.push_back(name);
  return result;
}

uint64_t membership::digest() const {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (auto& [name, m] : members_) {
    auto status = static_cast<uint8_t>(m.status);
    XXH3_64bits_update(state, name.data(), name.size() + 1); // with the NUL
    XXH3_64bits_update(state, &m.incarnation, sizeof(m.incarnation));
    XXH3_64bits_update(state, m.endpoint.data(), m.endpoint.size() + 1);
    XXH3_64bits_update(state, &status, sizeof(status));
    XXH3_64bits_update(state, &m.revision, sizeof(m.revision));
  }
  auto result = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return result;
}

} // namespace ringvisor::cluster
