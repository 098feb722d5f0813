// Browser login for `apono login`: authorization code with PKCE over a loopback redirect
// (RFC 8252), the way `gh auth login` and `gcloud auth login` work.
#pragma once

#include <string>

#include "cli/context.hpp"

namespace apono::cli {

/// Listens on 127.0.0.1:<free port>, prints (and with `open_browser` opens) the broker's
/// /login URL, waits up to 5 minutes for the redirect, checks `state`, exchanges the code
/// with its verifier at /oauth/token and returns the token. Throws std::runtime_error.
[[nodiscard]] std::string browser_login(const std::string& server, const std::string& ca_file,
                                        bool open_browser, io& streams);

}  // namespace apono::cli
