// The job-runner's progress table: a write with an older epoch than the
// row's is refused, so a stale owner cannot overwrite its successor's row.

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "progress.hpp"
#include "support/printers.hpp"
#include "support/temp_dir.hpp"

using namespace ringvisor;
using jobs::progress_table;

namespace {

/// An empty jobs database in a directory of its own.
struct temp_db {
  ringvisor::test::temp_dir dir{"rv-progress"};
  std::string path = dir.file("jobs.db");

  temp_db() {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &h) == SQLITE_OK);
    sqlite3_close(h);
  }
};

} // namespace

TEST_CASE("progress rows take the same or a newer epoch and refuse an older one") {
  temp_db db;
  auto t = progress_table::open(db.path);
  REQUIRE(t);
  auto& table = **t;
  CHECK(table.write("orders", 100, {"a", 5}) == caf::expected<bool>{true});
  CHECK(table.write("orders", 200, {"a", 5}) == caf::expected<bool>{true});
  // the new owner after a failover
  CHECK(table.write("orders", 150, {"b", 9}) == caf::expected<bool>{true});
  // the old owner, resumed after a pause: refused, the row stays
  CHECK(table.write("orders", 300, {"a", 5}) == caf::expected<bool>{false});
  auto row = table.read("orders");
  REQUIRE(row);
  REQUIRE(*row);
  CHECK((*row)->records == 150);
  CHECK((*row)->epoch == 9);
  CHECK((*row)->node == "b");
  auto none = table.read("users");
  REQUIRE(none);
  CHECK(!*none);
}

TEST_CASE("a progress table on a database that does not exist is a clear error") {
  auto t = progress_table::open("/nonexistent/jobs.db");
  REQUIRE(!t);
  CHECK(actor::render(t.error()).find("/nonexistent/jobs.db") != std::string::npos);
}
