// Supervision benchmarks, printed as a table (see docs/benchmarks.md):
//
//   start_child, sequential   one caller, one request at a time (OTP's method)
//   start_child, 64 in flight one caller, a window of 64 requests
//   memory per child          RSS growth / children, supervisor bookkeeping included
//   restart latency           crash -> the new instance's first message
//   shutdown                  user_shutdown to the supervisor -> its down message
//
// Usage: supervision_bench [--bench.children=100000] [--bench.restarts=2000]
//                          [--bench.caf-timer] [--scheduler.max-threads=N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <vector>

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/supervision/all.hpp"

using namespace ringvisor;
using namespace ringvisor::supervision;
using clk = std::chrono::steady_clock;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using started_atom = caf::atom_constant<caf::atom("started")>;

struct bench_config : caf::actor_system_config {
  size_t children = 100'000;
  size_t restarts = 2'000;
  bool caf_timer = false;

  bench_config() {
    opt_group{custom_options_, "bench"}
      .add(children, "children", "children for the spawn, memory and shutdown runs")
      .add(restarts, "restarts", "crashes for the restart-latency run")
      .add(caf_timer, "caf-timer", "CAF's own timer instead of the nodes' quiet one");
    actor::add_types(*this);
    supervision::add_types(*this);
  }
};

// Resident set size in bytes, from /proc.
size_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  size_t pages = 0;
  size_t resident = 0;
  in >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

// Quiet CAF's "*** unhandled exception" print for the deliberate crashes.
caf::error quiet_crash(caf::scheduled_actor*, std::exception_ptr&) {
  return caf::make_error(caf::sec::runtime_error, "crash");
}

// An idle child, like OTP's minimal gen_server holding its id.
caf::behavior idle(caf::event_based_actor*, int32_t) {
  return {[](crash_atom) { throw std::runtime_error("crash"); }};
}

// Tells `observer` when it has started, so restarts can be timed.
caf::behavior announcing(caf::event_based_actor* self, caf::actor observer) {
  self->set_exception_handler(quiet_crash);
  self->send(observer, started_atom::value, self);
  return {[](crash_atom) { throw std::runtime_error("crash"); }};
}

child_spec idle_child(int32_t i) {
  child_spec spec;
  spec.id = std::to_string(i);
  spec.type = "idle";
  spec.args = caf::make_message(i);
  spec.shutdown = shutdown_policy::brutal_kill();
  return spec;
}

supervisor_spec big_supervisor(std::shared_ptr<actor::factory_registry> f) {
  supervisor_spec spec;
  spec.name = "bench";
  spec.max_restarts = 1'000'000;
  spec.factories = std::move(f);
  return spec;
}

struct row {
  std::string what;
  std::string value;
  std::string note;
};

void print(const std::vector<row>& rows) {
  std::printf("| %-34s | %-22s | %-44s |\n", "measurement", "value", "note");
  std::printf("|%s|%s|%s|\n", std::string(36, '-').c_str(),
              std::string(24, '-').c_str(), std::string(46, '-').c_str());
  for (auto& r : rows)
    std::printf("| %-34s | %-22s | %-44s |\n", r.what.c_str(), r.value.c_str(),
                r.note.c_str());
}

std::string fmt_rate(double per_second) {
  return fmt::format("{:.0f} children/s", per_second);
}

// Starts `n` children one request at a time from an event-based driver, the
// way OTP's benchmark calls start_child from one process. Returns seconds.
double start_sequentially(caf::actor_system& sys, const caf::actor& sup,
                          size_t n) {
  std::promise<double> done;
  auto t0 = clk::now();
  sys.spawn([&, sup, n](caf::event_based_actor* self) {
    auto next = std::make_shared<std::function<void(size_t)>>();
    *next = [=, &done](size_t i) {
      if (i == n) {
        done.set_value(seconds_since(t0));
        self->quit();
        return;
      }
      self->request(sup, std::chrono::seconds{10}, start_child_atom::value,
                    idle_child(static_cast<int32_t>(i)))
        .then([=](const caf::actor&) { (*next)(i + 1); },
              [=](const caf::error& err) {
                std::cerr << "start_child failed: " << actor::render(err) << '\n';
                std::exit(EXIT_FAILURE);
              });
    };
    (*next)(0);
  });
  return done.get_future().get();
}

