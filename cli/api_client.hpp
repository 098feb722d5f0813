// The CLI's view of the broker API: JSON in and out, errors from the broker passed through
// as their one-line messages.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "cli/context.hpp"
#include "cli/profiles.hpp"
#include "common/http_client.hpp"

namespace apono::cli {

/// Calls the broker of one profile.
class api_client {
 public:
  /// A client for `p`.
  explicit api_client(const profile& p);
  /// GET; throws common::api_error with the broker's message on 4xx/5xx.
  boost::json::value get(const std::string& target);
  /// POST with a JSON body; throws like get().
  boost::json::value post(const std::string& target, const boost::json::value& body = {});
  /// GET allowing up to `timeout` for the answer (long-polls).
  boost::json::value get(const std::string& target, std::chrono::milliseconds timeout);
  /// GET of a list, following the broker's pages to the end; one array of everything.
  boost::json::value get_all(const std::string& target);

 private:
  boost::json::value handle(const common::http_result& r);
  std::unique_ptr<common::http_client> http_;
};

/// A client for the profile selected by the global options.
[[nodiscard]] api_client connect(const global_options& g);

/// Percent-encodes a query or path component (the one encoder the broker and CLI share).
using common::url_encode;

}  // namespace apono::cli
