// The record keeper as plain code: a few keepers on a simulated network
// (messages queued and delivered by hand, links cut and healed, time moved
// by hand). Quorum writes during a partition, a replica whose ring lags,
// a write crossing a ring change, settling, anti-entropy and inventories.

#include <deque>
#include <map>
#include <memory>
#include <set>

#include <doctest/doctest.h>

#include "record_keeper.hpp"

using namespace ringvisor;
using namespace ringvisor::ring;
using namespace std::chrono_literals;

namespace {

using time_point = std::chrono::steady_clock::time_point;

child_record record(const std::string& id, uint64_t version, bool terminated = false,
                    bool deleted = false) {
  child_record result;
  result.spec.id = id;
  result.spec.type = "worker";
  result.version = version;
  result.terminated = terminated;
  result.deleted = deleted;
  return result;
}

struct network;

/// One node's messaging: everything goes through the network's queue.
struct node_io : record_io {
  network* net = nullptr;
  std::string self;
  std::vector<child_record> ended_records;
  std::vector<child_record> repinned_records;

  bool write(const std::string& member, const child_record& rec, uint64_t digest,
             caf::timespan timeout, std::function<void(write_answer)> done) override;
  void send_records(const std::string& member, std::vector<child_record> xs) override;
  void send_digests(const std::string& member, uint64_t digest,
                    std::vector<range_digest> xs) override;
  void later(caf::timespan delay, std::function<void()> f) override;
  time_point now() override;
  uint64_t wall_us() override;
  void ended(const child_record& rec) override {
    ended_records.push_back(rec);
  }
  void repinned(const child_record& rec) override {
    repinned_records.push_back(rec);
  }
};

/// Keepers that talk through a queue; cut links drop messages, and a
/// request over a cut link fails once its timeout passes.
struct network {
  struct timer {
    time_point due;
    std::function<void()> f;
  };

  std::map<std::string, std::unique_ptr<node_io>> ios;
  std::map<std::string, std::unique_ptr<record_keeper>> nodes;
  std::deque<std::function<void()>> queue;
  std::multimap<time_point, std::function<void()>> timers;
  std::set<std::pair<std::string, std::string>> cut;
  time_point t = time_point{} + 1h;
  uint64_t wall = 1'000'000'000;

  explicit network(std::vector<std::string> names, size_t replicas = 3) {
    record_limits limits;
    limits.replicas = replicas;
    for (auto& name : names) {
      auto io = std::make_unique<node_io>();
      io->net = this;
      io->self = name;
      nodes[name] = std::make_unique<record_keeper>(name, "sup/", *io, limits);
      ios[name] = std::move(io);
    }
    place(names);
  }

  record_keeper& operator[](const std::string& name) {
    return *nodes.at(name);
  }

  static uint64_t digest_of(const std::vector<std::string>& members) {
    std::string x;
    for (auto& m : members)
      x += m + ";";
    return cluster::hash_ring::hash(x);
  }

  /// Places `who` (all nodes by default) on a ring of `members`.
  void place(const std::vector<std::string>& members, std::vector<std::string> who = {}) {
    if (who.empty())
      for (auto& [name, _] : nodes)
        who.push_back(name);
    for (auto& name : who)
      nodes.at(name)->place_on(members, digest_of(members));
  }

  bool linked(const std::string& x, const std::string& y) const {
    return cut.count({x, y}) == 0 && cut.count({y, x}) == 0;
  }

  /// Cuts every link between the groups `xs` and `ys`.
  void partition(const std::vector<std::string>& xs, const std::vector<std::string>& ys) {
    for (auto& x : xs)
      for (auto& y : ys)
        cut.emplace(x, y);
  }

  /// Delivers queued messages until none is left.
  void run() {
    while (!queue.empty()) {
      auto f = std::move(queue.front());
      queue.pop_front();
      f();
    }
  }

