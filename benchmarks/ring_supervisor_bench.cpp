// Ring supervisor benchmarks over real TCP on loopback, printed as a table
// (see docs/benchmarks.md). Node "a" runs in this process; "b", "c" (and "d"
// for the join) are copies of this binary started with `--serve`. Every
// node runs the ring supervisor "bench" over idle children.
//
//   1. start_child throughput, 1 and 16 callers (in-memory child list, and
//      with the replicated store);
//   2. call latency and throughput to children on other nodes;
//   3. kill -9 of "c" with N static children: time until every child runs
//      again on a or b;
//   4. a fourth node joins N children: time until it runs its share, and
//      how many moved;
//   5. memory per child (RSS of the three processes, N = 10k vs 100k);
//   6. the same kill -9 with children that keep 256 bytes of state and
//      snapshot it every second: what the snapshots cost (CPU, bytes), and
//      the time until every orphan runs again from its snapshot.
//
// Usage: ring_supervisor_bench [options for every node]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "bench_util.hpp"
#include "protocol.hpp" // libring's, for a multicall of its stats request
#include "ringvisor/actor/all.hpp"
#include "ringvisor/actor/wire.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/ring/all.hpp"
#include "support/process.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;
using ringvisor::bench::clk;
using ringvisor::bench::percentile;
using ringvisor::bench::us;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

struct idle_state {
  int64_t pings = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, idle_state& x) {
  return f(caf::meta::type_name("idle_state"), x.pings);
}

// A stateful child that answers pings.
caf::behavior idle(caf::stateful_actor<idle_state>* self) {
  caf::message_handler own{[self](ping_atom, int64_t x) {
    ++self->state.pings;
    return x;
  }};
  return own.or_else(actor::state_handlers(self));
}

struct padded_state {
  std::string payload;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, padded_state& x) {
  return f(caf::meta::type_name("padded_state"), x.payload);
}

// A child with `size` bytes of state (its serialized form adds a length).
caf::behavior padded(caf::stateful_actor<padded_state>* self, uint32_t size) {
  self->state.payload.assign(size, 'x');
  return actor::state_handlers(self);
}

size_t env_size(const char* name) {
  auto x = std::getenv(name);
  return x ? std::stoul(x) : 0;
}

struct bench_node {
  actor::node_config cfg;
  std::unique_ptr<actor::node> node;
  caf::actor agent;
  ring::ref sup;
};

// Starts a node with the ring supervisor "bench" and `children` static
// children; with `store`, a replicated child store.
std::unique_ptr<bench_node> start(std::vector<std::string> args, size_t children, bool store) {
  auto result = std::make_unique<bench_node>();
  ringvisor::add_types(result->cfg);
  args.insert(args.begin(), "--ringvisor.log-level=warn");
  if (auto err = result->cfg.read(args, "")) {
    std::fprintf(stderr, "ring_supervisor_bench: %s\n", actor::render(err).c_str());
    std::exit(EXIT_FAILURE);
  }
  auto node = actor::node::start(result->cfg);
  if (!node)
    std::exit(EXIT_FAILURE);
  result->node = std::move(*node);
  auto& n = *result->node;
  (void) n.factories()->add<>("idle", idle);
  (void) n.factories()->add<uint32_t>("padded", padded);
  // RV_BENCH_STATE: static children of that much state, snapshot every
  // second unless RV_BENCH_NO_SNAPSHOTS is set.
  auto state_size = static_cast<uint32_t>(env_size("RV_BENCH_STATE"));
  auto snapshots = env_size("RV_BENCH_NO_SNAPSHOTS") == 0;
  auto agent = cluster::start_agent(n);
  if (!agent)
    std::exit(EXIT_FAILURE);
  result->agent = *agent;
  ring::supervisor_spec spec;
  spec.name = "bench";
  for (size_t i = 0; i < children; ++i) {
    supervision::child_spec child;
    child.id = "s" + std::to_string(i);
    child.type = "idle";
    if (state_size > 0) {
      child.type = "padded";
      child.args = caf::make_message(state_size);
      child.snapshot = snapshots ? supervision::snapshot_policy::every(1s)
                                 : supervision::snapshot_policy::off();
    }
    spec.children.push_back(std::move(child));
  }
  if (store)
    spec.stores.push_back(std::move(*ring::open_replicated_store(n, {"bench", {}})));
  auto sup = ring::start_supervisor(n, std::move(spec));
  if (!sup)
    std::exit(EXIT_FAILURE);
  result->sup = *sup;
  return result;
}

