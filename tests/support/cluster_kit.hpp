#pragma once

// A multi-process test kit for cluster tests: ringvisor-node processes on
// distinct loopback addresses (`node_process`), a non-member actor system that
// asks any node for its view over TCP (`probe`), waits for views and statuses
// (`cluster_kit`), and network partitions made with iptables (`partition`).
//
// Example:
// ```
// cluster_kit kit;
// auto& a = kit.start("a");
// auto& b = kit.start("b");                // seeds: every running node
// kit.await_view(a, {"a", "b"});
// b.kill9();
// kit.await_view(a, {"a"}, {"b"});
// ```

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/node_config.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "support/netcut.hpp"
#include "support/printers.hpp"
#include "support/views.hpp"
#include "support/process.hpp"

namespace ringvisor::test {

/// What one node reports about the cluster.
struct node_report {
  view members;
  cluster::cluster_status status = cluster::cluster_status::starting;
};

/// Renders `x` as `status=up members=[...]`.
inline std::string to_string(const node_report& x) {
  return std::string{"status="} + cluster::to_string(x.status)
         + " members=" + to_string(x.members);
}

// -- node processes -----------------------------------------------------------

/// How to start a node process, besides its name.
struct node_options {
  /// `host:port` of the nodes to join; nothing: every running node of the kit.
  std::optional<strings> seeds;

  /// `ringvisor.consensus`: members needed before the cluster is up.
  size_t consensus = 1;

  /// More command-line arguments, appended to the kit's.
  strings args;

  /// Whether the node's log (stderr) comes with its output (`read_line`)
  /// instead of going to the test's.
  bool capture_log = false;
};

/// One ringvisor-node process (`RINGVISOR_NODE_BIN`), on its own loopback
/// address, listening on an ephemeral port. Started by `cluster_kit::start`;
/// killed with SIGKILL and reaped when destroyed.
class node_process {
public:
  /// Starts the node and waits until it prints `listening host:port`.
  node_process(std::string name, std::string host, std::optional<gid_t> gid,
               strings seeds, size_t consensus, strings args, bool capture_log = false)
    : name_(std::move(name)),
      host_(std::move(host)),
      gid_(gid),
      seeds_(std::move(seeds)),
      consensus_(consensus),
      args_(std::move(args)),
      capture_log_(capture_log) {
    REQUIRE_MESSAGE(launch(0), "node " << name_ << " did not start");
  }

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// Returns the logical node name.
  const std::string& name() const noexcept {
    return name_;
  }

  /// Returns the loopback address the node listens on.
  const std::string& host() const noexcept {
    return host_;
  }

  /// Returns the port of the current (or last) process.
  uint16_t port() const noexcept {
    return port_;
  }

  /// Returns `host:port` of the current (or last) process.
  std::string endpoint() const {
    return host_ + ":" + std::to_string(port_);
  }

  /// Returns the group id the process runs under, if the kit assigned one.
  std::optional<gid_t> gid() const noexcept {
    return gid_;
  }

  /// Returns the seeds the node was started with.
  const strings& seeds() const noexcept {
    return seeds_;
  }

  /// Returns the first line the process printed after the ones read so far
  /// that starts with `prefix` (without it), if one comes within `timeout`.
  std::optional<std::string> read_line(const std::string& prefix,
                                       std::chrono::milliseconds timeout) {
    return proc_->read_line(prefix, timeout);
  }

  /// Returns the pid of the current (or last) process.
  pid_t pid() const noexcept {
    return proc_->pid();
  }

  /// Returns whether the process runs (or is stopped) and was not reaped.
  bool running() const noexcept {
    return proc_ && proc_->running();
  }

  /// Kills the process with SIGKILL (a crash) and reaps it.
  void kill9() {
    proc_->signal(SIGKILL);
    proc_->wait();
  }

  /// Suspends the process with SIGSTOP (a hung node).
  void stop() {
    proc_->signal(SIGSTOP);
  }

  /// Resumes the process with SIGCONT.
  void cont() {
    proc_->signal(SIGCONT);
  }