  /// Moves time by `dt`, firing timers and delivering what they send.
  void advance(caf::timespan dt) {
    auto end = t + dt;
    run();
    while (!timers.empty() && timers.begin()->first <= end) {
      auto i = timers.begin();
      t = i->first;
      auto f = std::move(i->second);
      timers.erase(i);
      f();
      run();
    }
    t = end;
    using std::chrono::microseconds;
    wall += static_cast<uint64_t>(std::chrono::duration_cast<microseconds>(dt).count());
  }

  /// An id whose preference list on `nodes`' ring is `list` (owner first).
  std::string id_with_list(const std::vector<std::string>& list) {
    auto& any = *nodes.begin()->second;
    for (int i = 0; i < 100000; ++i) {
      auto id = "c" + std::to_string(i);
      auto xs = any.list().replicas_of(id);
      if (std::vector<std::string>(xs.begin(), xs.end()) == list)
        return id;
    }
    FAIL("no id with that list");
    return {};
  }

  /// The version of `id` on `name`, 0 if none.
  uint64_t version_on(const std::string& name, const std::string& id) {
    auto x = nodes.at(name)->list().find(id);
    return x != nullptr ? x->version : 0;
  }

  /// Writes `rec` from `writer` (applied there first) and returns the
  /// outcome once the network is idle and `timeout` passed.
  std::optional<bool> write(const std::string& writer, const child_record& rec,
                            caf::timespan wait = 10s) {
    std::optional<bool> result;
    auto& k = *nodes.at(writer);
    k.apply(rec);
    k.replicate(rec, [&result](bool stored) { result = stored; });
    advance(wait);
    return result;
  }

  /// Anti-entropy: every node sends its digests, then the network drains.
  void exchange() {
    for (auto& [name, k] : nodes)
      k->exchange_digests(true);
    run();
  }
};

bool node_io::write(const std::string& member, const child_record& rec, uint64_t digest,
                    caf::timespan timeout, std::function<void(write_answer)> done) {
  auto* n = net;
  if (!n->nodes.count(member))
    return false;
  if (!n->linked(self, member)) {
    n->timers.emplace(n->t + timeout, [done] { done(write_answer::failed); });
    return true;
  }
  n->queue.push_back([n, member, rec, digest, done] {
    auto ok = n->nodes.at(member)->accept_write(rec, digest);
    n->queue.push_back(
      [done, ok] { done(ok ? write_answer::stored : write_answer::other_ring); });
  });
  return true;
}

void node_io::send_records(const std::string& member, std::vector<child_record> xs) {
  auto* n = net;
  if (!n->linked(self, member))
    return;
  n->queue.push_back([n, member, xs]() mutable { n->nodes.at(member)->receive(xs); });
}

void node_io::send_digests(const std::string& member, uint64_t digest,
                           std::vector<range_digest> xs) {
  auto* n = net;
  if (!n->linked(self, member))
    return;
  n->queue.push_back([n, member, digest, xs, from = self] {
    n->nodes.at(member)->on_digests(from, digest, xs);
  });
}

void node_io::later(caf::timespan delay, std::function<void()> f) {
  net->timers.emplace(net->t + delay, std::move(f));
}

time_point node_io::now() {
  return net->t;
}

uint64_t node_io::wall_us() {
  return net->wall;
}

/// Every node finished an inventory round (they start with what they hold).
void learn_all(network& net) {
  for (auto& [name, k] : net.nodes)
    k->round_complete();
}

} // namespace

TEST_CASE("a write counts once a majority of its list stored it") {
  network net{{"a", "b", "c", "d", "e"}};
  learn_all(net);
  auto id = net.id_with_list({"a", "b", "c"});
  auto rec = record(id, 10);
  CHECK(net.write("a", rec) == true);
  for (auto& name : {"a", "b", "c"})
    CHECK(net.version_on(name, id) == 10);
  for (auto& name : {"d", "e"})
    CHECK(net.version_on(name, id) == 0); // not on its list
}

