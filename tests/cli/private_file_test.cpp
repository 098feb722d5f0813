// write_private_file and edit_private_file on a real filesystem: modes of the file and of the
// directories it creates, writes through symlinks (also dangling ones), and refused edits that
// leave the file exactly as it was.
#include "cli/private_file.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/process.hpp"

using namespace apono::cli;
namespace fs = std::filesystem;
using apono::test::file_mode;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& content, unsigned mode) {
  std::ofstream(p, std::ios::binary) << content;
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("write_private_file creates missing directories 0700 and the file 0600") {
  apono::test::temp_dir tmp;
  REQUIRE(::chmod(tmp.path.c_str(), 0755) == 0);
  auto file = tmp.path / "home" / ".aws" / "config";
  write_private_file(file, "[default]\n");
  CHECK(slurp(file) == "[default]\n");
  CHECK(file_mode(file) == 0600);
  CHECK(file_mode(tmp.path / "home") == 0700);
  CHECK(file_mode(tmp.path / "home" / ".aws") == 0700);
  // A directory that was there keeps the mode its owner chose.
  CHECK(file_mode(tmp.path) == 0755);
  CHECK(entries_in(file.parent_path()) == 1);  // no temp file left behind
}

TEST_CASE("write_private_file narrows an existing 0644 file to 0600 and replaces it whole") {
  apono::test::temp_dir tmp;
  auto file = tmp.path / "config";
  spit(file, "a much longer old content than the new one\n", 0644);
  write_private_file(file, "new\n");
  CHECK(slurp(file) == "new\n");
  CHECK(file_mode(file) == 0600);
}

TEST_CASE("write_private_file writes through a symlink to its target") {
  apono::test::temp_dir tmp;
  fs::create_directories(tmp.path / "dotfiles");
  fs::create_directories(tmp.path / "home" / ".kube");
  spit(tmp.path / "dotfiles" / "kubeconfig", "old\n", 0644);
  auto link = tmp.path / "home" / ".kube" / "config";
  fs::create_symlink("../../dotfiles/kubeconfig", link);

  write_private_file(link, "new\n");
  CHECK(fs::is_symlink(fs::symlink_status(link)));
  CHECK(fs::read_symlink(link) == "../../dotfiles/kubeconfig");
  CHECK(slurp(tmp.path / "dotfiles" / "kubeconfig") == "new\n");
  CHECK(file_mode(tmp.path / "dotfiles" / "kubeconfig") == 0600);
  CHECK(entries_in(link.parent_path()) == 1);
}

TEST_CASE("write_private_file creates the file a dangling symlink names") {
  apono::test::temp_dir tmp;
  fs::create_directories(tmp.path / "dotfiles");
  auto link = tmp.path / "config";
  fs::create_symlink(tmp.path / "dotfiles" / "aws" / "config", link);
  CHECK(resolve_write_path(link) == tmp.path / "dotfiles" / "aws" / "config");

  write_private_file(link, "[default]\n");
  CHECK(fs::is_symlink(fs::symlink_status(link)));
  CHECK(slurp(tmp.path / "dotfiles" / "aws" / "config") == "[default]\n");
  CHECK(file_mode(tmp.path / "dotfiles" / "aws") == 0700);
}

TEST_CASE("write_private_file refuses a symlink loop and a directory") {
  apono::test::temp_dir tmp;
  fs::create_symlink(tmp.path / "b", tmp.path / "a");
  fs::create_symlink(tmp.path / "a", tmp.path / "b");
  CHECK_THROWS_AS(write_private_file(tmp.path / "a", "x"), std::runtime_error);
  fs::create_directories(tmp.path / "dir");
  CHECK_THROWS_WITH(write_private_file(tmp.path / "dir", "x"),
                    Catch::Contains("is not a regular file"));
}

TEST_CASE("edit_private_file passes the old text, writes only a changed result") {
  apono::test::temp_dir tmp;
  auto file = tmp.path / "sub" / "config";
  std::string seen = "unset";
  CHECK(edit_private_file(file, [&seen](std::string_view old) {
    seen = old;
    return std::string("one\n");
  }));
  CHECK(seen.empty());
  CHECK(slurp(file) == "one\n");

  CHECK(edit_private_file(file, [&seen](std::string_view old) {
    seen = old;
    return std::string(old) + "two\n";
  }));
  CHECK(seen == "one\n");
  CHECK(slurp(file) == "one\ntwo\n");

  spit(file, "same\n", 0644);
  CHECK_FALSE(edit_private_file(file, [](std::string_view old) { return std::string(old); }));
  CHECK(file_mode(file) == 0644);  // untouched, not even its mode
}

TEST_CASE("edit_private_file leaves the file untouched when the edit refuses") {
  apono::test::temp_dir tmp;
  auto file = tmp.path / "config";
  spit(file, "keep me", 0644);
  auto before = fs::last_write_time(file);
  CHECK_THROWS_WITH(
      edit_private_file(file,
                        [](std::string_view) -> std::string {
                          throw std::runtime_error("kubeconfig: no; apono will not rewrite it");
                        }),
      file.string() + ": kubeconfig: no; apono will not rewrite it");
  CHECK_THROWS_AS(
      edit_private_file(
          file, [](std::string_view) -> std::string { throw std::invalid_argument("bad name"); }),
      std::invalid_argument);
  CHECK(slurp(file) == "keep me");
  CHECK(file_mode(file) == 0644);
  CHECK(fs::last_write_time(file) == before);
  CHECK(entries_in(tmp.path) == 1);
}
