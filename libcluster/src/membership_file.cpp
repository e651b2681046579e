#include "membership_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringvisor/actor/errc.hpp"

namespace ringvisor::cluster::detail {

namespace {

constexpr const char* header = "ringvisor-membership 1";

caf::error io_error(const std::string& what, const std::string& path) {
  return actor::make_error(actor::errc::bad_config,
                           what + " " + path + ": " + std::strerror(errno));
}

// Writes all of `text` to `fd`.
bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool sync_dir(const std::string& dir) {
  auto fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return false;
  auto ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

} // namespace

std::string membership_path(const std::string& data_dir) {
  return data_dir + "/membership";
}

caf::expected<std::optional<remembered_membership>> read_membership(const std::string& data_dir) {
  auto path = membership_path(data_dir);
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 && errno == ENOENT)
    return std::optional<remembered_membership>{};
  std::ifstream in{path};
  if (!in)
    return io_error("cannot read", path);
  auto bad = [&path](size_t line, const std::string& what) {
    return actor::make_error(actor::errc::bad_config,
                             path + ":" + std::to_string(line) + ": " + what,
                             "remove the file to let this node start as a new member");
  };
  std::string line;
  if (!std::getline(in, line) || line != header)
    return bad(1, "not a ringvisor membership file (expected '" + std::string{header} + "')");
  remembered_membership result;
  for (size_t n = 2; std::getline(in, line); ++n) {
    std::istringstream fields{line};
    remembered_member m;
    std::string rest;
    if (!(fields >> m.name >> m.endpoint) || (fields >> rest))
      return bad(n, "expected '<name> <host:port>', got '" + line + "'");
    if (!result.empty() && result.back().name >= m.name)
      return bad(n, "members are not sorted by name, or repeat");
    result.push_back(std::move(m));
  }
  if (result.empty())
    return bad(1, "no member listed");
  return std::optional<remembered_membership>{std::move(result)};
}

caf::error write_membership(const std::string& data_dir, const remembered_membership& xs) {
  if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return io_error("cannot create", data_dir);
  std::string text = std::string{header} + '\n';
  for (auto& m : xs)
    text += m.name + ' ' + m.endpoint + '\n';
  auto path = membership_path(data_dir);
  auto tmp = path + ".tmp";
  auto fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return io_error("cannot write", tmp);
  auto ok = write_all(fd, text) && ::fsync(fd) == 0;
  auto err = ok ? caf::error{} : io_error("cannot write", tmp);
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str()); // the old file stays as it was
    return err;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto rename_err = io_error("cannot replace", path);
    ::unlink(tmp.c_str());
    return rename_err;
  }
  if (!sync_dir(data_dir))
    return io_error("cannot flush the directory", data_dir);
  return caf::none;
}

} // namespace ringvisor::cluster::detail
