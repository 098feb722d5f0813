// The tools the server offers: each one's name, description, JSON Schemas, annotations and
// handler; what a handler may use while it runs (progress, cancellation, elicitation); and
// the checking of arguments against the input schema before a handler sees them.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/context.hpp"

namespace apono::cli::mcp {

class grant_sessions;

/// Limits the server runs with (`apono mcp` flags).
struct server_settings {
  std::chrono::seconds max_wait{45};           ///< wait_for_access returns by then
  std::chrono::seconds poll_interval{1};       ///< how often wait_for_access asks the broker
  std::size_t row_limit = 200;                 ///< query_database rows returned at most
  std::chrono::seconds statement_timeout{30};  ///< query_database's statement_timeout
};

/// Set when the client cancels a call (notifications/cancelled) or the server shuts down;
/// fd() becomes readable then, for poll() loops.
class cancel_token {
 public:
  cancel_token();
  ~cancel_token();
  cancel_token(const cancel_token&) = delete;
  cancel_token& operator=(const cancel_token&) = delete;
  /// Cancels; the first call wins.
  void cancel();
  /// True once cancelled.
  [[nodiscard]] bool cancelled() const { return cancelled_.load(); }
  /// Readable once cancelled (one byte per cancel; consumers may read it).
  [[nodiscard]] int fd() const { return fds_[0]; }
  /// Sleeps up to `d`; false when cancelled meanwhile.
  [[nodiscard]] bool sleep_for(std::chrono::milliseconds d) const;

 private:
  std::atomic<bool> cancelled_{false};
  int fds_[2] = {-1, -1};
};

/// The user's answer to an elicitation.
struct elicit_answer {
  std::string action;             ///< accept, decline or cancel
  boost::json::object content{};  ///< the form's values when accepted
};

/// What a handler may use while it runs.
struct tool_context {
  const global_options& g;          ///< --profile
  const server_settings& settings;  ///< limits
  grant_sessions& sessions;         ///< local proxies of the grants queried so far
  const cancel_token& cancel;       ///< the client's cancellation
  /// Reports progress (a no-op when the client gave no progressToken); `progress` grows.
  std::function<void(double progress, std::optional<double> total, const std::string& message)>
      progress;
  /// Asks the user through the client; empty when the client cannot show a form. Throws
  /// std::runtime_error when the client answers with an error or goes away.
  std::function<elicit_answer(const std::string& message, const boost::json::object& schema)>
      elicit;
  std::function<void(const std::string&)> log;  ///< a line on stderr (never a secret)
};

/// A handler's failure the model can correct: returned as an isError result with `what()`.
class tool_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One tool.
struct tool {
  std::string name;                   ///< e.g. request_access
  std::string title;                  ///< for people
  std::string description;            ///< for the model
  boost::json::object input_schema;   ///< JSON Schema of the arguments
  boost::json::object output_schema;  ///< JSON Schema of structuredContent
  boost::json::object annotations;    ///< readOnlyHint, destructiveHint, ...
  /// Runs the call: returns the structured content, or throws (tool_error, common::api_error
  /// or std::runtime_error) for an isError result. Runs on its own thread.
  std::function<boost::json::object(const boost::json::object& args, tool_context& ctx)> run;
};

/// The tools by name.
class tool_registry {
 public:
  /// Adds `t`.
  void add(tool t);
  /// The tool named `name`, or null.
  [[nodiscard]] const tool* find(const std::string& name) const;
  /// tools/list's `tools` for revision `version`; `annotate` may adjust a tool's annotations
  /// for the current state (query_database's hints follow the grants held).
  [[nodiscard]] boost::json::array list(
      const std::string& version,
      const std::function<void(const std::string& name, boost::json::object& annotations)>&
          annotate = {}) const;
  /// Runs tool `t` with `args`: checks them against its input schema first; answers the
  /// tools/call result (isError and the message on failure).
  [[nodiscard]] boost::json::object call(const tool& t, const boost::json::object& args,
                                         tool_context& ctx, const std::string& version) const;

 private:
  std::vector<tool> tools_;
};

/// Why `args` do not match `schema` (the subset the tools use: type, properties, required,
/// additionalProperties, items, enum, minLength, minimum, maximum, minItems), "" when they do.
[[nodiscard]] std::string check_arguments(const boost::json::object& schema,
                                          const boost::json::value& args,
                                          const std::string& where = "");

/// The tools of each group (tools/catalog_tools.cpp, request_tools.cpp, access_tools.cpp).
void add_catalog_tools(tool_registry& r);
void add_request_tools(tool_registry& r);
void add_access_tools(tool_registry& r);

/// A string argument, "" when absent.
[[nodiscard]] std::string string_arg(const boost::json::object& args, const char* key);
/// A string-array argument (a single string counts as one), empty when absent.
[[nodiscard]] std::vector<std::string> strings_arg(const boost::json::object& args,
                                                   const char* key);
/// An integer argument, `fallback` when absent.
[[nodiscard]] std::int64_t int_arg(const boost::json::object& args, const char* key,
                                   std::int64_t fallback);

}  // namespace apono::cli::mcp
