// Remote actor handles over the wire: several actor systems in one process,
// each with its own wire, over loopback TCP. Requests, handles inside
// messages, monitors, links, lost links, relays through a third node and
// the bounds, as actors see them.

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/scheduler.hpp"
#include "ringvisor/actor/wire.hpp"
#include "support/temp_dir.hpp"
#include "support/wired.hpp"
#include "wire/module.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;
using test::hold_atom;
using test::relay_atom;
using test::secret_file;
using test::wired;
using test::worker;


TEST_CASE("a remote actor answers requests and handles cross the wire both ways") {
  test::temp_dir tmp{"wire-actors"};
  auto secret = secret_file(tmp, "secret", "a-cluster-secret-of-some-length");
  wired a{"a", secret};
  wired b{"b", secret};
  a.put("worker", a.sys->spawn(worker));
  auto remote = b.lookup(a.endpoint(), "worker");
  CHECK(remote.node() == a.sys->node());
  caf::scoped_actor self{*b.sys};
  auto timers = actor::pending_timers(*b.sys); // the local requests' (the lookup's)
  for (int32_t i = 0; i < 100; ++i)
    self->request(remote, 2s, i).receive([&](int32_t y) { CHECK(y == 2 * i); },
                                         [](caf::error& err) { FAIL(actor::render(err)); });
  // The answers took their requests' timeouts with them (CAF 0.17 leaves
  // them set, to fire later into the requester's mailbox).
  CHECK(actor::pending_timers(*b.sys) == timers);
  // Our own handle goes there; the answer comes back by a plain send.
  self->send(remote, caf::actor{self}, int32_t{41});
  self->receive([](int32_t y) { CHECK(y == 42); },
                caf::after(2s) >> [] { FAIL("no message back through a handle"); });
}

TEST_CASE("a monitor of a remote actor gets its real exit reason, and a link its exit") {
  test::temp_dir tmp{"wire-actors"};
  auto secret = secret_file(tmp, "secret", "a-cluster-secret-of-some-length");
  wired a{"a", secret};
  wired b{"b", secret};
  auto target = a.sys->spawn(worker);
  a.put("worker", target);
  auto remote = b.lookup(a.endpoint(), "worker");
  caf::scoped_actor self{*b.sys};
  self->monitor(remote);
  // A linked actor on b that traps exits and reports them.
  auto linked = b.sys->spawn([&](caf::event_based_actor* me) -> caf::behavior {
    me->set_exit_handler([me, report = caf::actor{self}](caf::exit_msg& msg) {
      me->send(report, msg.reason);
    });
    me->link_to(remote);
    return {[](int32_t) {}};
  });
  // The link frame travels before the exit: make sure it arrived.
  self->request(remote, 2s, int32_t{1}).receive([](int32_t) {}, [](caf::error&) {});
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  bool down = false;
  bool exited = false;
  // The linked actor may hear the exit twice: forwarded, and from its
  // proxy dying after the down (CAF's BASP has the same race).
  for (int i = 0; i < 3 && !(down && exited); ++i)
    self->receive(
      [&](const caf::down_msg& msg) {
        CHECK(msg.reason == caf::exit_reason::user_shutdown);
        down = true;
      },
      [&](const caf::error& reason) {
        CHECK(reason == caf::exit_reason::user_shutdown);
        exited = true;
      },
      caf::after(2s) >> [] {});
  CHECK(down);
  CHECK(exited);
  caf::anon_send_exit(linked, caf::exit_reason::kill);
}

