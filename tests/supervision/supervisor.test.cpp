#include "supervision/fixture.hpp"

#include <caf/exit_reason.hpp>

using namespace ringvisor::test;
using ringvisor::supervision::errc;

namespace {

std::vector<child_spec> abc(restart_type restart = restart_type::permanent) {
  return {supervision_fixture::worker("a", restart),
          supervision_fixture::worker("b", restart),
          supervision_fixture::worker("c", restart)};
}

} // namespace

TEST_SUITE("supervisor strategies") {

TEST_CASE_FIXTURE(supervision_fixture,
                  "children start in order and one_for_one restarts only the failed child") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, abc()));
  CHECK(take_events() == strings{"start a", "start b", "start c"});
  auto b = child(sup, "b");
  send(b, crash_atom::value);
  CHECK(take_events() == strings{"stop b", "start b"});
  auto b2 = child(sup, "b");
  CHECK(b2 != b);
  CHECK(request<pong_atom>(b2, ping_atom::value));
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "one_for_all stops the others newest first and restarts all in order") {
  auto sup = spawn(make_spec(restart_strategy::one_for_all, abc()));
  take_events();
  send(child(sup, "b"), crash_atom::value);
  CHECK(take_events()
        == strings{"stop b", "stop c", "stop a", "start a", "start b", "start c"});
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "rest_for_one restarts the failed child and those started after it") {
  auto sup = spawn(make_spec(restart_strategy::rest_for_one, abc()));
  auto a = child(sup, "a");
  take_events();
  send(child(sup, "b"), crash_atom::value);
  CHECK(take_events() == strings{"stop b", "stop c", "start b", "start c"});
  CHECK(child(sup, "a") == a);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "one_for_all does not bring back a child that was terminated on purpose") {
  auto sup = spawn(make_spec(restart_strategy::one_for_all, abc()));
  REQUIRE(request<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"c"}));
  take_events();
  send(child(sup, "a"), crash_atom::value);
  CHECK(take_events() == strings{"stop a", "stop b", "start a", "start b"});
  CHECK(!child(sup, "c"));
}

} // TEST_SUITE

TEST_SUITE("restart types") {

TEST_CASE_FIXTURE(supervision_fixture,
                  "a permanent child is restarted even after a normal exit") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {worker("p")}));
  take_events();
  send(child(sup, "p"), finish_atom::value);
  CHECK(take_events() == strings{"stop p", "start p"});
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a transient child is restarted after a crash but not after a normal exit") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one,
                             {worker("t", restart_type::transient)}));
  take_events();
  send(child(sup, "t"), crash_atom::value);
  CHECK(take_events() == strings{"stop t", "start t"});
  send(child(sup, "t"), finish_atom::value);
  CHECK(take_events() == strings{"stop t"});
  auto counts = request<child_counts>(sup, count_children_atom::value);
  REQUIRE(counts);
  CHECK(counts->specs == 1);
  CHECK(counts->active == 0);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a transient child that exits with user_shutdown is not restarted") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one,
                             {worker("t", restart_type::transient)}));
  take_events();
  self()->send_exit(child(sup, "t"), caf::exit_reason::user_shutdown);
  run();
  CHECK(take_events() == strings{"stop t"});
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a temporary child is never restarted and its spec is removed") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one,
                             {worker("x", restart_type::temporary), worker("y")}));
  take_events();
  send(child(sup, "x"), crash_atom::value);
  CHECK(take_events() == strings{"stop x"});
  auto counts = request<child_counts>(sup, count_children_atom::value);
  REQUIRE(counts);
  CHECK(counts->specs == 1);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "an exception escaping a handler is a crash with runtime_error") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {worker("e")}));
  auto e = child(sup, "e");
  self()->monitor(e);
  send(e, crash_atom::value);
  caf::error reason;
  self()->receive([&](caf::down_msg& dm) { reason = dm.reason; });
  CHECK(reason == caf::sec::runtime_error);
  CHECK(child(sup, "e"));
}

} // TEST_SUITE

