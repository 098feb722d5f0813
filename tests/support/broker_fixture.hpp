// A real `aponod --dev` for integration tests, pointed at a pg_fixture, with one API client
// per dev user. Killed (SIGKILL) when the fixture dies, also when a test fails.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/http_client.hpp"
#include "common/time.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

namespace apono::test {

/// A JSON API answer.
struct api_answer {
  int status = 0;           ///< HTTP status
  boost::json::value json;  ///< parsed body (null when it was not JSON)
  std::string body;         ///< raw body
};

/// Runs aponod --dev on a free loopback port with its own data dir.
class broker_fixture {
 public:
  /// Starts aponod against `pg` and waits until it is ready; `extra_args` go to aponod --dev
  /// (e.g. --ssh-target). `binary`: another build of aponod's main (one embedding a test
  /// front end).
  explicit broker_fixture(const pg_fixture& pg, std::vector<std::string> extra_args = {},
                          std::string binary = APONOD_BINARY);
  /// Another replica of `first` (started with the same `--store` among `extra_args`): its own
  /// data dir and port, with first's users, tokens, SSH CA and store key, as replicas share
  /// their config and keys.
  broker_fixture(const pg_fixture& pg, std::vector<std::string> extra_args,
                 const broker_fixture& first);
  ~broker_fixture();
  /// Starts aponod again after kill9() or stop() (same data dir and port).
  void start();
  /// SIGKILLs aponod and waits for it to exit.
  void kill9();
  /// SIGTERMs aponod; returns its exit status.
  int stop();
  /// The API base URL.
  [[nodiscard]] const std::string& url() const { return url_; }
  /// The data dir.
  [[nodiscard]] const std::filesystem::path& data_dir() const { return dir_; }
  /// The CA file clients trust.
  [[nodiscard]] std::filesystem::path ca_file() const { return dir_ / "ca.pem"; }
  /// A dev user's bearer token (admin, approver, alice, bob).
  [[nodiscard]] std::string token(const std::string& user) const;
  /// A dev user's password for browser login.
  [[nodiscard]] std::string password(const std::string& user) const;
  /// Calls the API as `user` ("" = no token) and parses the JSON answer.
  api_answer call(const std::string& user, const std::string& method, const std::string& target,
                  const std::string& body = {});
  /// Everything aponod wrote to stdout and stderr so far.
  [[nodiscard]] std::string log() const;
  /// The process, for signals.
  [[nodiscard]] child_process& process() { return *proc_; }

 private:
  void wait_ready();
  const pg_fixture& pg_;
  std::vector<std::string> extra_args_;
  std::string binary_ = APONOD_BINARY;
  std::filesystem::path dir_;
  int port_ = 0;
  std::string url_;
  std::map<std::string, std::string> tokens_;
  std::map<std::string, std::string> passwords_;
  std::map<std::string, std::unique_ptr<common::http_client>> clients_;
  std::unique_ptr<child_process> proc_;
};

/// One raw HTTP answer: status, headers (names lower-cased) and body.
struct raw_answer {
  int status = 0;                              ///< HTTP status
  std::map<std::string, std::string> headers;  ///< last value of each header, name lower-cased
  std::string body;                            ///< body as sent
};

/// Sends one HTTPS request on its own connection to `b`, trusting only its CA, with exactly
/// `headers` besides Host (and Content-Length when `body` is not empty); unlike call(), any
/// method, no token unless given, and the answer's headers are kept.
raw_answer raw_https(const broker_fixture& b, const std::string& method, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body = {});

/// Creates a request as `user` and returns the answer.
api_answer create_request(broker_fixture& b, const std::string& user, const std::string& resource,
                          const std::string& permission, const std::string& duration,
                          const std::string& justification = "integration test");

/// The status string of request `id` as `user` sees it ("" when not readable).
std::string request_status(broker_fixture& b, const std::string& user, const std::string& id);

/// When the broker recorded request `id` entering `status` (the `at` of its first such event in
/// the feed admin sees): the moment a revoke took effect, whatever the client that sent it
/// took to start and exit. Throws when there is no such event.
common::time_point status_changed_at(broker_fixture& b, const std::string& id,
                                     const std::string& status);

}  // namespace apono::test
