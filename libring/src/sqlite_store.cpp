#include <utility>

#include <caf/actor_system.hpp>
#include <sqlite3.h>

#include "ringvisor/ring/child_store.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "spec_codec.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

child_store::~child_store() = default;

bool child_store::keeps_states() const {
  return false;
}

caf::error child_store::put_states(const std::vector<stored_state>&) {
  return caf::none;
}

caf::expected<std::vector<stored_state>> child_store::get_states() {
  return std::vector<stored_state>{};
}

namespace {

constexpr const char* schema = R"sql(
  CREATE TABLE IF NOT EXISTS ringvisor_children (
    id   TEXT PRIMARY KEY,
    spec BLOB NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS ringvisor_states (
    id       TEXT PRIMARY KEY,
    record   INTEGER NOT NULL,
    epoch    INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    taken_us INTEGER NOT NULL,
    state    BLOB NOT NULL
  ) WITHOUT ROWID;
)sql";

/// Keeps a state unless a newer one of the child is there: nodes that share
/// the file write their copies of the same snapshots.
constexpr const char* upsert_state = R"sql(
  INSERT INTO ringvisor_states (id, record, epoch, seq, taken_us, state)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6)
  ON CONFLICT (id) DO UPDATE SET record = excluded.record, epoch = excluded.epoch,
    seq = excluded.seq, taken_us = excluded.taken_us, state = excluded.state
  WHERE excluded.epoch > epoch OR (excluded.epoch = epoch AND excluded.seq > seq)
)sql";

/// SQLite keeps integers signed: 64-bit epochs and times round-trip bit for
/// bit, and compare right below 2^63 (epochs are wall-clock microseconds).
sqlite3_int64 to_sql(uint64_t x) {
  return static_cast<sqlite3_int64>(x);
}

uint64_t from_sql(sqlite3_int64 x) {
  return static_cast<uint64_t>(x);
}

/// A prepared statement, finalized on scope exit.
class statement {
public:
  statement(sqlite3* db, const char* sql) {
    sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }

  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  ~statement() {
    sqlite3_finalize(stmt_);
  }

  sqlite3_stmt* get() const noexcept {
    return stmt_;
  }

private:
  sqlite3_stmt* stmt_ = nullptr;
};

class sqlite_store final : public child_store {
public:
  sqlite_store(caf::actor_system& sys, sqlite_store_options opts, sqlite3* db)
    : sys_(sys), opts_(std::move(opts)), db_(db) {
    // nop
  }

  ~sqlite_store() override {
    sqlite3_close_v2(db_);
  }

  bool match(const child_spec& spec) const override {
    return !opts_.match || opts_.match(spec);
  }

  caf::error add(const child_spec& spec) override {
    auto blob = encode_spec(sys_, spec);
    if (!blob)
      return std::move(blob.error());
    statement insert{db_, "INSERT INTO ringvisor_children (id, spec) VALUES (?1, ?2)"};
    sqlite3_bind_text(insert.get(), 1, spec.id.data(), static_cast<int>(spec.id.size()),
                      SQLITE_STATIC);
    sqlite3_bind_blob(insert.get(), 2, blob->data(), static_cast<int>(blob->size()),
                      SQLITE_STATIC);
    auto rc = sqlite3_step(insert.get());
    if (rc == SQLITE_CONSTRAINT)
      return make_error(errc::already_present, spec.id);
    if (rc != SQLITE_DONE)
      return failure("cannot store child " + spec.id);
    return caf::none;
  }