TEST_SUITE("restart intensity and escalation") {

TEST_CASE_FIXTURE(supervision_fixture,
                  "exceeding max_restarts within period stops all children in reverse and exits") {
  auto spec = make_spec(restart_strategy::one_for_one, abc());
  spec.max_restarts = 2;
  auto sup = spawn(spec);
  take_events();
  send(child(sup, "a"), crash_atom::value);
  send(child(sup, "a"), crash_atom::value);
  CHECK(take_events() == strings{"stop a", "start a", "stop a", "start a"});
  send(child(sup, "a"), crash_atom::value);
  CHECK(take_events() == strings{"stop a", "stop c", "stop b"});
  caf::error reason;
  REQUIRE(is_down(sup, &reason));
  CHECK(reason == errc::reached_max_restart_intensity);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "restarts spread over more than period do not escalate") {
  auto spec = make_spec(restart_strategy::one_for_one, {worker("a")});
  spec.max_restarts = 1;
  spec.period = std::chrono::seconds{5};
  auto sup = spawn(spec);
  for (int i = 0; i < 4; ++i) {
    send(child(sup, "a"), crash_atom::value);
    advance_time(std::chrono::seconds{6});
  }
  CHECK(!is_down(sup));
  CHECK(child(sup, "a"));
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "max_restarts of zero escalates on the first crash") {
  auto spec = make_spec(restart_strategy::one_for_one, {worker("a")});
  spec.max_restarts = 0;
  auto sup = spawn(spec);
  send(child(sup, "a"), crash_atom::value);
  caf::error reason;
  REQUIRE(is_down(sup, &reason));
  CHECK(reason == errc::reached_max_restart_intensity);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "escalation travels through two levels of a supervision tree") {
  // root (max 1 restart) -> mid (max 0 restarts) -> worker w
  auto mid = make_spec(restart_strategy::one_for_one, {worker("w")});
  mid.name = "mid";
  mid.max_restarts = 0;
  auto root = make_spec(restart_strategy::one_for_one,
                        {supervisor_child("mid", mid), worker("sibling")});
  root.name = "root";
  root.max_restarts = 1;
  auto sup = spawn(root);
  // Children are spawned in order; each runs its own init concurrently, so
  // w (spawned by mid) may well initialize after its uncle.
  auto started = take_events();
  std::sort(started.begin(), started.end());
  CHECK(started == strings{"start sibling", "start w"});
  auto find_w = [&] { return child(child(sup, "mid"), "w"); };
  // First crash: mid gives up, root restarts mid (and with it w).
  send(find_w(), crash_atom::value);
  CHECK(take_events() == strings{"stop w", "start w"});
  CHECK(!is_down(sup));
  // Second crash: mid gives up again, root exceeds its intensity too.
  send(find_w(), crash_atom::value);
  CHECK(take_events() == strings{"stop w", "stop sibling"});
  caf::error reason;
  REQUIRE(is_down(sup, &reason));
  CHECK(reason == errc::reached_max_restart_intensity);
  // The reason names the supervisor that gave up last.
  CHECK(ringvisor::actor::render(reason).find("root") != std::string::npos);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a restart delay backs off, doubling with each restart in the period") {
  auto spec = make_spec(restart_strategy::one_for_one, {worker("a")});
  spec.max_restarts = 10;
  spec.restart_delay = std::chrono::milliseconds{100};
  spec.max_restart_delay = std::chrono::milliseconds{300};
  auto sup = spawn(spec);
  take_events();
  auto crash_and_wait = [&](std::chrono::milliseconds delay) {
    send(child(sup, "a"), crash_atom::value);
    CHECK(take_events() == strings{"stop a"});
    advance_time(delay - std::chrono::milliseconds{1});
    CHECK(take_events().empty());
    advance_time(std::chrono::milliseconds{1});
    CHECK(take_events() == strings{"start a"});
  };
  crash_and_wait(std::chrono::milliseconds{100});
  crash_and_wait(std::chrono::milliseconds{200});
  crash_and_wait(std::chrono::milliseconds{300}); // capped
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "with a restart delay, a strategy stops at once and starts later") {
  auto spec = make_spec(restart_strategy::one_for_all, abc());
  spec.restart_delay = std::chrono::seconds{1};
  auto sup = spawn(spec);
  take_events();
  send(child(sup, "b"), crash_atom::value);
  CHECK(take_events() == strings{"stop b", "stop c", "stop a"});
  auto counts = request<child_counts>(sup, count_children_atom::value);
  REQUIRE(counts);
  CHECK(counts->active == 0);
  advance_time(std::chrono::seconds{1});
  CHECK(take_events() == strings{"start a", "start b", "start c"});
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a delayed restart does not run twice after a manual restart_child") {
  auto spec = make_spec(restart_strategy::one_for_one, {worker("a")});
  spec.restart_delay = std::chrono::seconds{1};
  auto sup = spawn(spec);
  send(child(sup, "a"), crash_atom::value);
  REQUIRE(request<caf::actor>(sup, restart_child_atom::value, std::string{"a"}));
  take_events();
  advance_time(std::chrono::seconds{1});
  CHECK(take_events().empty());
}

} // TEST_SUITE

