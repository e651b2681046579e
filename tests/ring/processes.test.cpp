// The ring supervisor between real processes (ring-test-node on loopback):
// placement, moves with state, failover, graceful leave, partitions,
// escalation and the SQLite store, each checked against the children's own
// start/stop ledger.

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "protocol.hpp" // libring's
#include "ring/ledger.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/actor/wire.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/ring/all.hpp"
#include "support/cluster_kit.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;
using ring::ring_child;
using inc_atom = caf::atom_constant<caf::atom("inc")>;
using trail_atom = caf::atom_constant<caf::atom("trail")>;

namespace {

// A counter's state as ring_node.cpp's counters serialize it.
struct counter_record {
  int64_t count = -1;
  std::vector<std::string> trail;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, counter_record& x) {
  return f(x.count, x.trail);
}

} // namespace

namespace {

/// A kit whose nodes run the ring supervisor "counters", with a ledger
/// directory of its own.
struct ring_fixture {
  std::string dir;
  cluster_kit kit{[](caf::actor_system_config& cfg) { ring::add_types(cfg); }};

  ring_fixture() {
    char tmpl[] = "/tmp/rv-ring-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ::setenv("RV_LEDGER_DIR", dir.c_str(), 1);
    ::unsetenv("RV_STORE");
  }

  ~ring_fixture() {
    if (std::getenv("RV_KEEP_LEDGER")) { // to debug a test
      MESSAGE("ledger kept in " << dir);
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  caf::actor_system& sys() {
    return kit.probe().system();
  }

  /// The ring supervisor on `n`.
  ring::ref sup(node_process& n) {
    auto hdl = kit.probe().lookup(n.endpoint(), ring::directory_name("counters"));
    REQUIRE_MESSAGE(hdl, "no ring supervisor on " << n.name() << ": " << why(hdl));
    return {sys(), *hdl};
  }

  void start_nodes(const strings& names) {
    node_options opts;
    if (auto level = std::getenv("RV_LOG_LEVEL")) // to debug a test
      opts.args.push_back(std::string{"--ringvisor.log-level="} + level);
    for (auto& name : names)
      kit.start(name, opts);
    for (auto& name : names)
      kit.await_view(kit[name], names);
    for (auto& name : names)
      kit.await_status(kit[name], cluster::cluster_status::up);
  }

  static supervision::child_spec spec_of(const std::string& id, const std::string& type,
                                         caf::message args = {}) {
    supervision::child_spec result;
    result.id = id;
    result.type = type;
    result.args = std::move(args);
    return result;
  }

  static supervision::child_spec
  counter(const std::string& id,
          supervision::snapshot_policy snapshot = supervision::snapshot_policy::off()) {
    auto result = spec_of(id, "counter", caf::make_message(id));
    result.snapshot = snapshot;
    return result;
  }

  void start_children(node_process& via, size_t n, const std::string& prefix = "c",
                      supervision::snapshot_policy snapshot = {}) {
    auto s = sup(via);
    for (size_t i = 0; i < n; ++i) {
      // A bound, not a latency target: with the SQLite store each start
      // waits for an fsync, which a busy disk can stretch to seconds.
      auto where = s.within(30s).start_child(counter(prefix + std::to_string(i), snapshot));
      REQUIRE_MESSAGE(where, "child " << i << ": " << why(where));
    }
  }

  /// Sends `msg` to the counter `id` through `s`; returns the count it answers.
  int64_t call_count(const ring::ref& s, const std::string& id, caf::message msg) {
    auto reply = s.within(10s).call<int64_t>(id, std::move(msg));
    REQUIRE_MESSAGE(reply, id << ": " << why(reply));
    return *reply;
  }

  /// The child's count, asked through `s`.
  int64_t count_of(const ring::ref& s, const std::string& id) {
    return call_count(s, id, caf::make_message(caf::get_atom::value));
  }

  /// Counts the i-th of `xs` i % `spread` + 1 times through `s`; returns the
  /// counts by id.
  std::map<std::string, int64_t> count_up(const ring::ref& s, const std::vector<ring_child>& xs,
                                          size_t spread) {
    std::map<std::string, int64_t> result;
    for (size_t i = 0; i < xs.size(); ++i)
      for (size_t n = 0; n < i % spread + 1; ++n)
        result[xs[i].id] = call_inc(s, xs[i].id);
    return result;
  }

  /// Polls `done` every 20 ms until it holds; fails the test after `timeout`
  /// with `what` and the last `seen` it wrote.
  void await_that(const std::string& what, const std::function<bool(std::string& seen)>& done,
                  std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string seen;
    while (!done(seen)) {
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                      what << " not within " << timeout.count() << " ms: " << seen);
      std::this_thread::sleep_for(20ms);
    }
  }

  /// The ring stats of every node in `names`, summed.
  ring::ring_stats total_stats(const strings& names) {
    ring::ring_stats sum;
    for (auto& name : names) {
      auto st = sup(kit[name]).stats();
      REQUIRE_MESSAGE(st, name << ": " << why(st));
      sum.running += st->running;
      sum.recovered += st->recovered;
      sum.restored += st->restored;
      sum.snapshots_taken += st->snapshots_taken;
      sum.snapshots_held += st->snapshots_held;
      sum.snapshot_bytes += st->snapshot_bytes;
      sum.states_stored += st->states_stored;
      sum.records_held += st->records_held;
    }
    return sum;
  }

  /// Waits until the nodes in `names` took `n` more snapshots than now. With
  /// `n` at least 3 x the children that snapshot at one interval, and every
  /// node keeping up with its children's intervals, every one of them has
  /// taken one since (each takes one per interval) and sent it an interval
  /// ago; a node that falls behind makes the wait, and the test, fail.
  void await_snapshots(const strings& names, uint64_t n) {
    auto goal = total_stats(names).snapshots_taken + n;
    await_that("snapshots taken", [&](std::string& seen) {
      auto now = total_stats(names).snapshots_taken;
      seen = std::to_string(now) + " of " + std::to_string(goal);
      return now >= goal;
    });
  }

  /// Waits until each node of `names` keeps exactly the records whose
  /// preference lists (3 members of a ring of `names`) hold it, and the
  /// replicas of each record agree; returns the records by id. A node that
  /// left a record's list keeps it 10 s after the ring settled (0.5 s).
  std::map<std::string, ring::ring_record> await_replicas(const strings& names,
                                                          std::chrono::milliseconds timeout = 30s) {
    cluster::hash_ring ring{names};
    std::map<std::string, ring::ring_record> result;
    await_that(
      "records on their replicas",
      [&](std::string& seen) {
        std::map<std::string, std::map<std::string, ring::ring_record>> held; // id -> node
        for (auto& name : names) {
          auto xs = sup(kit[name]).records();
          if (!xs) {
            seen = name + ": " + why(xs);
            return false;
          }
          for (auto& x : *xs)
            held[x.id][name] = x;
        }
        result.clear();
        for (auto& [id, copies] : held) {
          std::set<std::string> want;
          for (auto m : ring.preference_list("counters/" + id, 3))
            want.emplace(m);
          std::set<std::string> have;
          for (auto& [node, x] : copies)
            have.insert(node);
          if (have != want) {
            seen = id + " kept by " + std::to_string(have.size()) + " nodes, not its 3 replicas";
            return false;
          }
          auto& first = copies.begin()->second;
          for (auto& [node, x] : copies)
            if (x.version != first.version || x.terminated != first.terminated
                || x.deleted != first.deleted) {
              seen = id + " differs on " + node;
              return false;
            }
          result[id] = first;
        }
        return true;
      },
      timeout);
    return result;
  }

  /// Runs `f(self, done)` in an actor of this process and returns what it
  /// passes to `done` (once).
  template <class T, class F>
  T from_actor(F f) {
    auto result = std::make_shared<std::promise<T>>();
    sys().spawn([f, result](caf::event_based_actor* self) {
      f(self, [self, result](T x) {
        result->set_value(std::move(x));
        self->quit();
      });
    });
    auto answer = result->get_future();
    REQUIRE(answer.wait_for(20s) == std::future_status::ready);
    return answer.get();
  }

  int64_t call_inc(const ring::ref& s, const std::string& id) {
    return call_count(s, id, caf::make_message(inc_atom::value));
  }

  /// Waits until `which_children` on `via` satisfies `ok`; returns the list.
  template <class Predicate>
  std::vector<ring_child> await_children(node_process& via, Predicate ok,
                                         std::chrono::milliseconds timeout = 10s) {
    auto s = sup(via);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<ring_child> last;
    std::string last_error;
    for (;;) {
      auto all = s.within(3s).which_children();
      if (all) {
        last = std::move(*all);
        if (ok(last))
          return last;
      } else {
        last_error = why(all);
      }
      if (std::chrono::steady_clock::now() > deadline)
        break;
      std::this_thread::sleep_for(25ms);
    }
    FAIL("children never as expected through " << via.name() << "; last seen: " << summary(last)
                                               << "; last error: " << last_error);
    return last;
  }

  static std::string summary(const std::vector<ring_child>& xs) {
    std::map<std::string, size_t> per_node;
    for (auto& x : xs)
      ++per_node[x.where.node.empty() ? "(nowhere)" : x.where.node];
    std::string result = std::to_string(xs.size()) + " children:";
    for (auto& [node, n] : per_node)
      result += " " + node + "=" + std::to_string(n);
    size_t shown = 0;
    for (auto& x : xs)
      if (x.where.node.empty() && shown++ < 5)
        result += " nowhere: " + x.id;
    return result;
  }

  /// Whether all `n` children run, on nodes of `on` only.
  static auto all_on(size_t n, std::set<std::string> on) {
    return [n, on](const std::vector<ring_child>& xs) {
      if (xs.size() != n)
        return false;
      for (auto& x : xs)
        if (on.count(x.where.node) == 0)
          return false;
      return true;
    };
  }

  /// Whether all `n` children run, each on its owner on a ring of `names`
  /// (no move is left to make).
  static auto on_owners(size_t n, const strings& names) {
    return [n, ring = cluster::hash_ring{names}](const std::vector<ring_child>& xs) {
      if (xs.size() != n)
        return false;
      for (auto& x : xs)
        if (!ring.mine("counters/" + x.id, x.where.node))
          return false;
      return true;
    };
  }

  void require_no_overlap(ledger& l) {
    auto bad = l.overlaps();
    CHECK_MESSAGE(bad.empty(), bad.size() << " overlaps, first: " << (bad.empty() ? "" : bad[0]));
  }
};

} // namespace

TEST_CASE_FIXTURE(ring_fixture, "ring children run exactly once, spread over the nodes") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 1000);
  auto xs = await_children(kit["b"], all_on(1000, {"a", "b", "c"}));
  std::map<std::string, size_t> per_node;
  for (auto& x : xs)
    ++per_node[x.where.node];
  for (auto& node_count : per_node) // a pair: clang cannot capture bindings in CHECK_MESSAGE
    CHECK_MESSAGE(node_count.second > 200, node_count.first << " runs only " << node_count.second);
  // every child answers, from any node, and counts
  auto s = sup(kit["c"]);
  for (auto& x : xs)
    CHECK(call_inc(s, x.id) == 1);
  ledger l{dir};
  for (auto& x : xs)
    CHECK_MESSAGE(l.of(x.id).size() == 1, x.id << " started " << l.of(x.id).size() << " times");
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "find, call and exec reach a child wherever it runs") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 30);
  await_children(kit["a"], all_on(30, {"a", "b", "c"}));
  for (std::string name : {"a", "b", "c"}) {
    auto s = sup(kit[name]);
    auto where = s.find("c7");
    REQUIRE_MESSAGE(where, why(where));
    ledger l{dir};
    auto& runs = l.of("c7");
    REQUIRE(runs.size() == 1);
    CHECK(where->node == runs[0].node);
    CHECK(where->epoch == runs[0].epoch);
    call_inc(s, "c7");
  }
  // Typed: a reply of another type is an error, not a misread.
  auto wrong = sup(kit["a"]).call<std::string>("c7", caf::get_atom::value);
  CHECK(wrong.error() == caf::sec::unexpected_response);
  // From an actor, without blocking it: call, find and exec go on with then.
  auto via_c = sup(kit["c"]);
  auto async = from_actor<std::string>([via_c](caf::event_based_actor* self, auto done) {
    auto failed = [done](caf::error& err) { done("error: " + actor::render(err)); };
    via_c.call<int64_t>(self, "c7", inc_atom::value)
      .then(
        [=](int64_t n) {
          via_c.find(self, "c7")
            .then(
              [=](ring::placement where) {
                via_c.exec<int64_t>(self, "c7", "double")
                  .then(
                    [=](int64_t twice) {
                      done(std::to_string(n) + " on " + where.node + ", doubled "
                           + std::to_string(twice));
                    },
                    failed);
              },
              failed);
        },
        failed);
  });
  CHECK(async == "4 on " + ledger{dir}.of("c7").at(0).node + ", doubled 8");
  auto async_errors = from_actor<std::string>([via_c](caf::event_based_actor* self, auto done) {
    via_c.call<std::string>(self, "c7", caf::get_atom::value)
      .then([=](const std::string&) { done("a string?"); },
            [=](caf::error& wrong_type) {
              via_c.call<int64_t>(self, "nope", caf::get_atom::value)
                .then([=](int64_t) { done("a count of nothing?"); },
                      [=](caf::error& unknown) {
                        done(actor::render(wrong_type) + " / " + actor::render(unknown));
                      });
            });
  });
  CHECK_MESSAGE(async_errors.find("unexpected_response") != std::string::npos, async_errors);
  CHECK_MESSAGE(async_errors.find("not_found") != std::string::npos, async_errors);
  auto doubled = sup(kit["b"]).exec<int64_t>("c7", "double");
  REQUIRE_MESSAGE(doubled, why(doubled));
  CHECK(*doubled == 8);
  auto unknown = sup(kit["b"]).exec<int64_t>("c7", "triple");
  CHECK(unknown.error() == supervision::errc::not_found);
  CHECK(sup(kit["b"]).find("nope").error() == supervision::errc::not_found);
  // a bad spec is refused with a reason, and nothing is recorded
  auto bad = sup(kit["a"]).start_child(spec_of("x", "no-such-type"));
  CHECK(bad.error() == actor::errc::unknown_child_type);
  auto twice = sup(kit["a"]).start_child(counter("c7"));
  CHECK(twice.error() == supervision::errc::already_present);
  // terminate keeps the spec, restart brings it back, delete forgets it
  REQUIRE(!sup(kit["c"]).terminate_child("c7"));
  auto xs = await_children(kit["a"], [](auto& all) {
    for (auto& x : all)
      if (x.id == "c7")
        return x.where.node.empty();
    return false;
  });
  CHECK(xs.size() == 30);
  auto back = sup(kit["a"]).restart_child("c7");
  REQUIRE_MESSAGE(back, why(back));
  REQUIRE(!sup(kit["b"]).delete_child("c7"));
  await_children(kit["c"], all_on(29, {"a", "b", "c"}));
  ledger l{dir};
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "a joining node takes a quarter of the children with their counts") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 1000);
  auto before = await_children(kit["a"], all_on(1000, {"a", "b", "c"}));
  auto s = sup(kit["a"]);
  for (int round = 0; round < 2; ++round)
    for (auto& x : before)
      call_inc(s, x.id);
  // keep calling 20 children while the ring changes: nothing may be lost
  std::atomic<bool> done{false};
  std::map<std::string, int64_t> acked;
  std::thread caller{[&] {
    auto via = sup(kit["b"]);
    while (!done)
      for (int i = 0; i < 20 && !done; ++i) {
        auto id = "c" + std::to_string(i);
        auto reply = via.within(10s).call<int64_t>(id, inc_atom::value);
        if (reply)
          acked[id] = *reply;
      }
  }};
  // and 20 more from an actor, each call continuing the next: its retries
  // across the move run without blocking it
  struct actor_calls {
    std::atomic<bool> stop{false};
    std::mutex mtx;
    std::map<std::string, int64_t> acked;
    std::promise<void> stopped;
  };
  auto by_actor = std::make_shared<actor_calls>();
  // Stops the actor however the test ends (the actor system waits for it).
  std::shared_ptr<void> stop_actor{nullptr, [by_actor](void*) { by_actor->stop = true; }};
  sys().spawn([by_actor, via = sup(kit["c"])](caf::event_based_actor* self) -> caf::behavior {
    self->send(self, int32_t{0});
    return {[by_actor, self, via](int32_t i) {
      if (by_actor->stop) {
        by_actor->stopped.set_value();
        return self->quit();
      }
      auto id = "c" + std::to_string(20 + i % 20);
      via.within(10s)
        .call<int64_t>(self, id, inc_atom::value)
        .then(
          [by_actor, self, id, i](int64_t n) {
            std::lock_guard<std::mutex> guard{by_actor->mtx};
            by_actor->acked[id] = n;
            self->send(self, i + 1);
          },
          [self, i](caf::error&) { self->send(self, i + 1); });
    }};
  });
  kit.start("d");
  for (std::string name : {"a", "b", "c", "d"})
    kit.await_view(kit[name], {"a", "b", "c", "d"});
  auto after = await_children(kit["d"], [this](auto& xs) {
    size_t on_d = 0;
    for (auto& x : xs)
      on_d += x.where.node == "d";
    return xs.size() == 1000 && on_d > 0 && all_on(1000, {"a", "b", "c", "d"})(xs)
           && on_d == sup(kit["d"]).local_children()->size();
  });
  std::this_thread::sleep_for(300ms); // a few calls after the move
  done = true;
  caller.join();
  by_actor->stop = true;
  REQUIRE(by_actor->stopped.get_future().wait_for(20s) == std::future_status::ready);
  CHECK(by_actor->acked.size() == 20);
  acked.insert(by_actor->acked.begin(), by_actor->acked.end());
  std::map<std::string, std::string> was;
  for (auto& x : before)
    was[x.id] = x.where.node;
  size_t moved = 0;
  for (auto& x : after) {
    if (was[x.id] != x.where.node) {
      ++moved;
      CHECK_MESSAGE(x.where.node == "d", x.id << " moved from " << was[x.id] << " to "
                                               << x.where.node << ", not to the new node");
    }
  }
  CHECK_MESSAGE(moved > 150, moved);
  CHECK_MESSAGE(moved < 350, moved);
  auto stats_d = sup(kit["d"]).stats();
  REQUIRE_MESSAGE(stats_d, why(stats_d));
  CHECK(stats_d->node == "d");
  CHECK(stats_d->moved_in == moved);
  CHECK(stats_d->running == moved);
  CHECK(stats_d->started + stats_d->recovered + stats_d->moved_out == 0);
  uint64_t moved_out = 0;
  for (std::string name : {"a", "b", "c"})
    moved_out += sup(kit[name]).stats()->moved_out;
  CHECK(moved_out == moved);
  // counts survived the move, and every acknowledged call counted once
  for (auto& x : after) {
    auto n = s.call<int64_t>(x.id, caf::get_atom::value);
    REQUIRE_MESSAGE(n, x.id << ": " << why(n));
    auto expected = acked.count(x.id) ? acked[x.id] : 2;
    CHECK_MESSAGE(*n == expected, x.id << " on " << x.where.node);
  }
  ledger l{dir};
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "after two nodes join at once every child runs on its ring owner") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 1000);
  await_children(kit["a"], all_on(1000, {"a", "b", "c"}));
  kit.start("d");
  kit.start("e");
  await_children(kit["e"], on_owners(1000, {"a", "b", "c", "d", "e"}), 15s);
  ledger l{dir};
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "children of a killed node run again on the survivors") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 1000);
  auto before = await_children(kit["a"], all_on(1000, {"a", "b", "c"}));
  auto killed_at = monotonic_ns();
  kit["c"].kill9();
  auto t0 = std::chrono::steady_clock::now();
  await_children(kit["a"], all_on(1000, {"a", "b"}), 5s);
  auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("failover of " << before.size() / 3 << "-ish children took "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms");
  CHECK(took < 2s);
  uint64_t recovered = 0;
  uint64_t running = 0;
  for (std::string name : {"a", "b"}) {
    auto st = sup(kit[name]).stats();
    REQUIRE_MESSAGE(st, why(st));
    recovered += st->recovered;
    running += st->running;
  }
  CHECK(running == 1000);
  CHECK(recovered == static_cast<uint64_t>(std::count_if(
                       before.begin(), before.end(), [](auto& x) { return x.where.node == "c"; })));
  ledger l{dir};
  l.killed("c", killed_at);
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "children of a killed node continue from their last snapshot") {
  using supervision::snapshot_policy;
  start_nodes({"a", "b", "c"});
  // Half snapshot every 100 ms, half after each call.
  start_children(kit["a"], 150, "t", snapshot_policy::every(100ms));
  start_children(kit["a"], 150, "e", snapshot_policy::after_each_call());
  auto before = await_children(kit["a"], all_on(300, {"a", "b", "c"}));
  auto s = sup(kit["b"]);
  auto counts = count_up(s, before, 5);
  await_snapshots({"a", "b", "c"}, 3 * 150);
  auto on_c = std::count_if(before.begin(), before.end(),
                            [](auto& x) { return x.where.node == "c"; });
  auto killed_at = monotonic_ns();
  kit["c"].kill9();
  auto after = await_children(kit["a"], all_on(300, {"a", "b"}), 5s);
  for (auto& x : after)
    CHECK_MESSAGE(count_of(s, x.id) == counts[x.id], x.id << " lost its count");
  auto st = total_stats({"a", "b"});
  CHECK(st.restored == static_cast<uint64_t>(on_c));
  // Each child's snapshot lives on all three nodes (replicas = 3), so the
  // two survivors hold two copies each.
  CHECK(st.snapshots_held == 600);
  ledger l{dir};
  l.killed("c", killed_at);
  require_no_overlap(l);
  // The ledger shows each instance started with the count it had.
  for (auto& x : before)
    if (x.where.node == "c") {
      auto& runs = l.of(x.id);
      REQUIRE(runs.size() == 2);
      CHECK(runs[1].start_count == counts[x.id]);
    }
}

