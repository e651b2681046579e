// The checks of ringvisor-chaos on hand-made ledgers: each one fails on the
// fault it is there for, and a clean run passes all of them.

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "ledger_check.hpp"

using namespace ringvisor::chaos;

namespace {

// Two live node processes: 100 (node a) and 200 (node b).
constexpr int64_t pid_a = 100;
constexpr int64_t pid_b = 200;

ledger make_ledger(const std::vector<std::string>& lines) {
  ledger result;
  for (auto& line : lines)
    result.add(line, "test");
  result.sort();
  return result;
}

run_facts facts_for(std::vector<std::string> children) {
  run_facts result;
  result.children = std::move(children);
  result.live_pids = {pid_a, pid_b};
  result.listed.emplace();
  return result;
}

std::string first_violation(const check_result& r) {
  return r.violations.empty() ? "none" : r.violations.front().what;
}

// c1 runs on a, applies request 7, moves to b with its count (handoff); c2
// runs on b all along.
const std::vector<std::string> clean_lines{
  "1000 100 a c1 i1 start 0 11",
  "1100 100 a c1 i1 tick 0",
  "1200 100 a c1 i1 apply 7 1",
  "1300 100 a c1 i1 tick 1",
  "1400 100 a c1 i1 stop 1 handoff",
  "1500 200 b c1 i2 start 1 12",
  "1600 200 b c1 i2 tick 1",
  "1700 200 b c1 i2 apply 8 2",
  "1050 200 b c2 j1 start 0 21",
  "1650 200 b c2 j1 tick 0",
  "1550 200 b - - status up",
};

} // namespace

TEST_CASE("a clean ledger passes every check") {
  auto l = make_ledger(clean_lines);
  auto facts = facts_for({"c1", "c2"});
  facts.acks = {{"c1", 7, 1, 1250}, {"c1", 8, 2, 1750}};
  *facts.listed = {{"c1", "b"}, {"c2", "b"}};
  auto r = check(l, facts);
  CHECK_MESSAGE(r.violations.empty(), "first: " << first_violation(r));
  CHECK(r.instances == 3);
  CHECK(r.planned_moves == 1);
  CHECK(r.crash_resets == 0);
  CHECK(l.size() == clean_lines.size());
}

TEST_CASE("an overlap of two instances of one child fails check (b)") {
  auto lines = clean_lines;
  lines.push_back("1520 100 a c1 i1 tick 1"); // i1 still acts after i2 started
  auto facts = facts_for({"c1", "c2"});
  *facts.listed = {{"c1", "b"}, {"c2", "b"}};
  auto r = check(make_ledger(lines), facts);
  CHECK(r.count(check_kind::overlap) == 1);
  // a line after the stop is also a broken ledger
  CHECK(r.count(check_kind::ledger) == 1);
  // an instance killed while its successor runs: no stop line at all
  auto killed = make_ledger({"1000 300 c c9 k1 start 0 1", "1100 300 c c9 k1 tick 0",
                             "1050 200 b c9 k2 start 0 2", "1150 200 b c9 k2 tick 0"});
  auto f2 = facts_for({"c9"});
  *f2.listed = {{"c9", "b"}};
  auto r2 = check(killed, f2);
  CHECK(r2.count(check_kind::overlap) == 1);
  CHECK_MESSAGE(r2.violations.size() == 1, "first: " << first_violation(r2));
}

TEST_CASE("an overlap after a SIGSTOP is the paused-node limit, and still a violation") {
  auto l = make_ledger({"1000 100 a c1 i1 start 0 11", "1100 100 a c1 i1 tick 0",
                        "1300 200 b c1 i2 start 0 12", "1400 200 b c1 i2 tick 0",
                        "1501 100 a c1 i1 tick 0", "1502 100 a c1 i1 stop 0 kill"});
  auto facts = facts_for({"c1"});
  *facts.listed = {{"c1", "b"}};
  facts.pauses = {{pid_a, 1150, 1500}};
  auto r = check(l, facts);
  REQUIRE(r.violations.size() == 1);
  CHECK(r.count(check_kind::overlap) == 1);
  CHECK(r.paused_node_overlaps() == 1);
  CHECK_MESSAGE(first_violation(r).find("acted 1 times from 1501") != std::string::npos,
                first_violation(r));
  // not paused when its successor started: a plain overlap
  facts.pauses = {{pid_a, 1350, 1500}};
  r = check(l, facts);
  CHECK(r.count(check_kind::overlap) == 1);
  CHECK(r.paused_node_overlaps() == 0);
}