  /// Asks the node to leave with SIGTERM (resuming it if stopped), waits at
  /// most `timeout` for it to exit and returns the exit code, or 128 + the
  /// signal number as a shell would; a node still running is killed.
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    proc_->signal(SIGTERM);
    proc_->signal(SIGCONT);
    auto code = await_exit(timeout);
    CHECK_MESSAGE(code, "node " << name_ << " ignored SIGTERM for "
                                << timeout.count() << " ms");
    if (!code) {
      kill9();
      code = 128 + SIGKILL;
    }
    return *code;
  }

  /// Waits at most `timeout` for the process to exit on its own (asked to
  /// stop by other means than a signal) and returns its exit code as
  /// `terminate` does, or nothing if it still runs.
  std::optional<int> await_exit(std::chrono::milliseconds timeout) {
    auto status = proc_->wait_for(timeout);
    if (!status)
      return std::nullopt;
    return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  }

  /// Starts the node again under the same name, address, group and seeds,
  /// on the same port if it is free; kills a running process first.
  void restart() {
    if (running())
      kill9();
    if (!launch(port_))
      REQUIRE_MESSAGE(launch(0), "node " << name_ << " did not restart");
  }

  /// Like `restart()`, joining through `seeds` from now on.
  void restart(strings seeds) {
    seeds_ = std::move(seeds);
    restart();
  }

private:
  // Starts a process on `port` (0: any) and reads its endpoint.
  bool launch(uint16_t port) {
    proc_ = std::make_unique<process>(argv(port), gid_, capture_log_);
    auto line = proc_->read_line("listening ", std::chrono::seconds{10});
    if (!line)
      return false;
    port_ = static_cast<uint16_t>(std::stoul(line->substr(line->rfind(':') + 1)));
    return true;
  }

  strings argv(uint16_t port) const {
    strings result{RINGVISOR_NODE_BIN,
                   "--ringvisor.name=" + name_,
                   "--ringvisor.host=" + host_,
                   "--ringvisor.port=" + std::to_string(port),
                   "--ringvisor.consensus=" + std::to_string(consensus_),
                   "--ringvisor.log-level=warn",
                   "--scheduler.max-threads=2"};
    if (!seeds_.empty()) {
      std::string list;
      for (auto& s : seeds_)
        list += (list.empty() ? "\"" : ",\"") + s + "\"";
      result.push_back("--ringvisor.seeds=[" + list + "]");
    }
    result.insert(result.end(), args_.begin(), args_.end());
    return result;
  }

  std::string name_;
  std::string host_;
  std::optional<gid_t> gid_;
  strings seeds_;
  size_t consensus_;
  strings args_;
  bool capture_log_;
  uint16_t port_ = 0;
  std::unique_ptr<process> proc_;
};

// -- probe --------------------------------------------------------------------

/// An actor system in the test process that is no cluster member: it asks
/// any node's agent for its view and status over TCP. Every connect and
/// request is bounded by `timeout`, so a hung (SIGSTOPped) node costs one
/// timeout instead of hanging the test. Agent handles are cached per
/// endpoint and dropped when a request fails.
class probe {
public:
  /// Starts the probe's actor system (on the wire, as the nodes);
  /// `add_types` registers more message types than libcluster's; `wire`
  /// replaces the default wire options (e.g. with TLS).
  explicit probe(const std::function<void(caf::actor_system_config&)>& add_types = {},
                 const std::optional<actor::wire_options>& wire = std::nullopt)
    : sys_(prepare(cfg_, add_types, wire)) {
    // nop
  }

  /// Bounds each connect and each request.
  std::chrono::milliseconds timeout{1000};

  /// Returns the view and status of the node at `endpoint`.
  caf::expected<node_report> report(const std::string& endpoint) {
    auto members = view_of(endpoint);
    if (!members)
      return members.error();
    auto status = status_of(endpoint);
    if (!status)
      return status.error();
    return node_report{std::move(*members), *status};
  }

  /// Returns the member list of the node at `endpoint`, sorted by name.
  caf::expected<view> view_of(const std::string& endpoint) {
    return ask<view>(endpoint, cluster::members_atom::value);
  }

