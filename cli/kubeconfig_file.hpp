// Editing kubeconfig files for `apono access use --kubeconfig`: a cluster, a user and a context
// of one name, and current-context on request, written into block-style YAML as kubectl writes
// it (and as people hand-write it) by replacing or inserting whole lines, so every other entry,
// comment and blank line stays byte for byte. Which file of $KUBECONFIG is written follows
// kubectl's own rules.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace apono::cli {

/// The entries apono writes; cluster, user and context all take `name`.
struct kube_entries {
  std::string name;                    ///< e.g. `apono-AR-00012`
  std::string server;                  ///< the cluster's https URL
  std::string ca_pem;                  ///< PEM CA bundle for the server; empty = system roots
  std::string namespace_name;          ///< the context's namespace; empty = none
  std::string exec_command;            ///< absolute path of the credential plugin (apono)
  std::vector<std::string> exec_args;  ///< its arguments
  bool switch_context = false;         ///< also set current-context to `name`
};

/// The exec plugin API version written for the user.
inline constexpr std::string_view kube_exec_api_version = "client.authentication.k8s.io/v1";

/// Returns `text` with the cluster, user and context named `e.name` replaced or appended (in
/// each list's own item indentation and line endings) and, when `e.switch_context`,
/// current-context set. Empty text (or only comments) becomes a complete kubeconfig. Throws
/// std::invalid_argument for unusable entries and std::runtime_error ("kubeconfig: ...") for a
/// file it will not rewrite: flow-style lists with content, tabs in indentation, several
/// documents, anchors or aliases in the lists, a name given to two items of one list, or text
/// that does not parse; also when the edited text would not read back as exactly the old file
/// plus these entries.
[[nodiscard]] std::string upsert_kubeconfig(std::string_view text, const kube_entries& e);

/// Returns `text` with only current-context set to `context`, for when kubectl's rules put it in
/// another file than the entries. Throws like upsert_kubeconfig.
[[nodiscard]] std::string set_kubeconfig_current_context(std::string_view text,
                                                         std::string_view context);

/// The files kubectl loads, in precedence order: $KUBECONFIG split at ':' (empty elements and
/// repeats dropped), else $HOME/.kube/config.
[[nodiscard]] std::vector<std::filesystem::path> kubeconfig_paths();

/// The file to write the entries named `entry_name` into: the first of kubeconfig_paths() that
/// already has a cluster, user or context of that name, else the file kubectl creates new
/// entries in (see kubeconfig_current_context_target). Throws std::runtime_error naming a file
/// that exists but does not parse, as kubectl would fail on it too.
[[nodiscard]] std::filesystem::path kubeconfig_write_target(std::string_view entry_name);

/// The file kubectl writes current-context (and new entries) into: the only file of
/// $KUBECONFIG, else its first existing file, else its last; $HOME/.kube/config without it.
[[nodiscard]] std::filesystem::path kubeconfig_current_context_target();

/// Writes `e` into kubeconfig_write_target(e.name) and, when switching, current-context into
/// kubeconfig_current_context_target() (the same file unless $KUBECONFIG lists several), each
/// 0600 via edit_private_file while holding kubectl's `FILE.lock`. Returns the files that changed.
/// Throws like upsert_kubeconfig (runtime errors prefixed with the file name), or when a lock
/// file exists.
std::vector<std::filesystem::path> write_kubeconfig_entries(const kube_entries& e);

}  // namespace apono::cli