TEST_CASE("a child without exactly one live instance fails check (a)") {
  auto lines = clean_lines;
  lines.push_back("1800 200 b c1 i2 stop 2 kill"); // c1 stopped for good
  auto facts = facts_for({"c1", "c2", "c3"});     // c3 never started
  *facts.listed = {{"c1", "b"}, {"c2", "b"}, {"c3", ""}};
  auto r = check(make_ledger(lines), facts);
  CHECK(r.count(check_kind::lost) == 3); // c1: none live; c3: none live, listed nowhere
  // an instance on a dead process is not live
  facts = facts_for({"c1", "c2"});
  facts.live_pids = {pid_a};
  *facts.listed = {{"c1", "b"}, {"c2", "b"}};
  r = check(make_ledger(clean_lines), facts);
  CHECK(r.count(check_kind::lost) == 2);
  // which_children must agree with the ledger
  facts = facts_for({"c1", "c2"});
  *facts.listed = {{"c1", "a"}, {"c2", "b"}};
  r = check(make_ledger(clean_lines), facts);
  CHECK(r.count(check_kind::lost) == 1);
  CHECK(r.violations.at(0).what.find("which_children") != std::string::npos);
  facts.listed.reset();
  CHECK(check(make_ledger(clean_lines), facts).count(check_kind::lost) >= 1);
}

TEST_CASE("a count lost in a planned move fails check (c)") {
  auto lines = clean_lines;
  lines[5] = "1500 200 b c1 i2 start 0 12"; // handed off at 1, started with 0
  lines[7] = "1700 200 b c1 i2 apply 8 1";
  auto facts = facts_for({"c1", "c2"});
  facts.acks = {{"c1", 7, 1, 1250}};
  *facts.listed = {{"c1", "b"}, {"c2", "b"}};
  auto r = check(make_ledger(lines), facts);
  CHECK(r.count(check_kind::lost_change) == 1);
  CHECK_MESSAGE(first_violation(r).find("planned move lost the count") != std::string::npos,
                first_violation(r));
  // an ack that no apply line explains
  facts = facts_for({"c1", "c2"});
  facts.acks = {{"c1", 99, 5, 1250}, {"c1", 7, 3, 1250}};
  *facts.listed = {{"c1", "b"}, {"c2", "b"}};
  r = check(make_ledger(clean_lines), facts);
  CHECK(r.count(check_kind::lost_change) == 2);
  // an acked value that a later start of its lineage does not include
  lines = clean_lines;
  lines[4] = "1400 100 a c1 i1 stop 0 handoff"; // stop count below the apply
  lines[5] = "1500 200 b c1 i2 start 0 12";
  facts = facts_for({"c1", "c2"});
  facts.acks = {{"c1", 7, 1, 1250}};
  *facts.listed = {{"c1", "b"}, {"c2", "b"}};
  r = check(make_ledger(lines), facts);
  CHECK(r.count(check_kind::lost_change) == 1);
  CHECK_MESSAGE(first_violation(r).find("acked value 1") != std::string::npos, first_violation(r));
}

TEST_CASE("a request applied twice within one lineage fails check (c)") {
  auto lines = clean_lines;
  lines[7] = "1700 200 b c1 i2 apply 7 2"; // request 7 again after the move
  auto facts = facts_for({"c1", "c2"});
  *facts.listed = {{"c1", "b"}, {"c2", "b"}};
  auto r = check(make_ledger(lines), facts);
  CHECK(r.count(check_kind::lost_change) == 1);
  CHECK(r.reapplied_after_crash == 0);
}

TEST_CASE("a crash may reset the count: counted, not a violation") {
  // c1 on pid 300 (killed at 1450) restarts on b with 0, and request 7 runs
  // again there (its reply cache died with pid 300).
  auto l = make_ledger({"1000 300 c c1 i1 start 0 11", "1200 300 c c1 i1 apply 7 1",
                        "1300 300 c c1 i1 tick 1", "1500 200 b c1 i2 start 0 12",
                        "1600 200 b c1 i2 apply 7 1"});
  auto facts = facts_for({"c1"});
  facts.acks = {{"c1", 7, 1, 1700}};
  facts.kills = {{300, "c", 1450}};
  *facts.listed = {{"c1", "b"}};
  auto r = check(l, facts);
  CHECK_MESSAGE(r.violations.empty(), "first: " << first_violation(r));
  CHECK(r.crash_resets == 1);
  CHECK(r.reapplied_after_crash == 1);
  REQUIRE(r.restart_ns.size() == 1);
  CHECK(r.restart_ns[0] == 50);
  // a handoff whose holder was killed before the next start: a crash too
  auto held = make_ledger({"1000 100 a c1 i1 start 0 11", "1200 100 a c1 i1 apply 7 1",
                           "1300 100 a c1 i1 stop 1 handoff", "1500 200 b c1 i2 start 0 12"});
  facts.kills = {{pid_a, "a", 1400}};
  r = check(held, facts);
  CHECK(r.count(check_kind::lost_change) == 0);
  CHECK(r.crash_resets == 1);
  // ... or the nodes reported a split meanwhile; without either it is a loss
  auto split = make_ledger({"1000 100 a c1 i1 start 0 11", "1300 100 a c1 i1 stop 1 handoff",
                            "1400 100 a - - status split", "1500 200 b c1 i2 start 0 12"});
  facts.kills.clear();
  facts.acks.clear();
  CHECK(check(split, facts).count(check_kind::lost_change) == 0);
  auto lost = make_ledger({"1000 100 a c1 i1 start 0 11", "1300 100 a c1 i1 stop 1 handoff",
                           "1500 200 b c1 i2 start 0 12"});
  CHECK(check(lost, facts).count(check_kind::lost_change) == 1);
}

