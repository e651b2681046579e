// The controller of a chaos run: nodes, children, workload and faults, then
// the final phase (heal, converge, every child answers) and the checks.

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>

#include <caf/all.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "account.hpp"
#include "cluster.hpp"
#include "faults.hpp"
#include "ledger_check.hpp"
#include "options.hpp"
#include "report.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "roles.hpp"
#include "workload.hpp"

using namespace std::chrono_literals;

namespace ringvisor::chaos {

namespace {

using clock = std::chrono::steady_clock;

void on_signal(int) {
  interrupted = true;
}

std::string self_exe() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
}

std::string make_work_dir() {
  auto tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string{tmp && *tmp ? tmp : "/tmp"} + "/rv-chaos-XXXXXX";
  return ::mkdtemp(tmpl.data()) ? tmpl : std::string{};
}

double since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
}

// Waits until the cluster converged, at most `bound`; the last view if not.
std::optional<std::string> await_converged(chaos_cluster& c, std::chrono::milliseconds bound) {
  auto deadline = clock::now() + bound;
  std::string seen;
  while (!c.converged(seen)) {
    if (clock::now() >= deadline || !pause_for(100ms))
      return seen;
  }
  return std::nullopt;
}

// Calls `fn(sup)` through random usable nodes until it succeeds, at most `tries` times.
template <class F>
auto through_any(chaos_cluster& c, std::mt19937_64& rng, size_t tries, F fn)
  -> decltype(fn(ring::ref{})) {
  decltype(fn(ring::ref{})) result{caf::make_error(caf::sec::no_route_to_receiving_node)};
  for (size_t k = 0; k < tries && !interrupted; ++k) {
    auto nodes = c.usable();
    if (nodes.empty())
      return result;
    auto i = nodes[rng() % nodes.size()];
    auto sup = c.sup(i);
    if (!sup) {
      result = sup.error();
      c.forget(i);
      continue;
    }
    result = fn(*sup);
    if (result)
      return result;
  }
  return result;
}

// Creates the children; nothing or why not.
std::optional<std::string> create_children(chaos_cluster& c, std::mt19937_64& rng,
                                           const std::vector<std::string>& ids) {
  for (auto& id : ids) {
    auto where = through_any(c, rng, 5, [&](const ring::ref& sup) -> caf::expected<bool> {
      supervision::child_spec spec;
      spec.id = id;
      spec.type = "account";
      spec.args = caf::make_message(id);
      // A snapshot after each inc: a crash costs at most the incs whose
      // snapshot had not reached a replica yet.
      spec.snapshot = supervision::snapshot_policy::after_each_call();
      auto placed = sup.within(10s).start_child(std::move(spec));
      if (placed || placed.error() == supervision::errc::already_present)
        return true; // a retry after a timeout finds it recorded
      return placed.error();
    });
    if (!where)
      return "cannot create " + id + ": " + actor::render(where.error());
  }
  return std::nullopt;
}

// Every child answers, and two `which_children` a second apart agree on
// where each runs (no move in flight): the final state. Returns the last
// listing (child -> node), or nothing; `notes` gets what did not settle.
std::optional<std::map<std::string, std::string>>
await_settled(chaos_cluster& c, std::mt19937_64& rng, const std::vector<std::string>& ids,
              std::chrono::milliseconds bound, std::vector<std::string>& notes) {
  auto deadline = clock::now() + bound;
  std::set<std::string> silent{ids.begin(), ids.end()};
  while (!silent.empty() && clock::now() < deadline && !interrupted)
    for (auto i = silent.begin(); i != silent.end() && clock::now() < deadline;) {
      auto got = through_any(c, rng, 1, [&](const ring::ref& sup) {
        return sup.within(2s).call<uint64_t>(*i, caf::get_atom::value);
      });
      i = got ? silent.erase(i) : std::next(i);
    }
  if (!silent.empty())
    notes.push_back(fmt::format("{} children did not answer within the settle bound (first: {})",
                                silent.size(), *silent.begin()));
  std::optional<std::map<std::string, ring::placement>> last;
  do {
    auto all = through_any(c, rng, 3,
                           [&](const ring::ref& sup) { return sup.within(10s).which_children(); });
    if (!all)
      continue;
    std::map<std::string, ring::placement> now;
    for (auto& x : *all)
      now[x.id] = x.where;
    bool same = last && last->size() == now.size()
                && std::equal(now.begin(), now.end(), last->begin(), [](auto& x, auto& y) {
                     return x.first == y.first && x.second.node == y.second.node
                            && x.second.epoch == y.second.epoch;
                   });
    last = std::move(now);
    if (same) {
      std::map<std::string, std::string> result;
      for (auto& [id, where] : *last)
        result[id] = where.node;
      return result;
    }
  } while (clock::now() < deadline && pause_for(1s));
  notes.push_back("which_children did not settle within the settle bound");
  if (!last)
    return std::nullopt;
  std::map<std::string, std::string> result;
  for (auto& [id, where] : *last)
    result[id] = where.node;
  return result;
}