TEST_CASE("a lost node fails requests in flight at once, after the down message") {
  test::temp_dir tmp{"wire-actors"};
  auto secret = secret_file(tmp, "secret", "a-cluster-secret-of-some-length");
  auto a = std::make_unique<wired>("a", secret);
  wired b{"b", secret};
  a->put("worker", a->sys->spawn(worker));
  auto remote = b.lookup(a->endpoint(), "worker");
  std::vector<std::string> seen;
  caf::scoped_actor self{*b.sys};
  auto probe = b.sys->spawn([&seen, remote, ready = caf::actor{self}](
                              caf::event_based_actor* me) -> caf::behavior {
    me->monitor(remote);
    me->set_down_handler([&seen](caf::down_msg& msg) {
      seen.push_back("down " + caf::to_string(msg.reason));
    });
    me->request(remote, caf::infinite, hold_atom::value)
      .then([&seen](int32_t) { seen.push_back("answer"); },
            [&seen, me](caf::error& err) {
              seen.push_back(actor::render(err));
              me->quit();
            });
    // Answered after the held request arrived (one link, in order).
    me->request(remote, caf::infinite, int32_t{1}).then([me, ready](int32_t) {
      me->send(ready, caf::ok_atom::value);
    });
    return {[](int32_t) {}};
  });
  self->monitor(probe);
  self->receive([](caf::ok_atom) {}, caf::after(5s) >> [] { FAIL("the probe is not ready"); });
  // a says bye while its worker still holds the request.
  auto t0 = std::chrono::steady_clock::now();
  a->sys->network_manager().engine().shutdown();
  self->receive([](const caf::down_msg&) {}, caf::after(5s) >> [] { FAIL("request hangs"); });
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].find("down") == 0);
  CHECK_MESSAGE(seen[1].find("member_down") != std::string::npos, seen[1]);
  CHECK(took < 2s);
}

TEST_CASE("a request to a remote actor that is gone fails at once") {
  test::temp_dir tmp{"wire-actors"};
  auto secret = secret_file(tmp, "secret", "a-cluster-secret-of-some-length");
  wired a{"a", secret};
  wired b{"b", secret};
  auto target = a.sys->spawn(worker);
  a.put("worker", target);
  auto remote = b.lookup(a.endpoint(), "worker");
  caf::scoped_actor self{*b.sys};
  self->monitor(remote);
  caf::anon_send_exit(target, caf::exit_reason::kill);
  self->receive([](const caf::down_msg&) {}, caf::after(2s) >> [] { FAIL("no down"); });
  self->request(remote, 2s, int32_t{1})
    .receive([](int32_t) { FAIL("a dead actor answered"); },
             [](caf::error& err) { CHECK(err == caf::sec::request_receiver_down); });
}

TEST_CASE("a node without the secret gets nothing, and says why") {
  test::temp_dir tmp{"wire-actors"};
  wired a{"a", secret_file(tmp, "a", "a-cluster-secret-of-some-length")};
  wired stranger{"x", secret_file(tmp, "x", "another-secret-of-some-length")};
  auto dir = actor::remote_directory(*stranger.sys, a.endpoint(), 2s);
  REQUIRE(!dir);
  CHECK(dir.error().category() == actor::errc_category);
  CHECK(dir.error().code() == static_cast<uint8_t>(actor::errc::authentication_failed));
}

TEST_CASE("a delegated request is answered through the node that knows the caller") {
  // x knows only a; a delegates to b; b's answer to x goes through a.
  test::temp_dir tmp{"wire-actors"};
  auto secret = secret_file(tmp, "secret", "a-cluster-secret-of-some-length");
  wired a{"a", secret};
  wired b{"b", secret};
  wired x{"x", secret};
  b.put("worker", b.sys->spawn(worker));
  auto on_b = a.lookup(b.endpoint(), "worker");
  a.put("front", a.sys->spawn(worker));
  auto front = x.lookup(a.endpoint(), "front");
  caf::scoped_actor self{*x.sys};
  self->request(front, 2s, relay_atom::value, on_b, int32_t{21})
    .receive([](int32_t y) { CHECK(y == 42); },
             [](caf::error& err) { FAIL(actor::render(err)); });
}

TEST_CASE("a message larger than max-frame fails its request and keeps the link") {
  test::temp_dir tmp{"wire-actors"};
  auto secret = secret_file(tmp, "secret", "a-cluster-secret-of-some-length");
  wired a{"a", secret, 64 * 1024};
  wired b{"b", secret, 64 * 1024};
  a.put("worker", a.sys->spawn([]() -> caf::behavior {
    return {[](const std::string& s) { return static_cast<int32_t>(s.size()); }};
  }));
  auto remote = b.lookup(a.endpoint(), "worker");
  caf::scoped_actor self{*b.sys};
  self->request(remote, 2s, std::string(100 * 1024, 'x'))
    .receive([](int32_t) { FAIL("an oversize message went through"); },
             [](caf::error& err) {
               CHECK(err.code() == static_cast<uint8_t>(actor::errc::frame_too_large));
             });
  self->request(remote, 2s, std::string(1000, 'x'))
    .receive([](int32_t n) { CHECK(n == 1000); },
             [](caf::error& err) { FAIL(actor::render(err)); });
}