TEST_SUITE("ordered shutdown") {

TEST_CASE_FIXTURE(supervision_fixture,
                  "a shutdown request stops children in reverse start order") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, abc()));
  take_events();
  self()->send_exit(sup, caf::exit_reason::user_shutdown);
  run();
  CHECK(take_events() == strings{"stop c", "stop b", "stop a"});
  caf::error reason;
  REQUIRE(is_down(sup, &reason));
  CHECK(reason == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a child that ignores shutdown is killed after its timeout, and the next waits for it") {
  auto stubborn = worker("s", restart_type::permanent, "stubborn");
  stubborn.shutdown = shutdown_policy::after(std::chrono::seconds{2});
  auto sup = spawn(make_spec(restart_strategy::one_for_one,
                             {worker("a"), stubborn}));
  take_events();
  self()->send_exit(sup, caf::exit_reason::user_shutdown);
  run();
  CHECK(take_events().empty()); // s ignores user_shutdown; a waits its turn
  advance_time(std::chrono::seconds{1});
  CHECK(take_events().empty());
  advance_time(std::chrono::seconds{1});
  CHECK(take_events() == strings{"stop s", "stop a"});
  CHECK(is_down(sup));
}

TEST_CASE_FIXTURE(supervision_fixture, "a brutal_kill child is killed at once") {
  auto stubborn = worker("s", restart_type::permanent, "stubborn");
  stubborn.shutdown = shutdown_policy::brutal_kill();
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {stubborn}));
  take_events();
  REQUIRE(request<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"s"}));
  CHECK(take_events() == strings{"stop s"});
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "requests that arrive while a child is being stopped wait for it") {
  auto stubborn = worker("s", restart_type::permanent, "stubborn");
  stubborn.shutdown = shutdown_policy::after(std::chrono::seconds{3});
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {stubborn}));
  auto term = self()->request(sup, caf::infinite, terminate_child_atom::value,
                              std::string{"s"});
  auto count = self()->request(sup, caf::infinite, count_children_atom::value);
  run();
  CHECK(self()->mailbox().empty());
  advance_time(std::chrono::seconds{3});
  CHECK(receive_reply<caf::ok_atom>(term));
  auto counts = receive_reply<child_counts>(count);
  REQUIRE(counts);
  CHECK(counts->active == 0);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a supervisor killed with requests queued answers them with an error") {
  auto stubborn = worker("s", restart_type::permanent, "stubborn");
  stubborn.shutdown = shutdown_policy::after(std::chrono::seconds{3});
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {stubborn}));
  // the start waits behind the stop of the stubborn child
  self()->request(sup, caf::infinite, terminate_child_atom::value, std::string{"s"});
  auto start = self()->request(sup, caf::infinite, start_child_atom::value, worker("w"));
  run();
  CHECK(self()->mailbox().empty());
  self()->send_exit(sup, caf::exit_reason::kill);
  run();
  auto started = receive_reply<caf::actor>(start);
  REQUIRE(!started);
  CHECK(started.error() == errc::shutting_down);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a killed supervisor takes its children with it") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, abc()));
  take_events();
  self()->send_exit(sup, caf::exit_reason::kill);
  run();
  auto ev = take_events();
  std::sort(ev.begin(), ev.end());
  CHECK(ev == strings{"stop a", "stop b", "stop c"});
}

} // TEST_SUITE

