// The job-runner example between real processes: the leader makes the
// running jobs match a SQLite table, jobs keep their progress when their
// node leaves, and a new leader takes over the syncing after a kill -9.

#include <cstdlib>
#include <set>
#include <thread>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "progress.hpp"
#include "ringvisor/cluster/singleton.hpp"
#include "ringvisor/ring/all.hpp"
#include "support/cluster_kit.hpp"
#include "support/temp_dir.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;

namespace {

struct runner_fixture {
  temp_dir dir{"rv-jobs"}; // first: removed once the nodes are gone
  std::string db = dir.file("jobs.db");
  cluster_kit kit{[](caf::actor_system_config& cfg) { ring::add_types(cfg); }};

  runner_fixture() {
    sql("CREATE TABLE jobs (id TEXT PRIMARY KEY, path TEXT)");
  }

  void sql(const std::string& statement) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    sqlite3_busy_timeout(h, 2000);
    char* msg = nullptr;
    auto rc = sqlite3_exec(h, statement.c_str(), nullptr, nullptr, &msg);
    std::string why = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(h);
    REQUIRE_MESSAGE(rc == SQLITE_OK, statement << ": " << why);
  }

  void add_jobs(int first, int last) {
    std::string values;
    for (int i = first; i < last; ++i)
      values += (values.empty() ? "" : ",") + std::string{"('job-"} + std::to_string(i)
                + "', '/data/" + std::to_string(i) + ".csv')";
    sql("INSERT INTO jobs VALUES " + values);
  }

  void start_nodes(const strings& names) {
    for (auto& name : names) {
      node_options opts;
      opts.args = {"--jobs.db=" + db, "--jobs.sync-every=100ms",
                   "--ringvisor.data-dir=" + dir.file(name)};
      kit.start(name, opts);
    }
    for (auto& name : names)
      kit.await_view(kit[name], names);
  }

  caf::actor lookup(node_process& n, const std::string& name) {
    auto hdl = kit.probe().lookup(n.endpoint(), name);
    REQUIRE_MESSAGE(hdl, name << " on " << n.name() << ": " << why(hdl));
    return *hdl;
  }

  /// Waits until the jobs running, by `via`'s account, are exactly `ids`,
  /// each on one of `nodes`.
  void await_jobs(node_process& via, const std::set<std::string>& ids, const strings& nodes,
                  std::chrono::milliseconds timeout = 10s) {
    auto sup = lookup(via, ring::directory_name("jobs"));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last;
    for (;;) {
      auto all = ring::ref{kit.probe().system(), sup}.within(3s).which_children();
      if (all) {
        std::set<std::string> running;
        bool placed = true;
        for (auto& c : *all) {
          running.insert(c.id);
          placed &= std::count(nodes.begin(), nodes.end(), c.where.node) > 0;
        }
        if (running == ids && placed)
          return;
        last = std::to_string(running.size()) + " running";
      }
      if (std::chrono::steady_clock::now() > deadline)
        FAIL("jobs never as expected; last: " << last);
      std::this_thread::sleep_for(50ms);
    }
  }

  /// Checks, for `window`, that `n` runs no job, reports no up cluster, and
  /// that the jobs `ids` keep running on `others`.
  void check_runs_nothing(node_process& n, const std::set<std::string>& ids,
                          const strings& others, std::chrono::milliseconds window) {
    auto sup = lookup(n, ring::directory_name("jobs"));
    auto until = std::chrono::steady_clock::now() + window;
    do {
      auto status = kit.probe().status_of(n.endpoint());
      REQUIRE_MESSAGE(status, why(status));
      CHECK_MESSAGE(*status == cluster::cluster_status::starting,
                    n.name() << " says " << cluster::to_string(*status));
      auto here = ring::ref{kit.probe().system(), sup}.within(3s).local_children();
      REQUIRE_MESSAGE(here, why(here));
      REQUIRE_MESSAGE(here->empty(), n.name() << " runs " << here->front().id);
      std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < until);
    await_jobs(kit[others.front()], ids, others);
  }

  /// Waits until the progress row of every running job names the node and
  /// the epoch the job runs with now: the newest owner writes, fenced.
  void await_progress_of_owners(node_process& via) {
    auto sup = lookup(via, ring::directory_name("jobs"));
    auto progress = jobs::progress_table::open(db);
    REQUIRE_MESSAGE(progress, why(progress));
    auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string last;
    for (;;) {
      auto all = ring::ref{kit.probe().system(), sup}.within(3s).which_children();
      REQUIRE_MESSAGE(all, why(all));
      size_t current = 0;
      for (auto& c : *all) {
        auto row = (*progress)->read(c.id);
        REQUIRE_MESSAGE(row, why(row));
        if (*row && (*row)->node == c.where.node && (*row)->epoch == c.where.epoch)
          ++current;
        else
          last = c.id + " on " + c.where.node;
      }
      if (current == all->size())
        return;
      if (std::chrono::steady_clock::now() > deadline)
        FAIL("progress rows never followed the owners; last behind: " << last);
      std::this_thread::sleep_for(100ms);
    }
  }

