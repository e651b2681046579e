#pragma once

// How far each job got, in the table `progress` of the jobs database, fenced
// by the epoch of the job's placement: a job whose node was paused or cut
// off, and which a newer owner already replaced, cannot overwrite the newer
// owner's row (the receiver of a write refuses a stale epoch: Kleppmann's
// fencing token; `still_owner()` alone cannot close the gap between its
// check and the write).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/expected.hpp>

#include "ringvisor/ring/supervisor.hpp"

struct sqlite3;

namespace jobs {

/// A row of `progress`.
struct progress_row {
  int64_t records = 0;
  uint64_t epoch = 0;
  std::string node;
};

/// The table `progress(id TEXT PRIMARY KEY, records INTEGER, epoch INTEGER,
/// node TEXT)` in the jobs database; one per node, shared by its jobs.
class progress_table {
public:
  /// Opens the database at `path` (it must exist) and creates the table if
  /// it is missing.
  static caf::expected<std::shared_ptr<progress_table>> open(const std::string& path);

  ~progress_table();

  progress_table(const progress_table&) = delete;
  progress_table& operator=(const progress_table&) = delete;

  /// Records that job `id`, placed at `where`, imported `records`. Returns
  /// false, writing nothing, if the row holds a newer epoch: a newer owner
  /// runs the job.
  caf::expected<bool> write(const std::string& id, int64_t records,
                            const ringvisor::ring::placement& where);

  /// Returns the row of job `id`, if any.
  caf::expected<std::optional<progress_row>> read(const std::string& id);

private:
  explicit progress_table(sqlite3* db) : db_(db) {
    // nop
  }

  caf::error fail(const std::string& what) const;

  std::mutex mtx_; // jobs write from several scheduler threads
  sqlite3* db_;
};

} // namespace jobs