TEST_CASE_FIXTURE(ring_fixture, "children on request continue from their last checkpoint after kill -9") {
  using ckpt_atom = caf::atom_constant<caf::atom("ckpt")>;
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 90, "q", supervision::snapshot_policy::on_request());
  auto before = await_children(kit["a"], all_on(90, {"a", "b", "c"}));
  auto s = sup(kit["b"]);
  std::map<std::string, int64_t> checkpointed;
  for (size_t i = 0; i < before.size(); ++i) {
    auto& id = before[i].id;
    for (size_t n = 0; n < i % 4 + 2; ++n)
      call_inc(s, id);
    checkpointed[id] = call_count(s, id, caf::make_message(ckpt_atom::value));
    call_inc(s, id); // after the checkpoint: lost with its node
  }
  // Every checkpoint on all three replicas.
  await_that("checkpoints on every replica", [&](std::string& seen) {
    auto held = total_stats({"a", "b", "c"}).snapshots_held;
    seen = std::to_string(held) + " of 270 held";
    return held >= 270;
  }, 10s);
  auto killed_at = monotonic_ns();
  kit["c"].kill9();
  await_children(kit["a"], all_on(90, {"a", "b"}), 5s);
  for (auto& x : before) {
    auto count = count_of(s, x.id);
    if (x.where.node == "c")
      CHECK_MESSAGE(count == checkpointed[x.id], x.id << " restored " << count);
    else
      CHECK_MESSAGE(count == checkpointed[x.id] + 1, x.id << " has " << count);
  }
  ledger l{dir};
  l.killed("c", killed_at);
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "two of five nodes killed at once lose no child and no count") {
  start_nodes({"a", "b", "c", "d", "e"});
  start_children(kit["a"], 500, "c", supervision::snapshot_policy::every(100ms));
  auto before = await_children(kit["a"], all_on(500, {"a", "b", "c", "d", "e"}));
  auto s = sup(kit["a"]);
  auto counts = count_up(s, before, 3);
  await_snapshots({"a", "b", "c", "d", "e"}, 3 * 500);
  // About three copies of each snapshot, not one per node.
  auto held = total_stats({"a", "b", "c", "d", "e"}).snapshots_held;
  CHECK(held == 1500);
  auto killed_at = monotonic_ns();
  kit["d"].kill9();
  kit["e"].kill9();
  auto after = await_children(kit["a"], all_on(500, {"a", "b", "c"}), 10s);
  for (auto& x : after)
    CHECK_MESSAGE(count_of(s, x.id) == counts[x.id], x.id << " lost its count");
  auto lost = std::count_if(before.begin(), before.end(), [](auto& x) {
    return x.where.node == "d" || x.where.node == "e";
  });
  CHECK(total_stats({"a", "b", "c"}).restored == static_cast<uint64_t>(lost));
  // the survivors keep every record again, three times
  CHECK(await_replicas({"a", "b", "c"}).size() == 500);
  ledger l{dir};
  l.killed("d", killed_at);
  l.killed("e", killed_at);
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "each record is kept by the three members of its list, and every change reaches them") {
  start_nodes({"a", "b", "c", "d", "e"});
  start_children(kit["a"], 300);
  await_children(kit["a"], all_on(300, {"a", "b", "c", "d", "e"}));
  auto s = sup(kit["b"]);
  for (int i = 0; i < 20; ++i) {
    auto id = "c" + std::to_string(i);
    auto err = i < 10 ? s.delete_child(id) : s.terminate_child(id);
    REQUIRE_MESSAGE(!err, id << ": " << actor::render(err));
  }
  auto records = await_replicas({"a", "b", "c", "d", "e"});
  REQUIRE(records.size() == 300);
  for (int i = 0; i < 20; ++i) {
    auto& x = records["c" + std::to_string(i)];
    CHECK(x.deleted == (i < 10));
    CHECK(x.terminated == (i >= 10));
  }
  CHECK(total_stats({"a", "b", "c", "d", "e"}).records_held == 3 * 300);
  // a node that restarts gets its records back from the others
  kit["d"].kill9();
  kit["d"].restart();
  for (std::string name : {"a", "b", "c", "d", "e"})
    kit.await_view(kit[name], {"a", "b", "c", "d", "e"});
  CHECK(await_replicas({"a", "b", "c", "d", "e"}) == records);
}