  static std::set<std::string> ids(int first, int last) {
    std::set<std::string> result;
    for (int i = first; i < last; ++i)
      result.insert("job-" + std::to_string(i));
    return result;
  }
};

} // namespace

TEST_CASE_FIXTURE(runner_fixture, "the leader runs every row of the table once, and follows its changes") {
  start_nodes({"a", "b", "c"});
  add_jobs(0, 20);
  await_jobs(kit["b"], ids(0, 20), {"a", "b", "c"});
  sql("DELETE FROM jobs WHERE id IN ('job-0', 'job-1', 'job-2', 'job-3', 'job-4')");
  await_jobs(kit["c"], ids(5, 20), {"a", "b", "c"});
  auto state = cluster::dump(kit.probe().system(),
                             lookup(kit["a"], cluster::activator_name("job-runner")), 2s);
  REQUIRE(state);
  CHECK(state->find("role=leader") == 0);
  CHECK(state->find("15 rows") != std::string::npos);
}

TEST_CASE_FIXTURE(runner_fixture, "jobs keep their progress when their node leaves, and a new leader syncs after a kill -9") {
  start_nodes({"a", "b", "c", "d"}); // four: a majority survives a leave, then a kill
  add_jobs(0, 12);
  await_jobs(kit["a"], ids(0, 12), {"a", "b", "c", "d"});
  // A job on c: its progress survives c's graceful leave.
  auto sup = lookup(kit["a"], ring::directory_name("jobs"));
  std::string on_c;
  auto all = ring::ref{kit.probe().system(), sup}.within(3s).which_children();
  REQUIRE(all);
  for (auto& child : *all)
    if (child.where.node == "c")
      on_c = child.id;
  REQUIRE(!on_c.empty());
  // Some records: ~50 at one every 10 ms, more than a restarted job could
  // count between the leave and the second read.
  std::this_thread::sleep_for(500ms);
  auto before =
    ring::ref{kit.probe().system(), sup}.within(3s).call<int64_t>(on_c, caf::get_atom::value);
  REQUIRE(before);
  CHECK(kit["c"].terminate() == 0);
  await_jobs(kit["a"], ids(0, 12), {"a", "b", "d"});
  auto after =
    ring::ref{kit.probe().system(), sup}.within(3s).call<int64_t>(on_c, caf::get_atom::value);
  REQUIRE(after);
  CHECK(*after >= *before);
  // kill -9 the leader (a, the oldest): b leads, runs a's jobs and syncs new rows.
  auto leader = cluster::whereis_leader(kit.probe().system(),
                                        lookup(kit["b"], cluster::activator_name("job-runner")), 2s);
  REQUIRE(leader);
  CHECK(*leader == "a");
  kit["a"].kill9();
  add_jobs(12, 15);
  await_jobs(kit["b"], ids(0, 15), {"b", "d"});
}

TEST_CASE_FIXTURE(runner_fixture, "a node restarted while cut off, founder or not, runs no job until it is back in its cluster") {
  if (skip_without_partitions())
    return;
  start_nodes({"a", "b", "c"}); // a without seeds, b seeded with a, c with a and b
  add_jobs(0, 6);
  await_jobs(kit["a"], ids(0, 6), {"a", "b", "c"});
  for (std::string name : {"c", "a"}) { // a founded the cluster: no seeds
    strings others;
    for (std::string x : {"a", "b", "c"})
      if (x != name)
        others.push_back(x);
    kit[name].kill9();
    await_jobs(kit[others.front()], ids(0, 6), others);
    {
      partition cut{kit, {name}, others};
      kit[name].restart();
      check_runs_nothing(kit[name], ids(0, 6), others, 3s);
    }
    // healed: it joins, and every job runs once
    kit.await_view(kit[name], {"a", "b", "c"});
    await_jobs(kit[name], ids(0, 6), {"a", "b", "c"});
    // Each job runs once: never more than six, and six once moves settle
    // (the rejoined node takes its jobs back: one stops, then starts).
    size_t running = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 5s;;) {
      running = 0;
      for (std::string x : {"a", "b", "c"}) {
        auto here = ring::ref{kit.probe().system(), lookup(kit[x], ring::directory_name("jobs"))}
                      .within(3s)
                      .local_children();
        REQUIRE_MESSAGE(here, why(here));
        running += here->size();
      }
      REQUIRE(running <= 6);
      if (running == 6 || std::chrono::steady_clock::now() > deadline)
        break;
      std::this_thread::sleep_for(50ms);
    }
    CHECK(running == 6);
    await_progress_of_owners(kit["b"]);
  }
}
