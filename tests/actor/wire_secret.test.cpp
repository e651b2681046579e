// Where the cluster secret comes from: a file only its owner may read, or
// the environment; clear errors that never show the secret.

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "ringvisor/actor/errc.hpp"
#include "wire/secret.hpp"

using namespace ringvisor::actor;

namespace {

struct secret_dir {
  std::string dir;

  secret_dir() {
    char tmpl[] = "/tmp/rv-secret-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }

  ~secret_dir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::string write(const std::string& name, const std::string& content, mode_t mode) {
    auto path = dir + "/" + name;
    std::ofstream{path} << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
};

} // namespace

TEST_CASE("a secret file only its owner may read is taken, without its final newline") {
  secret_dir d;
  auto secret = wire::read_secret_file(d.write("s", "0123456789abcdef-xyz\n", 0600));
  REQUIRE(secret);
  CHECK(*secret == "0123456789abcdef-xyz");
  CHECK(wire::read_secret_file(d.write("r", "0123456789abcdef-xyz", 0400)));
}

TEST_CASE("a secret file that group or others may read, a missing one and a short one are refused") {
  secret_dir d;
  for (mode_t mode : {0640, 0644, 0604, 0660}) {
    auto path = d.write("s" + std::to_string(mode), "0123456789abcdef-xyz", mode);
    auto secret = wire::read_secret_file(path);
    REQUIRE(!secret);
    auto text = render(secret.error());
    CHECK_MESSAGE(text.find("chmod 600") != std::string::npos, text);
    CHECK_MESSAGE(text.find(path) != std::string::npos, text);
    CHECK_MESSAGE(text.find("0123456789abcdef") == std::string::npos, text); // no secret shown
  }
  auto missing = wire::read_secret_file(d.dir + "/none");
  REQUIRE(!missing);
  CHECK(render(missing.error()).find("no such file") != std::string::npos);
  auto short_one = wire::read_secret_file(d.write("short", "tooshort\n", 0600));
  REQUIRE(!short_one);
  CHECK(render(short_one.error()).find("at least 16") != std::string::npos);
  CHECK(!wire::read_secret_file(d.dir)); // a directory
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
