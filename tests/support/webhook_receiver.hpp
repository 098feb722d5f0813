// A real webhook receiver on loopback for the notification tests: node running
// tests/support/webhook_receiver.mjs, which verifies each delivery with the `standardwebhooks`
// npm package (once per secret) and answers per a scripted plan. Killed with the fixture.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "tests/support/process.hpp"

namespace apono::test {

/// One request as the receiver got it.
struct received_webhook {
  std::string path;            ///< request path (which endpoint it was sent to)
  std::string id;              ///< webhook-id
  std::int64_t timestamp = 0;  ///< webhook-timestamp
  int signatures = 0;          ///< how many signatures webhook-signature held
  std::vector<bool> verified;  ///< per secret given, whether standardwebhooks verified it
  std::string type;            ///< the body's `type`
  std::string body;            ///< the body as received
  boost::json::value json;     ///< the body parsed
  std::string content_type;    ///< Content-Type
  common::time_point at{};     ///< when it arrived (receiver's clock)
  int answer = 0;              ///< the status it answered; -1 for one it never answered
};

/// Runs the receiver until destruction.
class webhook_receiver {
 public:
  /// Starts node with `secrets` to verify with and `plan` (path -> answers, see the script);
  /// waits until it listens.
  webhook_receiver(std::vector<std::string> secrets, const boost::json::object& plan);
  ~webhook_receiver();
  webhook_receiver(const webhook_receiver&) = delete;
  webhook_receiver& operator=(const webhook_receiver&) = delete;
  /// `http://127.0.0.1:PORT` + `path`.
  [[nodiscard]] std::string url(const std::string& path) const;
  /// Everything received so far, in arrival order.
  [[nodiscard]] std::vector<received_webhook> received() const;
  /// Only what arrived on `path`.
  [[nodiscard]] std::vector<received_webhook> received(const std::string& path) const;
  /// Polls until `done(received())`; throws naming `what` and listing what arrived when
  /// `timeout` passes first.
  std::vector<received_webhook> wait_for(
      const std::string& what,
      const std::function<bool(const std::vector<received_webhook>&)>& done,
      std::chrono::milliseconds timeout = std::chrono::seconds{60}) const;
  /// The arrivals, one line each (for failure messages).
  [[nodiscard]] std::string describe() const;

 private:
  temp_dir dir_{"webhook-receiver"};
  std::unique_ptr<child_process> proc_;
  int port_ = 0;
};

/// Prints the last `lines` lines of `b`'s log to stderr when its scope is left by an exception
/// (a failed REQUIRE or wait), so a failure shows what aponod was doing.
class log_on_failure {
 public:
  /// Watches `log`, a function returning the whole log.
  explicit log_on_failure(std::function<std::string()> log, std::size_t lines = 80)
      : log_(std::move(log)), lines_(lines), exceptions_(std::uncaught_exceptions()) {}
  ~log_on_failure();
  log_on_failure(const log_on_failure&) = delete;
  log_on_failure& operator=(const log_on_failure&) = delete;

 private:
  std::function<std::string()> log_;
  std::size_t lines_;
  int exceptions_;
};

}  // namespace apono::test