TEST_CASE_FIXTURE(ring_fixture, "a node that leaves hands its children over with their counts") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 300);
  auto before = await_children(kit["a"], all_on(300, {"a", "b", "c"}));
  auto s = sup(kit["a"]);
  for (auto& x : before)
    call_inc(s, x.id);
  CHECK(kit["c"].terminate() == 0);
  auto after = await_children(kit["a"], all_on(300, {"a", "b"}));
  for (auto& x : after) {
    auto n = s.call<int64_t>(x.id, caf::get_atom::value);
    REQUIRE_MESSAGE(n, why(n));
    CHECK_MESSAGE(*n == 1, x.id << " lost its count");
  }
  ledger l{dir};
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(
  ring_fixture,
  "a pinned child moves to its member with its count, fails over when it dies and comes back with it") {
  start_nodes({"a", "b", "c", "d"});
  start_children(kit["a"], 40);
  auto before = await_children(kit["a"], all_on(40, {"a", "b", "c", "d"}));
  auto s = sup(kit["a"]);
  std::set<std::string> pinned;
  for (auto& x : before)
    if (x.where.node != "d" && pinned.size() < 10)
      pinned.insert(x.id);
  for (auto& id : pinned) {
    call_inc(s, id);
    call_inc(s, id);
    auto err = sup(kit["b"]).pin_child(id, "d"); // through any member
    REQUIRE_MESSAGE(!err, actor::render(err));
  }
  auto pinned_on_d = [&](const std::vector<ring_child>& xs) {
    if (xs.size() != 40)
      return false;
    for (auto& x : xs)
      if (pinned.count(x.id) && (x.where.node != "d" || x.pin != "d"))
        return false;
    return true;
  };
  await_children(kit["c"], pinned_on_d);
  for (auto& id : pinned)
    CHECK_MESSAGE(count_of(s, id) == 2, id << " lost its count on its way to d");
  auto err = s.pin_child(*pinned.begin(), "nobody");
  CHECK(err == cluster::errc::not_member);
  // d dies: its children run on their ring owners, and go back once d is
  // back (a new process, which learns its pins from the others).
  auto killed_at = monotonic_ns();
  kit["d"].kill9();
  await_children(kit["a"], all_on(40, {"a", "b", "c"}));
  kit["d"].restart();
  for (std::string name : {"a", "b", "c", "d"})
    kit.await_view(kit[name], {"a", "b", "c", "d"});
  await_children(kit["b"], pinned_on_d, 15s);
  // Unpinned: back to the ring owners, with their counts.
  for (auto& id : pinned) {
    call_inc(s, id);
    auto unpinned = s.pin_child(id, "");
    REQUIRE_MESSAGE(!unpinned, actor::render(unpinned));
  }
  await_children(kit["a"], on_owners(40, {"a", "b", "c", "d"}));
  for (auto& id : pinned)
    CHECK_MESSAGE(count_of(s, id) == 1, id << " lost its count on its way back");
  ledger l{dir};
  l.killed("d", killed_at);
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "a custom migrate hook reshapes the state on its way to the new owner") {
  ::setenv("RV_MIGRATE", "1", 1);
  start_nodes({"a", "b", "c"});
  ::unsetenv("RV_MIGRATE");
  auto s = sup(kit["a"]);
  auto where = s.within(10s).start_child(counter("x"));
  REQUIRE_MESSAGE(where, why(where));
  auto from = where->node;
  for (int i = 0; i < 3; ++i)
    call_inc(s, "x");
  std::string via = from == "a" ? "b" : "a";
  CHECK(kit[from].terminate() == 0);
  std::set<std::string> rest{"a", "b", "c"};
  rest.erase(from);
  auto moved = await_children(kit[via], all_on(1, rest));
  auto to = moved.at(0).where.node;
  // The count moved, and the hook's request (with the real names of both
  // ends) shaped the state the new child started with.
  auto s2 = sup(kit[via]);
  CHECK(call_count(s2, "x", caf::make_message(caf::get_atom::value)) == 3);
  auto trail = s2.within(10s).call<std::vector<std::string>>("x", trail_atom::value);
  REQUIRE_MESSAGE(trail, why(trail));
  CHECK(*trail == std::vector<std::string>{from + "->" + to});
}

