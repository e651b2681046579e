// The singleton activator between real processes (singleton-test-node on
// loopback): one leader, the oldest; failover after kill -9 and SIGSTOP;
// a graceful leave; a 2|3 partition and its heal; triggers from any node.
// Each node writes every activator event to a ledger; the checks read it.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>

#include "ring/ledger.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/cluster/singleton.hpp"
#include "support/cluster_kit.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;

namespace {

struct event {
  std::string kind;
  int64_t ns = 0;
  std::string node;
  int pid = 0;
  std::string reason;
};

/// Every activator event of a test, and the leader terms made of them.
struct event_log {
  std::vector<event> events; // by time

  /// One process's time as leader: from `now_leader` to the event that ended
  /// it (or `end_ns` if none did yet).
  struct term {
    std::string node;
    int pid;
    int64_t from;
    int64_t to;
  };

  explicit event_log(const std::string& dir) {
    for (auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in{entry.path()};
      std::string line;
      while (std::getline(in, line)) {
        std::istringstream fields{line};
        event e;
        if (fields >> e.kind >> e.ns >> e.node >> e.pid) {
          std::getline(fields, e.reason);
          events.push_back(std::move(e));
        }
      }
    }
    std::sort(events.begin(), events.end(), [](auto& x, auto& y) { return x.ns < y.ns; });
  }

  std::vector<term> terms(int64_t end_ns, const std::map<int, int64_t>& killed = {}) const {
    std::vector<term> result;
    std::map<int, size_t> open; // pid -> index in result
    for (auto& e : events) {
      if (e.kind == "now_leader") {
        open[e.pid] = result.size();
        result.push_back({e.node, e.pid, e.ns, end_ns});
      } else if (e.kind == "now_follower" || e.kind == "cluster_split" || e.kind == "shutdown") {
        if (auto i = open.find(e.pid); i != open.end()) {
          result[i->second].to = e.ns;
          open.erase(i);
        }
      }
    }
    for (auto& [pid, at] : killed)
      if (auto i = open.find(pid); i != open.end())
        result[i->second].to = std::min(result[i->second].to, at);
    return result;
  }

  size_t count(const std::string& kind, const std::string& node = {}) const {
    return std::count_if(events.begin(), events.end(), [&](auto& e) {
      return e.kind == kind && (node.empty() || e.node == node);
    });
  }

  /// Returns what broke the rules. A leader-only event (timer, trigger,
  /// cluster_change) must come from the process that most recently became
  /// leader, within its term: a leader that was frozen while another took
  /// over (its term still open in the ledger) must not act once it wakes.
  std::vector<std::string> violations(int64_t end_ns,
                                      const std::map<int, int64_t>& killed = {}) const {
    std::vector<std::string> result;
    auto ts = terms(end_ns, killed);
    for (auto& e : events) {
      if (e.kind != "timer" && e.kind != "trigger" && e.kind != "cluster_change")
        continue;
      const term* latest = nullptr;
      for (auto& t : ts)
        if (t.from <= e.ns && (latest == nullptr || t.from > latest->from))
          latest = &t;
      if (latest == nullptr || latest->pid != e.pid)
        result.push_back(e.kind + " on " + e.node + " after "
                         + (latest ? latest->node : std::string{"nobody"}) + " became leader");
      else if (e.ns > latest->to)
        result.push_back(e.kind + " on " + e.node + " after its term ended");
    }
    return result;
  }
};

struct singleton_fixture {
  std::string dir;
  cluster_kit kit;

  singleton_fixture() {
    char tmpl[] = "/tmp/rv-singleton-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ::setenv("RV_LEDGER_DIR", dir.c_str(), 1);
  }

  ~singleton_fixture() {
    std::error_code ec;
    if (!std::getenv("RV_KEEP_LEDGER"))
      std::filesystem::remove_all(dir, ec);
  }

  void start_nodes(const strings& names) {
    for (auto& name : names) {
      kit.start(name);
      std::this_thread::sleep_for(5ms); // distinct incarnations: a is the oldest
    }
    for (auto& name : names)
      kit.await_view(kit[name], names);
    for (auto& name : names)
      kit.await_status(kit[name], cluster::cluster_status::up);
  }

