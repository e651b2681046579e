// The superhero dispatch demo between real processes: its HTTP API (token,
// errors, metrics), ringvisor-ctl against it (output, --json, exit codes),
// and heroes that keep their records when their node leaves.

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hero.hpp"
#include "ringvisor/ring/all.hpp"
#include "support/cluster_kit.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr auto token = "test-token";

struct dispatch_fixture {
  cluster_kit kit{[](caf::actor_system_config& cfg) {
    ring::add_types(cfg);
    dispatch::add_types(cfg);
  }};
  std::map<std::string, std::string> web; // node -> "http://127.0.0.1:port"

  // Heroes act every 50 ms and cannot fall: the tests count their wins.
  void start_nodes(const strings& names) {
    node_options opts;
    opts.args = {std::string{"--dispatch.token="} + token, "--dispatch.tick=50ms",
                 "--dispatch.max-health=1000000000"};
    for (auto& name : names) {
      auto& n = kit.start(name, opts);
      auto url = n.read_line("dashboard ", 5s);
      REQUIRE_MESSAGE(url, "node " << name << " printed no dashboard line");
      web[name] = url->substr(0, url->find("/?token="));
    }
    for (auto& name : names)
      kit.await_view(kit[name], names);
    for (auto& name : names)
      kit.await_status(kit[name], cluster::cluster_status::up);
  }

  httplib::Client client(const std::string& node) {
    httplib::Client cli{web.at(node)};
    cli.set_read_timeout(10, 0);
    return cli;
  }

  static httplib::Headers auth(const std::string& t = token) {
    return {{"Authorization", "Bearer " + t}};
  }

  json state(const std::string& node) {
    auto res = client(node).Get("/api/state");
    REQUIRE_MESSAGE(res, "GET /api/state on " << node << ": " << httplib::to_string(res.error()));
    REQUIRE_MESSAGE(res->status == 200, res->body);
    return json::parse(res->body);
  }

  /// Creates a hero through `node`'s API; returns where it runs.
  std::string create(const std::string& node, const std::string& name) {
    auto res = client(node).Post("/api/heroes", auth(), json{{"name", name}}.dump(),
                                 "application/json");
    REQUIRE(res);
    REQUIRE_MESSAGE(res->status == 201, res->body);
    return json::parse(res->body)["node"];
  }

  /// Waits until `node`'s state satisfies `ok`; returns it.
  template <class Predicate>
  json await_state(const std::string& node, Predicate ok, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    json last;
    for (;;) {
      last = state(node);
      if (ok(last))
        return last;
      if (std::chrono::steady_clock::now() > deadline)
        break;
      std::this_thread::sleep_for(50ms);
    }
    FAIL("state of " << node << " never as expected; last: " << last.dump());
    return last;
  }

  static const json* hero(const json& s, const std::string& id) {
    for (auto& h : s["heroes"])
      if (h["id"] == id)
        return &h;
    return nullptr;
  }

  /// Runs ringvisor-ctl against `node`.
  test::shell_result ctl(const std::string& node, const std::string& args) {
    return test::run_shell(std::string{RINGVISOR_CTL_BIN} + " --node " + kit[node].endpoint()
                           + " " + args);
  }

  json ctl_json(const std::string& node, const std::string& args) {
    auto r = ctl(node, "--json " + args);
    REQUIRE_MESSAGE(r.code == 0, args << ": " << r.out);
    return json::parse(r.out);
  }
};

/// Opens a TCP connection to `base` ("http://host:port"); -1 if that
/// failed. A `nonblocking` one may still be connecting.
int connect_to(const std::string& base, bool nonblocking = false) {
  auto colon = base.rfind(':');
  auto fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(base.substr(colon + 1))));
  ::inet_pton(AF_INET, base.substr(7, colon - 7).c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
      || (nonblocking && errno == EINPROGRESS))
    return fd;
  ::close(fd);
  return -1;
}