  caf::error del(const std::string& id) override {
    statement remove{db_, "DELETE FROM ringvisor_children WHERE id = ?1"};
    sqlite3_bind_text(remove.get(), 1, id.data(), static_cast<int>(id.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(remove.get()) != SQLITE_DONE)
      return failure("cannot delete child " + id);
    if (sqlite3_changes(db_) == 0)
      return make_error(errc::not_found, id);
    statement forget{db_, "DELETE FROM ringvisor_states WHERE id = ?1"};
    sqlite3_bind_text(forget.get(), 1, id.data(), static_cast<int>(id.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(forget.get()) != SQLITE_DONE)
      return failure("cannot delete the state of child " + id);
    return caf::none;
  }

  bool keeps_states() const override {
    return true;
  }

  // One transaction per batch: one sync to disk, however many states.
  caf::error put_states(const std::vector<stored_state>& xs) override {
    if (xs.empty())
      return caf::none;
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      return failure("cannot store states");
    statement put{db_, upsert_state};
    for (auto& x : xs) {
      sqlite3_reset(put.get());
      sqlite3_bind_text(put.get(), 1, x.id.data(), static_cast<int>(x.id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(put.get(), 2, to_sql(x.record));
      sqlite3_bind_int64(put.get(), 3, to_sql(x.epoch));
      sqlite3_bind_int64(put.get(), 4, to_sql(x.seq));
      sqlite3_bind_int64(put.get(), 5, to_sql(x.taken_us));
      sqlite3_bind_blob(put.get(), 6, x.state.data(), static_cast<int>(x.state.size()),
                        SQLITE_STATIC);
      if (sqlite3_step(put.get()) != SQLITE_DONE) {
        auto err = failure("cannot store the state of child " + x.id);
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return err;
      }
    }
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      auto err = failure("cannot store states");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return err;
    }
    return caf::none;
  }

  caf::expected<std::vector<stored_state>> get_states() override {
    statement select{db_, "SELECT id, record, epoch, seq, taken_us, state FROM ringvisor_states"
                          " ORDER BY id"};
    std::vector<stored_state> result;
    int rc;
    while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
      auto& x = result.emplace_back();
      x.id = reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 0));
      x.record = from_sql(sqlite3_column_int64(select.get(), 1));
      x.epoch = from_sql(sqlite3_column_int64(select.get(), 2));
      x.seq = from_sql(sqlite3_column_int64(select.get(), 3));
      x.taken_us = from_sql(sqlite3_column_int64(select.get(), 4));
      auto data = static_cast<const char*>(sqlite3_column_blob(select.get(), 5));
      x.state.assign(data, data + sqlite3_column_bytes(select.get(), 5));
    }
    if (rc != SQLITE_DONE)
      return failure("cannot read the states");
    return result;
  }

  caf::expected<std::vector<child_spec>> get_all() override {
    statement select{db_, "SELECT id, spec FROM ringvisor_children ORDER BY id"};
    std::vector<child_spec> result;
    int rc;
    while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
      auto data = static_cast<const char*>(sqlite3_column_blob(select.get(), 1));
      std::vector<char> blob{data, data + sqlite3_column_bytes(select.get(), 1)};
      auto id = reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 0));
      auto spec = decode_spec(sys_, blob, opts_.path, id);
      if (!spec)
        return std::move(spec.error());
      result.push_back(std::move(*spec));
    }
    if (rc != SQLITE_DONE)
      return failure("cannot read the children");
    return result;
  }

private:
  caf::error failure(const std::string& what) const {
    return store_error(db_, opts_.path, what);
  }

public:
  /// Makes `errc::store_failed` from the last SQLite error on `db`, with a
  /// hint for the common causes.
  static caf::error store_error(sqlite3* db, const std::string& path,
                                const std::string& what) {
    auto code = sqlite3_errcode(db);
    std::string hint;
    switch (code & 0xff) {
      case SQLITE_FULL:
        hint = "the disk is full: free space, then retry";
        break;
      case SQLITE_NOTADB:
      case SQLITE_CORRUPT:
        hint = "the file is not a ringvisor child store or is damaged: "
               "move it away to start with an empty store";
        break;
      case SQLITE_CANTOPEN:
      case SQLITE_PERM:
      case SQLITE_READONLY:
        hint = "check that the directory exists and is writable";
        break;
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        hint = "another process holds the database locked";
        break;
      default:
        hint = "see the SQLite error";
    }
    return make_error(errc::store_failed, path,
                      what + ": " + sqlite3_errmsg(db) + "; " + hint);
  }

private:
  caf::actor_system& sys_;
  sqlite_store_options opts_;
  sqlite3* db_;
};

} // namespace

caf::expected<std::unique_ptr<child_store>>
open_sqlite_store(caf::actor_system& sys, sqlite_store_options opts) {
  sqlite3* db = nullptr;
  auto flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  auto rc = sqlite3_open_v2(opts.path.c_str(), &db, flags, nullptr);
  auto fail = [&](const std::string& what) {
    auto err = sqlite_store::store_error(db, opts.path, what);
    sqlite3_close_v2(db);
    return err;
  };
  if (rc != SQLITE_OK)
    return fail("cannot open the child store");
  sqlite3_busy_timeout(db, 5000);
  // WAL: readers do not block the writer; synchronous=FULL: an acknowledged
  // add survives a power loss, not only a crash.
  for (auto sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", schema})
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      return fail("cannot set up the child store");
  return std::unique_ptr<child_store>{new sqlite_store(sys, std::move(opts), db)};
}

} // namespace ringvisor::ring
