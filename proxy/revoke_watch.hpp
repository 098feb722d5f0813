// Follows the broker's event feed for one request and ends the grant_watch the moment the
// request leaves ACTIVE (a revoke from another terminal, an admin, a failed unit).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "proxy/grant_watch.hpp"

namespace apono::proxy {

/// Where the broker is and who we are.
struct broker_endpoint {
  std::string url;                ///< API base URL
  std::filesystem::path ca_file;  ///< CA to verify it with
  std::string token;              ///< bearer token
};

/// A background long-poll of `/api/v1/events` for one request.
class revoke_watch {
 public:
  /// Starts polling from feed position `after` (access details' `events_after`).
  revoke_watch(broker_endpoint broker, std::int64_t after, grant_watch& watch);
  /// Stops: cancels the long-poll in flight and joins the poller thread (milliseconds), so
  /// nothing of it outlives the owner or runs into the process's exit.
  ~revoke_watch();
  revoke_watch(const revoke_watch&) = delete;
  revoke_watch& operator=(const revoke_watch&) = delete;

  /// State shared with the poller thread.
  struct shared;

 private:
  std::shared_ptr<shared> shared_;
  std::thread thread_;
};

}  // namespace apono::proxy
