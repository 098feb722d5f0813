// What the CLI does for AWS and Kubernetes grants: the credential helpers that the aws CLI
// (credential_process) and kubectl (exec plugin) run, the profile and kubeconfig entries that
// point them at those helpers, and the lines `access use` prints for such units.
#pragma once

#include <boost/json/value.hpp>

#include <iosfwd>
#include <optional>
#include <string>

#include "cli/context.hpp"

namespace apono::cli {

/// What `access use` was asked to set up besides printing.
struct cloud_use_options {
  std::optional<std::string> aws_profile;  ///< --aws-profile [NAME]: write this AWS profile
  bool kubeconfig = false;                 ///< --kubeconfig: add the kubeconfig entries
  bool switch_context = false;             ///< --switch-context: and make them current
  std::string resource;                    ///< --resource: which unit when several match
  std::string permission;                  ///< --permission: likewise
};

/// True when `o` asks for files to be written rather than details printed.
[[nodiscard]] bool wants_cloud_setup(const cloud_use_options& o);

/// Writes the AWS profile and/or kubeconfig entries for the request in `details` (its JSON
/// form); says on `streams.err` what was written and which command to run next.
void apply_cloud_use(const cloud_use_options& o, const global_options& g,
                     const boost::json::value& details, io& streams);

/// The instruction lines for an aws or kubernetes unit (nothing for other kinds).
void print_cloud_unit(std::ostream& out, const boost::json::value& details,
                      const boost::json::value& unit);

/// Adds `aws-credentials` and `kube-credentials` under `access`.
void setup_cloud_credentials(CLI::App& access, global_options& g, io& streams);

}  // namespace apono::cli
