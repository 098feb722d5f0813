// The MCP server loop: reads messages from the transport, answers the lifecycle, ping and
// tools requests, runs each tool call on its own thread so ping and cancellation keep
// working, and routes the client's answers to the server's own requests (elicitation).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cli/context.hpp"
#include "cli/mcp/lifecycle.hpp"
#include "cli/mcp/stdio_transport.hpp"
#include "cli/mcp/tool_registry.hpp"

namespace apono::cli::mcp {

/// Whether query_database may change data, for its annotations: read-only when every database
/// grant held now is read-only (and there is one); none when the broker could not say.
using query_hint_source = std::function<std::optional<bool>(const global_options&)>;

/// One MCP session over one transport.
class server {
 public:
  /// Serves `tools` for the profile of `g`; `log` gets one line per notable event.
  server(const global_options& g, server_settings settings, const tool_registry& tools,
         grant_sessions& sessions, stdio_transport& transport,
         std::function<void(const std::string&)> log, query_hint_source hints);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Serves until the input ends; cancels and joins what still runs. Returns 0.
  int run();

 private:
  struct call;
  struct pending;

  void handle_line(const std::string& line);
  void on_request(const boost::json::object& m);
  void on_notification(const boost::json::object& m);
  void on_response(const boost::json::object& m);
  void start(const boost::json::value& id, std::function<void(call&)> work);
  void run_tool(call& c, const boost::json::object& params);
  void list_tools(call& c);
  void check_hints();
  elicit_answer elicit(const cancel_token& cancel, const std::string& message,
                       const boost::json::object& schema);
  void reap(bool all);
  void send(const boost::json::value& m);

  const global_options& g_;
  server_settings settings_;
  const tool_registry& tools_;
  grant_sessions& sessions_;
  stdio_transport& transport_;
  std::function<void(const std::string&)> log_;
  query_hint_source hints_;

  std::mutex mutex_;  // guards everything below
  std::optional<client_info> client_;
  bool initialized_ = false;
  bool shutting_down_ = false;
  std::map<std::string, std::shared_ptr<call>> calls_;  // by serialized request id
  std::map<std::string, std::shared_ptr<pending>> pending_;
  std::condition_variable answered_;
  std::uint64_t next_id_ = 1;
  std::optional<bool> listed_hint_;  // query_database read-only as last listed
  bool listed_ = false;
};

}  // namespace apono::cli::mcp
