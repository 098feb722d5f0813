// Making a request, shared by `apono request` and the interactive flow: dry-run validation,
// creation, waiting with a spinner, the result block and the repeat command.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "cli/api_client.hpp"
#include "cli/context.hpp"

namespace apono::cli {

/// What the user asked for, as they would type it.
struct request_spec {
  std::string integration;               ///< id or type/name; empty with a bundle
  std::string resource_type;             ///< e.g. database; may be empty
  std::vector<std::string> resources;    ///< resource names
  std::vector<std::string> permissions;  ///< permission names
  std::string bundle;                    ///< bundle name instead of the above
  std::string justification;             ///< why
  std::string duration;                  ///< as typed (`0.75`, `90s`, `1h30m`); empty = default
};

/// The exact, shell-quoted command that makes the same request again:
/// `apono request -i pg-local -t database -r appdb -p read_only -j 'INC 42' -d 1h`.
[[nodiscard]] std::string repeat_command(const request_spec& spec);

/// The broker's create body for `spec`: integration names resolved to ids, no `dry_run`.
[[nodiscard]] boost::json::object request_body(api_client& api, const request_spec& spec);

/// Validates with a dry run (errors come back as the broker's one-line message), creates the
/// request, and unless `wait` is false shows a spinner on `streams.err` (only when it is a
/// terminal) until the request is ACTIVE, REJECTED, FAILED or waiting for an approver, or
/// `timeout` passes. Returns the request's JSON as last seen.
boost::json::value submit_request(api_client& api, const request_spec& spec, bool wait,
                                  std::chrono::seconds timeout, io& streams);

/// Polls request `id` until `done(status)` holds or `timeout` passes, showing a spinner with
/// "Waiting for <id> to <goal>..." on `streams.err` only when stderr is a terminal (erased
/// afterwards, also on errors). Returns the request's JSON as last seen.
boost::json::value wait_for_request(api_client& api, const std::string& id,
                                    const std::function<bool(const std::string&)>& done,
                                    const std::string& goal, std::chrono::seconds timeout,
                                    io& streams);

/// Prints the result block (ID, Status, Integration, Resources, Permissions, Justification;
/// `Bundle:` for bundles, `Waiting for an approver.` when PENDING, `Reason:` when the broker
/// gave one) and the `[notice]` line with the repeat command, whose integration id, resource
/// type and duration come from `request` when `spec` left them to the broker.
void print_request_result(std::ostream& out, const boost::json::value& request,
                          const request_spec& spec);

}  // namespace apono::cli
