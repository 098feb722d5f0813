// The OpenSSH config that `access use --ssh-config` maintains: one apono-owned file of Host
// blocks (one per SSH unit of each grant set up, between markers naming the request), and the
// single `Include` line at the top of the user's ~/.ssh/config that makes ssh read it. Every
// other line of the user's file is kept byte for byte.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace apono::cli {

/// The directory of apono's SSH config: $XDG_CONFIG_HOME/apono/ssh (0700; made if missing).
[[nodiscard]] std::filesystem::path ssh_config_home();
/// The file of Host blocks: ssh_config_home()/config.
[[nodiscard]] std::filesystem::path apono_ssh_config_path();
/// The user's OpenSSH config: $HOME/.ssh/config.
[[nodiscard]] std::filesystem::path user_ssh_config_path();

/// `text` (an ssh_config) with `Include "<include>"` as its first line, preceded by a comment
/// saying why, unless a line already includes that path (then `text` unchanged). An Include
/// goes first because after a Host or Match line it would only apply to that block.
[[nodiscard]] std::string with_include(std::string_view text, const std::filesystem::path& include);

/// A value for an ssh_config line: `%` doubled (ssh expands tokens in paths), in double quotes
/// when it holds a space. Throws std::runtime_error for a value ssh_config cannot hold (a
/// double quote, a newline).
[[nodiscard]] std::string ssh_config_value(std::string_view value);

/// apono's config file text with the blocks of request `id` replaced by `blocks` (Host blocks,
/// each line ending in "\n"; empty: removed), the other requests' blocks kept in their order,
/// and the header and the closing `catch_all` block written afresh.
[[nodiscard]] std::string with_grant_blocks(std::string_view text, const std::string& id,
                                            const std::string& blocks,
                                            const std::string& catch_all);

/// The request ids with blocks in apono's config file text.
[[nodiscard]] std::vector<std::string> grant_ids(std::string_view text);

/// Holds an exclusive lock on ssh_config_home()/lock while it lives, so that `access use` and
/// relays ending at the same moment edit the config and the grant directories one at a time.
class ssh_config_lock {
 public:
  /// Blocks until the lock is ours; throws std::runtime_error when the lock file cannot be made.
  ssh_config_lock();
  ~ssh_config_lock();
  ssh_config_lock(const ssh_config_lock&) = delete;
  ssh_config_lock& operator=(const ssh_config_lock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace apono::cli