/// Sends `request` as it is to `base` ("http://host:port") and returns what
/// came back until the server closed.
std::string raw_http(const std::string& base, const std::string& request) {
  auto fd = connect_to(base);
  REQUIRE(fd >= 0);
  timeval limit{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL)
          == static_cast<ssize_t>(request.size()));
  std::string result;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
    result.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return result;
}

} // namespace

TEST_CASE_FIXTURE(dispatch_fixture, "the dashboard refuses a taken port, wants the token before "
                                    "a body, and names without control characters") {
  start_nodes({"a"});
  // A second node with the same HTTP port refuses to start (and never joins).
  auto port = web["a"].substr(web["a"].rfind(':') + 1);
  auto imposter = test::run_shell(
    std::string{"timeout 20 "} + RINGVISOR_NODE_BIN + " --ringvisor.name=imposter"
    + " --ringvisor.host=127.0.0.9 --ringvisor.port=0 --dispatch.token=x"
    + " --dispatch.http-port=" + port + " --ringvisor.seeds=[\\\"" + kit["a"].endpoint()
    + "\\\"]");
  CHECK_MESSAGE(imposter.code == 1, imposter.out);
  CHECK_MESSAGE(imposter.out.find("dashboard cannot listen on 127.0.0.1:" + port)
                  != std::string::npos,
                imposter.out);
  CHECK(state("a")["members"].size() == 1);

  // A change without a body: the token first, then a JSON error.
  auto bare = "POST /api/heroes HTTP/1.1\r\nHost: a\r\nConnection: close\r\n";
  auto anon = raw_http(web["a"], std::string{bare} + "\r\n");
  CHECK_MESSAGE(anon.rfind("HTTP/1.1 401", 0) == 0, anon);
  CHECK_MESSAGE(anon.find("dispatch.token") != std::string::npos, anon);
  auto empty = raw_http(web["a"], std::string{bare} + "Authorization: Bearer " + token + "\r\n\r\n");
  CHECK_MESSAGE(empty.rfind("HTTP/1.1 400", 0) == 0, empty);
  CHECK_MESSAGE(empty.find("\"error\"") != std::string::npos, empty);
  auto nowhere = client("a").Get("/api/nothing");
  REQUIRE(nowhere);
  CHECK(nowhere->status == 404);
  CHECK(json::parse(nowhere->body).contains("error"));

  // Names: no control characters (ESC, NUL, TAB, C1's CSI).
  for (std::string bad : std::vector<std::string>{"Storm\x1b[31m", std::string{"Nul\0l", 5},
                                                  "Tab\tbed", "C1\xc2\x9b"}) {
    auto res =
      client("a").Post("/api/heroes", auth(), json{{"name", bad}}.dump(), "application/json");
    REQUIRE(res);
    CHECK_MESSAGE(res->status == 400, bad << ": " << res->body);
  }
  CHECK(create("a", "Zo\xc3\xab") == "a");

  // Incarnations as ringvisor-ctl prints them: 64 bits, as a string.
  auto members = ctl_json("a", "members");
  REQUIRE(members.size() == 1);
  auto listed = state("a")["members"][0]["incarnation"];
  REQUIRE(listed.is_string());
  CHECK(listed.get<std::string>() == std::to_string(members[0]["incarnation"].get<uint64_t>()));
}

TEST_CASE_FIXTURE(dispatch_fixture, "a hero is retired through a node that was restarted") {
  start_nodes({"a", "b", "c"});
  auto owner = create("a", "Storm");
  auto other = owner == "c" ? std::string{"b"} : std::string{"c"};
  await_state(other, [&](const json& x) { return hero(x, "storm") != nullptr; });
  CHECK(kit[other].terminate() == 0);
  kit[other].restart();
  auto url = kit[other].read_line("dashboard ", 10s);
  REQUIRE(url);
  web[other] = url->substr(0, url->find("/?token="));
  kit.await_status(kit[other], cluster::cluster_status::up);
  await_state(other, [&](const json& x) { return hero(x, "storm") != nullptr; });
  auto res = client(other).Delete("/api/heroes/storm", auth());
  REQUIRE(res);
  CHECK_MESSAGE(res->status == 200, res->body);
  await_state("a", [&](const json& x) { return hero(x, "storm") == nullptr; });
}

