#include "wire/secret.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <sys/stat.h>

#include "ringvisor/actor/errc.hpp"

namespace ringvisor::actor::wire {

namespace {

caf::error bad(const std::string& what, const std::string& why) {
  return make_error(errc::bad_config, what, why);
}

caf::expected<std::string> checked(std::string secret, const std::string& what) {
  if (!secret.empty() && secret.back() == '\n')
    secret.pop_back();
  if (secret.size() < min_secret_size)
    return bad(what, "holds " + std::to_string(secret.size()) + " bytes; a secret needs at least "
                       + std::to_string(min_secret_size)
                       + " (e.g. head -c 32 /dev/urandom | base64 > FILE)");
  return secret;
}

} // namespace

caf::error check_private_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return bad(what, "cannot be read: no such file, or no access");
  if (!S_ISREG(st.st_mode))
    return bad(what, "is not a regular file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return bad(what, "may be read by group or others (mode "
                       + std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7)
                       + std::to_string(st.st_mode & 7) + "): chmod 600 it");
  return caf::none;
}

caf::expected<std::string> read_private_file(const std::string& path, const std::string& what) {
  if (auto err = check_private_file(path, what))
    return err;
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return bad(what, "cannot be opened");
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

caf::expected<std::string> read_secret_file(const std::string& path) {
  auto what = "ringvisor.secret-file '" + path + "'";
  auto secret = read_private_file(path, what);
  if (!secret)
    return secret;
  return checked(std::move(*secret), what);
}

caf::expected<std::string> secret_from_env() {
  auto value = std::getenv(secret_env);
  if (value == nullptr)
    return std::string{};
  return checked(value, std::string{secret_env});
}

} // namespace ringvisor::actor::wire
