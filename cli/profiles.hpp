// Login profiles: which broker, which CA, which token. Stored as JSON in
// $XDG_CONFIG_HOME/apono/config.json (0600 in a 0700 directory).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace apono::cli {

/// One login.
struct profile {
  std::string name;     ///< profile name (`default` unless --profile)
  std::string server;   ///< broker base URL
  std::string ca_file;  ///< PEM CA that verifies the broker; empty = system store
  std::string token;    ///< bearer token (secret)
  std::string user;     ///< who the token belongs to, as the broker said at login
};

/// Every profile and which one is active.
struct profiles_file {
  std::string active;             ///< active profile name
  std::vector<profile> profiles;  ///< all profiles, in creation order
};

/// $XDG_CONFIG_HOME/apono, or ~/.config/apono.
[[nodiscard]] std::filesystem::path config_dir();
/// Reads the profiles; an absent file is an empty set. Throws std::runtime_error on a
/// damaged file, naming it.
[[nodiscard]] profiles_file load_profiles();
/// Writes the profiles atomically, 0600 in a 0700 directory.
void save_profiles(const profiles_file& f);
/// The profile named `name`, or the active one when `name` is empty. Throws
/// std::runtime_error "no profiles configured, run `apono login`" or "profile NAME not exists".
[[nodiscard]] const profile& resolve_profile(const profiles_file& f, const std::string& name);

}  // namespace apono::cli
