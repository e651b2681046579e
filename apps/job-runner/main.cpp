// ringvisor-job-runner: Stoker's own scenario. Data-import jobs are rows of
// a SQLite table; every node runs the ring supervisor "jobs" (each job runs
// on exactly one node, starts again on a survivor when its node dies, and
// keeps its progress when it moves) and the activator "job-runner". The
// leader, on its timer and on `trigger`, makes the ring's child list match
// the table: rows added start, rows removed stop.
//
// Run (each node, one shared database file that has the table):
//   sqlite3 /tmp/jobs.db "create table jobs (id text primary key, path text)"
//   ringvisor-job-runner --ringvisor.name=a --ringvisor.port=4920 --jobs.db=/tmp/jobs.db
//                        --ringvisor.data-dir=/tmp/jobs-a
//   ringvisor-job-runner --ringvisor.name=b '--ringvisor.seeds=["127.0.0.1:4920"]'
//                        --ringvisor.data-dir=/tmp/jobs-b --jobs.db=...
//   (each node remembers its cluster in its data directory: docs/cluster.md)
//   sqlite3 /tmp/jobs.db "insert into jobs values ('orders', '/data/orders.csv')"
//
// Prints `listening <host:port>`; stops in order on SIGINT or SIGTERM.

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/discovery.hpp"
#include "ringvisor/cluster/singleton.hpp"
#include "ringvisor/ring/all.hpp"

#include "progress.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;

namespace {

struct runner_config : actor::node_config {
  std::string db;
  caf::timespan sync_every = 1s;

  runner_config() {
    opt_group{custom_options_, "jobs"}
      .add(db, "db", "SQLite file with the table jobs(id TEXT PRIMARY KEY, path TEXT)")
      .add(sync_every, "sync-every", "how often the leader compares the table with the jobs");
    ringvisor::add_types(*this);
  }
};

// -- a job ------------------------------------------------------------------------

using tick_atom = caf::atom_constant<caf::atom("tick")>;

// What moves with a job: how far the import got.
struct job_state {
  int64_t records = 0;
};

// What stays with one instance of a job: its right to import. A job whose
// node resumes after a pause may run elsewhere by now: it imports nothing
// while its node holds no lease (ring::ownership), and it writes its
// progress with the epoch of its placement, which the table refuses once a
// newer owner wrote (jobs::progress_table); then it idles until its
// ring supervisor stops it (quitting would only have it restarted here).
struct job_instance {
  ring::ownership owner;
  std::shared_ptr<jobs::progress_table> progress;
  bool fenced = false;
};

// How many records between two progress rows.
constexpr int64_t progress_every = 100;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_state& x) {
  return f(caf::meta::type_name("job_state"), x.records);
}

// "Imports" a record every 10 ms (a stand-in for reading `path`), writes its
// progress every `progress_every` records; answers `(caf::get_atom)` with
// how many it did, across moves.
caf::behavior import_job(caf::stateful_actor<job_state>* self, std::string id, std::string path,
                         std::shared_ptr<jobs::progress_table> progress) {
  log::info("job_started", {{"job", id}, {"path", path}});
  auto me = std::make_shared<job_instance>(); // the state is replaced on a move
  me->progress = std::move(progress);
  self->delayed_send(self, 10ms, tick_atom::value);
  caf::message_handler own{
    [self, me](ring::placed_atom, const ring::placement& where, const ring::restore_info&) {
      me->owner = ring::ownership{self->system(), where};
    },
    [self, me, id](tick_atom) {
      self->delayed_send(self, 10ms, tick_atom::value);
      if (me->fenced || !me->owner.still_owner())
        return;
      if (++self->state.records % progress_every != 0)
        return;
      auto written = me->progress->write(id, self->state.records, me->owner.where());
      if (!written) {
        log::warn("job_progress_not_written",
                  {{"job", id}, {"reason", actor::render(written.error())}});
      } else if (!*written) {
        log::warn("job_fenced", {{"job", id}, {"epoch", me->owner.where().epoch}});
        me->fenced = true;
      }
    },
    [self](caf::get_atom) { return self->state.records; },
  };
  return own.or_else(actor::state_handlers(self));
}