  /// Returns the cluster status as the node at `endpoint` sees it.
  caf::expected<cluster::cluster_status> status_of(const std::string& endpoint) {
    return ask<cluster::cluster_status>(endpoint, cluster::status_atom::value);
  }

  /// Forgets the cached agent of `endpoint`.
  void forget(const std::string& endpoint) {
    agents_.erase(endpoint);
  }

  /// Returns the actor registered as `name` in the directory of the node at
  /// `endpoint` (not cached).
  caf::expected<caf::actor> lookup(const std::string& endpoint, const std::string& name) {
    auto dir = directory(endpoint);
    if (!dir)
      return dir;
    caf::expected<caf::actor> result{caf::sec::request_timeout};
    caf::scoped_actor self{sys_};
    self->request(*dir, timeout, caf::get_atom::value, name)
      .receive([&](caf::actor& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Returns the probe's actor system.
  caf::actor_system& system() noexcept {
    return sys_;
  }

private:
  // The wire as on the nodes, and our types.
  static actor::node_config&
  prepare(actor::node_config& cfg,
          const std::function<void(caf::actor_system_config&)>& add_types,
          const std::optional<actor::wire_options>& wire) {
    if (wire)
      cfg.wire = *wire;
    cluster::add_types(cfg);
    if (add_types)
      add_types(cfg);
    cfg.set("scheduler.max-threads", size_t{2});
    auto err = actor::use_wire(cfg, cfg.wire, "test-probe");
    REQUIRE_MESSAGE(!err, actor::render(err));
    return cfg;
  }

  // Asks the agent `(get_atom, what)`; a cached agent that fails is dropped
  // and asked once more through a fresh connection (the node may have
  // restarted on the same port).
  template <class T, class Atom>
  caf::expected<T> ask(const std::string& endpoint, Atom what) {
    bool cached = agents_.count(endpoint) > 0;
    auto result = ask_once<T>(endpoint, what);
    if (!result && cached)
      result = ask_once<T>(endpoint, what);
    return result;
  }

  template <class T, class Atom>
  caf::expected<T> ask_once(const std::string& endpoint, Atom what) {
    auto hdl = agent(endpoint);
    if (!hdl)
      return hdl.error();
    caf::expected<T> result{caf::sec::request_timeout};
    caf::scoped_actor self{sys_};
    self->request(*hdl, timeout, caf::get_atom::value, what)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    if (!result)
      forget(endpoint);
    return result;
  }

  caf::expected<caf::actor> agent(const std::string& endpoint) {
    if (auto i = agents_.find(endpoint); i != agents_.end())
      return i->second;
    auto result = lookup(endpoint, "cluster");
    if (result)
      agents_[endpoint] = *result;
    return result;
  }

  caf::expected<caf::actor> directory(const std::string& endpoint) {
    return actor::remote_directory(sys_, endpoint, timeout);
  }

  actor::node_config cfg_;
  caf::actor_system sys_;
  std::map<std::string, caf::actor> agents_;
};

// -- the kit ------------------------------------------------------------------

/// Node processes of one test, a probe to observe them, and waits with
/// deadlines that fail with the last view seen. Node `i` (from 0, in start
/// order) listens on 127.0.0.`i+2`; as root it also runs under its own group
/// id, which `partition` needs.
class cluster_kit {
public:
  /// Most nodes per kit: `partition` gives each a bit of the conntrack mark.
  static constexpr size_t max_nodes = 30;

  /// How often `await` asks.
  static constexpr auto poll_interval = std::chrono::milliseconds{25};

  /// `add_types` registers more message types with the kit's probe;
  /// `probe_wire` replaces its wire options (e.g. with TLS).
  explicit cluster_kit(const std::function<void(caf::actor_system_config&)>& add_types = {},
                       const std::optional<actor::wire_options>& probe_wire = std::nullopt)
    : probe_(add_types, probe_wire) {
    // nop
  }

  cluster_kit(const cluster_kit&) = delete;
  cluster_kit& operator=(const cluster_kit&) = delete;

  /// Starts node `name` on the next loopback address and waits until it
  /// listens.
  node_process& start(const std::string& name, node_options opts = {}) {
    REQUIRE_MESSAGE(find(name) == nullptr, "node " << name << " started twice");
    REQUIRE(nodes_.size() < max_nodes);
    auto index = nodes_.size();
    auto seeds = opts.seeds ? *opts.seeds : endpoints();
    nodes_.push_back(std::make_unique<node_process>(
      name, "127.0.0." + std::to_string(index + 2), gid_of(index),
      std::move(seeds), opts.consensus, std::move(opts.args), opts.capture_log));
    return *nodes_.back();
  }

  /// Starts `names` one after the other, each joining the ones before.
  void start_all(const strings& names, const node_options& opts = {}) {
    for (auto& name : names)
      start(name, opts);
  }

  /// Returns node `name`; fails the test if there is none.
  node_process& operator[](const std::string& name) {
    auto result = find(name);
    REQUIRE_MESSAGE(result != nullptr, "no node named " << name);
    return *result;
  }

  /// Returns node `name`, if any.
  node_process* find(const std::string& name) {
    for (auto& n : nodes_)
      if (n->name() == name)
        return n.get();
    return nullptr;
  }

  /// Returns the kit's index of `n`, which fixes its address and group id.
  size_t index_of(const node_process& n) const {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].get() == &n)
        return i;
    FAIL("node " << n.name() << " is not from this kit");
    return 0;
  }

  /// Returns the names of the running nodes, in start order.
  strings running() const {
    strings result;
    for (auto& n : nodes_)
      if (n->running())
        result.push_back(n->name());
    return result;
  }

  /// Returns the endpoints of the running nodes, in start order.
  strings endpoints() const {
    strings result;
    for (auto& n : nodes_)
      if (n->running())
        result.push_back(n->endpoint());
    return result;
  }

  /// Returns the group id of node `index` when running as root, else none.
  static std::optional<gid_t> gid_of(size_t index) {
    if (::geteuid() != 0)
      return std::nullopt;
    return node_gid(index); // apart per test process
  }

  /// Returns the kit's probe.
  class probe& probe() noexcept {
    return probe_;
  }

  /// Returns what `n` reports now; fails the test if it does not answer.
  node_report report(node_process& n) {
    auto result = probe_.report(n.endpoint());
    REQUIRE_MESSAGE(result, "node " << n.name() << " did not answer: " << why(result));
    return std::move(*result);
  }

  /// Returns `n`'s member list now; fails the test if it does not answer.
  view view_of(node_process& n) {
    return report(n).members;
  }

  /// Polls `n` until `done` holds for its report, or fails the test after
  /// `timeout` with `what` and the last report (or error) seen.
  void await(node_process& n, const std::string& what,
             const std::function<bool(const node_report&)>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last = "no answer yet";
    for (;;) {
      if (auto rep = probe_.report(n.endpoint())) {
        if (done(*rep))
          return;
        last = to_string(*rep);
      } else {
        last = "error: " + actor::render(rep.error());
      }
      if (std::chrono::steady_clock::now() >= deadline)
        break;
      std::this_thread::sleep_for(poll_interval);
    }
    FAIL("node " << n.name() << ": " << what << " not within "
                 << timeout.count() << " ms; last seen: " << last);
  }

  /// Waits until `n` sees exactly `up` up, `down` down and `removed` removed
  /// (names sorted).
  void await_view(node_process& n, const strings& up, const strings& down = {},
                  const strings& removed = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    using cluster::member_status;
    auto what = "view up=" + to_string(up) + " down=" + to_string(down)
                + " removed=" + to_string(removed);
    await(n, what, [&](const node_report& r) {
      return with_status(r.members, member_status::up) == up
             && with_status(r.members, member_status::down) == down
             && with_status(r.members, member_status::removed) == removed;
    }, timeout);
  }

  /// Waits until `n` reports cluster status `status`.
  void await_status(node_process& n, cluster::cluster_status status,
                    std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    await(n, std::string{"status "} + cluster::to_string(status),
          [&](const node_report& r) { return r.status == status; }, timeout);
  }

  /// Returns whether the nodes `names` (default: every running node) all
  /// report the same member list: names, incarnations and statuses.
  bool views_converged(const strings& names = {}) {
    std::string ignored;
    return converged(names, ignored);
  }

  /// Waits until `views_converged(names)`; on failure shows every view.
  void await_converged(const strings& names = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last;
    while (!converged(names, last)) {
      if (std::chrono::steady_clock::now() >= deadline)
        FAIL("views did not converge within " << timeout.count()
                                              << " ms; last seen:" << last);
      std::this_thread::sleep_for(poll_interval);
    }
  }

private:
  // Compares the views of `names`; `seen` gets one line per node.
  bool converged(const strings& names, std::string& seen) {
    auto xs = names.empty() ? running() : names;
    seen.clear();
    std::optional<view> first;
    bool same = true;
    for (auto& name : xs) {
      auto rep = probe_.view_of((*this)[name].endpoint());
      seen += "\n  " + name + ": "
              + (rep ? to_string(*rep) : "error: " + actor::render(rep.error()));
      if (!rep)
        same = false;
      else if (!first)
        first = std::move(*rep);
      else if (!same_members(*first, *rep))
        same = false;
    }
    return same;
  }

  // Declared before the nodes: they go first, killed while the probe lives.
  class probe probe_;
  std::vector<std::unique_ptr<node_process>> nodes_;
};

// -- partitions ---------------------------------------------------------------

/// A network partition between node processes of one kit, made with
/// iptables (see `netcut` in support/netcut.hpp, which ringvisor-chaos
/// shares): each node's bit in the connection mark is its index in the kit.
/// Needs root and iptables; see `unsupported()`.
///
/// The destructor always unhooks and deletes the chain. Chains left by
/// crashed test processes (their pid is gone) are deleted on construction.
///
/// Example:
/// ```
/// if (skip_without_partitions())
///   return;
/// partition cut{kit, {"a", "b"}, {"c", "d", "e"}};
/// ...
/// cut.heal();
/// ```
class partition {
public:
  /// Cuts every node of each side off from every node of every other side.
  partition(cluster_kit& kit, const std::vector<strings>& sides) {
    auto why = unsupported();
    REQUIRE_MESSAGE(!why, "cannot make a partition: " << *why);
    std::vector<std::vector<cut_member>> members;
    for (auto& side : sides) {
      auto& xs = members.emplace_back();
      for (auto& name : side) {
        auto& n = kit[name];
        REQUIRE_MESSAGE(n.gid(), "node " << n.name() << " has no group id of its own");
        xs.push_back({*n.gid(), uint32_t{1} << kit.index_of(n)});
      }
    }
    auto err = cut_.cut(members);
    REQUIRE_MESSAGE(!err, "cannot make a partition: " << *err);
  }