void write_file(const std::string& path, const std::function<void(std::ostream&)>& fn) {
  std::ofstream out{path};
  fn(out);
}

} // namespace

int run_controller(int argc, char** argv) {
  std::string err;
  auto opts = parse_options(argc, argv, err);
  if (!opts) {
    std::cerr << "ringvisor-chaos: " << err << " (see --help)\n";
    return 2;
  }
  if (opts->help) {
    std::cout << usage;
    return EXIT_SUCCESS;
  }
  // The table is the output; the controller's own links are no news.
  ringvisor::log::configure(ringvisor::log::level::warn, "chaos");
  auto seed = opts->seed_given ? opts->seed : std::mt19937_64{std::random_device{}()}();
  bool own_dir = opts->dir.empty();
  auto dir = own_dir ? make_work_dir() : opts->dir;
  std::error_code ec;
  if (dir.empty() || (!own_dir && !std::filesystem::create_directories(dir, ec) && ec)) {
    std::cerr << "ringvisor-chaos: cannot create the work directory " << dir << '\n';
    return EXIT_FAILURE;
  }
  std::cout << "ringvisor-chaos: seed " << seed << ", work dir " << dir << std::endl;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  std::mt19937_64 rng{seed};
  run_summary sum;
  sum.nodes = opts->nodes;
  sum.children = opts->children;
  sum.seed = seed;
  sum.dir = dir;
  std::optional<chaos_cluster> c;
  c.emplace(node_settings{self_exe(), dir, opts->tick, opts->log_level, opts->nodes / 2 + 1});
  auto fail = [&](const std::string& what) {
    std::cerr << "ringvisor-chaos: " << what << " (work dir kept: " << dir << ")\n";
    return EXIT_FAILURE;
  };
  if (auto e = c->start(opts->nodes))
    return fail(*e);
  if (auto seen = await_converged(*c, std::chrono::seconds{30 + 2 * opts->nodes}))
    return fail("the nodes did not converge:" + *seen);
  std::vector<std::string> ids;
  for (size_t i = 0; i < opts->children; ++i)
    ids.push_back(fmt::format("acct-{:04}", i));
  auto t0 = clock::now();
  if (auto e = create_children(*c, rng, ids))
    return fail(*e);
  std::cout << fmt::format("{} nodes up, {} children created in {:.1f} s", opts->nodes,
                           ids.size(), since(t0))
            << std::endl;

  // The run: workload all along, faults one at a time.
  workload calls{*c, ids, {opts->clients, opts->rate, opts->call_timeout, seed, opts->moves}};
  fault_injector faults{*c, opts->faults, rng, sum.notes};
  for (auto& note : sum.notes)
    std::cout << "note: " << note << std::endl;
  auto begin = clock::now();
  auto end = begin + opts->duration;
  bool timed = opts->duration.count() > 0;
  calls.start();
  while (faults.any() && !interrupted
         && (opts->max_faults == 0 || sum.faults.size() < opts->max_faults)) {
    std::uniform_int_distribution<int64_t> gap_ms{opts->min_gap.count(), opts->max_gap.count()};
    auto gap = std::chrono::milliseconds{gap_ms(rng)};
    if (timed && clock::now() + gap >= end)
      break;
    if (!pause_for(gap))
      break;
    auto at = since(begin);
    auto rec = faults.inject_one();
    sum.faults.push_back(rec);
    std::cout << fmt::format("[{:7.1f} s] fault {:>3} {:<9} {:<16} {}", at,
                             sum.faults.size(), to_string(rec.kind), rec.target, rec.note)
              << std::flush;
    auto t = clock::now();
    if (auto seen = await_converged(*c, 30s)) {
      std::cout << "; NOT converged after 30 s" << std::endl;
      sum.notes.push_back(fmt::format("fault {} not converged after 30 s:{}", sum.faults.size(), *seen));
    } else {
      std::cout << fmt::format("; converged in {:.1f} s", since(t)) << std::endl;
    }
  }
  if (timed && !interrupted)
    pause_for(std::chrono::duration_cast<std::chrono::milliseconds>(end - clock::now()));
  calls.stop();
  sum.seconds = since(begin);
  sum.calls = calls.stats();
  if (interrupted)
    sum.notes.push_back("interrupted: ended early");
  interrupted = false; // the final phase runs anyway (bounded)

  // Final phase: every node back, converged, every child answering.
  std::cout << "final phase: healing, waiting for the cluster to settle" << std::endl;
  for (size_t i = 0; i < c->size(); ++i) {
    if (c->state(i) == node_state::stopped)
      c->resume(i);
    if (c->state(i) == node_state::dead)
      if (auto e = c->restart(i))
        sum.notes.push_back(*e);
  }
  if (auto seen = await_converged(*c, opts->settle))
    sum.notes.push_back("the cluster did not converge within the settle bound:" + *seen);
  run_facts facts;
  facts.children = ids;
  facts.acks = calls.acks();
  facts.kills = faults.kills();
  facts.pauses = faults.pauses();
  facts.listed = await_settled(*c, rng, ids, opts->settle, sum.notes);
  facts.live_pids = c->live_pids();
  // Frozen, the ledgers hold whole lines only.
  for (size_t i = 0; i < c->size(); ++i)
    if (c->state(i) == node_state::running)
      c->suspend(i);
  std::string read_err;
  auto l = ledger::read_dir(dir, &read_err);
  if (!read_err.empty())
    sum.notes.push_back("ledger: " + read_err);
  sum.ledger_lines = l.size();
  if (l.truncated() > 0)
    sum.notes.push_back(fmt::format("{} ledger files end in a line cut off by SIGKILL (ignored)",
                                    l.truncated()));
  for (auto& e : l.node_events())
    sum.splits += e.args[0] == "split" ? 1 : 0;
  sum.result = check(l, facts);
  c.reset(); // kills the nodes

  bool clean = sum.result.violations.empty();
  sum.dir_kept = !clean || opts->keep || !own_dir;
  write_file(dir + "/faults.txt", [&](std::ostream& out) {
    for (auto& f : sum.faults)
      out << f.begin_ns << ' ' << f.end_ns << ' ' << to_string(f.kind) << ' ' << f.target
          << ' ' << f.note << '\n';
  });
  write_file(dir + "/acks.txt", [&](std::ostream& out) {
    for (auto& a : facts.acks)
      out << a.ns << ' ' << a.child << ' ' << a.request << ' ' << a.value << '\n';
  });
  write_file(dir + "/violations.txt",
             [&](std::ostream& out) { print_violations(out, l, sum.result, SIZE_MAX); });
  print_table(std::cout, sum);
  print_violations(std::cout, l, sum.result, 10);
  if (!sum.dir_kept)
    std::filesystem::remove_all(dir, ec);
  return clean ? EXIT_SUCCESS : EXIT_FAILURE;
}

} // namespace ringvisor::chaos