int serve(std::vector<std::string> args) {
  auto n = start(std::move(args), env_size("RV_BENCH_CHILDREN"), env_size("RV_BENCH_STORE") > 0);
  std::printf("listening %s\n", n->node->identity().endpoint().c_str());
  std::fflush(stdout);
  actor::node::await_signal();
  n->node->shutdown();
  return 0;
}

size_t rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string key;
  size_t value = 0;
  while (in >> key)
    if (key == "VmRSS:" && in >> value)
      return value;
  return 0;
}

/// A 3-node cluster (a here, b and c as processes), plus d on demand.
struct cluster_under_test {
  std::unique_ptr<bench_node> a;
  std::vector<std::unique_ptr<test::process>> others;
  std::string self_path;
  std::vector<std::string> extra;

  cluster_under_test(const char* argv0, std::vector<std::string> args, size_t children,
                     bool store)
    : self_path(argv0), extra(std::move(args)) {
    ::setenv("RV_BENCH_CHILDREN", std::to_string(children).c_str(), 1);
    ::setenv("RV_BENCH_STORE", store ? "1" : "0", 1);
    auto local = extra;
    local.push_back("--ringvisor.name=a");
    a = start(local, children, store);
    add("b");
    add("c");
    await([&] { return members_up() == 3 && total() == children; }, 60s);
  }

  void add(const std::string& name) {
    std::vector<std::string> xs{self_path, "--serve", "--ringvisor.name=" + name,
                                "--ringvisor.seeds=[\"" + a->node->identity().endpoint() + "\"]"};
    xs.insert(xs.end(), extra.begin(), extra.end());
    others.push_back(std::make_unique<test::process>(xs));
    if (!others.back()->read_line("listening ", 10s)) {
      std::fprintf(stderr, "ring_supervisor_bench: node %s did not start\n", name.c_str());
      std::exit(EXIT_FAILURE);
    }
  }

  size_t members_up() {
    caf::scoped_actor self{a->node->system()};
    size_t result = 0;
    self->request(a->agent, 1s, caf::get_atom::value, cluster::members_atom::value)
      .receive(
        [&](const std::vector<cluster::member>& xs) {
          for (auto& m : xs)
            result += m.status == cluster::member_status::up;
        },
        [](caf::error&) {});
    return result;
  }

  std::map<std::string, uint64_t> per_node() {
    std::map<std::string, uint64_t> result;
    auto counts = a->sup.within(10s).running_per_node();
    if (counts)
      for (auto& x : *counts)
        result[x.node] = x.running;
    return result;
  }

  size_t total() {
    size_t result = 0;
    for (auto& [node, n] : per_node())
      result += n;
    return result;
  }

  // Children running on the nodes whose names are in `on`.
  size_t running_on(const std::vector<std::string>& on) {
    auto counts = per_node();
    size_t result = 0;
    for (auto& name : on)
      result += counts[name];
    return result;
  }

  // Listing 100k children takes tens of ms: poll less often then.
  std::chrono::milliseconds poll{2};

  template <class F>
  void await(F ok, std::chrono::seconds timeout) {
    auto deadline = clk::now() + timeout;
    while (!ok()) {
      if (clk::now() > deadline) {
        std::fprintf(stderr, "ring_supervisor_bench: timed out; running: %zu, on a %zu, b %zu, "
                             "c %zu, c2 %zu, d %zu\n",
                     total(), running_on({"a"}), running_on({"b"}), running_on({"c"}),
                     running_on({"c2"}), running_on({"d"}));
        std::exit(EXIT_FAILURE);
      }
      std::this_thread::sleep_for(poll);
    }
  }

  // The ring stats of every member, summed.
  // Members whose stats came with the last `stats()`.
  size_t answered = 0;