TEST_CASE_FIXTURE(ring_fixture, "the last node stops its children without a warning") {
  test::node_options opts;
  opts.capture_log = true;
  opts.args = {"--ringvisor.log-level=info"};
  kit.start("solo", opts);
  kit.await_status(kit["solo"], cluster::cluster_status::up);
  auto s = sup(kit["solo"]);
  for (auto id : {"x", "y"}) {
    auto where = s.within(10s).start_child(counter(id));
    REQUIRE_MESSAGE(where, why(where));
  }
  CHECK(kit["solo"].terminate() == 0);
  // Its log, to the end: the ring supervisor says it left, and warns of
  // nothing (there was nobody to hand the children to).
  bool left = false;
  while (auto line = kit["solo"].read_line("", 10s)) {
    CHECK_MESSAGE(line->find(" warning ") == std::string::npos, *line);
    left = left || line->find("event=ring_left_alone") != std::string::npos;
  }
  CHECK(left);
}

TEST_CASE_FIXTURE(ring_fixture, "a member whose ring supervisor does not run gets no children") {
  start_nodes({"a", "b", "c"});
  ::setenv("RV_NO_RING", "1", 1);
  kit.start("d");
  ::unsetenv("RV_NO_RING");
  kit.await_view(kit["a"], {"a", "b", "c", "d"});
  kit.await_status(kit["a"], cluster::cluster_status::up);
  // Placed on d, a child would wait for a ring supervisor that never comes.
  start_children(kit["a"], 100);
  auto xs = await_children(kit["a"], all_on(100, {"a", "b", "c"}));
  auto s = sup(kit["b"]);
  for (auto& x : xs)
    CHECK(call_count(s, x.id, caf::make_message(inc_atom::value)) == 1);
  ledger l{dir};
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "an exec in flight when its child moves runs once, and a retry at the new owner gets its reply") {
  start_nodes({"a", "b", "c"});
  auto s = sup(kit["a"]);
  auto where = s.within(10s).start_child(counter("x"));
  REQUIRE_MESSAGE(where, why(where));
  auto owner = where->node;
  std::string other = owner == "a" ? "b" : "a";
  // The exec as a ring client sends it, with a request id of our own.
  auto exec =
    caf::make_message(ring::ring_exec_atom::value, uint64_t{0x5eed}, std::string{"x"},
                      std::string{"slow"}, caf::make_message(std::string{"t1"}), uint8_t{0});
  auto first = std::async(std::launch::async, [&, hdl = sup(kit[owner])] {
    return actor::blocking_request<std::string>(sys(), hdl.handle(), 10s, exec);
  });
  auto execs = dir + "/execs.txt";
  auto runs = [&] {
    std::ifstream in{execs};
    size_t n = 0;
    for (std::string line; std::getline(in, line);)
      n += line == "begin t1";
    return n;
  };
  for (auto deadline = std::chrono::steady_clock::now() + 10s; runs() == 0;) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(5ms);
  }
  // The owner leaves while the function runs: the child moves.
  CHECK(kit[owner].terminate() == 0);
  auto reply = first.get();
  REQUIRE_MESSAGE(reply, why(reply));
  CHECK(*reply == "t1");
  std::set<std::string> rest;
  for (std::string n : {"a", "b", "c"})
    if (n != owner)
      rest.insert(n);
  auto moved = await_children(kit[other], all_on(1, rest));
  // A retry (same request id) at the new owner: the reply moved with the child.
  auto again = actor::blocking_request<std::string>(
    sys(), sup(kit[moved.at(0).where.node]).handle(), 10s, exec);
  REQUIRE_MESSAGE(again, why(again));
  CHECK(*again == "t1");
  CHECK(runs() == 1);
}

