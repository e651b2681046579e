#include <sstream>

#include <caf/config_option_adder.hpp>

#include <doctest/doctest.h>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/node_config.hpp"
#include "support/test_system.hpp"

using namespace ringvisor::actor;
using strings = std::vector<std::string>;

namespace {

std::string read_error(const strings& args, const std::string& ini = "") {
  node_config cfg;
  auto err = cfg.read(args, ini);
  return err ? render(err) : std::string{};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("defaults give a valid configuration with a generated name") {
  node_config cfg;
  REQUIRE(!cfg.read(strings{}, ""));
  CHECK(cfg.name.rfind("node-", 0) == 0);
  CHECK(cfg.host == "127.0.0.1");
  CHECK(cfg.port == 0);
  CHECK(cfg.consensus == 1);
}

TEST_CASE("the command line overrides the INI file, which overrides defaults") {
  node_config cfg;
  auto ini = "[ringvisor]\nname=\"alpha\"\nport=4900\nseeds=[\"127.0.0.1:4901\"]\n";
  REQUIRE(!cfg.read(strings{"--ringvisor.port=4902"}, ini));
  CHECK(cfg.name == "alpha");
  CHECK(cfg.port == 4902);
  CHECK(cfg.seeds == strings{"127.0.0.1:4901"});
}

TEST_CASE("an unknown key in the INI file stops start-up and names the key") {
  auto msg = read_error({}, "[ringvisor]\nnmae=\"typo\"\n");
  CHECK(contains(msg, "bad_config"));
  CHECK(contains(msg, "unknown option 'ringvisor.nmae'"));
}

TEST_CASE("an unknown key in a CAF section is caught as well") {
  auto msg = read_error({}, "[middleman]\nheartbeat-intervall=100ms\n");
  CHECK(contains(msg, "unknown option 'middleman.heartbeat-intervall'"));
}

TEST_CASE("an unknown command line option names the option") {
  auto msg = read_error({"--ringvisor.prot=1"});
  CHECK(contains(msg, "--ringvisor.prot=1"));
}

TEST_CASE("an out-of-range value on the command line names the argument") {
  auto msg = read_error({"--ringvisor.port=70000"});
  CHECK(contains(msg, "bad_config"));
  CHECK(contains(msg, "--ringvisor.port=70000"));
}

TEST_CASE("a value of the wrong type in the INI file names the key") {
  // CAF's own INI reader would drop these values without a word.
  CHECK(contains(read_error({}, "[ringvisor]\nport=70000\n"),
                 "invalid value 70000 for 'ringvisor.port'"));
  CHECK(contains(read_error({}, "[ringvisor]\nport=\"abc\"\n"),
                 "for 'ringvisor.port'"));
  CHECK(contains(read_error({}, "[ringvisor]\nseeds=17\n"),
                 "for 'ringvisor.seeds'"));
}

TEST_CASE("a syntax error in the INI file quotes the offending line") {
  auto msg = read_error({}, "[ringvisor]\nname=\"alpha\"\nport=\n");
  CHECK(contains(msg, "line 3"));
  CHECK(contains(msg, "in: port="));
}

TEST_CASE("invalid ringvisor values are rejected with the key and the rule") {
  CHECK(contains(read_error({"--ringvisor.seeds=[\"nohost\"]"}),
                 "ringvisor.seeds: 'nohost' is not host:port"));
  CHECK(contains(read_error({"--ringvisor.log-level=loud"}),
                 "ringvisor.log-level: 'loud'"));
  CHECK(contains(read_error({"--ringvisor.name=a b"}), "ringvisor.name"));
  CHECK(contains(read_error({"--ringvisor.consensus=0"}), "ringvisor.consensus"));
}

TEST_CASE("a stray positional argument is an error, not silently ignored") {
  CHECK(contains(read_error({"extra"}), "unexpected argument 'extra'"));
}

TEST_CASE("--help prints and asks the program to exit") {
  node_config cfg;
  REQUIRE(!cfg.read(strings{"--help"}, ""));
  CHECK(cfg.printed_and_done());
}

TEST_CASE("--help lists every option: the node's, the program's own and CAF's") {
  struct app_config : node_config {
    std::string mode;
    app_config() {
      caf::config_option_adder{custom_options_, "app"}.add(mode, "mode", "what the app does");
    }
  };
  app_config cfg;
  std::ostringstream out;
  cfg.print_help(out);
  auto text = out.str();
  for (auto x : {"--ringvisor.name=<", "--ringvisor.seeds=<", "--ringvisor.secret-file=<",
                 "--app.mode=<", "what the app does", "--help, -h", "(to stdout)",
                 "--scheduler.max-threads=<", "--config-file=<"})
    CHECK_MESSAGE(contains(text, x), x);
  CHECK(!contains(text, "STDERR"));
  // The program's sections come before CAF's.
  CHECK(text.find("--app.mode") < text.find("--scheduler.max-threads"));
}

TEST_CASE("--dump-config prints the effective configuration") {
  node_config cfg;
  REQUIRE(!cfg.read(strings{"--dump-config", "--ringvisor.name=dumped"}, ""));
  CHECK(cfg.printed_and_done());
}

TEST_CASE("a missing config file given on the command line is an error") {
  node_config cfg;
  char arg0[] = "test";
  char arg1[] = "--config-file=/nonexistent/ringvisor.ini";
  char* argv[] = {arg0, arg1};
  auto err = cfg.read(2, argv);
  CHECK(contains(render(err), "cannot open config file /nonexistent/ringvisor.ini"));
}

TEST_CASE("a node without a cluster secret refuses to start, unless told it may run insecure") {
  // The test binary's main put a secret in the environment: take it away.
  std::string saved = std::getenv("RINGVISOR_SECRET");
  ::unsetenv("RINGVISOR_SECRET");
  auto msg = read_error({});
  CHECK(contains(msg, "no cluster secret"));
  CHECK(contains(msg, "ringvisor.secret-file"));
  CHECK(read_error({"--ringvisor.insecure"}).empty());
  CHECK(contains(read_error({"--ringvisor.secret-file=/nonexistent/secret"}), "/nonexistent/secret"));
  ::setenv("RINGVISOR_SECRET", saved.c_str(), 1);
  CHECK(read_error({}).empty());
  CHECK(contains(read_error({"--ringvisor.max-frame=1000"}), "ringvisor.max-frame"));
}

TEST_CASE("idle scheduler workers of a node wait to be woken instead of polling, unless configured") {
  node_config cfg;
  REQUIRE(!cfg.read(strings{}, ""));
  CHECK(caf::get_or(cfg, "work-stealing.moderate-poll-attempts", size_t{99}) == 0);
  node_config other;
  REQUIRE(!other.read(strings{"--work-stealing.moderate-poll-attempts=7"}, ""));
  CHECK(caf::get_or(other, "work-stealing.moderate-poll-attempts", size_t{99}) == 7);
}