  ring::ring_stats stats() {
    ring::ring_stats sum;
    answered = 0;
    caf::scoped_actor self{a->node->system()};
    self
      ->request(a->agent, 20s, cluster::multicall_atom::value, ring::directory_name("bench"),
                caf::make_message(ring::ring_stats_atom::value), caf::timespan{10s})
      .receive(
        [&](std::vector<cluster::node_reply>& replies) {
          for (auto& r : replies) {
            if (r.error || !r.reply.match_elements<ring::ring_stats>())
              continue;
            auto& x = r.reply.get_as<ring::ring_stats>(0);
            ++answered;
            sum.running += x.running;
            sum.starting += x.starting;
            sum.last_start_us = std::max(sum.last_start_us, x.last_start_us);
            sum.restored += x.restored;
            sum.snapshots_taken += x.snapshots_taken;
            sum.snapshots_held += x.snapshots_held;
            sum.snapshot_bytes += x.snapshot_bytes;
            sum.records_held += x.records_held;
          }
        },
        [](caf::error& err) {
          std::fprintf(stderr, "ring_supervisor_bench: stats: %s\n", actor::render(err).c_str());
          std::exit(EXIT_FAILURE);
        });
    return sum;
  }

  // Awaits `done` (children still starting count as not done; all `nodes`
  // must answer), then returns how long after `since` the last child began
  // to run, as the nodes recorded it (by the wall clock they share with
  // this process): the period of the poll is not part of what is measured.
  template <class F>
  double recovery_ms(std::chrono::system_clock::time_point since, size_t nodes, F done) {
    ring::ring_stats last;
    await(
      [&] {
        if (!done())
          return false;
        last = stats();
        return answered >= nodes && last.starting == 0;
      },
      60s);
    using namespace std::chrono;
    auto since_us = duration_cast<microseconds>(since.time_since_epoch()).count();
    auto took_us = static_cast<int64_t>(last.last_start_us) - since_us;
    if (took_us <= 0) {
      std::fprintf(stderr, "ring_supervisor_bench: no child started after the event\n");
      std::exit(EXIT_FAILURE);
    }
    return static_cast<double>(took_us) / 1000.0;
  }

  size_t rss_kib_total() {
    size_t result = rss_kib(::getpid());
    for (auto& p : others)
      result += rss_kib(p->pid());
    return result;
  }

  ~cluster_under_test() {
    for (auto& p : others)
      p->signal(SIGKILL);
    a->node->shutdown();
  }
};

void start_child_throughput(const char* argv0, const std::vector<std::string>& args, bool store) {
  cluster_under_test cl{argv0, args, 0, store};
  const char* what = store ? "replicated store" : "in memory";
  for (int callers : {1, 16}) {
    const int per_caller = callers == 1 ? 3'000 : 500;
    std::vector<std::thread> threads;
    auto t0 = clk::now();
    for (int c = 0; c < callers; ++c)
      threads.emplace_back([&, c] {
        for (int i = 0; i < per_caller; ++i) {
          supervision::child_spec spec;
          spec.id = "k" + std::to_string(callers) + "-" + std::to_string(c) + "-" + std::to_string(i);
          spec.type = "idle";
          auto where = cl.a->sup.within(10s).start_child(spec);
          if (!where) {
            std::fprintf(stderr, "ring_supervisor_bench: start_child: %s\n",
                         actor::render(where.error()).c_str());
            std::exit(EXIT_FAILURE);
          }
        }
      });
    for (auto& t : threads)
      t.join();
    auto rate = callers * per_caller / std::chrono::duration<double>(clk::now() - t0).count();
    std::printf("| start_child, %s, %d caller%s | %.0f children/s |\n", what, callers,
                callers == 1 ? "" : "s", rate);
  }
}

// Starts `total` idle children through node a from one caller (an actor)
// that keeps `window` start_child requests in flight; returns children/s.
double start_pipelined(cluster_under_test& cl, int total, int window, const std::string& prefix) {
  std::promise<void> finished;
  auto t0 = clk::now();
  cl.a->node->system().spawn([&, sup = cl.a->sup](caf::event_based_actor* self) {
    auto next = std::make_shared<int>(0);
    auto done = std::make_shared<int>(0);
    auto issue = std::make_shared<std::function<void()>>();
    *issue = [self, sup, next, done, issue, total, prefix, &finished] {
      supervision::child_spec spec;
      spec.id = prefix + std::to_string((*next)++);
      spec.type = "idle";
      sup.within(10s)
        .start_child(self, std::move(spec))
        .then(
          [next, done, issue, total, &finished](ring::placement) {
            if (++*done == total)
              finished.set_value();
            else if (*next < total)
              (*issue)();
          },
          [](caf::error& err) {
            std::fprintf(stderr, "ring_supervisor_bench: %s\n", actor::render(err).c_str());
            std::exit(EXIT_FAILURE);
          });
    };
    for (int i = 0; i < window; ++i)
      (*issue)();
  });
  finished.get_future().wait();
  return total / std::chrono::duration<double>(clk::now() - t0).count();
}

