// Editing ssh_config text. apono's own file is regenerated from its blocks on every change (it
// is ours entirely); the user's file only ever gains one Include line at the top.
#include "cli/ssh_config_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "cli/profiles.hpp"
#include "cli/text_lines.hpp"
#include "common/secrets.hpp"

namespace apono::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view begin_marker = "# >>> apono ";
constexpr std::string_view end_marker = "# <<< apono ";

constexpr std::string_view header =
    "# Written by apono (`apono access use ID --ssh-config`): one Host block per SSH grant,\n"
    "# removed when the grant ends. apono rewrites this file; put your own settings in\n"
    "# ~/.ssh/config.\n";

std::string_view trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool starts_with_keyword(std::string_view line, std::string_view keyword) {
  if (line.size() <= keyword.size()) return false;
  for (std::size_t i = 0; i < keyword.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != keyword[i]) return false;
  char next = line[keyword.size()];
  return next == ' ' || next == '\t' || next == '=';
}

}  // namespace

fs::path ssh_config_home() {
  auto dir = config_dir() / "ssh";
  common::ensure_private_dir(config_dir());
  common::ensure_private_dir(dir);
  return dir;
}

fs::path apono_ssh_config_path() {
  return ssh_config_home() / "config";
}

fs::path user_ssh_config_path() {
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw std::runtime_error("HOME is not set: no ~/.ssh/config to include in");
  return fs::path(home) / ".ssh" / "config";
}

std::string ssh_config_value(std::string_view value) {
  if (value.find_first_of("\"\n\r") != std::string_view::npos)
    throw std::runtime_error("ssh_config cannot hold the value '" + std::string(value) + "'");
  std::string out;
  for (char c : value) {
    out += c;
    if (c == '%') out += '%';
  }
  if (out.find_first_of(" \t") != std::string::npos) out = "\"" + out + "\"";
  return out;
}

std::string with_include(std::string_view text, const fs::path& include) {
  auto lines = split_lines(text);
  const auto quoted = ssh_config_value(include.string());
  for (const auto& l : lines) {
    auto t = trim(l.body);
    if (!starts_with_keyword(t, "include")) continue;
    auto args = t.substr(7);
    if (args.find(include.string()) != std::string_view::npos ||
        args.find(quoted) != std::string_view::npos)
      return std::string(text);
  }
  std::string eol(line_ending(lines));
  return "# Added by apono: the Host blocks of your SSH grants (apono access use ID "
         "--ssh-config)." +
         eol + "Include " + quoted + eol + std::string(text);
}

std::string with_grant_blocks(std::string_view text, const std::string& id,
                              const std::string& blocks, const std::string& catch_all) {
  std::string out(header);
  std::string current;  // the request whose block we are in
  std::string kept;
  for (const auto& l : split_lines(text)) {
    if (l.body.substr(0, begin_marker.size()) == begin_marker) {
      current = std::string(trim(l.body.substr(begin_marker.size())));
      if (current != id) kept += "\n" + std::string(l.body) + "\n";
      continue;
    }
    if (l.body.substr(0, end_marker.size()) == end_marker) {
      if (!current.empty() && current != id) kept += std::string(l.body) + "\n";
      current.clear();
      continue;
    }
    if (!current.empty() && current != id) kept += std::string(l.body) + "\n";
  }
  out += kept;
  if (!blocks.empty())
    out +=
        "\n" + std::string(begin_marker) + id + "\n" + blocks + std::string(end_marker) + id + "\n";
  out += "\n" + catch_all;
  return out;
}

std::vector<std::string> grant_ids(std::string_view text) {
  std::vector<std::string> ids;
  for (const auto& l : split_lines(text))
    if (l.body.substr(0, begin_marker.size()) == begin_marker)
      ids.emplace_back(trim(l.body.substr(begin_marker.size())));
  return ids;
}

ssh_config_lock::ssh_config_lock() {
  auto path = ssh_config_home() / "lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0)
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
  }
}

ssh_config_lock::~ssh_config_lock() {
  ::close(fd_);  // releases the lock
}

}  // namespace apono::cli
