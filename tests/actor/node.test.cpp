#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>

#include "support/printers.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/node.hpp"
#include "support/test_system.hpp"

using namespace ringvisor;
using strings = std::vector<std::string>;

namespace {

std::unique_ptr<actor::node> start_node(actor::node_config& cfg,
                                        strings args = {}) {
  args.push_back("--ringvisor.log-level=warn");
  args.push_back("--scheduler.max-threads=2");
  REQUIRE(!cfg.read(args, ""));
  auto n = actor::node::start(cfg);
  REQUIRE_MESSAGE(n, ringvisor::test::why(n));
  return std::move(*n);
}

// Captures what is written to standard error while `f` runs.
template <class F>
std::string capture_stderr(F f) {
  fflush(stderr);
  char path[] = "/tmp/ringvisor-stderr-XXXXXX";
  int fd = mkstemp(path);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  f();
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  std::ifstream in{path};
  std::stringstream out;
  out << in.rdbuf();
  unlink(path);
  return out.str();
}

} // namespace

TEST_CASE("a node listens on an ephemeral port and has a growing incarnation") {
  actor::node_config cfg1;
  actor::node_config cfg2;
  auto n1 = start_node(cfg1, {"--ringvisor.name=n1"});
  auto n2 = start_node(cfg2, {"--ringvisor.name=n2"});
  CHECK(n1->identity().name == "n1");
  CHECK(n1->identity().port != 0);
  CHECK(n1->identity().endpoint()
        == "127.0.0.1:" + std::to_string(n1->identity().port));
  // n2 started later, so a view that meets both keeps n2's incarnation.
  CHECK(n2->identity().incarnation > n1->identity().incarnation);
}

TEST_CASE("a node whose port is taken fails to start with a clear error") {
  actor::node_config cfg1;
  auto n1 = start_node(cfg1);
  actor::node_config cfg2;
  REQUIRE(!cfg2.read(strings{"--ringvisor.port=" + std::to_string(n1->identity().port),
                             "--ringvisor.log-level=off"},
                     ""));
  auto n2 = actor::node::start(cfg2);
  REQUIRE(!n2);
  CHECK(n2.error() == actor::errc::node_start_failed);
  CHECK(actor::render(n2.error()).find("cannot listen on 127.0.0.1:")
        != std::string::npos);
}

TEST_CASE("shutdown stops adopted actors newest first and kills those that linger") {
  actor::node_config cfg;
  auto n = start_node(cfg, {"--ringvisor.shutdown-grace=200ms"});
  // Exit reasons in the order the actors ended. An actor's down message can
  // reach the node just before its own cleanup functor runs, so the test
  // waits for both entries rather than reading them when shutdown returns.
  struct record {
    std::mutex mtx;
    std::condition_variable cv;
    std::vector<std::string> order;
  };
  auto rec = std::make_shared<record>();
  auto make = [&](std::string name, bool stubborn) {
    return n->system().spawn([=](caf::event_based_actor* self) -> caf::behavior {
      self->attach_functor([=](const caf::error& reason) {
        std::lock_guard<std::mutex> guard{rec->mtx};
        rec->order.push_back(name + ":" + caf::to_string(reason));
        rec->cv.notify_all();
      });
      if (stubborn)
        self->set_exit_handler([](caf::exit_msg&) {});
      return {[](int32_t x) { return x; }};
    });
  };
  n->adopt(make("first", false));
  n->adopt(make("second", true));
  n->shutdown();
  std::unique_lock<std::mutex> guard{rec->mtx};
  REQUIRE(rec->cv.wait_for(guard, std::chrono::seconds{5},
                           [&] { return rec->order.size() == 2; }));
  CHECK(rec->order[0] == "second:exit_reason(kill)");
  CHECK(rec->order[1] == "first:exit_reason(user_shutdown)");
}

TEST_CASE("log lines carry the node name, the event and key=value fields") {
  log::configure(log::level::info, "alpha");
  auto out = capture_stderr([] {
    log::info("child_restarted", {{"sup", "root"}, {"child", "w 1"}, {"n", 2}});
    log::debug("hidden");
  });
  CHECK(out.find(" info node=alpha event=child_restarted sup=root child=\"w 1\" n=2\n")
        != std::string::npos);
  CHECK(out.find("hidden") == std::string::npos);
  log::configure(log::level::warn, "-");
}