TEST_CASE("a write during a partition fails on the minority side and converges after the heal") {
  network net{{"a", "b", "c", "d", "e"}};
  learn_all(net);
  auto id = net.id_with_list({"a", "b", "c"});
  net.partition({"a", "d"}, {"b", "c", "e"});
  // The owner alone is no majority of its three replicas.
  CHECK(net.write("a", record(id, 10)) == false);
  CHECK(net.version_on("b", id) == 0);
  // One replica on the other side is enough: two of three.
  net.cut.clear();
  net.partition({"a", "b", "d"}, {"c", "e"});
  CHECK(net.write("a", record(id, 20, true)) == true);
  CHECK(net.version_on("b", id) == 20);
  CHECK(net.version_on("c", id) == 0);
  // Anti-entropy while cut changes nothing across the cut.
  net.exchange();
  CHECK(net.version_on("c", id) == 0);
  // Healed: the next exchange brings c the newest record.
  net.cut.clear();
  net.exchange();
  for (auto& name : {"a", "b", "c"})
    CHECK(net.version_on(name, id) == 20);
  CHECK(net["c"].list().find(id)->terminated);
}

TEST_CASE("a replica whose ring lags is asked again until it has the writer's ring") {
  network net{{"a", "b", "c"}};
  learn_all(net);
  auto id = net.id_with_list({"a", "b", "c"});
  // c still places on an older ring: its answers do not count.
  net.place({"a", "b", "c", "x"}, {"c"});
  net.cut.emplace("a", "b"); // so a needs c for its quorum
  std::optional<bool> stored;
  auto rec = record(id, 10);
  net["a"].apply(rec);
  net["a"].replicate(rec, [&](bool ok) { stored = ok; });
  net.advance(1s);
  CHECK(!stored);
  CHECK(net.version_on("c", id) == 0);
  // c catches up with the view: the next retry counts.
  net.place({"a", "b", "c"}, {"c"});
  net.advance(200ms);
  CHECK(stored == true);
  CHECK(net.version_on("c", id) == 10);
}

TEST_CASE("a write gives up once its deadline passes without a quorum") {
  network net{{"a", "b", "c"}};
  learn_all(net);
  auto id = net.id_with_list({"a", "b", "c"});
  net.place({"a", "b", "c", "x"}, {"b", "c"}); // both lag for good
  auto retries_before = net.timers.size();
  CHECK(net.write("a", record(id, 10), 6s) == false);
  CHECK(net.timers.size() == retries_before); // no retry left behind
  CHECK(net.version_on("b", id) == 0);
}

TEST_CASE("a write crossing a ring change is stored once the replicas see the new ring") {
  network net{{"a", "b", "c", "d"}};
  learn_all(net);
  // An id kept by a, b, c on the old ring.
  auto id = net.id_with_list({"a", "b", "c"});
  net.place({"a", "b", "c"}); // d leaves; a's list is the same three
  net.place({"a", "b", "c", "d"}, {"a"}); // but a's view is behind
  std::optional<bool> stored;
  auto rec = record(id, 10);
  net["a"].apply(rec);
  net["a"].replicate(rec, [&](bool ok) { stored = ok; });
  net.run();
  CHECK(!stored); // b and c refuse: a writes under another ring
  net.place({"a", "b", "c"}, {"a"}); // a's view arrives
  net.advance(200ms);
  CHECK(stored == true);
  for (auto& name : {"b", "c"})
    CHECK(net.version_on(name, id) == 10);
}

TEST_CASE("a delete or terminate learned from a peer stops the child, a run does not") {
  network net{{"a", "b", "c"}};
  learn_all(net);
  auto id = net.id_with_list({"a", "b", "c"});
  CHECK(net.write("a", record(id, 10)) == true);
  CHECK(net.ios["b"]->ended_records.empty());
  CHECK(net.write("a", record(id, 20, true)) == true);
  REQUIRE(net.ios["b"]->ended_records.size() == 1);
  CHECK(net.ios["b"]->ended_records.back().terminated);
  CHECK(net.write("a", record(id, 30, false, true)) == true);
  REQUIRE(net.ios["b"]->ended_records.size() == 2);
  CHECK(net.ios["b"]->ended_records.back().deleted);
  // An older record changes nothing, a tombstone stays.
  net["b"].apply(record(id, 25));
  CHECK(net["b"].list().alive(id) == nullptr);
}