TEST_CASE_FIXTURE(dispatch_fixture, "the dispatch API creates, lists and retires heroes, "
                                    "wants the token for changes and reports metrics") {
  start_nodes({"a", "b", "c"});
  auto a = client("a");
  auto page = a.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("ringvisor dispatch") != std::string::npos);

  auto body = json{{"name", "Storm"}}.dump();
  auto anon = a.Post("/api/heroes", body, "application/json");
  REQUIRE(anon);
  CHECK(anon->status == 401);
  CHECK(anon->body.find("dispatch.token") != std::string::npos);
  auto wrong = a.Post("/api/heroes", auth("test-tokem"), body, "application/json");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto bad = a.Post("/api/heroes", auth(), "{\"nam\":1}", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  auto nameless = a.Post("/api/heroes", auth(), json{{"name", "!?"}}.dump(), "application/json");
  REQUIRE(nameless);
  CHECK(nameless->status == 400);

  auto owner = create("a", "Storm");
  auto twice = a.Post("/api/heroes", auth(), body, "application/json");
  REQUIRE(twice);
  CHECK(twice->status == 409);
  for (auto node : {"a", "b", "c"}) {
    auto s = await_state(node, [&](const json& x) { return hero(x, "storm") != nullptr; });
    CHECK(s["status"] == "up");
    CHECK(s["members"].size() == 3);
    CHECK((*hero(s, "storm"))["node"] == owner);
    CHECK((*hero(s, "storm"))["name"] == "Storm");
  }

  auto metrics = client(owner).Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  auto& m = metrics->body;
  CHECK(m.find("ringvisor_cluster_members{node=\"" + owner + "\",status=\"up\"} 3")
        != std::string::npos);
  CHECK(m.find("ringvisor_ring_children{node=\"" + owner + "\",sup=\"heroes\"} 1")
        != std::string::npos);
  CHECK(m.find("ringvisor_http_request_duration_seconds_count") != std::string::npos);
  // The wire's links: the two other members and this test's clients.
  auto value_of = [&m](const std::string& series) {
    auto at = m.find(series + " ");
    return at == std::string::npos ? -1.0 : std::stod(m.substr(at + series.size() + 1));
  };
  CHECK(value_of("ringvisor_wire_links{node=\"" + owner + "\",state=\"peer\"}") >= 2);
  CHECK(value_of("ringvisor_wire_events_total{node=\"" + owner + "\",event=\"peers_up\"}") >= 2);
  CHECK(value_of("ringvisor_wire_events_total{node=\"" + owner + "\",event=\"handshake_failures\"}")
        == 0);

  auto retire = client("b").Delete("/api/heroes/storm", auth());
  REQUIRE(retire);
  CHECK(retire->status == 200);
  await_state("c", [&](const json& x) { return hero(x, "storm") == nullptr; });
  auto again = client("b").Delete("/api/heroes/storm", auth());
  REQUIRE(again);
  CHECK(again->status == 404);

  auto huge = a.Post("/api/heroes", auth(), std::string(1 << 20, 'x'), "application/json");
  REQUIRE(huge);
  CHECK(huge->status == 413);

  auto stop_unknown = a.Post("/api/nodes/zz/stop", auth(), "", "application/json");
  REQUIRE(stop_unknown);
  CHECK(stop_unknown->status == 404);
  auto stop_anon = a.Post("/api/nodes/b/stop", "", "application/json");
  REQUIRE(stop_anon);
  CHECK(stop_anon->status == 401);
}