  /// The test registrar of node `name` (singleton_node.cpp).
  caf::actor registrar(const std::string& name) {
    auto hdl = kit.probe().lookup(kit[name].endpoint(), "test.registrar");
    REQUIRE_MESSAGE(hdl, name << ": " << why(hdl));
    return *hdl;
  }

  /// The node that holds `name` by node `node`'s account ("" if none).
  std::string holder_of(const std::string& name, const std::string& node) {
    auto x = actor::blocking_request<std::string>(kit.probe().system(), registrar(node), 2s,
                                                  caf::get_atom::value, name);
    REQUIRE_MESSAGE(x, node << ": " << why(x));
    return *x;
  }

  /// Waits until every node of `nodes` names `holder` as the holder of `name`.
  void await_holder(const std::string& name, const strings& nodes, const std::string& holder) {
    for (auto& n : nodes)
      for (auto deadline = std::chrono::steady_clock::now() + 10s; holder_of(name, n) != holder;) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                        n << " never named " << holder);
        std::this_thread::sleep_for(50ms);
      }
  }

  /// Checks for a while that no node of `nodes` names a holder of `name`.
  void check_no_holder(const std::string& name, const strings& nodes) {
    for (auto& n : nodes)
      for (auto until = std::chrono::steady_clock::now() + 2s;
           std::chrono::steady_clock::now() < until;) {
        REQUIRE_MESSAGE(holder_of(name, n).empty(), n << " names the unregistered name again");
        std::this_thread::sleep_for(100ms);
      }
  }

  caf::actor activator(node_process& n) {
    auto hdl = kit.probe().lookup(n.endpoint(), cluster::activator_name("importer"));
    REQUIRE_MESSAGE(hdl, "no activator on " << n.name() << ": " << why(hdl));
    return *hdl;
  }

  /// Waits until every node in `names` names `leader` (a node that was
  /// stopped may take a moment to answer again).
  void await_leader(const strings& names, const std::string& leader,
                    std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (auto& name : names) {
      for (;;) {
        auto act = kit.probe().lookup(kit[name].endpoint(), cluster::activator_name("importer"));
        auto who = act ? cluster::whereis_leader(kit.probe().system(), *act, 2s)
                       : caf::expected<std::string>{act.error()};
        if (who && *who == leader)
          break;
        if (std::chrono::steady_clock::now() > deadline)
          FAIL(name << " names " << (who ? *who : why(who)) << " as leader, not " << leader);
        std::this_thread::sleep_for(20ms);
      }
    }
  }

  /// Waits until `node` wrote `kind` `n` times after `since`; returns when
  /// it wrote the `n`th.
  int64_t await_event(const std::string& kind, const std::string& node, size_t n = 1,
                      int64_t since = 0, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      event_log log{dir};
      size_t seen = 0;
      for (auto& e : log.events)
        if (e.kind == kind && e.node == node && e.ns >= since && ++seen == n)
          return e.ns;
      if (std::chrono::steady_clock::now() > deadline)
        FAIL(node << " never wrote " << kind << " (" << n << " times)");
      std::this_thread::sleep_for(20ms);
    }
  }

  void require_rules_kept(const std::map<int, int64_t>& killed = {}) {
    event_log log{dir};
    auto bad = log.violations(monotonic_ns(), killed);
    for (auto& x : bad)
      FAIL_CHECK(x);
    REQUIRE(bad.empty());
  }
};

} // namespace

TEST_CASE_FIXTURE(singleton_fixture, "the oldest of five nodes leads, alone, and gets the timer") {
  start_nodes({"a", "b", "c", "d", "e"});
  await_leader({"a", "b", "c", "d", "e"}, "a");
  await_event("timer", "a", 5);
  event_log log{dir};
  CHECK(log.count("now_leader") == 1);
  CHECK(log.count("now_leader", "a") == 1);
  for (auto n : {"b", "c", "d", "e"}) {
    CHECK(log.count("timer", n) == 0);
    CHECK(log.count("cluster_change", n) == 0);
  }
  CHECK(log.count("cluster_change", "a") >= 1); // b..e joined while a led
  auto state = cluster::dump(kit.probe().system(), activator(kit["a"]), 2s);
  REQUIRE(state);
  CHECK(state->rfind("role=leader leader=a events=", 0) == 0);
  require_rules_kept();
}