  /// Cuts the nodes `a` off from the nodes `b`.
  partition(cluster_kit& kit, const strings& a, const strings& b)
    : partition(kit, std::vector<strings>{a, b}) {
    // nop
  }

  partition(const partition&) = delete;
  partition& operator=(const partition&) = delete;

  ~partition() {
    if (!cut_.remove())
      MESSAGE("could not remove iptables chain " << cut_.chain() << ", remove it by hand");
  }

  /// Lets packets through again; connections cut meanwhile stay broken
  /// until the nodes reconnect. Idempotent.
  void heal() {
    cut_.heal();
  }

  /// Returns the iptables chain of this partition.
  const std::string& chain() const noexcept {
    return cut_.chain();
  }

  /// Returns why this process cannot make partitions, or nothing if it can.
  static std::optional<std::string> unsupported() {
    return netcut::unsupported();
  }

  /// Returns the iptables executable, or an empty string.
  static std::string iptables_path() {
    return netcut::iptables_path();
  }

  /// Runs iptables (waiting for its lock) and returns its exit code; its
  /// standard output lines go to `out` if given.
  static int iptables(strings args, strings* out = nullptr) {
    return netcut::iptables(std::move(args), out);
  }

private:
  netcut cut_;
};

/// Returns whether partitions are impossible here, after printing a line
/// starting with `SKIPPED:` (which ctest reports as a skipped test).
inline bool skip_without_partitions() {
  auto why = partition::unsupported();
  if (why)
    MESSAGE("SKIPPED: " << *why);
  return why.has_value();
}

} // namespace ringvisor::test