TEST_CASE_FIXTURE(dispatch_fixture, "an operator pauses and resumes a hero through any node, "
                                    "and every node lists who changed what") {
  start_nodes({"a", "b"});
  create("a", "Storm");
  auto fights = [](const json& h) { return h["wins"].get<int>() + h["losses"].get<int>(); };
  await_state("a",
              [&](const json& x) { return hero(x, "storm") && fights(*hero(x, "storm")) > 0; });

  auto anon = client("b").Post("/api/heroes/storm/pause", "", "application/json");
  REQUIRE(anon);
  CHECK(anon->status == 401);
  auto paused = client("b").Post("/api/heroes/storm/pause", auth(), "", "application/json");
  REQUIRE(paused);
  REQUIRE_MESSAGE(paused->status == 200, paused->body);
  CHECK(json::parse(paused->body)["paused"] == true);
  auto held =
    await_state("a", [&](const json& x) { return (*hero(x, "storm"))["paused"] == true; });
  std::this_thread::sleep_for(500ms); // ten ticks
  auto later = state("a");
  CHECK(fights(*hero(later, "storm")) == fights(*hero(held, "storm")));
  CHECK((*hero(later, "storm"))["last"] == "paused");

  auto resumed = client("a").Post("/api/heroes/storm/resume", auth(), "", "application/json");
  REQUIRE(resumed);
  REQUIRE_MESSAGE(resumed->status == 200, resumed->body);
  CHECK(json::parse(resumed->body)["paused"] == false);
  await_state(
    "b", [&](const json& x) { return fights(*hero(x, "storm")) > fights(*hero(held, "storm")); });
  auto unknown = client("a").Post("/api/heroes/nobody/pause", auth(), "", "application/json");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);

  // Both nodes list every change, the newest first: not the one without the token.
  for (auto node : {"a", "b"}) {
    auto audit = state(node)["audit"];
    CAPTURE(audit.dump());
    REQUIRE(audit.size() == 4);
    auto is = [&](size_t i, const char* action, const char* target, const char* through) {
      CHECK(audit[i]["action"] == action);
      CHECK(audit[i]["target"] == target);
      CHECK(audit[i]["node"] == through);
      CHECK(audit[i]["client"] == "127.0.0.1");
    };
    is(0, "pause", "nobody", "a");
    CHECK(audit[0]["outcome"].get<std::string>().find("not_found") != std::string::npos);
    is(1, "resume", "storm", "a");
    is(2, "pause", "storm", "b");
    is(3, "create", "storm", "a");
    for (size_t i = 1; i < 4; ++i)
      CHECK(audit[i]["outcome"] == "ok");
    CHECK(audit[0]["at_ms"] >= audit[1]["at_ms"]);
  }
}

TEST_CASE_FIXTURE(dispatch_fixture, "an operator moves a hero to a node with its record, "
                                    "and back to its ring owner") {
  start_nodes({"a", "b", "c"});
  create("a", "Storm");
  auto fights = [](const json& h) { return h["wins"].get<int>() + h["losses"].get<int>(); };
  auto before = await_state(
    "a", [&](const json& x) { return hero(x, "storm") && fights(*hero(x, "storm")) > 0; });
  auto home = (*hero(before, "storm"))["node"].get<std::string>();
  CHECK((*hero(before, "storm"))["pin"].is_null());
  auto away = home == "c" ? std::string{"b"} : std::string{"c"};
  auto move = [&](const char* via, const std::string& body) {
    auto res = client(via).Post("/api/heroes/storm/move", auth(), body, "application/json");
    REQUIRE(res);
    return *res;
  };
  CHECK(move("a", R"({"to": "b"})").status == 400);
  CHECK(move("a", R"({"node": "nobody"})").status == 404);
  auto moved = move("b", json{{"node", away}}.dump());
  REQUIRE_MESSAGE(moved.status == 200, moved.body);
  auto there = await_state("a", [&](const json& x) {
    auto h = hero(x, "storm");
    return h && (*h)["node"] == away && (*h)["pin"] == away;
  });
  CHECK(fights(*hero(there, "storm")) >= fights(*hero(before, "storm"))); // its record came along
  CHECK((*hero(there, "storm"))["moves"] == 1);
  auto back = move("c", R"({"node": ""})");
  REQUIRE_MESSAGE(back.status == 200, back.body);
  await_state("b", [&](const json& x) {
    auto h = hero(x, "storm");
    return h && (*h)["node"] == home && (*h)["pin"].is_null();
  });
  auto audit = state("a")["audit"];
  CAPTURE(audit.dump());
  REQUIRE(audit.size() >= 3);
  CHECK(audit[0]["target"] == "storm to its ring owner");
  CHECK(audit[0]["node"] == "c");
  CHECK(audit[1]["target"] == "storm to " + away);
  CHECK(audit[1]["outcome"] == "ok");
  CHECK(audit[2]["target"] == "storm to nobody");
  CHECK(audit[2]["outcome"].get<std::string>().find("not_member") != std::string::npos);
}