TEST_CASE_FIXTURE(ring_fixture, "a split-off minority stops its children and refuses deletes, and after the heal each runs once, deleted ones never") {
  if (skip_without_partitions())
    return;
  start_nodes({"a", "b", "c", "d", "e"});
  start_children(kit["a"], 500);
  await_children(kit["c"], all_on(500, {"a", "b", "c", "d", "e"}));
  {
    partition cut{kit, {"a", "b"}, {"c", "d", "e"}};
    await_children(kit["c"], all_on(500, {"c", "d", "e"}), 10s);
    for (std::string name : {"a", "b"}) {
      auto local = sup(kit[name]).local_children();
      REQUIRE_MESSAGE(local, why(local));
      CHECK_MESSAGE(local->empty(), name << " still runs " << local->size());
    }
    // a call through the minority fails at once, not when its timeout ends
    kit.await_status(kit["a"], cluster::cluster_status::split);
    auto t0 = std::chrono::steady_clock::now();
    auto refused = sup(kit["a"]).within(10s).call<int64_t>("c1", inc_atom::value);
    CHECK(refused.error() == supervision::errc::no_owner);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    // Deletes: refused by the minority, made by the majority, and they last.
    CHECK(sup(kit["a"]).delete_child("c0"));
    for (int i = 0; i < 10; ++i) {
      auto err = sup(kit["c"]).delete_child("c" + std::to_string(i));
      CHECK_MESSAGE(!err, "c" << i << ": " << actor::render(err));
    }
    // Starts: refused by the minority, made by the majority (a majority of
    // each new child's replicas is on its side).
    CHECK(!sup(kit["a"]).start_child(counter("n0")));
    for (int i = 0; i < 10; ++i) {
      auto where = sup(kit["d"]).start_child(counter("n" + std::to_string(i)));
      CHECK_MESSAGE(where, "n" << i << ": " << why(where));
    }
  }
  for (std::string name : {"a", "b", "c", "d", "e"})
    kit.await_view(kit[name], {"a", "b", "c", "d", "e"});
  await_children(kit["a"], all_on(500, {"a", "b", "c", "d", "e"}), 15s);
  ledger l{dir};
  require_no_overlap(l);
  std::set<std::string> deleted;
  for (int i = 0; i < 10; ++i)
    deleted.insert("c" + std::to_string(i));
  // the minority's replicas learned the deletes: every record is the same
  // on its three replicas
  auto records = await_replicas({"a", "b", "c", "d", "e"});
  CHECK(records.size() == 510);
  for (auto& id : deleted)
    CHECK_MESSAGE(records[id].deleted, id << " is no tombstone");
  for (int i = 0; i < 10; ++i)
    CHECK(!records["n" + std::to_string(i)].deleted);
  for (auto& runs : l.all()) { // a pair: clang cannot capture bindings in CHECK_MESSAGE
    auto& id = runs.first;
    size_t open = 0;
    for (auto& x : runs.second)
      open += x.stop_ns < 0;
    auto want = deleted.count(id) ? 0u : 1u;
    CHECK_MESSAGE(open == want, id << " runs " << open << " times");
  }
}

