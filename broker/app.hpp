// aponod assembled: config, store, provisioners, lifecycle, scheduler and the HTTPS API,
// with signal handling (SIGINT/SIGTERM stop, SIGHUP reloads the config).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "broker/config.hpp"
#include "broker/portal/assets.hpp"

namespace apono::broker {

/// Runs the broker until SIGINT or SIGTERM.
class app {
 public:
  /// Prepares everything from `cfg` (loaded from `cfg->path`); throws on setup failure.
  explicit app(std::shared_ptr<const config> cfg);
  ~app();
  /// Called once the API listens, with its base URL and the CA file clients should trust.
  void on_listening(std::function<void(const std::string& url, const std::filesystem::path& ca)> f);
  /// Serves the web portal from `assets` (what aponod's build embedded; empty: its pages say
  /// it was not built). They must outlive the app.
  void set_portal_assets(std::span<const portal::asset> assets);
  /// Serves until a stop signal; returns the process exit status.
  int run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Splits `HOST:PORT` (`[::1]:8443` for IPv6); throws std::invalid_argument.
[[nodiscard]] std::pair<std::string, std::uint16_t> split_listen(const std::string& listen);

}  // namespace apono::broker