TEST_CASE("after a join, every record is kept by exactly its new list") {
  network net{{"a", "b", "c", "d"}};
  net.place({"a", "b", "c"});
  learn_all(net);
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) {
    ids.push_back("k" + std::to_string(i));
    auto rec = record(ids.back(), 10 + i);
    auto owner = std::string{*net["a"].list().owner_of(ids.back())};
    REQUIRE(net.write(owner, rec) == true);
  }
  CHECK(net["d"].list().size() == 0);
  net.place({"a", "b", "c", "d"});
  for (auto& [name, k] : net.nodes)
    k->settle({});
  net.run();
  for (auto& [name, k] : net.nodes)
    k->forget_left([](const std::string&) { return false; });
  size_t held = 0;
  for (auto& id : ids) {
    auto list = net["a"].list().replicas_of(id);
    for (auto& node : net.nodes) { // a pair: clang cannot capture bindings in CHECK_MESSAGE
      auto& name = node.first;
      auto& k = node.second;
      bool on = std::find(list.begin(), list.end(), name) != list.end();
      CHECK_MESSAGE((k->list().find(id) != nullptr) == on, id << " on " << name);
      held += k->list().find(id) != nullptr;
    }
  }
  CHECK(held == 3 * ids.size());
}

TEST_CASE("an inventory is cut between pieces and the rest comes in the next rounds") {
  network net{{"a", "b"}, 2};
  // b knows many records of ranges a owns; a knows none (it restarted).
  std::vector<std::string> ids;
  for (int i = 0; ids.size() < 4000; ++i) {
    auto id = "k" + std::to_string(i);
    if (net["a"].list().owned_by(id, "a")) {
      ids.push_back(id);
      net["b"].apply(record(id, 10));
    }
  }
  size_t rounds = 0;
  for (;;) {
    ++rounds;
    REQUIRE(rounds < 10);
    inventory inv;
    net["b"].answer_inventory(net["a"].inventory_ask("b"), "a", inv);
    CHECK(inv.records.size() <= 5000 + 4000 / child_list::pieces);
    net["a"].inventory_answered("b", inv, true);
    if (!inv.more)
      break;
  }
  CHECK(rounds == 1); // 4,000 records fit one answer
  CHECK(net["a"].list().size() == ids.size());
}

TEST_CASE("a cut inventory answer is resumed where it stopped, and a new ring starts over") {
  network net{{"a", "b"}, 2};
  record_limits small;
  small.replicas = 2;
  small.per_inventory = 100;
  node_io io_b;
  io_b.net = &net;
  io_b.self = "b";
  record_keeper b{"b", "sup/", io_b, small};
  b.place_on({"a", "b"}, network::digest_of({"a", "b"}));
  // Both know records the other lacks: their pieces differ even after an
  // answer was applied, so only what a remembers moves it on.
  size_t owned = 0;
  for (int i = 0; owned < 2000; ++i) {
    auto id = "k" + std::to_string(i);
    if (net["a"].list().owned_by(id, "a"))
      ++owned % 2 ? b.apply(record(id, 10)) : net["a"].apply(record(id, 10));
  }
  size_t rounds = 0;
  for (bool more = true; more; ++rounds) {
    REQUIRE(rounds < 40);
    inventory inv;
    auto ask = net["a"].inventory_ask("b");
    b.answer_inventory(ask, "a", inv);
    more = inv.more;
    net["a"].inventory_answered("b", inv, true);
    if (rounds == 2) { // a stale answer (an older ring's) carries records, not progress
      inventory stale;
      b.answer_inventory(net["a"].inventory_ask("b"), "a", stale);
      auto before = net["a"].inventory_ask("b").pieces.size();
      net["a"].inventory_answered("b", stale, false);
      CHECK(net["a"].inventory_ask("b").pieces.size() == before);
    }
  }
  CHECK(rounds >= 4); // 1,000 records, whole pieces of about 60 until 100 or more
  CHECK(net["a"].list().size() == 2000);
  // All pieces carried: the next ask covers every piece again (to compare).
  CHECK(net["a"].inventory_ask("b").pieces.size()
        == net["a"].list().digests("a").size() + net["a"].list().learn_digests("a", "b").size());
}