TEST_CASE_FIXTURE(ring_fixture, "a child that keeps crashing stops the ring supervisor on every node") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 10);
  await_children(kit["a"], all_on(10, {"a", "b", "c"}));
  auto s = sup(kit["a"]);
  // crashes at once, every time: the local supervisor gives up three times
  static_cast<void>(s.within(2s).start_child(spec_of("bomb", "bomb")));
  for (std::string name : {"a", "b", "c"}) {
    auto line = kit[name].read_line("escalated ", 15s);
    REQUIRE_MESSAGE(line, name << " did not report the escalation");
    CHECK_MESSAGE(line->find("reached_max_restart_intensity") != std::string::npos, *line);
  }
  for (std::string name : {"a", "b", "c"})
    CHECK(!kit.probe().lookup(kit[name].endpoint(), ring::directory_name("counters")));
}

TEST_CASE_FIXTURE(ring_fixture, "the SQLite store brings the children back after a full restart, with their last snapshots") {
  auto db = dir + "/children.db";
  ::setenv("RV_STORE", ("sqlite:" + db).c_str(), 1);
  start_nodes({"a", "b", "c"});
  start_children(kit["b"], 100, "c", supervision::snapshot_policy::after_each_call());
  auto before = await_children(kit["a"], all_on(100, {"a", "b", "c"}));
  auto s = sup(kit["a"]);
  auto counts = count_up(s, before, 3);
  // Every node writes the snapshots that changed once a second, into the
  // file the three share: wait until it holds every count.
  auto file = ring::open_sqlite_store(sys(), {db, {}});
  REQUIRE_MESSAGE(file, why(file));
  await_that("every count in the file", [&](std::string& seen) {
    auto states = (*file)->get_states();
    REQUIRE_MESSAGE(states, why(states));
    size_t current = 0;
    for (auto& x : *states) {
      counter_record rec; // what a counter's state holds
      if (!actor::from_bytes(sys(), x.state, rec) && rec.count == counts[x.id])
        ++current;
    }
    seen = std::to_string(current) + " of " + std::to_string(counts.size()) + " stored";
    return current == counts.size();
  });
  file->reset();
  for (std::string name : {"c", "b", "a"})
    kit[name].kill9();
  for (std::string name : {"a", "b", "c"})
    kit[name].restart();
  for (std::string name : {"a", "b", "c"})
    kit.await_view(kit[name], {"a", "b", "c"});
  await_children(kit["c"], all_on(100, {"a", "b", "c"}));
  auto again = sup(kit["c"]);
  for (auto& x : before)
    CHECK_MESSAGE(count_of(again, x.id) == counts[x.id], x.id << " lost its count");
  CHECK(total_stats({"a", "b", "c"}).restored == 100);
}

