#include "faults.hpp"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "account.hpp"
#include "support/netcut.hpp"

using namespace std::chrono_literals;

namespace ringvisor::chaos {

namespace {

std::string seconds(std::chrono::milliseconds d) {
  return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0);
}

// A process that spins until killed (and dies with its parent). The child
// of a multi-threaded parent only loops: nothing that could deadlock.
pid_t spawn_spinner() {
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid != 0)
    return pid;
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
    ::_exit(125);
  for (volatile uint64_t x = 0;; x = x + 1) {
    // spin
  }
}

} // namespace

fault_injector::fault_injector(chaos_cluster& c, const std::set<fault_kind>& wanted,
                               std::mt19937_64& rng, std::vector<std::string>& notes)
  : cluster_(c), rng_(rng) {
  for (auto k : wanted) {
    if (k == fault_kind::partition || k == fault_kind::isolated) {
      if (auto why = test::netcut::unsupported()) {
        notes.push_back(std::string{to_string(k)} + " faults skipped: " + *why);
        continue;
      }
      if (c.size() < 2) {
        notes.push_back(std::string{to_string(k)} + " faults skipped: they need two nodes");
        continue;
      }
    }
    kinds_.push_back(k);
  }
}

fault_record fault_injector::inject_one() {
  auto kind = kinds_[rng_() % kinds_.size()];
  switch (kind) {
    case fault_kind::kill9:
      return kill9();
    case fault_kind::stop:
      return stop();
    case fault_kind::term:
      return term();
    case fault_kind::partition:
      return partition();
    case fault_kind::isolated:
      return isolated();
    default:
      return starve();
  }
}

size_t fault_injector::pick_node() {
  return static_cast<size_t>(rng_() % cluster_.size());
}

std::chrono::milliseconds fault_injector::pick_ms(int64_t lo, int64_t hi) {
  std::uniform_int_distribution<int64_t> dist{lo, hi};
  return std::chrono::milliseconds{dist(rng_)};
}

void fault_injector::restart(size_t i, fault_record& out) {
  auto delay = pick_ms(500, 2000); // a process supervisor's restart delay
  pause_for(delay);
  if (auto err = cluster_.restart(i)) {
    out.failed = true;
    out.note += "; restart failed: " + *err;
    return;
  }
  out.note += fmt::format("; restarted after {} as pid {}", seconds(delay), cluster_.pid(i));
}

fault_record fault_injector::kill9() {
  auto i = pick_node();
  fault_record out{fault_kind::kill9, cluster_.name(i), monotonic_ns(), 0, "", false};
  auto pid = cluster_.pid(i);
  kills_.push_back({pid, cluster_.name(i), monotonic_ns()});
  cluster_.kill9(i);
  out.note = fmt::format("killed pid {}", pid);
  restart(i, out);
  out.end_ns = monotonic_ns();
  return out;
}

fault_record fault_injector::stop() {
  auto i = pick_node();
  auto hold = pick_ms(1000, 6000);
  fault_record out{fault_kind::stop, cluster_.name(i), monotonic_ns(), 0, "", false};
  auto from = monotonic_ns();
  cluster_.suspend(i);
  pause_for(hold);
  auto to = monotonic_ns(); // it may act right after SIGCONT
  cluster_.resume(i);
  out.end_ns = monotonic_ns();
  pauses_.push_back({cluster_.pid(i), from, to});
  out.note = fmt::format("pid {} stopped for {}", cluster_.pid(i), seconds(hold));
  return out;
}

fault_record fault_injector::term() {
  auto i = pick_node();
  fault_record out{fault_kind::term, cluster_.name(i), monotonic_ns(), 0, "", false};
  auto pid = cluster_.pid(i);
  auto code = cluster_.terminate(i, 30s);
  if (code) {
    out.note = fmt::format("pid {} left with exit code {} in {} ms", pid, *code,
                           (monotonic_ns() - out.begin_ns) / 1'000'000);
  } else {
    kills_.push_back({pid, cluster_.name(i), monotonic_ns()});
    out.failed = true;
    out.note = fmt::format("pid {} ignored SIGTERM for 30 s: killed", pid);
  }
  restart(i, out);
  out.end_ns = monotonic_ns();
  return out;
}

fault_record fault_injector::partition() {
  auto n = cluster_.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  std::vector<std::vector<size_t>> sides;
  bool pair = n < 3 || rng_() % 2 == 0;
  if (pair) {
    // One broken link; the others still reach both ends.
    sides = {{order[0]}, {order[1]}};
  } else {
    auto minority = 1 + rng_() % ((n - 1) / 2);
    sides = {{order.begin(), order.begin() + static_cast<ptrdiff_t>(minority)},
             {order.begin() + static_cast<ptrdiff_t>(minority), order.end()}};
  }
  std::vector<std::vector<test::cut_member>> members;
  std::string target;
  for (auto& side : sides) {
    std::sort(side.begin(), side.end());
    auto& xs = members.emplace_back();
    target += target.empty() ? "" : "|";
    for (auto i : side) {
      xs.push_back({*cluster_.gid(i), uint32_t{1} << i});
      target += (xs.size() > 1 ? "," : "") + cluster_.name(i);
    }
  }
  auto hold = pick_ms(3000, 8000);
  fault_record out{fault_kind::partition, target, monotonic_ns(), 0, "", false};
  out.note = fmt::format("{} for {}", pair ? "one broken pair" : "majority|minority",
                         seconds(hold));
  cut_for(members, hold, out, [] {});
  return out;
}

void fault_injector::cut_for(const std::vector<std::vector<test::cut_member>>& sides,
                             std::chrono::milliseconds hold, fault_record& out,
                             const std::function<void()>& meanwhile) {
  test::netcut cut;
  if (auto err = cut.cut(sides)) {
    out.failed = true;
    out.note = *err;
    out.end_ns = monotonic_ns();
    return;
  }
  meanwhile();
  pause_for(hold);
  cut.heal();
  if (!cut.remove()) {
    out.failed = true;
    out.note += "; could not remove iptables chain " + cut.chain();
  }
  out.end_ns = monotonic_ns();
}

fault_record fault_injector::isolated() {
  auto i = pick_node();
  std::vector<std::vector<test::cut_member>> sides(2);
  for (size_t j = 0; j < cluster_.size(); ++j)
    sides[j == i ? 0 : 1].push_back({*cluster_.gid(j), uint32_t{1} << j});
  auto hold = pick_ms(3000, 8000);
  fault_record out{fault_kind::isolated, cluster_.name(i), monotonic_ns(), 0, "", false};
  cut_for(sides, hold, out, [&] {
    auto pid = cluster_.pid(i);
    kills_.push_back({pid, cluster_.name(i), monotonic_ns(), true});
    cluster_.kill9(i);
    out.note = fmt::format("killed pid {} behind a cut", pid);
    restart(i, out);
    out.note += fmt::format("; healed after {}", seconds(hold));
  });
  return out;
}

fault_record fault_injector::starve() {
  auto count = 2 + rng_() % 3;
  auto hold = pick_ms(2000, 5000);
  fault_record out{fault_kind::starve, "all", monotonic_ns(), 0, "", false};
  std::vector<pid_t> spinners;
  for (size_t i = 0; i < count; ++i)
    if (auto pid = spawn_spinner(); pid > 0)
      spinners.push_back(pid);
  pause_for(hold);
  for (auto pid : spinners) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  out.note = fmt::format("{} busy loops for {}", spinners.size(), seconds(hold));
  out.end_ns = monotonic_ns();
  return out;
}

} // namespace ringvisor::chaos