void start_child_pipelined(const char* argv0, const std::vector<std::string>& args) {
  cluster_under_test cl{argv0, args, 0, false};
  constexpr int window = 64;
  auto rate = start_pipelined(cl, 20'000, window, "p");
  std::printf("| start_child, in memory, 1 caller with %d in flight | %.0f children/s |\n",
              window, rate);
}

// What `calls` calls from one actor through the ring::ref took, `window`
// in flight: calls/s and each call's latency.
struct actor_calls {
  double per_second = 0;
  std::vector<double> latency_us;
};

actor_calls calls_from_actor(cluster_under_test& cl, const std::vector<std::string>& remote,
                             int window, int64_t calls) {
  auto result = std::make_shared<actor_calls>();
  std::promise<void> finished;
  auto t0 = clk::now();
  cl.a->node->system().spawn([&, result, sup = cl.a->sup](caf::event_based_actor* self) {
    auto next = std::make_shared<int64_t>(0);
    auto issue = std::make_shared<std::function<void()>>();
    *issue = [self, sup, next, issue, result, calls, &remote, &finished] {
      auto i = (*next)++;
      auto sent = clk::now();
      sup.call<int64_t>(self, remote[static_cast<size_t>(i) % remote.size()], ping_atom::value, i)
        .then(
          [sent, next, issue, result, calls, &finished](int64_t) {
            result->latency_us.push_back(us(clk::now() - sent));
            if (static_cast<int64_t>(result->latency_us.size()) == calls) {
              finished.set_value();
              *issue = nullptr; // the last one: no more calls
            } else if (*next < calls) {
              (*issue)();
            }
          },
          [](caf::error& err) {
            std::fprintf(stderr, "ring_supervisor_bench: %s\n", actor::render(err).c_str());
            std::exit(EXIT_FAILURE);
          });
    };
    for (int i = 0; i < window; ++i)
      (*issue)();
  });
  finished.get_future().wait();
  result->per_second =
    static_cast<double>(calls) / std::chrono::duration<double>(clk::now() - t0).count();
  return std::move(*result);
}

void call_bench(const char* argv0, const std::vector<std::string>& args) {
  cluster_under_test cl{argv0, args, 300, false};
  auto all = *cl.a->sup.which_children();
  std::vector<std::string> remote;
  for (auto& x : all)
    if (x.where.node != "a")
      remote.push_back(x.id);
  std::vector<double> samples;
  for (int64_t i = 0; i < 6'000; ++i) {
    auto t0 = clk::now();
    auto r =
      cl.a->sup.call<int64_t>(remote[static_cast<size_t>(i) % remote.size()], ping_atom::value, i);
    if (!r)
      std::exit(EXIT_FAILURE);
    if (i >= 1'000)
      samples.push_back(us(clk::now() - t0));
  }
  std::printf("| call to a child on another node | p50 %.0f us, p99 %.0f us |\n",
              percentile(samples, 0.5), percentile(samples, 0.99));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < 16; ++c)
    threads.emplace_back([&, c] {
      int64_t n = 0;
      while (!stop) {
        if (cl.a->sup.call<int64_t>(remote[static_cast<size_t>(n * 16 + c) % remote.size()],
                                    ping_atom::value, n))
          ++n;
      }
      done += n;
    });
  auto t0 = clk::now();
  std::this_thread::sleep_for(3s);
  stop = true;
  for (auto& t : threads)
    t.join();
  std::printf("| call throughput, 16 callers | %.0f calls/s |\n",
              static_cast<double>(done) / std::chrono::duration<double>(clk::now() - t0).count());
  auto one = calls_from_actor(cl, remote, 1, 6'000);
  one.latency_us.erase(one.latency_us.begin(), one.latency_us.begin() + 1'000);
  std::printf("| call from an actor to a child on another node | p50 %.0f us, p99 %.0f us |\n",
              percentile(one.latency_us, 0.5), percentile(one.latency_us, 0.99));
  auto many = calls_from_actor(cl, remote, 64, 60'000);
  std::printf("| call throughput, one actor, 64 in flight | %.0f calls/s |\n", many.per_second);
}

// How many of the n static children `node` owns on a ring of `members`,
// computed as every node does.
size_t share_of(const std::string& node, std::vector<std::string> members, size_t n) {
  cluster::hash_ring ring{std::move(members)};
  size_t result = 0;
  for (size_t i = 0; i < n; ++i)
    result += ring.mine("bench/s" + std::to_string(i), node);
  return result;
}

size_t failover_and_join(const char* argv0, const std::vector<std::string>& args, size_t n) {
  cluster_under_test cl{argv0, args, n, false};
  cl.await([&] { return cl.running_on({"c"}) == share_of("c", {"a", "b", "c"}, n); }, 60s);
  auto rss = cl.rss_kib_total();
  auto on_c = n - cl.running_on({"a", "b"});
  auto t0 = std::chrono::system_clock::now();
  cl.others[1]->signal(SIGKILL);
  auto took_ms = cl.recovery_ms(t0, 2, [&] { return cl.running_on({"a", "b"}) == n; });
  std::printf("| kill -9 failover, %zu children on 3 nodes (%zu orphans) | %.0f ms |\n", n,
              on_c, took_ms);
  cl.add("c2");
  cl.await([&] { return cl.running_on({"a", "b", "c2"}) == n; }, 60s);
  auto share = share_of("d", {"a", "b", "c2", "d"}, n);
  auto t1 = std::chrono::system_clock::now();
  cl.add("d");
  auto took =
    cl.recovery_ms(t1, 4, [&] { return cl.running_on({"d"}) == share && cl.total() == n; });
  auto moved = cl.running_on({"d"});
  std::printf("| a 4th node joins %zu children | %.0f ms, %zu moved (%.1f%%) |\n", n, took, moved,
              100.0 * static_cast<double>(moved) / static_cast<double>(n));
  return rss;
}

// The RSS of a cluster of `nodes` (3 or more) once `n` children started
// through start_child run and each record is kept by its 3 replicas.
// (Children from the spec would not do: every node holds the spec.)
size_t rss_of_cluster(const char* argv0, const std::vector<std::string>& args, size_t nodes,
                      size_t n) {
  cluster_under_test cl{argv0, args, 0, false};
  for (size_t i = 3; i < nodes; ++i)
    cl.add(std::string{"node"} + std::to_string(i));
  cl.await([&] { return cl.members_up() == nodes; }, 60s);
  start_pipelined(cl, static_cast<int>(n), 64, "m");
  cl.await([&] { return cl.total() == n && cl.stats().records_held == 3 * n; }, 60s);
  return cl.rss_kib_total();
}

// Memory per child started through start_child, summed over a cluster of
// `nodes`: the RSS with 100k children against 10k.
void memory_per_child(const char* argv0, const std::vector<std::string>& args, size_t nodes) {
  auto rss_10k = rss_of_cluster(argv0, args, nodes, 10'000);
  auto rss_100k = rss_of_cluster(argv0, args, nodes, 100'000);
  std::printf("| memory per child started by start_child (RSS of %zu nodes, 100k vs 10k; 3 "
              "copies of each record) | %.0f B |\n",
              nodes, 1024.0 * static_cast<double>(rss_100k - rss_10k) / 90'000.0);
}

// CPU seconds (user + system) that process `pid` used so far.
double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(in, line);
  // Fields after the command (which may hold spaces): state is field 3,
  // utime 14, stime 15.
  std::istringstream rest{line.substr(line.rfind(')') + 2)};
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i >= 14)
      ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The CPU share of a core that the nodes in processes of their own (b, c)
// use on average over `d`.
double cpu_share(cluster_under_test& cl, clk::duration d) {
  auto used = [&] {
    double sum = 0;
    for (auto& p : cl.others)
      sum += cpu_seconds(p->pid());
    return sum;
  };
  auto cpu0 = used();
  auto t0 = clk::now();
  std::this_thread::sleep_for(d);
  auto secs = std::chrono::duration<double>(clk::now() - t0).count();
  return (used() - cpu0) / static_cast<double>(cl.others.size()) / secs;
}

// Children with 256 bytes of state that snapshot every second: what the
// snapshots cost the nodes in processes of their own (against the same
// cluster without snapshots), then a kill -9 and the time until every
// orphan runs again from its snapshot.
void failover_with_state(const char* argv0, const std::vector<std::string>& args, size_t n) {
  constexpr size_t state = 256;
  ::setenv("RV_BENCH_STATE", std::to_string(state).c_str(), 1);
  double idle_cpu = 0;
  {
    ::setenv("RV_BENCH_NO_SNAPSHOTS", "1", 1);
    cluster_under_test cl{argv0, args, n, false};
    ::unsetenv("RV_BENCH_NO_SNAPSHOTS");
    cl.poll = n > 10'000 ? 50ms : 5ms;
    cl.await([&] { return cl.running_on({"c"}) == share_of("c", {"a", "b", "c"}, n); }, 60s);
    idle_cpu = cpu_share(cl, 5s);
  }
  cluster_under_test cl{argv0, args, n, false};
  ::unsetenv("RV_BENCH_STATE");
  cl.poll = n > 10'000 ? 50ms : 5ms;
  cl.await([&] { return cl.running_on({"c"}) == share_of("c", {"a", "b", "c"}, n); }, 60s);
  // Each child takes one per second: 3n more mean each took one since.
  auto goal = cl.stats().snapshots_taken + 3 * n;
  cl.await([&] { return cl.stats().snapshots_taken >= goal; }, 60s);
  auto taken0 = cl.stats().snapshots_taken;
  auto t0 = clk::now();
  auto cpu = cpu_share(cl, 5s);
  auto st = cl.stats();
  auto per_node = static_cast<double>(st.snapshots_taken - taken0)
                  / std::chrono::duration<double>(clk::now() - t0).count() / 3;
  // Each snapshot goes to the two other replicas: its state, a 4-byte
  // length, and what a snapshot_entry adds (id, epoch, sequence, time).
  std::printf("| %zu children with %zu B of state, a snapshot each per second: cost per node | "
              "%.0f snapshots/s, %.1f MB/s of state sent, %.0f%% of a core (%.0f%% without "
              "snapshots) |\n",
              n, state, per_node, per_node * static_cast<double>(state) * 2 / 1e6, 100 * cpu,
              100 * idle_cpu);
  std::printf("| snapshots held, %zu children: copies per child, state bytes in all | %.2f, "
              "%.1f MB |\n",
              n, static_cast<double>(st.snapshots_held) / static_cast<double>(n),
              static_cast<double>(st.snapshot_bytes) / 1e6);
  auto on_c = cl.running_on({"c"});
  auto restored0 = cl.stats().restored;
  auto t1 = std::chrono::system_clock::now();
  cl.others[1]->signal(SIGKILL);
  auto took_ms = cl.recovery_ms(t1, 2, [&] {
    return cl.running_on({"a", "b"}) == n && cl.stats().restored - restored0 == on_c;
  });
  std::printf("| kill -9 failover with state, %zu children on 3 nodes (%zu orphans) | %.0f ms |\n",
              n, on_c, took_ms);
}

} // namespace

int main(int argc, char** argv) {
  ringvisor::actor::ensure_secret_env(); // the nodes it starts share it
  std::vector<std::string> args{argv + 1, argv + argc};
  if (!args.empty() && args.front() == "--serve")
    return serve({args.begin() + 1, args.end()});
  std::printf("| benchmark | result |\n|---|---|\n");
  if (auto n = env_size("RV_BENCH_FAILOVER_ONLY")) { // to study failover alone
    auto rss = failover_and_join(argv[0], args, n);
    std::printf("| RSS of 3 nodes | %zu KiB |\n", rss);
    return 0;
  }
  if (env_size("RV_BENCH_MEMORY_ONLY") > 0) { // to study memory alone
    memory_per_child(argv[0], args, 3);
    memory_per_child(argv[0], args, 5);
    return 0;
  }
  if (env_size("RV_BENCH_CALLS_ONLY") > 0) { // to study calls alone
    call_bench(argv[0], args);
    return 0;
  }
  if (auto n = env_size("RV_BENCH_STATE_ONLY")) { // to study snapshots alone
    failover_with_state(argv[0], args, n);
    return 0;
  }
  start_child_throughput(argv[0], args, false);
  start_child_throughput(argv[0], args, true);
  start_child_pipelined(argv[0], args);
  call_bench(argv[0], args);
  auto rss_10k = failover_and_join(argv[0], args, 10'000);
  auto rss_100k = failover_and_join(argv[0], args, 100'000);
  std::printf("| memory per child (RSS of 3 nodes, 100k vs 10k) | %.0f B |\n",
              1024.0 * static_cast<double>(rss_100k - rss_10k) / 90'000.0);
  memory_per_child(argv[0], args, 5);
  failover_with_state(argv[0], args, 10'000);
  failover_with_state(argv[0], args, 100'000);
  return 0;
}
