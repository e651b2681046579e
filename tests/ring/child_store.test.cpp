// The SQLite child store, on real files in a temporary directory.

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_serializer.hpp>
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/ring/child_store.hpp"
#include "ringvisor/ring/types.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/types.hpp"
#include "support/printers.hpp"
#include "support/temp_dir.hpp"

using namespace ringvisor;
using namespace ringvisor::ring;
using namespace ringvisor::supervision;
using ringvisor::test::temp_dir;

namespace {

/// An actor system that knows the argument types of the specs.
struct store_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  store_system() {
    actor::add_types(cfg);
    ring::add_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

child_spec importer(const std::string& id, const std::string& url, int32_t retries) {
  child_spec spec;
  spec.id = id;
  spec.type = "importer";
  spec.args = caf::make_message(url, retries);
  spec.restart = restart_type::transient;
  return spec;
}

std::vector<std::string> ids(const std::vector<child_spec>& specs) {
  std::vector<std::string> result;
  for (auto& s : specs)
    result.push_back(s.id);
  return result;
}

std::unique_ptr<child_store> open(store_system& s, const std::string& path) {
  auto store = open_sqlite_store(*s.sys, {path, {}});
  REQUIRE_MESSAGE(store, test::why(store));
  return std::move(*store);
}

} // namespace

TEST_CASE("the SQLite store keeps specs across a reopen, arguments and all") {
  temp_dir dir;
  auto path = dir.file("children.db");
  {
    store_system s;
    auto store = open(s, path);
    CHECK(!store->add(importer("b-job", "s3://bucket/b", 3)));
    CHECK(!store->add(importer("a-job", "s3://bucket/a", 1)));
    CHECK(!store->add(importer("c-job", "s3://bucket/c", 2)));
    CHECK(!store->del("c-job"));
  }
  // A new process would do the same: a new actor system, the same file.
  store_system s;
  auto store = open(s, path);
  auto all = store->get_all();
  REQUIRE_MESSAGE(all, test::why(all));
  CHECK(ids(*all) == std::vector<std::string>{"a-job", "b-job"});
  auto& b = (*all)[1];
  CHECK(b.type == "importer");
  CHECK(b.restart == restart_type::transient);
  REQUIRE(b.args.match_elements<std::string, int32_t>());
  CHECK(b.args.get_as<std::string>(0) == "s3://bucket/b");
  CHECK(b.args.get_as<int32_t>(1) == 3);
  // Written through SQLite's write-ahead log.
  CHECK(std::ifstream{path + "-wal"}.good());
}

TEST_CASE("the SQLite store keeps a spec's snapshot policy and reads specs written without one") {
  temp_dir dir;
  auto path = dir.file("children.db");
  store_system s;
  {
    auto store = open(s, path);
    auto spec = importer("snappy", "s3://bucket/s", 1);
    spec.snapshot = snapshot_policy::every(std::chrono::milliseconds{250});
    CHECK(!store->add(spec));
  }
  {
    // A spec as the store wrote it before specs had a snapshot policy: the
    // same fields, in the same order, without the policy at the end.
    auto old = importer("old", "s3://bucket/o", 4);
    actor::bytes blob;
    caf::binary_serializer sink{*s.sys, blob};
    REQUIRE(!sink(old.id, old.type, old.args, old.restart, old.shutdown, old.kind));
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* insert = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO ringvisor_children (id, spec) VALUES ('old', ?)",
                               -1, &insert, nullptr)
            == SQLITE_OK);
    sqlite3_bind_blob(insert, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    CHECK(sqlite3_step(insert) == SQLITE_DONE);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  auto store = open(s, path);
  auto all = store->get_all();
  REQUIRE_MESSAGE(all, test::why(all));
  REQUIRE(ids(*all) == std::vector<std::string>{"old", "snappy"});
  auto& old = (*all)[0];
  CHECK(old.snapshot.when == snapshot_policy::mode::off); // the default
  REQUIRE(old.args.match_elements<std::string, int32_t>());
  CHECK(old.args.get_as<int32_t>(1) == 4);
  auto& snappy = (*all)[1];
  CHECK(snappy.snapshot.when == snapshot_policy::mode::every);
  CHECK(snappy.snapshot.interval == std::chrono::milliseconds{250});
}

TEST_CASE("the SQLite store keeps the newest state of each child, and forgets it with the child") {
  temp_dir dir;
  auto path = dir.file("children.db");
  store_system s;
  auto state = [](std::string id, uint64_t epoch, uint64_t seq, std::string text) {
    return stored_state{std::move(id), 1, epoch, seq, 123, {text.begin(), text.end()}};
  };
  {
    auto store = open(s, path);
    REQUIRE(!store->add(importer("a-job", "s3://a", 1)));
    REQUIRE(!store->add(importer("b-job", "s3://b", 1)));
    CHECK(!store->put_states({state("a-job", 10, 1, "a1"), state("b-job", 10, 5, "b5")}));
    // A second node sharing the file writes an older copy, and a newer one.
    CHECK(!store->put_states({state("a-job", 10, 3, "a3"), state("b-job", 10, 4, "b4")}));
    // Epochs are wall-clock microseconds: far above 2^32.
    CHECK(!store->put_states({state("a-job", 1'796'000'000'000'000, 0, "late")}));
  }
  auto store = open(s, path);
  CHECK(store->keeps_states());
  auto xs = store->get_states();
  REQUIRE_MESSAGE(xs, test::why(xs));
  REQUIRE(xs->size() == 2);
  CHECK((*xs)[0].id == "a-job");
  CHECK((*xs)[0].epoch == 1'796'000'000'000'000);
  CHECK(std::string((*xs)[0].state.begin(), (*xs)[0].state.end()) == "late");
  CHECK((*xs)[1].seq == 5); // the older copy did not overwrite it
  CHECK(std::string((*xs)[1].state.begin(), (*xs)[1].state.end()) == "b5");
  CHECK((*xs)[1].taken_us == 123);
  REQUIRE(!store->del("a-job"));
  xs = store->get_states();
  REQUIRE(xs);
  REQUIRE(xs->size() == 1);
  CHECK((*xs)[0].id == "b-job");
}

TEST_CASE("the SQLite store refuses duplicates, unknown ids and start functions") {
  temp_dir dir;
  store_system s;
  auto store = open(s, dir.file("children.db"));
  CHECK(!store->add(importer("job", "x", 1)));
  CHECK(store->add(importer("job", "y", 2)) == make_error(errc::already_present));
  CHECK(store->del("nosuch") == make_error(errc::not_found));
  child_spec by_function;
  by_function.id = "fn";
  by_function.start = [](caf::actor_system&) -> caf::expected<caf::actor> {
    return caf::actor{};
  };
  auto err = store->add(by_function);
  CHECK(err == make_error(errc::bad_spec));
  CHECK(actor::render(err).find("start function cannot be stored") != std::string::npos);
  auto all = store->get_all();
  REQUIRE(all);
  CHECK(ids(*all) == std::vector<std::string>{"job"});
  CHECK((*all)[0].args.get_as<std::string>(0) == "x");
}

TEST_CASE("the SQLite store matches only the specs its rule accepts") {
  temp_dir dir;
  store_system s;
  auto store = open_sqlite_store(*s.sys, {dir.file("children.db"), [](const child_spec& x) {
                                            return x.type == "importer";
                                          }});
  REQUIRE(store);
  CHECK((*store)->match(importer("job", "x", 1)));
  child_spec other;
  other.type = "session";
  CHECK(!(*store)->match(other));
}

TEST_CASE("a file that is no database, or a directory that does not exist, is a clear error") {
  temp_dir dir;
  store_system s;
  auto garbage = dir.file("garbage.db");
  std::ofstream{garbage} << std::string(8192, 'x');
  auto store = open_sqlite_store(*s.sys, {garbage, {}});
  REQUIRE(!store);
  CHECK(store.error() == make_error(errc::store_failed));
  CHECK(actor::render(store.error()).find("move it away") != std::string::npos);
  // The file is left as it was.
  CHECK(std::ifstream{garbage, std::ios::ate}.tellg() == 8192);
  auto missing = open_sqlite_store(*s.sys, {dir.file("no/such/dir/children.db"), {}});
  REQUIRE(!missing);
  CHECK(actor::render(missing.error()).find("writable") != std::string::npos);
}

TEST_CASE("a full disk fails the add with a clear error and loses nothing stored") {
  temp_dir dir;
  auto path = dir.file("children.db");
  {
    store_system s;
    auto store = open(s, path);
    CHECK(!store->add(importer("kept", "x", 1)));
  }
  // In a child process whose files may not grow past 1 MiB (the kernel's
  // "file too large", which SQLite reports like a full disk), add until it fails.
  auto pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    store_system s;
    auto store = open_sqlite_store(*s.sys, {path, {}});
    if (!store)
      ::_exit(3);
    std::string big(64 * 1024, 'z');
    for (int i = 0; i < 100; ++i)
      if (auto err = (*store)->add(importer("job-" + std::to_string(i), big, i)))
        ::_exit(err == make_error(errc::store_failed)
                    && actor::render(err).find("cannot store child") != std::string::npos
                  ? 0 : 4);
    ::_exit(5); // never filled up
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // What was stored before is still there.
  store_system s;
  auto store = open(s, path);
  auto all = store->get_all();
  REQUIRE_MESSAGE(all, test::why(all));
  auto names = ids(*all);
  CHECK(std::count(names.begin(), names.end(), "kept") == 1);
  MESSAGE((names.size() - 1) << " specs of 64 KiB fit under the 1 MiB limit");
}