TEST_CASE("a ringvisor error crosses nodes over TCP as a caf::error") {
  actor::node_config cfg1;
  actor::node_config cfg2;
  auto server = start_node(cfg1, {"--ringvisor.name=server"});
  auto client = start_node(cfg2, {"--ringvisor.name=client"});
  auto failing = server->system().spawn([]() -> caf::behavior {
    return {[](int32_t) -> caf::result<int32_t> {
      return actor::make_error(actor::errc::unknown_child_type, "superhero");
    }};
  });
  server->adopt(failing);
  REQUIRE(!server->register_name("failing", failing, std::chrono::seconds{5}));
  auto dir = actor::remote_directory(client->system(), server->identity().endpoint(),
                                     std::chrono::seconds{5});
  REQUIRE(dir);
  auto remote = actor::blocking_request<caf::actor>(client->system(), *dir,
                                                    std::chrono::seconds{5},
                                                    caf::get_atom::value, std::string{"failing"});
  REQUIRE(remote);
  caf::error err;
  {
    caf::scoped_actor self{client->system()};
    self->request(*remote, std::chrono::seconds{5}, int32_t{1})
      .receive([](int32_t) {}, [&](caf::error& x) { err = std::move(x); });
  }
  CHECK(err == actor::errc::unknown_child_type);
  CHECK(client->system().render(err)
        == "ringvisor.actor.unknown_child_type: superhero");
}

TEST_CASE("a peer that connects to a node's port finds its services in the directory") {
  actor::node_config cfg1;
  actor::node_config cfg2;
  auto server = start_node(cfg1, {"--ringvisor.name=server"});
  auto client = start_node(cfg2, {"--ringvisor.name=client"});
  auto doubler = server->system().spawn([]() -> caf::behavior {
    return {[](int32_t x) { return x * 2; }};
  });
  server->adopt(doubler);
  REQUIRE(!server->register_name("doubler", doubler));
  auto other = server->system().spawn([]() -> caf::behavior {
    return {[](int32_t x) { return x; }};
  });
  CHECK(server->register_name("doubler", other) == actor::errc::name_taken);
  caf::anon_send_exit(other, caf::exit_reason::kill);
  auto dir = actor::remote_directory(client->system(), server->identity().endpoint(),
                                    std::chrono::seconds{5});
  REQUIRE(dir);
  caf::scoped_actor self{client->system()};
  caf::actor remote;
  self->request(*dir, std::chrono::seconds{5}, caf::get_atom::value,
                std::string{"doubler"})
    .receive([&](caf::actor& x) { remote = std::move(x); },
             [](caf::error& err) { FAIL(actor::render(err)); });
  REQUIRE(remote);
  int32_t result = 0;
  self->request(remote, std::chrono::seconds{5}, int32_t{21})
    .receive([&](int32_t x) { result = x; },
             [](caf::error& err) { FAIL(actor::render(err)); });
  CHECK(result == 42);
}

TEST_CASE("remote_directory says what is wrong with an endpoint") {
  actor::node_config cfg;
  auto client = start_node(cfg, {"--ringvisor.name=client"});
  for (auto bad : {"127.0.0.1", ":4900", "127.0.0.1:x", "127.0.0.1:0", "127.0.0.1:70000"}) {
    auto dir = actor::remote_directory(client->system(), bad, std::chrono::seconds{1});
    CHECK_MESSAGE(dir.error() == actor::errc::bad_config, bad);
  }
  auto closed = actor::remote_directory(client->system(), "127.0.0.1:1", std::chrono::seconds{1});
  CHECK(!closed);
}

TEST_CASE("a peer asks a node to stop through its directory, if its program waits for it") {
  actor::node_config cfg1;
  actor::node_config cfg2;
  auto server = start_node(cfg1, {"--ringvisor.name=server"});
  auto client = start_node(cfg2, {"--ringvisor.name=client"});
  auto dir = actor::remote_directory(client->system(), server->identity().endpoint(),
                                    std::chrono::seconds{5});
  REQUIRE(dir);
  auto ask_stop = [&] {
    return actor::blocking_request<caf::ok_atom>(client->system(), *dir,
                                                 std::chrono::seconds{5},
                                                 actor::stop_atom::value);
  };
  // Nobody waits in await_signal yet: refused, nothing happens.
  auto refused = ask_stop();
  REQUIRE(!refused);
  CHECK(refused.error() == caf::sec::feature_disabled);
  std::atomic<int> got{0};
  std::thread main_thread{[&] { got = actor::node::await_signal(); }};
  caf::expected<caf::ok_atom> accepted{caf::sec::request_timeout};
  for (int i = 0; i < 500 && !accepted; ++i) { // until the thread waits
    accepted = ask_stop();
    if (!accepted)
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  CHECK(accepted);
  main_thread.join();
  CHECK(got == SIGTERM);
}