// Starts `n` children keeping `window` requests in flight. Returns seconds.
double start_pipelined(caf::actor_system& sys, const caf::actor& sup, size_t n,
                       size_t window) {
  std::promise<double> done;
  auto t0 = clk::now();
  sys.spawn([&, sup, n, window](caf::event_based_actor* self) {
    auto sent = std::make_shared<size_t>(0);
    auto replies = std::make_shared<size_t>(0);
    auto send_one = std::make_shared<std::function<void()>>();
    *send_one = [=, &done] {
      auto i = (*sent)++;
      self->request(sup, std::chrono::seconds{60}, start_child_atom::value,
                    idle_child(static_cast<int32_t>(i)))
        .then([=, &done](const caf::actor&) {
          if (++*replies == n) {
            done.set_value(seconds_since(t0));
            self->quit();
          } else if (*sent < n) {
            (*send_one)();
          }
        });
    };
    for (size_t i = 0; i < std::min(n, window); ++i)
      (*send_one)();
  });
  return done.get_future().get();
}

void run_spawn(caf::actor_system& sys, size_t n,
               std::shared_ptr<actor::factory_registry> f,
               std::vector<row>& rows) {
  caf::scoped_actor self{sys};
  {
    auto sup = *spawn_supervisor(sys, big_supervisor(f));
    auto rss0 = rss_bytes();
    auto dt = start_sequentially(sys, sup, n);
    auto rss1 = rss_bytes();
    rows.push_back({"start_child, sequential", fmt_rate(n / dt),
                    fmt::format("{} children in {:.2f} s", n, dt)});
    rows.push_back({"memory per supervised idle child",
                    fmt::format("{:.0f} B", double(rss1 - rss0) / n),
                    "RSS growth / children, bookkeeping included"});
    self->monitor(sup);
    auto t0 = clk::now();
    self->send_exit(sup, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
    rows.push_back({"shutdown of all children",
                    fmt::format("{:.2f} s", seconds_since(t0)),
                    "brutal_kill, newest first"});
  }
  {
    auto sup = *spawn_supervisor(sys, big_supervisor(f));
    auto dt = start_pipelined(sys, sup, n, 64);
    rows.push_back({"start_child, 64 in flight", fmt_rate(n / dt),
                    fmt::format("{} children in {:.2f} s", n, dt)});
    self->monitor(sup);
    self->send_exit(sup, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
  }
}

// Crashes a child `n` times; each time measures until its successor's
// first message reaches the driver.
void run_restarts(caf::actor_system& sys, size_t n,
                  std::shared_ptr<actor::factory_registry> f,
                  std::vector<row>& rows) {
  std::promise<std::vector<double>> done;
  caf::actor sup;
  auto driver = sys.spawn([&, n](caf::event_based_actor* self) -> caf::behavior {
    auto us = std::make_shared<std::vector<double>>();
    auto t0 = std::make_shared<clk::time_point>();
    return {
      [=, &done](started_atom, const caf::actor& child) {
        if (!us->empty() || *t0 != clk::time_point{})
          us->push_back(seconds_since(*t0) * 1e6);
        if (us->size() == n) {
          done.set_value(*us);
          self->quit();
          return;
        }
        *t0 = clk::now();
        self->send(child, crash_atom::value);
      },
    };
  });
  auto spec = big_supervisor(f);
  child_spec c;
  c.id = "victim";
  c.type = "announcing";
  c.args = caf::make_message(driver);
  spec.children.push_back(c);
  sup = *spawn_supervisor(sys, spec);
  auto us = done.get_future().get();
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<size_t>(p * (us.size() - 1))]; };
  rows.push_back({"restart latency p50", fmt::format("{:.1f} us", pct(0.5)),
                  fmt::format("{} crashes, one_for_one", n)});
  rows.push_back({"restart latency p99", fmt::format("{:.1f} us", pct(0.99)), ""});
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << caf::to_string(err) << '\n';
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  if (!cfg.caf_timer)
    actor::use_quiet_timer(cfg); // as nodes run
  log::configure(log::level::warn, "bench");
  auto factories = std::make_shared<actor::factory_registry>();
  (void) factories->add<int32_t>("idle", idle);
  (void) factories->add<caf::actor>("announcing", announcing);
  std::vector<row> rows;
  {
    caf::actor_system sys{cfg};
    run_spawn(sys, cfg.children, factories, rows);
    run_restarts(sys, cfg.restarts, factories, rows);
  }
  print(rows);
  return EXIT_SUCCESS;
}
