// Where the cluster secret comes from: a file only its owner may read, or
// the environment; clear errors that never show the secret.

#include <cstdlib>
#include <fstream>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "ringvisor/actor/errc.hpp"
#include "support/temp_dir.hpp"
#include "wire/secret.hpp"

using namespace ringvisor::actor;

namespace {

// Writes `content` to `name` in `d` with `mode`; returns the path.
std::string write(const ringvisor::test::temp_dir& d, const std::string& name,
                  const std::string& content, mode_t mode) {
  auto path = d.file(name);
  std::ofstream{path} << content;
  ::chmod(path.c_str(), mode);
  return path;
}

} // namespace

TEST_CASE("a secret file only its owner may read is taken, without its final newline") {
  ringvisor::test::temp_dir d{"rv-secret"};
  auto secret = wire::read_secret_file(write(d, "s", "0123456789abcdef-xyz\n", 0600));
  REQUIRE(secret);
  CHECK(*secret == "0123456789abcdef-xyz");
  CHECK(wire::read_secret_file(write(d, "r", "0123456789abcdef-xyz", 0400)));
}

TEST_CASE("a secret file that group or others may read, a missing one and a short one are refused") {
  ringvisor::test::temp_dir d{"rv-secret"};
  for (mode_t mode : {0640, 0644, 0604, 0660}) {
    auto path = write(d, "s" + std::to_string(mode), "0123456789abcdef-xyz", mode);
    auto secret = wire::read_secret_file(path);
    REQUIRE(!secret);
    auto text = render(secret.error());
    CHECK_MESSAGE(text.find("chmod 600") != std::string::npos, text);
    CHECK_MESSAGE(text.find(path) != std::string::npos, text);
    CHECK_MESSAGE(text.find("0123456789abcdef") == std::string::npos, text); // no secret shown
  }
  auto missing = wire::read_secret_file(d.file("none"));
  REQUIRE(!missing);
  CHECK(render(missing.error()).find("no such file") != std::string::npos);
  auto short_one = wire::read_secret_file(write(d, "short", "tooshort\n", 0600));
  REQUIRE(!short_one);
  CHECK(render(short_one.error()).find("at least 16") != std::string::npos);
  CHECK(!wire::read_secret_file(d.path)); // a directory
}

TEST_CASE("the secret may come from RINGVISOR_SECRET") {
  ::unsetenv(wire::secret_env);
  auto none = wire::secret_from_env();
  REQUIRE(none);
  CHECK(none->empty());
  ::setenv(wire::secret_env, "0123456789abcdef-env", 1);
  auto set = wire::secret_from_env();
  REQUIRE(set);
  CHECK(*set == "0123456789abcdef-env");
  ::setenv(wire::secret_env, "short", 1);
  CHECK(!wire::secret_from_env());
  ::unsetenv(wire::secret_env);
}