TEST_CASE_FIXTURE(singleton_fixture, "the oldest member that runs the activator leads, not the oldest member") {
  ::setenv("RV_NO_ACTIVATOR", "1", 1);
  kit.start("z"); // the oldest
  ::unsetenv("RV_NO_ACTIVATOR");
  for (auto n : {"a", "b"}) {
    std::this_thread::sleep_for(5ms);
    kit.start(n);
  }
  for (auto n : {"a", "b", "z"})
    kit.await_view(kit[n], {"a", "b", "z"});
  await_leader({"a", "b"}, "a");
  await_event("timer", "a", 2);
  require_rules_kept();
}

TEST_CASE_FIXTURE(singleton_fixture, "a trigger from any node reaches the leader") {
  start_nodes({"a", "b", "c"});
  await_leader({"a", "b", "c"}, "a");
  for (auto n : {"a", "b", "c"}) {
    auto err = cluster::trigger(kit.probe().system(), activator(kit[n]), std::string{"from "} + n, 5s);
    CHECK_MESSAGE(!err, n << ": " << actor::render(err));
  }
  event_log log{dir};
  CHECK(log.count("trigger", "a") == 3);
  CHECK(log.count("trigger") == 3);
  require_rules_kept();
}

TEST_CASE_FIXTURE(singleton_fixture, "after kill -9 of the leader the next oldest leads within the detection bound") {
  start_nodes({"a", "b", "c"});
  await_leader({"a", "b", "c"}, "a");
  await_event("timer", "a", 2);
  auto killed_at = monotonic_ns();
  auto pid = kit["a"].pid();
  kit["a"].kill9();
  auto led_at = await_event("now_leader", "b", 1, killed_at, 5s);
  auto took_ms = (led_at - killed_at) / 1'000'000;
  MESSAGE("b leads " << took_ms << " ms after the kill");
  CHECK(took_ms < 1000); // the dead port refuses: no fence (1.2 s) to wait
  await_leader({"b", "c"}, "b");
  await_event("timer", "b", 2);
  require_rules_kept({{pid, killed_at}});
}

TEST_CASE_FIXTURE(singleton_fixture, "a leader stopped with SIGSTOP is replaced and, resumed, follows without acting") {
  start_nodes({"a", "b", "c"});
  await_leader({"a", "b", "c"}, "a");
  await_event("timer", "a", 2);
  auto stopped_at = monotonic_ns();
  kit["a"].stop();
  await_event("now_leader", "b", 1, stopped_at, 10s);
  await_event("timer", "b", 3, stopped_at);
  auto resumed_at = monotonic_ns();
  kit["a"].cont();
  await_leader({"a", "b", "c"}, "a", 15s); // a is still the oldest: it takes over again
  await_event("timer", "a", 2, resumed_at);
  event_log log{dir};
  // a stepped down (follower or split) between its two terms, and b handed over.
  CHECK(log.count("now_leader", "a") == 2);
  CHECK(log.count("now_follower", "b") == 1);
  require_rules_kept();
}

TEST_CASE_FIXTURE(singleton_fixture, "a leader that leaves in order hands over after its shutdown") {
  start_nodes({"a", "b", "c"});
  await_leader({"a", "b", "c"}, "a");
  auto pid = kit["a"].pid();
  auto left_at = monotonic_ns();
  CHECK(kit["a"].terminate() == 0);
  auto led_at = await_event("now_leader", "b", 1, left_at);
  event_log log{dir};
  auto shut = std::find_if(log.events.begin(), log.events.end(),
                           [&](auto& e) { return e.kind == "shutdown" && e.pid == pid; });
  REQUIRE(shut != log.events.end());
  CHECK(shut->ns < led_at);
  require_rules_kept();
}

