// A small synchronous HTTPS client for the CLI and the tests: one request at a time, the
// broker's CA pinned from a file, bearer authentication, JSON bodies.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apono::common {

/// Percent-encodes all but RFC 3986's unreserved characters: safe as a path segment, a query
/// value or an application/x-www-form-urlencoded field.
[[nodiscard]] std::string url_encode(std::string_view s);

/// An HTTP response as received.
struct http_result {
  int status = 0;             ///< HTTP status code
  std::string body;           ///< response body
  std::string content_type;   ///< Content-Type header
  std::string next_cursor{};  ///< X-Next-Cursor: a list has another page, which starts here
  std::string retry_after{};  ///< Retry-After as sent (seconds or an HTTP date), empty if none
};

/// Client settings.
struct http_client_options {
  std::string base_url;           ///< `https://127.0.0.1:8443` (http:// also accepted)
  std::filesystem::path ca_file;  ///< PEM CA to verify the server with; empty = system store
  std::string bearer_token;       ///< sent as `Authorization: Bearer ...` when not empty
  std::chrono::milliseconds timeout{30000};  ///< per request (connect + write + read)
};

/// Keeps one connection alive between requests and reconnects when it has been closed.
/// Failures to connect, verify TLS or read throw std::runtime_error with a plain message
/// ("cannot reach https://...: connection refused", "TLS verification failed for ...").
class http_client {
 public:
  /// Prepares a client; does not connect yet.
  explicit http_client(http_client_options options);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;
  /// Sends `method target` with `body` (JSON when not empty) and returns the response.
  http_result request(const std::string& method, const std::string& target,
                      const std::string& body = {});
  /// Same, with an explicit per-call timeout (for long-polls).
  http_result request(const std::string& method, const std::string& target, const std::string& body,
                      std::chrono::milliseconds timeout);
  /// Sends exactly Host, `headers` (in order) and Content-Length, nothing else, so a caller
  /// that signs its headers (AWS SigV4) knows everything the server sees. A Content-Type in
  /// `headers` replaces the JSON default that a non-empty body otherwise gets. Throws
  /// std::invalid_argument (naming the header, never its value) for a line break in a header
  /// or a Host or Content-Length of the caller's.
  http_result request(const std::string& method, const std::string& target, const std::string& body,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      std::chrono::milliseconds timeout);
  /// The Host header value every request carries: host, plus `:port` when the URL names one.
  [[nodiscard]] const std::string& host_header() const;
  /// The request-target sent for `target`: the base URL's path, then `target`.
  [[nodiscard]] std::string request_target(const std::string& target) const;
  /// Changes the bearer token for later requests.
  void set_token(std::string token);
  /// From any thread: ends the request in progress (and every later one) with an error, so a
  /// thread blocked in a long-poll can be joined at once.
  void cancel();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace apono::common