// -- never lost: sequences of faults --------------------------------------------

TEST_CASE_FIXTURE(ring_fixture, "a node restarted after kill -9 learns the children before another dies") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 300);
  await_children(kit["b"], all_on(300, {"a", "b", "c"}));
  auto first_kill = monotonic_ns();
  kit["c"].kill9();
  await_children(kit["b"], all_on(300, {"a", "b"}));
  kit["c"].restart();
  for (std::string name : {"a", "b", "c"})
    kit.await_view(kit[name], {"a", "b", "c"});
  await_children(kit["b"], all_on(300, {"a", "b", "c"}));
  // c owns a third of a's children once a dies: it must know them all
  auto second_kill = monotonic_ns();
  kit["a"].kill9();
  await_children(kit["c"], all_on(300, {"b", "c"}));
  await_children(kit["b"], all_on(300, {"b", "c"}));
  ledger l{dir};
  l.killed("c", first_kill);
  l.killed("a", second_kill);
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "two nodes restarted in a row know every child when the third dies") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 300);
  await_children(kit["a"], all_on(300, {"a", "b", "c"}));
  std::map<std::string, int64_t> killed_at;
  for (std::string name : {"c", "b"}) {
    killed_at[name] = monotonic_ns();
    kit[name].kill9();
    kit[name].restart();
    for (std::string other : {"a", "b", "c"})
      kit.await_view(kit[other], {"a", "b", "c"});
    await_children(kit["a"], all_on(300, {"a", "b", "c"}));
  }
  killed_at["a"] = monotonic_ns();
  kit["a"].kill9();
  await_children(kit["b"], all_on(300, {"b", "c"}));
  await_children(kit["c"], all_on(300, {"b", "c"}));
  ledger l{dir};
  for (auto& [name, ns] : killed_at)
    l.killed(name, ns);
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "a node restarted during a partition knows every child after the heal") {
  if (skip_without_partitions())
    return;
  start_nodes({"a", "b", "c", "d", "e"});
  start_children(kit["a"], 500);
  await_children(kit["c"], all_on(500, {"a", "b", "c", "d", "e"}));
  std::map<std::string, int64_t> killed_at;
  {
    partition cut{kit, {"a", "b"}, {"c", "d", "e"}};
    await_children(kit["c"], all_on(500, {"c", "d", "e"}), 10s);
    killed_at["e"] = monotonic_ns();
    kit["e"].kill9();
    kit["e"].restart(); // reaches c and d only
    kit.await_status(kit["e"], cluster::cluster_status::up);
    await_children(kit["e"], all_on(500, {"c", "d", "e"}), 10s);
  }
  for (std::string name : {"a", "b", "c", "d", "e"})
    kit.await_view(kit[name], {"a", "b", "c", "d", "e"});
  await_children(kit["a"], all_on(500, {"a", "b", "c", "d", "e"}), 15s);
  killed_at["d"] = monotonic_ns();
  kit["d"].kill9();
  for (std::string name : {"a", "e"})
    await_children(kit[name], all_on(500, {"a", "b", "c", "e"}), 10s);
  ledger l{dir};
  for (auto& [name, ns] : killed_at)
    l.killed(name, ns);
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "a node killed while children move to a joining node loses none") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 1000);
  await_children(kit["a"], all_on(1000, {"a", "b", "c"}));
  kit.start("d");
  // as soon as d has started taking children, b dies
  auto d = sup(kit["d"]);
  for (auto deadline = std::chrono::steady_clock::now() + 10s;;) {
    auto local = d.within(1s).local_children();
    if (local && !local->empty())
      break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(1ms);
  }
  auto killed_at = monotonic_ns();
  kit["b"].kill9();
  for (std::string name : {"a", "c", "d"})
    await_children(kit[name], all_on(1000, {"a", "c", "d"}), 10s);
  ledger l{dir};
  l.killed("b", killed_at);
  require_no_overlap(l);
}