TEST_CASE_FIXTURE(singleton_fixture, "a 2|3 partition leaves no leader on the minority, one after the heal") {
  if (skip_without_partitions())
    return;
  start_nodes({"a", "b", "c", "d", "e"});
  await_leader({"a", "b", "c", "d", "e"}, "a");
  {
    partition cut{kit, {"a", "b"}, {"c", "d", "e"}};
    await_event("cluster_split", "a", 1, 0, 10s);
    await_event("cluster_split", "b", 1, 0, 10s);
    await_event("now_leader", "c", 1, 0, 10s);
    await_event("timer", "c", 2);
    auto on_a = cluster::whereis_leader(kit.probe().system(), activator(kit["a"]), 2s);
    CHECK(!on_a);
    cut.heal();
  }
  // a is the oldest again once the views agree: c hands over.
  await_leader({"a", "b", "c", "d", "e"}, "a", 20s);
  event_log log{dir};
  CHECK(log.count("now_follower", "c") == 1);
  require_rules_kept();
}

TEST_CASE_FIXTURE(singleton_fixture, "two holders of a name meet when a partition heals: the older keeps it, the other exits") {
  if (skip_without_partitions())
    return;
  start_nodes({"a", "b", "c", "d", "e"});
  // A name whose home, on the whole ring, is a.
  cluster::hash_ring ring{{"a", "b", "c", "d", "e"}};
  std::string name;
  for (int i = 0; !ring.mine(name = "job-" + std::to_string(i), "a"); ++i)
    ;
  auto& sys = kit.probe().system();
  auto a_registrar = registrar("a");
  auto c_registrar = registrar("c");
  {
    partition cut{kit, {"a", "b"}, {"c", "d", "e"}};
    // a does not know yet that it is cut off, and it is the name's home.
    auto on_a = actor::blocking_request<caf::ok_atom>(sys, a_registrar, 2s, caf::put_atom::value,
                                                      name);
    REQUIRE_MESSAGE(on_a, why(on_a));
    // Once a and b are down for the majority, c's side gives the name again.
    auto deadline = std::chrono::steady_clock::now() + 15s;
    caf::expected<caf::ok_atom> on_c{caf::sec::request_timeout};
    while (!on_c && std::chrono::steady_clock::now() < deadline) {
      on_c = actor::blocking_request<caf::ok_atom>(sys, c_registrar, 4s, caf::put_atom::value,
                                                   name);
      if (!on_c)
        std::this_thread::sleep_for(100ms); // the home is still a, out of reach
    }
    REQUIRE_MESSAGE(on_c, why(on_c));
    // A name only the majority knows: the minority must learn it after the heal.
    auto other = actor::blocking_request<caf::ok_atom>(sys, c_registrar, 4s, caf::put_atom::value,
                                                       std::string{"majority-only"});
    REQUIRE_MESSAGE(other, why(other));
    cut.heal();
  }
  // Healed: every node names a's worker, and c's worker lost the name.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  for (auto n : {"a", "b", "c", "d", "e"}) {
    for (;;) {
      auto holder = actor::blocking_request<std::string>(sys, registrar(n), 2s,
                                                         caf::get_atom::value, name);
      if (holder && *holder == "a")
        break;
      if (std::chrono::steady_clock::now() > deadline)
        FAIL(n << " names " << (holder ? *holder : why(holder)) << " as the holder");
      std::this_thread::sleep_for(50ms);
    }
  }
  for (auto n : {"a", "b"}) {
    for (;;) {
      auto holder = actor::blocking_request<std::string>(sys, registrar(n), 2s,
                                                         caf::get_atom::value,
                                                         std::string{"majority-only"});
      if (holder && *holder == "c")
        break;
      if (std::chrono::steady_clock::now() > deadline)
        FAIL(n << " never learnt the majority's name");
      std::this_thread::sleep_for(50ms);
    }
  }
  // (Workers of refused attempts on c exit with user_shutdown.)
  auto conflicts = [&] {
    event_log log{dir};
    return std::count_if(log.events.begin(), log.events.end(), [](auto& e) {
      return e.kind == "name_lost" && e.reason.find("name_conflict") != std::string::npos;
    });
  };
  for (auto until = std::chrono::steady_clock::now() + 10s;
       conflicts() == 0 && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(50ms);
  event_log log{dir};
  CHECK(conflicts() == 1);
  CHECK(std::none_of(log.events.begin(), log.events.end(), [](auto& e) {
    return e.kind == "name_lost" && e.node != "c";
  }));
}