TEST_CASE("after a crash a child may continue from a snapshot, but only from one it gave") {
  // c1 on pid 300 gives snapshots at counts 1 and 2, applies 3, is killed;
  // it continues on b from the snapshot at 2.
  std::vector<std::string> lines{"1000 300 c c1 i1 start 0 11", "1100 300 c c1 i1 apply 6 1",
                                 "1150 300 c c1 i1 snap 1",     "1200 300 c c1 i1 apply 7 2",
                                 "1250 300 c c1 i1 snap 2",     "1300 300 c c1 i1 apply 8 3"};
  auto facts = facts_for({"c1"});
  facts.kills = {{300, "c", 1450}};
  *facts.listed = {{"c1", "b"}};
  auto restored = lines;
  restored.push_back("1500 200 b c1 i2 start 2 12");
  auto r = check(make_ledger(restored), facts);
  CHECK_MESSAGE(r.violations.empty(), "first: " << first_violation(r));
  CHECK(r.crash_restores == 1);
  CHECK(r.crash_resets == 0);
  // A count no instance gave for a snapshot is a violation.
  auto made_up = lines;
  made_up.push_back("1500 200 b c1 i2 start 5 12");
  r = check(make_ledger(made_up), facts);
  CHECK(r.count(check_kind::lost_change) == 1);
  CHECK(first_violation(r).find("nor that of a snapshot") != std::string::npos);
  // A snap line is no act: an instance read after its successor started
  // overlaps nothing.
  auto late_read = restored;
  late_read.push_back("1600 300 c c1 i1 snap 3");
  facts.kills = {{300, "c", 1700}};
  r = check(make_ledger(late_read), facts);
  CHECK(r.count(check_kind::overlap) == 0);
}

TEST_CASE("a child of a killed process that never starts again is counted") {
  auto l = make_ledger({"1000 300 c c1 i1 start 0 11"});
  auto facts = facts_for({"c1"});
  facts.kills = {{300, "c", 1450}};
  *facts.listed = {{"c1", "b"}};
  auto r = check(l, facts);
  CHECK(r.not_restarted == 1);
  CHECK(r.restart_ns.empty());
  CHECK(r.count(check_kind::lost) == 1); // no live instance
}

TEST_CASE("malformed lines are reported, not guessed at") {
  CHECK_FALSE(parse_line("1000 100 a c1 i1 start 0"));     // no epoch
  CHECK_FALSE(parse_line("1000 100 a c1 i1 tick x"));      // not a count
  CHECK_FALSE(parse_line("1000 100 a c1 i1 jump 1"));      // no such event
  CHECK_FALSE(parse_line("x 100 a c1 i1 tick 1"));         // no time
  CHECK_FALSE(parse_line("1000 100 a - - tick 1"));        // a child event without a child
  CHECK(parse_line("1000 100 a - - status split"));
  auto l = make_ledger({"1000 100 a c1 i1 start 0 11", "1100 100 a c1 i1 ti"});
  auto facts = facts_for({"c1"});
  *facts.listed = {{"c1", "a"}};
  auto r = check(l, facts);
  CHECK(r.count(check_kind::ledger) == 1);
  CHECK(r.violations.size() == 1);
}

TEST_CASE("the window of a violation folds ticks and marks the moment") {
  std::vector<std::string> lines{"1000 100 a c1 i1 start 0 11"};
  for (int t = 1; t <= 50; ++t)
    lines.push_back(std::to_string(1000 + t) + " 100 a c1 i1 tick 0");
  lines.push_back("1100 100 a c1 i1 stop 0 handoff");
  lines.push_back("1200 200 b c1 i2 start 0 12");
  auto l = make_ledger(lines);
  auto w = l.window("c1", 1200);
  REQUIRE(w.size() == 4);
  CHECK(w[0] == "  1000 100 a c1 i1 start 0 11");
  CHECK(w[1].find("50 ticks of i1") != std::string::npos);
  CHECK(w[3] == "> 1200 200 b c1 i2 start 0 12");
  CHECK(l.window("nobody", 0).empty());
}

TEST_CASE("a ledger directory is read whole, but for a line cut off by SIGKILL") {
  char tmpl[] = "/tmp/rv-chaos-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  std::ofstream{dir + "/a-100.ledger"} << "1000 100 a c1 i1 start 0 11\n1100 100 a c1 i1 tick 0\n";
  std::ofstream{dir + "/b-200.ledger"} << "1050 200 b c2 j1 start 0 21\n1060 200 b c2 j1 ti";
  std::ofstream{dir + "/a-100.log"} << "not a ledger\n";
  std::string err;
  auto l = ledger::read_dir(dir, &err);
  CHECK(err.empty());
  CHECK(l.size() == 3);
  CHECK(l.truncated() == 1);
  CHECK(l.malformed().empty());
  REQUIRE(l.children().count("c1") == 1);
  CHECK(l.text("c1", l.children().at("c1").at(1)) == "1100 100 a c1 i1 tick 0");
  std::filesystem::remove_all(dir);
  ledger::read_dir(dir, &err);
  CHECK(!err.empty());
}
