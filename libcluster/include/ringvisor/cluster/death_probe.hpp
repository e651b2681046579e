#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/message.hpp>

#include "ringvisor/cluster/export.hpp"
#include "ringvisor/cluster/member.hpp"

namespace ringvisor::cluster {

/// How one TCP connect ended.
enum class connect_outcome : uint8_t {
  accepted, // something listens there and answered
  refused,  // nothing listens there: the host answered with a reset
  no_answer, // no answer within the timeout (a cut network, a hung host), or a bad endpoint
};

/// Tries one non-blocking TCP connect to `endpoint` ("host:port"), waiting at
/// most `timeout`, and closes it again. Blocks: call it off the scheduler's
/// threads.
RINGVISOR_CLUSTER_EXPORT connect_outcome try_connect(const std::string& endpoint,
                                                     std::chrono::milliseconds timeout);

/// Returns whether the process that listened on `endpoint` ("host:port") is
/// gone for sure: a TCP connect is refused, so nothing listens there. A
/// dying process may close its connections a moment before its port, so
/// this asks again, 10 ms apart doubling to 200 ms, until `until`. A timeout
/// (a cut network, a hung host) proves nothing; neither does a connection
/// that is accepted. Blocks: call it off the scheduler's threads.
RINGVISOR_CLUSTER_EXPORT bool proven_dead(const std::string& endpoint,
                                          std::chrono::steady_clock::time_point until);

/// Runs `proven_dead` on a detached actor of its own and sends `msg` to
/// `listener` if it proved the death.
RINGVISOR_CLUSTER_EXPORT void probe_death(caf::actor_system& sys, std::string endpoint,
                                          std::chrono::steady_clock::time_point until,
                                          caf::actor listener, caf::message msg);

/// Members that went down with no proof of death yet: what they ran may
/// start elsewhere only once their fence ends (a member that was only cut off
/// notices its `split` meanwhile) or a probe proves the death.
class fence_set {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Fences `m` until `end`; returns its key, "name/incarnation".
  std::string add(const member& m, time_point end) {
    auto key = m.name + "/" + std::to_string(m.incarnation);
    ends_[key] = end;
    return key;
  }

  /// Lifts the fence under `key` (its member was proven dead); returns
  /// whether there was one.
  bool lift(const std::string& key) {
    return ends_.erase(key) > 0;
  }

  /// Drops the fences that ended by `now`; returns when the next one ends,
  /// or nothing if none is left.
  std::optional<time_point> next_end(time_point now) {
    std::optional<time_point> result;
    for (auto i = ends_.begin(); i != ends_.end();) {
      if (i->second <= now) {
        i = ends_.erase(i);
        continue;
      }
      if (!result || i->second < *result)
        result = i->second;
      ++i;
    }
    return result;
  }

private:
  std::map<std::string, time_point> ends_;
};

} // namespace ringvisor::cluster