TEST_CASE_FIXTURE(dispatch_fixture, "ringvisor-ctl reads and calls the dispatch cluster, "
                                    "with --json and exit codes") {
  start_nodes({"a", "b", "c"});
  auto members = ctl_json("b", "members");
  REQUIRE(members.size() == 3);
  for (auto& m : members)
    CHECK(m["status"] == "up");
  auto text = ctl("b", "members");
  CHECK(text.code == 0);
  CHECK(text.out.find("ENDPOINT") != std::string::npos);
  CHECK(ctl("a", "ring").out == "a\nb\nc\n");

  auto owner = create("c", "Wonder Woman");
  auto children = ctl_json("a", "which-children heroes");
  REQUIRE(children.size() == 1);
  CHECK(children[0]["id"] == "wonder-woman");
  CHECK(children[0]["type"] == "hero");
  CHECK(children[0]["restart"] == "transient");
  CHECK(children[0]["node"] == owner);
  CHECK(ctl("a", "find heroes wonder-woman").out.rfind("wonder-woman runs on " + owner, 0) == 0);

  auto record = ctl_json("a", "call heroes wonder-woman get")["reply"][0];
  CHECK(record["name"] == "Wonder Woman");
  CHECK(record["node"] == owner);
  auto healed = ctl("b", "exec heroes wonder-woman heal");
  CHECK(healed.code == 0);
  CHECK(healed.out == "1000000000\n");

  CHECK(ctl("a", "find heroes nobody").code == 3);
  CHECK(ctl("a", "find villains wonder-woman").code == 3);
  CHECK(ctl("a", "exec heroes wonder-woman fly").code == 3);
  CHECK(ctl("a", "call heroes wonder-woman fly").code == 3);  // no such message
  CHECK(ctl("a", "call heroes wonder-woman tick").code == 3); // its own timer's only
  CHECK(ctl("a", "call heroes wonder-woman much-too-long").code == 2);
  CHECK(ctl("a", "fly heroes").code == 2);
  CHECK(ctl("a", "leave zz").code == 3);
  auto nowhere = ::system((std::string{RINGVISOR_CTL_BIN}
                           + " --node 127.0.0.1:1 --timeout 2 members >/dev/null 2>&1")
                            .c_str());
  CHECK(WEXITSTATUS(nowhere) == 4);

  // A graceful leave moves the hero with its record.
  std::this_thread::sleep_for(300ms); // a few fights to count
  auto before = ctl_json("a", "call heroes wonder-woman get")["reply"][0];
  auto other = owner == "a" ? std::string{"b"} : std::string{"a"};
  auto left = ctl(owner, "leave " + owner); // asked through the node that leaves
  CHECK_MESSAGE(left.code == 0, left.out);
  CHECK(left.out == owner + " left\n");
  CHECK(kit[owner].await_exit(10s) == 0);
  auto after = ctl_json(other, "call heroes wonder-woman get")["reply"][0];
  CHECK(after["node"] != owner);
  CHECK(after["wins"].get<int>() >= before["wins"].get<int>());
  CHECK(after["losses"].get<int>() >= before["losses"].get<int>());
  CHECK(after["moves"].get<int>() == before["moves"].get<int>() + 1);
}