TEST_CASE_FIXTURE(ring_fixture, "a client on a plain CAF config keeps its links, and a stale handle fails at once") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 10);
  await_children(kit["a"], all_on(10, {"a", "b", "c"}));
  // what a program that is no node sets up: the wire and the types it needs
  caf::actor_system_config cfg;
  ring::add_types(cfg);
  REQUIRE(!actor::use_wire(cfg, actor::wire_options{}, "client"));
  caf::actor_system client{cfg};
  auto node_dir = actor::remote_directory(client, kit["b"].endpoint(), 5s);
  REQUIRE_MESSAGE(node_dir, why(node_dir));
  auto s = actor::blocking_request<caf::actor>(client, *node_dir, 5s, caf::get_atom::value,
                                               ring::directory_name("counters"));
  REQUIRE_MESSAGE(s, why(s));
  auto counters = ring::ref{client, *s}.within(5s);
  auto first = counters.call<int64_t>("c1", inc_atom::value);
  REQUIRE_MESSAGE(first, why(first));
  // idle for longer than the nodes' connection timeout (3 s): without link
  // heartbeats of its own the client's connection is dropped and its
  // handles are dead for good
  std::this_thread::sleep_for(3500ms);
  auto second = counters.call<int64_t>("c1", inc_atom::value);
  REQUIRE_MESSAGE(second, why(second));
  CHECK(*second == *first + 1);
  // the node of the handle dies and comes back: the old handle says so at
  // once instead of timing out
  kit["b"].kill9();
  kit["b"].restart();
  kit.await_view(kit["a"], {"a", "b", "c"});
  auto t0 = std::chrono::steady_clock::now();
  auto stale = counters.within(10s).call<int64_t>("c1", inc_atom::value);
  CHECK(stale.error() == caf::sec::request_receiver_down);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE_FIXTURE(ring_fixture, "a ring client asks another member when its member dies, hangs or is split off") {
  start_nodes({"a", "b", "c"});
  start_children(kit["a"], 30);
  auto placed = await_children(kit["a"], on_owners(30, {"a", "b", "c"}));
  // a child on `node`, so that a call to it waits for no failover
  auto child_on = [&](const std::string& node) {
    for (auto& x : placed)
      if (x.where.node == node)
        return x.id;
    FAIL("no child on " << node);
    return std::string{};
  };
  auto name_of = [&](const std::string& endpoint) {
    for (std::string name : {"a", "b", "c"})
      if (kit[name].endpoint() == endpoint)
        return name;
    FAIL("no node at " << endpoint);
    return std::string{};
  };
  caf::actor_system_config cfg;
  ring::add_types(cfg);
  REQUIRE(!actor::use_wire(cfg, actor::wire_options{}, "client"));
  caf::actor_system client{cfg};
  ring::client counters{client, "counters", {kit["a"].endpoint()}};
  auto inc = [&](const std::string& id) {
    auto t0 = std::chrono::steady_clock::now();
    auto reply = counters.call(id, caf::make_message(inc_atom::value), 10s);
    REQUIRE_MESSAGE(reply, id << " through " << counters.member() << ": " << why(reply));
    // one failed attempt (a second) at most, then an answer
    CHECK(std::chrono::steady_clock::now() - t0 < 2500ms);
    return reply->get_as<int64_t>(0);
  };
  auto on_b = child_on("b");
  auto on_c = child_on("c");
  CHECK(inc(on_b) == 1);
  CHECK(counters.member() == kit["a"].endpoint());
  CHECK(counters.endpoints().size() == 3); // learned b and c from a
  // dies: the client moves on, and the child counts each call once
  kit["a"].kill9();
  CHECK(inc(on_b) == 2);
  CHECK(name_of(counters.member()) != "a");
  kit["a"].restart({kit["b"].endpoint(), kit["c"].endpoint()});
  for (std::string name : {"a", "b", "c"})
    kit.await_view(kit[name], {"a", "b", "c"});
  placed = await_children(kit["b"], on_owners(30, {"a", "b", "c"}));
  // hangs: one silent attempt, then another member answers for a child
  // that runs on neither
  auto asked = name_of(counters.member());
  auto third = asked == "c" ? std::string{"b"} : std::string{"c"};
  auto on_third = child_on(third);
  auto before = inc(on_third);
  kit[asked].stop();
  CHECK(inc(on_third) == before + 1);
  CHECK(name_of(counters.member()) != asked);
  kit[asked].cont();
  for (std::string name : {"a", "b", "c"})
    kit.await_view(kit[name], {"a", "b", "c"});
  if (skip_without_partitions())
    return;
  // split off: refused at once, answered by the majority; a change too
  placed = await_children(kit["b"], on_owners(30, {"a", "b", "c"}));
  auto cut_off = name_of(counters.member());
  strings rest;
  for (std::string name : {"a", "b", "c"})
    if (name != cut_off)
      rest.push_back(name);
  auto on_rest = child_on(rest[0]);
  auto count = inc(on_rest);
  partition cut{kit, {cut_off}, rest};
  kit.await_status(kit[cut_off], cluster::cluster_status::split);
  CHECK(inc(on_rest) == count + 1);
  CHECK(counters.member() != kit[cut_off].endpoint());
  ring::client via_minority{client, "counters", {kit[cut_off].endpoint()}};
  auto where = via_minority.start_child(counter("late"), 10s);
  REQUIRE_MESSAGE(where, why(where));
  CHECK(where->node != cut_off);
  CHECK(via_minority.member() != kit[cut_off].endpoint());
}