// -- the table ------------------------------------------------------------------

// Returns the rows of `jobs` (id -> path), or an error naming the problem.
caf::expected<std::map<std::string, std::string>> read_jobs(const std::string& path) {
  sqlite3* db = nullptr;
  auto fail = [&](const std::string& what) {
    auto err = actor::make_error(actor::errc::bad_config, "jobs.db '" + path + "'",
                                 what + ": " + (db ? sqlite3_errmsg(db) : "cannot open"));
    sqlite3_close_v2(db);
    return err;
  };
  // Read-only, and the table must exist: a mistyped path must not look
  // like an empty table, or the leader would stop every job.
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return fail("cannot open (create it with the table jobs first)");
  sqlite3_busy_timeout(db, 1000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT id, path FROM jobs", -1, &stmt, nullptr) != SQLITE_OK)
    return fail("no table jobs(id TEXT PRIMARY KEY, path TEXT)");
  std::map<std::string, std::string> rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    auto text = [&](int col) {
      auto p = sqlite3_column_text(stmt, col);
      return p ? std::string{reinterpret_cast<const char*>(p)} : std::string{};
    };
    rows.emplace(text(0), text(1));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE)
    return fail("cannot read the table jobs");
  sqlite3_close_v2(db);
  return rows;
}

// -- the leader's work ------------------------------------------------------------

using sync_atom = caf::atom_constant<caf::atom("sync")>;

// Makes the ring supervisor's children match the table; blocks on SQLite
// and on the ring, so it runs on a thread of its own (a detached actor),
// one sync at a time.
class table_syncer {
public:
  table_syncer(caf::actor_system& sys, caf::actor directory, std::string db)
    : sys_(sys), directory_(std::move(directory)), db_(std::move(db)) {
    // nop
  }

  /// Whether this node leads: a sync runs only then (one queued while the
  /// node led does nothing once it no longer does).
  std::atomic<bool> leading{false};

  /// Set when a sync is asked for; syncs asked while one waits merge into it.
  std::atomic<bool> pending{false};

  void sync() {
    pending = false;
    if (!leading)
      return;
    auto rows = read_jobs(db_);
    if (!rows) {
      set_last(actor::render(rows.error()));
      log::error("jobs_unreadable", {{"reason", actor::render(rows.error())}});
      return;
    }
    auto sup = actor::blocking_request<caf::actor>(sys_, directory_, 2s, caf::get_atom::value,
                                                   ring::directory_name("jobs"));
    if (!sup) {
      set_last(actor::render(sup.error()));
      return;
    }
    auto jobs = ring::ref{sys_, *sup}.within(2s);
    auto running = jobs.which_children();
    if (!running) {
      set_last(actor::render(running.error()));
      return;
    }
    std::set<std::string> known;
    size_t started = 0;
    size_t stopped = 0;
    for (auto& child : *running) {
      known.insert(child.id);
      if (!rows->count(child.id) && !jobs.delete_child(child.id))
        ++stopped;
    }
    for (auto& [id, path] : *rows) {
      if (known.count(id))
        continue;
      supervision::child_spec spec;
      spec.id = id;
      spec.type = "import";
      spec.args = caf::make_message(id, path);
      if (jobs.start_child(spec))
        ++started;
    }
    set_last(std::to_string(rows->size()) + " rows, " + std::to_string(started) + " started, "
             + std::to_string(stopped) + " stopped");
    if (started + stopped > 0)
      log::info("jobs_synced", {{"rows", rows->size()}, {"started", started},
                                {"stopped", stopped}});
  }

  std::string last() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_;
  }

