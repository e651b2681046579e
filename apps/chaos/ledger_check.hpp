#pragma once

// The ledger of a chaos run and the checks that prove or refute the ring
// supervisor's promise from it: no accepted child is ever lost, each runs
// exactly once, and no acknowledged change is lost in a planned move. Pure
// C++ (no CAF, no processes), so that the checks can be tested on hand-made
// ledgers.
//
// Example:
// ```
// std::string err;
// auto l = ledger::read_dir("/tmp/rv-chaos-x", &err);
// run_facts facts{children, acks, kills, live_pids, listed};
// auto result = check(l, facts);
// if (!result.violations.empty())
//   for (auto& line : l.window(result.violations[0].child, result.violations[0].ns))
//     std::cout << line << '\n';
// ```

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace ringvisor::chaos {

/// One ledger line: `<ns> <pid> <node> <child> <instance> <event> <args...>`.
/// Node events (`status <now>`) have `-` as child and instance. The ledger
/// keeps node events so, and child lines as `child_event`.
struct ledger_line {
  /// CLOCK_MONOTONIC in nanoseconds: one clock for every process.
  int64_t ns = 0;
  int64_t pid = 0;
  std::string node;
  std::string child;
  /// Random 64-bit hex, one per start of a child on a node.
  std::string instance;
  /// `start`, `tick`, `apply`, `stop` or `status`.
  std::string event;
  std::vector<std::string> args;
  /// The line as written.
  std::string text;
};

/// Parses one line; nothing if it is malformed (too few fields, bad
/// numbers, wrong arguments for its event).
std::optional<ledger_line> parse_line(const std::string& text);

/// The events of a child line.
enum class event_kind : uint8_t { start, tick, apply, stop, snap };

/// A child's line as the ledger keeps it: compact (a run writes millions of
/// ticks), its names interned (`ledger::name`).
struct child_event {
  int64_t ns = 0;
  int32_t pid = 0;
  uint32_t node = 0;
  uint32_t instance = 0;
  event_kind kind = event_kind::tick;
  /// start: count, epoch; tick: count; apply: request, count; stop: count,
  /// reason (a name); snap: count.
  uint64_t a = 0;
  uint64_t b = 0;

  /// Returns the count after the event.
  uint64_t count() const noexcept {
    return kind == event_kind::apply ? b : a;
  }
};

/// The lines of a run: per child in time order, and the node events.
class ledger {
public:
  /// Reads every `*.ledger` file of `dir`; `err` gets why it could not. A
  /// last line without its newline (a process killed while writing it) is
  /// counted in `truncated`, not parsed.
  static ledger read_dir(const std::string& dir, std::string* err);

  /// Adds one line of text (from `where`, for messages); a malformed line
  /// is kept apart. Call `sort` after the last one.
  void add(const std::string& text, const std::string& where = "");

  /// Puts every child's lines and the node events in time order.
  void sort();

  /// Returns the lines of each child, by child id.
  const std::map<std::string, std::vector<child_event>>& children() const noexcept {
    return children_;
  }

  /// Returns the interned name `id` (a node, an instance, a stop reason).
  const std::string& name(uint32_t id) const {
    return names_[id];
  }

  /// Returns the line of `child` as written.
  std::string text(const std::string& child, const child_event& e) const;

  /// Returns the node events (`status`), in time order.
  const std::vector<ledger_line>& node_events() const noexcept {
    return node_events_;
  }

  /// Returns the malformed lines, each prefixed with where it came from.
  const std::vector<std::string>& malformed() const noexcept {
    return malformed_;
  }

  /// Returns how many lines were read.
  size_t size() const noexcept {
    return size_;
  }

  /// Returns how many files ended in a line without its newline.
  size_t truncated() const noexcept {
    return truncated_;
  }

  /// Returns the lines of `child` around the time `ns`: up to `around`
  /// lines other than ticks on each side, runs of ticks folded into one
  /// line per instance, the first line at or after `ns` marked with `>`.
  std::vector<std::string> window(const std::string& child, int64_t ns,
                                  size_t around = 8) const;

private:
  uint32_t intern(const std::string& x);

  std::map<std::string, std::vector<child_event>> children_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<ledger_line> node_events_;
  std::vector<std::string> malformed_;
  size_t size_ = 0;
  size_t truncated_ = 0;
};

/// An acknowledged `inc`: the reply `value` for `request` to `child`,
/// received at `ns`.
struct ack {
  std::string child;
  uint64_t request = 0;
  uint64_t value = 0;
  int64_t ns = 0;
};

/// A node process killed with SIGKILL at `ns`.
struct kill_event {
  int64_t pid = 0;
  std::string node;
  int64_t ns = 0;
  /// Killed behind a cut (an isolated restart): no refused connection
  /// proves the death, so its children wait for failure detection and the
  /// fence; (d) leaves it out.
  bool behind_cut = false;
};

/// A node process suspended (SIGSTOP) from `from_ns` to `to_ns`.
struct pause_event {
  int64_t pid = 0;
  int64_t from_ns = 0;
  int64_t to_ns = 0;
};

/// What the controller knows besides the ledger.
struct run_facts {
  /// Every child created (accepted by `start_child`).
  std::vector<std::string> children;
  std::vector<ack> acks;
  std::vector<kill_event> kills;
  std::vector<pause_event> pauses;
  /// Node processes alive when the ledger was read.
  std::set<int64_t> live_pids;
  /// `which_children` at the end: child id -> node ("" = nowhere); nothing
  /// if it did not answer.
  std::optional<std::map<std::string, std::string>> listed;
};

/// The checks: (a) no child lost, (b) no two instances acting at once,
/// (c) no acknowledged change lost, and the ledger's own integrity.
enum class check_kind : uint8_t { lost, overlap, lost_change, ledger };

/// Returns `"a:lost"`, `"b:overlap"`, `"c:lost-change"` or `"ledger"`.
const char* to_string(check_kind x);

/// One broken promise: which check, which child, when, what.
struct violation {
  check_kind check = check_kind::lost;
  std::string child;
  int64_t ns = 0;
  std::string what;
  /// An overlap whose earlier instance's process was suspended while its
  /// successor started and acted again once resumed: the paused-node limit
  /// in docs/ring-supervisor.md. Still a violation.
  bool paused_node = false;
};

/// The outcome of `check`.
struct check_result {
  std::vector<violation> violations;
  /// Instances (starts) seen in the ledger.
  size_t instances = 0;
  /// Stops with a handoff or a graceful stop, followed by a start.
  size_t planned_moves = 0;
  /// Starts that lost the count after a crash (kill -9, split): allowed.
  size_t crash_resets = 0;
  /// Starts after a crash with the count of a snapshot an earlier instance
  /// gave (a `snap` line), not its last count.
  size_t crash_restores = 0;
  /// Requests applied again after a crash lost the reply cache: allowed.
  size_t reapplied_after_crash = 0;
  /// (d) For each child running on a killed process: the time from the
  /// kill to its next start elsewhere, in nanoseconds.
  std::vector<int64_t> restart_ns;
  /// Children of a killed process that never started again.
  size_t not_restarted = 0;

  /// Returns how many violations `kind` has.
  size_t count(check_kind kind) const;

  /// Returns how many overlaps are the paused-node limit.
  size_t paused_node_overlaps() const;
};

/// Checks the ledger against the facts; see docs/chaos.md for each check.
check_result check(const ledger& l, const run_facts& facts);

} // namespace ringvisor::chaos