TEST_CASE_FIXTURE(dispatch_fixture, "heroes keep their records when their node is stopped "
                                    "from the dashboard and come back after a kill -9") {
  start_nodes({"a", "b", "c", "d"});
  for (auto name : {"Batman", "Storm", "Rogue", "Flash", "Thor", "Hulk", "Cyclops", "Vision"})
    create("a", name);
  std::this_thread::sleep_for(500ms); // records to keep
  auto before = await_state("a", [](const json& s) { return s["heroes"].size() == 8; });
  // Stop the node with the most heroes, from another node's dashboard.
  auto busiest = std::max_element(before["members"].begin(), before["members"].end(),
                                  [](auto& x, auto& y) { return x["heroes"] < y["heroes"]; });
  std::string victim = (*busiest)["name"];
  REQUIRE((*busiest)["heroes"].get<int>() > 0);
  std::string via = victim == "a" ? "b" : "a";
  auto res = client(via).Post("/api/nodes/" + victim + "/stop", auth(), "", "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(kit[victim].await_exit(10s) == 0);
  auto off = [](const std::string& node) {
    return [node](const json& s) {
      return s["heroes"].size() == 8
             && std::all_of(s["heroes"].begin(), s["heroes"].end(),
                            [&](auto& h) { return h["node"] != node; });
    };
  };
  auto after = await_state(via, off(victim));
  for (auto& b : before["heroes"]) {
    auto a = hero(after, b["id"]);
    REQUIRE(a != nullptr);
    CHECK_MESSAGE((*a)["wins"] >= b["wins"], b["id"]);
    CHECK_MESSAGE((*a)["losses"] >= b["losses"], b["id"]);
    if (b["node"] == victim)
      CHECK_MESSAGE((*a)["moves"] > b["moves"], b["id"]);
  }
  auto metrics = client(via).Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("ringvisor_cluster_members{node=\"" + via + "\",status=\"removed\"} 1")
        != std::string::npos);

  // kill -9 another node (two of three stay, a majority): its heroes start
  // again on the others.
  std::string killed;
  for (auto n : {"a", "b", "c", "d"})
    if (n != victim && n != via)
      killed = n;
  kit[killed].kill9();
  await_state(via, off(killed));
}

TEST_CASE_FIXTURE(dispatch_fixture, "a node whose seeds never answer refuses changes and runs nothing until ringvisor-ctl form") {
  node_options opts;
  opts.seeds = strings{"127.0.0.1:1"}; // nobody listens there
  opts.args = {std::string{"--dispatch.token="} + token, "--dispatch.tick=50ms"};
  auto& n = kit.start("a", opts);
  auto url = n.read_line("dashboard ", 5s);
  REQUIRE(url);
  web["a"] = url->substr(0, url->find("/?token="));
  // Long enough for many connect attempts: it waits, and says why.
  std::this_thread::sleep_for(1500ms);
  CHECK(kit.report(n).status == cluster::cluster_status::starting);
  // A change is refused at once, and leaves nothing behind for later.
  auto created = client("a").Post("/api/heroes", auth(), json{{"name", "Lone"}}.dump(),
                                  "application/json");
  REQUIRE(created);
  CHECK_MESSAGE(created->status != 201, "a hero was created on a node that has not formed");
  CHECK_MESSAGE(created->body.find("not up in a cluster yet") != std::string::npos,
                created->body);
  auto formed = ctl("a", "form");
  CHECK_MESSAGE(formed.code == 0, formed.out);
  kit.await_status(n, cluster::cluster_status::up);
  CHECK(create("a", "Lone") == "a");
}

