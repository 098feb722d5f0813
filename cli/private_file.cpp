// Config files of other programs, written so that a crash or a refused edit never leaves a
// half-written or widened file behind.
#include "cli/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/secrets.hpp"

namespace apono::cli {

namespace fs = std::filesystem;

namespace {

// The kernel's own limit (MAXSYMLINKS), so a loop of links fails here as open(2) would.
constexpr int max_symlink_hops = 40;

// Only the directories this call creates get 0700: tightening an existing ~/.kube that the user
// chose to share would disturb more than the one file we were asked to write.
void create_missing_dirs(const fs::path& dir) {
  std::vector<fs::path> missing;
  for (auto p = dir; !p.empty(); p = p.parent_path()) {
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (fs::exists(st)) {
      if (!fs::is_directory(st)) throw std::runtime_error(p.string() + " is not a directory");
      break;
    }
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create " + it->string() + ": " + std::strerror(errno));
    if (::chmod(it->c_str(), 0700) != 0)
      throw std::runtime_error("cannot chmod 0700 " + it->string() + ": " + std::strerror(errno));
  }
}

// Makes the rename itself durable. The new file is complete either way, so a failure here is
// not worth reporting as a failed write.
void sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

fs::path resolve_write_path(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) return fs::canonical(path);
  // A dangling link (a dotfiles repo not checked out yet): write the file it names.
  auto p = path;
  for (int hop = 0;; ++hop) {
    auto st = fs::symlink_status(p, ec);
    if (ec || !fs::is_symlink(st)) return p;
    if (hop == max_symlink_hops)
      throw std::runtime_error(path.string() + ": too many levels of symbolic links");
    auto target = fs::read_symlink(p);
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
}

void write_private_file(const fs::path& path, std::string_view content) {
  auto target = resolve_write_path(path);
  auto dir = target.parent_path();
  if (dir.empty()) dir = ".";
  create_missing_dirs(dir);
  std::error_code ec;
  auto st = fs::status(target, ec);
  if (fs::exists(st) && !fs::is_regular_file(st))
    throw std::runtime_error(target.string() + " is not a regular file");
  common::write_private_file(target, content);
  sync_dir(dir);
}

bool edit_private_file(const fs::path& path,
                       const std::function<std::string(std::string_view)>& edit) {
  auto target = resolve_write_path(path);
  std::error_code ec;
  auto st = fs::status(target, ec);
  bool existed = fs::exists(st);
  if (existed && !fs::is_regular_file(st))
    throw std::runtime_error(target.string() + " is not a regular file");
  std::string old = existed ? common::read_file(target) : std::string{};
  std::string updated;
  try {
    updated = edit(old);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path.string() + ": " + e.what());
  }
  if (existed && updated == old) return false;
  write_private_file(target, updated);
  return true;
}

}  // namespace apono::cli
