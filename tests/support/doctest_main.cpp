// The doctest main of every test binary. A run in which no test case passed
// the filters fails: ctest runs each test case by name, and a name that
// matches nothing (CMake cuts names at ';') would otherwise pass unseen.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "ringvisor/actor/wire.hpp"

namespace {

unsigned selected = 0;

struct selection_counter : doctest::IReporter {
  explicit selection_counter(const doctest::ContextOptions&) {
    // nop
  }
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    selected = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("selection_counter", 1, selection_counter);

} // namespace

int main(int argc, char** argv) {
  // One cluster secret for every node and client a test starts.
  ringvisor::actor::ensure_secret_env();
  doctest::Context context{argc, argv};
  auto result = context.run();
  if (context.shouldExit())
    return result; // --list-test-cases and other queries
  if (result == 0 && selected == 0) {
    std::fputs("no test case matched the filters (a ';' in a test name?)\n", stderr);
    return 1;
  }
  return result;
}
