#pragma once

// The cluster agent's failure detector (private to libcluster): phi accrual
// per peer (Hayashibara et al.; as Akka and Cassandra use it) over the
// intervals between the peer's pings, plus this node's own lateness as
// extra patience (Lifeguard's local health): a node whose scheduler runs
// late reads its peers' pings late too, so it must not judge them by the
// clock alone.
//
// With a steady heartbeat and a node on time, a peer is suspected after
// `suspect_after` of silence, as the configuration says. Jitter in a peer's
// pings (a loaded peer, a loaded network) and this node's own lateness both
// raise that bound; pauses of this node longer than `suspect_after` do not
// (the agent's lease handles those).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <string>

namespace ringvisor::cluster::detail {

class failure_detector {
public:
  using clock_type = std::chrono::steady_clock;
  using time_point = clock_type::time_point;
  using duration = clock_type::duration;

  /// Phi at which a peer is suspected: the chance that a live peer's next
  /// ping comes this late is about 10^-8 under the observed distribution.
  static constexpr double threshold = 8.0;

  /// Intervals kept per peer.
  static constexpr size_t window = 100;

  failure_detector(duration interval, duration suspect_after)
    : interval_(interval),
      suspect_after_(suspect_after),
      min_stddev_(std::max<duration>(interval / 10, std::chrono::milliseconds{1})) {
    // The standard score at which phi reaches the threshold, found once.
    double lo = 0;
    double hi = 40;
    for (int i = 0; i < 60; ++i) {
      auto mid = (lo + hi) / 2;
      (phi_of(mid) < threshold ? lo : hi) = mid;
    }
    y_threshold_ = hi;
  }

  /// A ping from `peer` arrived at `now`; the first starts its history.
  void heartbeat(const std::string& peer, time_point now) {
    auto& h = peers_[peer];
    // A gap longer than the patience was an outage (the peer was suspected
    // for it), not jitter to get used to.
    if (h.last != time_point{} && now - h.last < suspect_after_) {
      h.intervals.push_back(now - h.last);
      if (h.intervals.size() > window)
        h.intervals.pop_front();
    }
    h.last = now;
  }

  /// Forgets `peer` (its link is gone; a new link starts afresh).
  void remove(const std::string& peer) {
    peers_.erase(peer);
  }

  /// This node's heartbeat timer fired at `now`, due one interval after the
  /// previous tick: records how late it came.
  void tick(time_point now) {
    if (last_tick_ != time_point{}) {
      auto late = now - last_tick_ - interval_;
      // A pause longer than a peer's patience is no load but a stop.
      if (late > duration::zero() && late < suspect_after_)
        lateness_.emplace_back(now, late);
    }
    last_tick_ = now;
    while (!lateness_.empty() && lateness_.front().first + health_horizon() < now)
      lateness_.pop_front();
  }

  /// Returns this node's recent worst lateness, the patience added for it.
  duration local_lateness() const {
    duration result = duration::zero();
    for (auto& [when, late] : lateness_)
      result = std::max(result, late);
    return result;
  }

  /// Returns how sure we are that `peer` is gone, given its silence since its
  /// last ping; 0 for a peer never heard.
  double phi(const std::string& peer, time_point now) const {
    auto i = peers_.find(peer);
    if (i == peers_.end() || i->second.last == time_point{})
      return 0;
    return phi_of(standard_score(i->second, now));
  }

  /// Returns whether `peer` is suspected at `now`.
  bool suspect(const std::string& peer, time_point now) const {
    auto i = peers_.find(peer);
    return i != peers_.end() && i->second.last != time_point{}
           && standard_score(i->second, now) >= y_threshold_;
  }

  /// Returns how long `peer` has been silent at `now`.
  duration silence(const std::string& peer, time_point now) const {
    auto i = peers_.find(peer);
    return i == peers_.end() ? duration::zero() : now - i->second.last;
  }

private:
  struct history {
    time_point last;
    std::deque<duration> intervals;
  };

  duration health_horizon() const {
    return 10 * suspect_after_;
  }

  // How many standard deviations the silence lies beyond the expected
  // arrival, which is the mean interval plus the acceptable pause plus this
  // node's lateness. The acceptable pause makes a steady peer suspect after
  // exactly `suspect_after`.
  double standard_score(const history& h, time_point now) const {
    using secs = std::chrono::duration<double>;
    double mean = secs{interval_}.count();
    double stddev = secs{min_stddev_}.count();
    if (h.intervals.size() >= 2) {
      double sum = 0;
      for (auto d : h.intervals)
        sum += secs{d}.count();
      mean = sum / h.intervals.size();
      double sq = 0;
      for (auto d : h.intervals)
        sq += std::pow(secs{d}.count() - mean, 2);
      stddev = std::max(stddev, std::sqrt(sq / h.intervals.size()));
    }
    double base = secs{interval_}.count();
    double floor = secs{min_stddev_}.count();
    double acceptable = std::max(0.0, secs{suspect_after_}.count() - base - y_threshold_ * floor);
    double expected = mean + acceptable + secs{local_lateness()}.count();
    return (secs{now - h.last}.count() - expected) / stddev;
  }

  // Phi for a standard score, with the logistic approximation of the normal
  // distribution's tail that Akka uses: -log10(1 / (1 + e^z)), that is
  // log10(1 + e^z) with z = y (1.5976 + 0.070566 y^2), computed so that it
  // stays finite however long the silence (Akka's form is infinite once
  // e^-z underflows, after a few seconds of a steady peer's silence).
  static double phi_of(double y) {
    auto z = y * (1.5976 + 0.070566 * y * y);
    return (std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z)))) / std::log(10.0);
  }

  duration interval_;
  duration suspect_after_;
  duration min_stddev_;
  double y_threshold_ = 0;
  time_point last_tick_;
  std::deque<std::pair<time_point, duration>> lateness_;
  std::map<std::string, history> peers_;
};

} // namespace ringvisor::cluster::detail