TEST_SUITE("child management API") {

TEST_CASE_FIXTURE(supervision_fixture,
                  "start_child, terminate_child, restart_child and delete_child follow OTP") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {}));
  auto x = request<caf::actor>(sup, start_child_atom::value, worker("x"));
  REQUIRE(x);
  CHECK(request<caf::actor>(sup, start_child_atom::value, worker("x")).error()
        == errc::already_started);
  CHECK(request<caf::ok_atom>(sup, delete_child_atom::value, std::string{"x"}).error()
        == errc::running);
  CHECK(request<caf::actor>(sup, restart_child_atom::value, std::string{"x"}).error()
        == errc::running);
  REQUIRE(request<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"x"}));
  CHECK(request<caf::actor>(sup, start_child_atom::value, worker("x")).error()
        == errc::already_present);
  auto x2 = request<caf::actor>(sup, restart_child_atom::value, std::string{"x"});
  REQUIRE(x2);
  CHECK(*x2 != *x);
  REQUIRE(request<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"x"}));
  REQUIRE(request<caf::ok_atom>(sup, delete_child_atom::value, std::string{"x"}));
  CHECK(request<caf::ok_atom>(sup, delete_child_atom::value, std::string{"x"}).error()
        == errc::not_found);
  CHECK(take_events() == strings{"start x", "stop x", "start x", "stop x"});
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "which_children and count_children describe every child") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one,
                             {worker("a"), worker("b", restart_type::transient)}));
  REQUIRE(request<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"b"}));
  auto children = request<std::vector<child_info>>(sup, which_children_atom::value);
  REQUIRE(children);
  REQUIRE(children->size() == 2);
  CHECK((*children)[0].id == "a");
  CHECK((*children)[0].handle);
  CHECK((*children)[0].type == "worker");
  CHECK((*children)[1].id == "b");
  CHECK(!(*children)[1].handle);
  CHECK((*children)[1].restart == restart_type::transient);
  auto counts = request<child_counts>(sup, count_children_atom::value);
  REQUIRE(counts);
  CHECK(counts->specs == 2);
  CHECK(counts->active == 1);
  CHECK(counts->workers == 2);
  CHECK(counts->supervisors == 0);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "start_child of an unknown type fails and leaves no spec behind") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {}));
  auto bad = worker("x", restart_type::permanent, "no_such_type");
  auto res = request<caf::actor>(sup, start_child_atom::value, bad);
  REQUIRE(!res);
  CHECK(res.error() == errc::start_failed);
  auto text = ringvisor::actor::render(res.error());
  CHECK(text.find("unknown_child_type") != std::string::npos);
  CHECK(text.find("no_such_type") != std::string::npos);
  auto counts = request<child_counts>(sup, count_children_atom::value);
  REQUIRE(counts);
  CHECK(counts->specs == 0);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "start_child with arguments of the wrong types fails with bad_child_args") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {}));
  auto bad = worker("x");
  bad.args = caf::make_message(int32_t{42});
  auto res = request<caf::actor>(sup, start_child_atom::value, bad);
  REQUIRE(!res);
  CHECK(ringvisor::actor::render(res.error()).find("bad_child_args")
        != std::string::npos);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "spawn_supervisor rejects unknown types and duplicate ids before spawning") {
  auto unknown = spawn_supervisor(
    sys(), make_spec(restart_strategy::one_for_one,
                     {worker("a", restart_type::permanent, "nope")}));
  REQUIRE(!unknown);
  CHECK(unknown.error() == ringvisor::actor::errc::unknown_child_type);
  auto dup = spawn_supervisor(
    sys(), make_spec(restart_strategy::one_for_one, {worker("a"), worker("a")}));
  REQUIRE(!dup);
  CHECK(dup.error() == errc::bad_spec);
  CHECK(events->empty());
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a child that fails to start makes the supervisor undo and exit with start_failed") {
  auto failing = worker("b");
  failing.start = [](caf::actor_system&) -> caf::expected<caf::actor> {
    return caf::make_error(caf::sec::runtime_error, "cannot open the database");
  };
  auto sup = spawn(make_spec(restart_strategy::one_for_one,
                             {worker("a"), failing, worker("c")}));
  CHECK(take_events() == strings{"start a", "stop a"});
  caf::error reason;
  REQUIRE(is_down(sup, &reason));
  CHECK(reason == errc::start_failed);
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "a supervisor whose first child fails to start exits at once") {
  auto failing = worker("a");
  failing.start = [](caf::actor_system&) -> caf::expected<caf::actor> {
    return caf::make_error(caf::sec::runtime_error, "no disk");
  };
  auto sup = spawn(make_spec(restart_strategy::one_for_one, {failing, worker("b")}));
  CHECK(events->empty());
  caf::error reason;
  REQUIRE(is_down(sup, &reason));
  CHECK(reason == errc::start_failed);
  CHECK(ringvisor::actor::render(reason).find("no disk") != std::string::npos);
}

} // TEST_SUITE