private:
  void set_last(std::string x) {
    std::lock_guard<std::mutex> guard{mtx_};
    last_ = std::move(x);
  }

  caf::actor_system& sys_;
  caf::actor directory_;
  std::string db_;
  mutable std::mutex mtx_; // last_ is read by the activator's dump
  std::string last_ = "none yet";
};

// The activator: while this node leads, it has the table synced on every
// timer, trigger and membership change. Only the leader syncs: a node that
// lets go stops before its next sync (one already running finishes; its
// starts of present jobs and deletes of absent ones are refused).
class job_runner : public cluster::activator {
public:
  job_runner(caf::actor_system& sys, caf::actor directory, std::string db, caf::timespan every)
    : syncer_(std::make_shared<table_syncer>(sys, std::move(directory), std::move(db))),
      every_(every) {
    worker_ = sys.spawn<caf::detached>([s = syncer_](caf::event_based_actor*) -> caf::behavior {
      return {[s](sync_atom) { s->sync(); }};
    });
  }

  ~job_runner() override {
    caf::anon_send_exit(worker_, caf::exit_reason::user_shutdown);
  }

  void event(cluster::activator_event kind, const std::string&) override {
    using ev = cluster::activator_event;
    switch (kind) {
      case ev::now_leader:
        syncer_->leading = true;
        request_sync();
        break;
      case ev::timer:
      case ev::trigger:
      case ev::cluster_change:
        request_sync();
        break;
      case ev::now_follower:
      case ev::cluster_split:
      case ev::shutdown:
        syncer_->leading = false;
        break;
    }
  }

  std::optional<caf::timespan> next_timer_in() override {
    return every_;
  }

  std::string dump() const override {
    return "last sync: " + syncer_->last();
  }

private:
  void request_sync() {
    if (!syncer_->pending.exchange(true))
      caf::anon_send(worker_, sync_atom::value);
  }

  std::shared_ptr<table_syncer> syncer_;
  caf::actor worker_;
  caf::timespan every_;
};

int fail(const caf::error& err) {
  std::cerr << "ringvisor-job-runner: " << actor::render(err) << '\n';
  return EXIT_FAILURE;
}

} // namespace

int main(int argc, char** argv) {
  runner_config cfg;
  if (auto err = cfg.read(argc, argv))
    return fail(err);
  if (cfg.printed_and_done())
    return EXIT_SUCCESS;
  if (cfg.db.empty())
    return fail(actor::make_error(actor::errc::bad_config, "jobs.db",
                                  "the SQLite file with the jobs table is required"));
  if (auto rows = read_jobs(cfg.db); !rows)
    return fail(rows.error()); // say what is wrong before joining anything
  if (auto err = cluster::check_seeds(cfg.seeds))
    return fail(err);
  auto started = actor::node::start(cfg);
  if (!started)
    return fail(started.error());
  auto& n = **started;
  auto agent_started = cluster::start_agent(n);
  if (!agent_started)
    return fail(agent_started.error());
  auto agent = *agent_started;
  auto progress = jobs::progress_table::open(cfg.db);
  if (!progress)
    return fail(progress.error());
  (void) n.factories()->add<std::string, std::string>(
    "import", [progress = *progress](caf::stateful_actor<job_state>* self, std::string id,
                                     std::string path) {
      return import_job(self, std::move(id), std::move(path), progress);
    });
  ring::supervisor_spec spec;
  spec.name = "jobs";
  spec.tell_placement = true; // each job learns its epoch (see job_instance)
  auto sup = ring::start_supervisor(n, spec);
  if (!sup)
    return fail(sup.error());
  auto act = cluster::start_activator(
    n, agent, "job-runner",
    std::make_unique<job_runner>(n.system(), n.directory(), cfg.db, cfg.sync_every));
  if (!act)
    return fail(act.error());
  std::cout << "listening " << n.identity().endpoint() << std::endl;
  actor::node::await_signal();
  n.shutdown();
  return EXIT_SUCCESS;
}