TEST_CASE_FIXTURE(singleton_fixture, "an unregister during a partition is refused on the minority and lasts on the majority") {
  if (skip_without_partitions())
    return;
  start_nodes({"a", "b", "c", "d", "e"});
  // A name whose home, on the whole ring, is a: the minority-to-be.
  cluster::hash_ring ring{{"a", "b", "c", "d", "e"}};
  std::string name;
  for (int i = 0; !ring.mine(name = "gone-" + std::to_string(i), "a"); ++i)
    ;
  auto& sys = kit.probe().system();
  auto ok = actor::blocking_request<caf::ok_atom>(sys, registrar("c"), 4s, caf::put_atom::value,
                                                  name);
  REQUIRE_MESSAGE(ok, why(ok));
  await_holder(name, {"a", "b", "c", "d", "e"}, "c");
  {
    partition cut{kit, {"a", "b"}, {"c", "d", "e"}};
    kit.await_status(kit["a"], cluster::cluster_status::split);
    // The minority may not end a registration the majority keeps: it would
    // be acknowledged, then lost at the heal.
    auto refused = actor::blocking_request<caf::ok_atom>(sys, registrar("a"), 4s,
                                                         caf::delete_atom::value, name);
    REQUIRE(!refused);
    CHECK_MESSAGE(refused.error() == cluster::errc::split_off, why(refused));
    // The majority ends it once a and b are down for it (its home moves).
    auto deadline = std::chrono::steady_clock::now() + 15s;
    caf::expected<caf::ok_atom> del{caf::sec::request_timeout};
    while (!del && std::chrono::steady_clock::now() < deadline) {
      del = actor::blocking_request<caf::ok_atom>(sys, registrar("c"), 4s,
                                                  caf::delete_atom::value, name);
      if (!del)
        std::this_thread::sleep_for(100ms);
    }
    REQUIRE_MESSAGE(del, why(del));
  }
  // Healed: the registration stays ended everywhere (its worker lives on).
  kit.await_view(kit["c"], {"a", "b", "c", "d", "e"});
  kit.await_converged({"a", "b", "c", "d", "e"});
  check_no_holder(name, {"c", "d", "e", "a", "b"});
}

TEST_CASE_FIXTURE(singleton_fixture, "a name unregistered while a node was paused does not come back with it") {
  start_nodes({"a", "b", "c"});
  // A name whose home is not a, the node to pause.
  cluster::hash_ring ring{{"a", "b", "c"}};
  std::string name;
  for (int i = 0; ring.mine(name = "paused-" + std::to_string(i), "a"); ++i)
    ;
  auto& sys = kit.probe().system();
  auto ok = actor::blocking_request<caf::ok_atom>(sys, registrar("b"), 4s, caf::put_atom::value,
                                                  name);
  REQUIRE_MESSAGE(ok, why(ok));
  await_holder(name, {"a"}, "b");
  // a hangs until the others have downed it; meanwhile the name ends.
  kit["a"].stop();
  kit.await_view(kit["b"], {"b", "c"}, {"a"});
  auto del = actor::blocking_request<caf::ok_atom>(sys, registrar("b"), 4s,
                                                   caf::delete_atom::value, name);
  REQUIRE_MESSAGE(del, why(del));
  kit["a"].cont();
  // a comes back as a new incarnation, with its old table: the others pull
  // it, and must not take the ended registration back; it learns the end.
  kit.await_view(kit["b"], {"a", "b", "c"});
  kit.await_converged({"a", "b", "c"});
  check_no_holder(name, {"b", "c", "a"});
}