TEST_CASE("a pin outside the range stores the write, and a restarted pin learns its children") {
  network net{{"a", "b", "c", "d"}, 2};
  // A child of a's range that d, outside it, is pinned to.
  std::string id;
  for (int i = 0; id.empty(); ++i) {
    auto x = "k" + std::to_string(i);
    auto list = net["a"].list().replicas_of(x);
    if (list.front() == "a" && std::find(list.begin(), list.end(), "d") == list.end())
      id = x;
  }
  net["a"].apply(record(id, 10));
  auto rec = net["a"].repinned(*net["a"].list().find(id), "d");
  net["a"].apply(rec);
  CHECK(net.ios["a"]->repinned_records.size() == 1);
  bool stored = false;
  net["a"].replicate(rec, [&](bool ok) { stored = ok; });
  net.run();
  CHECK(stored);
  REQUIRE(net["d"].list().find(id) != nullptr);
  CHECK(net["d"].list().owned_by(id, "d"));
  CHECK(net.ios["d"]->repinned_records.size() == 1);
  // d restarts empty: every inventory answer names what is pinned to it.
  record_limits limits;
  limits.replicas = 2;
  node_io io_d;
  io_d.net = &net;
  io_d.self = "d";
  record_keeper d{"d", "sup/", io_d, limits};
  d.place_on({"a", "b", "c", "d"}, network::digest_of({"a", "b", "c", "d"}));
  CHECK(d.inventory_ask("a").pinned.empty());
  inventory inv;
  net["a"].answer_inventory(d.inventory_ask("a"), "d", inv);
  d.inventory_answered("a", inv, true);
  REQUIRE(d.list().find(id) != nullptr);
  CHECK(d.list().owned_by(id, "d"));
  CHECK(d.inventory_ask("a").pinned == std::vector<std::string>{id});
}

TEST_CASE("anti-entropy waits until a node learned its ranges, and expires old tombstones") {
  network net{{"a", "b", "c"}};
  auto id = net.id_with_list({"a", "b", "c"});
  net["a"].apply(record(id, 10));
  net.exchange(); // nobody learned yet: nothing is sent
  CHECK(net.version_on("b", id) == 0);
  learn_all(net);
  net.exchange();
  CHECK(net.version_on("b", id) == 10);
  CHECK(net.version_on("c", id) == 10);
  // A tombstone older than its time to live goes, and an expired one that a
  // peer sends is not taken back.
  CHECK(net.write("a", record(id, 20, false, true)) == true);
  net.wall += 25ull * 3600 * 1000 * 1000;
  net["a"].exchange_digests(false);
  CHECK(net["a"].list().find(id) == nullptr);
  net["a"].apply(record(id, 20, false, true));
  CHECK(net["a"].list().find(id) == nullptr);
}

TEST_CASE("a node's own versions stay above every version it has seen") {
  network net{{"a"}, 1};
  net["a"].apply(record("x", net.wall + 5'000'000)); // a peer's clock runs ahead
  auto v = net["a"].next_version();
  CHECK(v > net.wall + 5'000'000);
  CHECK(net["a"].next_version() > v);
  auto changed = net["a"].changed(*net["a"].list().find("x"), true, false);
  CHECK(changed.version > v);
  CHECK(changed.terminated);
}
