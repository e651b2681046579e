#include "workload.hpp"

#include <random>

#include <caf/all.hpp>

#include "account.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/ring/supervisor.hpp"

namespace ringvisor::chaos {

namespace {

// The first word of an error, for the counts: `request_timeout`, `no_owner`...
std::string error_key(const caf::error& err) {
  auto str = actor::render(err);
  auto end = str.find_first_of(" :(");
  return end == std::string::npos ? str : str.substr(0, end);
}

} // namespace

workload::workload(chaos_cluster& c, std::vector<std::string> children, config cfg)
  : cluster_(c), children_(std::move(children)), cfg_(cfg) {
  // nop
}

workload::~workload() {
  stop();
}

void workload::start() {
  if (children_.empty())
    return;
  if (cfg_.rate > 0)
    for (size_t i = 0; i < cfg_.threads; ++i)
      threads_.emplace_back([this, i] { run(i); });
  if (cfg_.move_rate > 0)
    threads_.emplace_back([this] { move_children(); });
}

void workload::stop() {
  stopping_ = true;
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

std::vector<ack> workload::acks() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return acks_;
}

workload_stats workload::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return stats_;
}

void workload::run(size_t index) {
  std::mt19937_64 rng{cfg_.seed * 31 + index + 1};
  // Each thread its share of the rate, on a fixed schedule.
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
    std::chrono::duration<double>(static_cast<double>(cfg_.threads) / cfg_.rate));
  auto next = std::chrono::steady_clock::now();
  uint64_t counter = 0;
  auto timeout = std::chrono::duration_cast<caf::timespan>(cfg_.call_timeout);
  while (!stopping_ && !interrupted) {
    next += period;
    auto now = std::chrono::steady_clock::now();
    if (next > now)
      std::this_thread::sleep_for(next - now);
    else
      next = now; // behind (slow calls): no burst to catch up
    auto nodes = cluster_.usable();
    if (nodes.empty())
      continue;
    auto& child = children_[rng() % children_.size()];
    auto node = nodes[rng() % nodes.size()];
    // Unique per run: the thread in the top byte.
    uint64_t request = (static_cast<uint64_t>(index + 1) << 56) | ++counter;
    caf::error err;
    uint64_t value = 0;
    if (auto sup = cluster_.sup(node)) {
      auto reply = sup->within(timeout).call<uint64_t>(child, inc_atom::value, request);
      if (reply)
        value = *reply;
      else
        err = std::move(reply.error());
    } else {
      err = std::move(sup.error());
    }
    auto at = monotonic_ns();
    std::lock_guard<std::mutex> guard{mtx_};
    ++stats_.calls;
    if (err) {
      ++stats_.failed[error_key(err)];
      if (err == caf::sec::request_timeout || err.category() == caf::atom("system"))
        cluster_.forget(node);
      continue;
    }
    ++stats_.acked;
    acks_.push_back({child, request, value, at});
  }
}

void workload::move_children() {
  std::mt19937_64 rng{cfg_.seed * 31};
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
    std::chrono::duration<double>(1.0 / cfg_.move_rate));
  auto timeout = std::chrono::duration_cast<caf::timespan>(cfg_.call_timeout);
  auto next = std::chrono::steady_clock::now();
  while (!stopping_ && !interrupted) {
    next += period;
    // In small steps, so that a stop does not wait for a long period.
    while (!stopping_ && !interrupted && std::chrono::steady_clock::now() < next)
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        next - std::chrono::steady_clock::now(), std::chrono::milliseconds{50}));
    auto nodes = cluster_.usable();
    if (stopping_ || interrupted || nodes.empty())
      continue;
    auto& child = children_[rng() % children_.size()];
    auto via = nodes[rng() % nodes.size()];
    auto to = rng() % 3 == 0 ? std::string{} : cluster_.name(nodes[rng() % nodes.size()]);
    caf::error err;
    if (auto sup = cluster_.sup(via))
      err = sup->within(timeout).pin_child(child, to);
    else
      err = std::move(sup.error());
    std::lock_guard<std::mutex> guard{mtx_};
    ++stats_.moves;
    if (err)
      ++stats_.moves_failed[error_key(err)];
    else
      ++stats_.moves_acked;
  }
}

} // namespace ringvisor::chaos