TEST_SUITE("hooks for ring supervisors") {

TEST_CASE_FIXTURE(supervision_fixture,
                  "the observer hears of every start and of a child that exits for good") {
  auto spec = make_spec(restart_strategy::one_for_one,
                        {worker("a"), worker("t", restart_type::transient)});
  spec.observer = self();
  auto sup = spawn(std::move(spec));
  strings heard;
  auto drain = [&] {
    for (bool more = true; more;)
      self()->receive(
        [&](child_started_atom, const std::string& id, const caf::actor& hdl) {
          CHECK(hdl);
          heard.push_back("started " + id);
        },
        [&](child_finished_atom, const std::string& id, const caf::error&) {
          heard.push_back("finished " + id);
        },
        caf::after(std::chrono::seconds{0}) >> [&] { more = false; });
  };
  drain();
  CHECK(heard == strings{"started a", "started t"});
  heard.clear();
  send(child(sup, "a"), crash_atom::value); // restarted
  send(child(sup, "t"), finish_atom::value); // transient, normal exit: for good
  drain();
  CHECK(heard == strings{"started a", "finished t"});
}

TEST_CASE_FIXTURE(supervision_fixture,
                  "detach_child hands a running child over without stopping it") {
  auto sup = spawn(make_spec(restart_strategy::one_for_one, abc()));
  take_events();
  auto b = child(sup, "b");
  auto detached = request<caf::actor>(sup, detach_child_atom::value, std::string{"b"});
  REQUIRE(detached);
  CHECK(*detached == b);
  CHECK(take_events().empty()); // still running
  CHECK(!child(sup, "b"));      // and no longer the supervisor's
  send(b, crash_atom::value);   // its crash restarts nothing
  CHECK(take_events() == strings{"stop b"});
  CHECK(request<caf::actor>(sup, detach_child_atom::value, std::string{"b"}).error()
        == errc::not_found);
}

} // TEST_SUITE

TEST_SUITE("blocking client API") {

TEST_CASE("the blocking calls drive a supervisor from outside any actor") {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  ringvisor::supervision::add_types(cfg);
  caf::actor_system sys{cfg};
  auto factories = std::make_shared<ringvisor::actor::factory_registry>();
  REQUIRE(!factories->add<std::string>(
    "worker", [](caf::event_based_actor*, const std::string&) -> caf::behavior {
      return {[](ping_atom) { return pong_atom::value; }};
    }));
  supervisor_spec spec;
  spec.factories = factories;
  auto sup = spawn_supervisor(sys, spec);
  REQUIRE(sup);
  auto x = start_child(sys, *sup, supervision_fixture::worker("x"));
  REQUIRE(x);
  auto children = which_children(sys, *sup);
  REQUIRE(children);
  REQUIRE(children->size() == 1);
  CHECK(children->front().handle == *x);
  REQUIRE(!terminate_child(sys, *sup, "x"));
  CHECK(count_children(sys, *sup)->active == 0);
  REQUIRE(restart_child(sys, *sup, "x"));
  CHECK(delete_child(sys, *sup, "x") == errc::running);
  CHECK(terminate_child(sys, *sup, "nope") == errc::not_found);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}

TEST_CASE("a blocking call to a supervisor that is gone fails at once") {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  ringvisor::supervision::add_types(cfg);
  caf::actor_system sys{cfg};
  supervisor_spec spec;
  auto sup = spawn_supervisor(sys, spec);
  REQUIRE(sup);
  {
    caf::scoped_actor self{sys};
    self->monitor(*sup);
    self->send_exit(*sup, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {});
  }
  auto res = which_children(sys, *sup);
  REQUIRE(!res);
  CHECK(res.error() == caf::sec::request_receiver_down);
}

} // TEST_SUITE
