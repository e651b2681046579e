#include "progress.hpp"

#include <sqlite3.h>

#include "ringvisor/actor/errc.hpp"

namespace jobs {

namespace rv = ringvisor;

caf::expected<std::shared_ptr<progress_table>> progress_table::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    auto err = rv::actor::make_error(rv::actor::errc::bad_config, "jobs.db '" + path + "'",
                                     std::string{"cannot open for writing: "}
                                       + (db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close_v2(db);
    return err;
  }
  std::shared_ptr<progress_table> result{new progress_table(db)};
  sqlite3_busy_timeout(db, 2000);
  auto create = "CREATE TABLE IF NOT EXISTS progress (id TEXT PRIMARY KEY, records INTEGER, "
                "epoch INTEGER, node TEXT)";
  if (sqlite3_exec(db, create, nullptr, nullptr, nullptr) != SQLITE_OK)
    return result->fail("cannot create the table progress");
  return result;
}

progress_table::~progress_table() {
  sqlite3_close_v2(db_);
}

caf::error progress_table::fail(const std::string& what) const {
  return rv::actor::make_error(rv::actor::errc::bad_config, "jobs.db",
                               what + ": " + sqlite3_errmsg(db_));
}

caf::expected<bool> progress_table::write(const std::string& id, int64_t records,
                                          const rv::ring::placement& where) {
  // The row changes only for the same or a newer epoch.
  static constexpr const char* sql
    = "INSERT INTO progress (id, records, epoch, node) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (id) DO UPDATE SET records = excluded.records, epoch = excluded.epoch, "
      "node = excluded.node WHERE excluded.epoch >= progress.epoch";
  std::lock_guard<std::mutex> guard{mtx_};
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK)
    return fail("cannot write progress");
  sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 2, records);
  sqlite3_bind_int64(stmt, 3, static_cast<sqlite3_int64>(where.epoch));
  sqlite3_bind_text(stmt, 4, where.node.c_str(), -1, SQLITE_TRANSIENT);
  auto rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE)
    return fail("cannot write progress");
  return sqlite3_changes(db_) > 0;
}

caf::expected<std::optional<progress_row>> progress_table::read(const std::string& id) {
  std::lock_guard<std::mutex> guard{mtx_};
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT records, epoch, node FROM progress WHERE id = ?1", -1,
                         &stmt, nullptr)
      != SQLITE_OK)
    return fail("cannot read progress");
  sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  std::optional<progress_row> result;
  auto rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    auto node = sqlite3_column_text(stmt, 2);
    result = progress_row{sqlite3_column_int64(stmt, 0),
                          static_cast<uint64_t>(sqlite3_column_int64(stmt, 1)),
                          node ? reinterpret_cast<const char*>(node) : ""};
    rc = sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE)
    return fail("cannot read progress");
  return result;
}

} // namespace jobs
