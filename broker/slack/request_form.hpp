// The Request Access modal of `/apono request` as a pure state machine over the config: the
// choices so far (read back from a view's state), the modal they call for (each list limited to
// what the user's access flows allow, each choice narrowing the next), the search of long
// resource lists, the create input a submission makes, and where in the form an error of the
// API's validation belongs. No I/O: the interaction handlers call Slack and the service.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "broker/config.hpp"
#include "broker/service.hpp"

namespace apono::broker::slack {

/// The modal's callback_id.
inline constexpr std::string_view request_form_callback = "apono_request_form";

/// The choices made in the form so far.
struct form_state {
  bool bundle_mode = false;              ///< the bundle choice instead of an integration
  std::string integration;               ///< integration id
  std::string resource_type;             ///< the integration's resource type
  std::vector<std::string> resources;    ///< resource names
  std::vector<std::string> permissions;  ///< permission names
  std::string bundle;                    ///< bundle name (bundle mode)
  std::string duration;                  ///< as typed: hours (`1.5`) or `90m`, `1h30m`; empty:
                                         ///< the flow's default
  std::string justification;             ///< why
  std::string channel;                   ///< where `/apono request` was typed (for the reply)
};

/// More resources than this are searched (external_select + block_suggestion), not listed.
inline constexpr std::size_t max_listed_resources = 100;

/// The choices in `view` (its `state.values` and `private_metadata`); a value of a block made
/// for another integration than the one chosen is ignored. Never throws for odd shapes: what
/// cannot be read counts as not chosen.
[[nodiscard]] form_state read_form(const boost::json::object& view);

/// The modal for `user` with `st`'s choices: choices no longer offered are dropped first.
[[nodiscard]] boost::json::object build_form(const config& cfg, std::string_view user,
                                             form_state st);

/// `st` with every choice that `user` may not make (any more) removed, and the resource type
/// set from the integration.
[[nodiscard]] form_state normalize(const config& cfg, std::string_view user, form_state st);

/// Options answering a block_suggestion on the resources select: the user's resources of the
/// chosen integration containing `query` (case-insensitive), at most 100.
[[nodiscard]] boost::json::array suggest_resources(const config& cfg, std::string_view user,
                                                   const form_state& st, std::string_view query);

/// The create input `st` describes. Throws api_error(invalid_argument) for a duration that
/// does not parse, as the API's does.
[[nodiscard]] create_input to_input(const form_state& st);

/// The `errors` of a view_submission refused with `message` (the API's words), keyed by the
/// block it concerns.
[[nodiscard]] boost::json::object form_errors(const form_state& st, std::string_view message);

/// The CLI command that makes the same request (`apono requests create -i ... -j ...`), quoted
/// for a POSIX shell.
[[nodiscard]] std::string repeat_command(const form_state& st);

}  // namespace apono::broker::slack