TEST_CASE_FIXTURE(dispatch_fixture, "the dashboard answers within a second while 200 clients "
                                    "dribble headers and 3,000 connections flood it") {
  rlimit fds{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &fds) == 0);
  fds.rlim_cur = fds.rlim_max;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &fds) == 0);
  REQUIRE_MESSAGE(fds.rlim_cur >= 4000, "this test needs 4000 descriptors");
  start_nodes({"a"});
  auto base = web["a"];
  auto open_fds = [pid = kit["a"].pid()] {
    auto dir = std::filesystem::directory_iterator{"/proc/" + std::to_string(pid) + "/fd"};
    return std::distance(std::filesystem::begin(dir), std::filesystem::end(dir));
  };
  auto idle_fds = open_fds();
  auto oversize = raw_http(base, "GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'x') + "\r\n\r\n");
  CHECK_MESSAGE(oversize.rfind("HTTP/1.1 431", 0) == 0, oversize);

  // 200 slow clients: each sends a header line every 2 s, and connects
  // again when the node closes it.
  std::atomic<bool> done{false};
  std::thread slow{[&] {
    std::vector<int> conns(200, -1);
    while (!done) {
      for (auto& fd : conns) {
        char buf[512];
        auto closed = fd < 0 || ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0
                      || (errno != EAGAIN && errno != EWOULDBLOCK);
        if (closed) {
          if (fd >= 0)
            ::close(fd);
          fd = connect_to(base);
          if (fd >= 0)
            ::send(fd, "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL);
        } else {
          ::send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
        }
      }
      for (int i = 0; i < 40 && !done; ++i)
        std::this_thread::sleep_for(50ms);
    }
    for (auto fd : conns)
      if (fd >= 0)
        ::close(fd);
  }};

  // Someone who wants the page: a request every 200 ms, each answered
  // within a second.
  auto probe = [&](std::chrono::milliseconds length) {
    auto until = std::chrono::steady_clock::now() + length;
    int asked = 0;
    int answered = 0;
    auto slowest = std::chrono::steady_clock::duration{0};
    while (std::chrono::steady_clock::now() < until) {
      httplib::Client cli{base};
      cli.set_connection_timeout(1, 0);
      cli.set_read_timeout(1, 0);
      auto t0 = std::chrono::steady_clock::now();
      auto res = cli.Get("/favicon.svg");
      auto took = std::chrono::steady_clock::now() - t0;
      ++asked;
      if (res && res->status == 200 && took < 1s)
        ++answered;
      slowest = std::max(slowest, took);
      std::this_thread::sleep_for(200ms);
    }
    CHECK_MESSAGE(answered == asked,
                  answered << " of " << asked << " requests answered within 1 s; slowest "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count()
                           << " ms");
  };
  probe(5s);

  // And 3,000 connections that send nothing: the node holds a bounded
  // number of them.
  std::vector<int> flood;
  for (int i = 0; i < 3000; ++i)
    if (auto fd = connect_to(base, true); fd >= 0)
      flood.push_back(fd);
  CHECK(flood.size() == 3000);
  probe(4s);
  auto busy_fds = open_fds();
  done = true;
  slow.join();
  for (auto fd : flood)
    ::close(fd);
  // Heads in progress (512), requests waiting for a worker (64), workers.
  CHECK_MESSAGE(busy_fds <= idle_fds + 512 + 64 + 4,
                "open descriptors: " << idle_fds << " idle, " << busy_fds << " flooded");
  auto metrics = client("a").Get("/metrics");
  REQUIRE(metrics);
  auto evicted = std::string{"ringvisor_http_connections_total{node=\"a\",event=\"evicted\"} "};
  auto at = metrics->body.find(evicted);
  REQUIRE_MESSAGE(at != std::string::npos, metrics->body);
  CHECK(std::stoll(metrics->body.substr(at + evicted.size())) >= 2000);
}
